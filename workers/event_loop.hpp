// The worker's one epoll instance (level-triggered) and a deadline queue. Tokens are opaque
// 64-bit values chosen by the caller.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/config_result.hpp"
#include "common/fd.hpp"

namespace sni::worker {

using Clock = std::chrono::steady_clock;

class Epoll {
  public:
    static config::Result<Epoll, std::string> create();

    bool add(int fd, std::uint32_t events, std::uint64_t token);
    bool modify(int fd, std::uint32_t events, std::uint64_t token);
    void remove(int fd);
    // Returns the number of events (0 on timeout or EINTR).
    int wait(std::span<epoll_event> out, int timeout_ms);

  private:
    explicit Epoll(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

// Deadlines keyed by an id. Entries are never cancelled: the owner of an id checks, when one
// fires, whether it still has something due (stale entries are harmless).
class TimerQueue {
  public:
    void schedule(Clock::time_point when, std::uint64_t id) { heap_.emplace(when, id); }
    // Pops every entry due at `now`.
    std::vector<std::pair<Clock::time_point, std::uint64_t>> pop_due(Clock::time_point now);
    std::optional<Clock::time_point> next() const;
    std::size_t size() const { return heap_.size(); }

  private:
    using Entry = std::pair<Clock::time_point, std::uint64_t>;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
};

// epoll_wait timeout in ms until `deadline` (rounded up; 0 when past; -1 for none).
int timeout_until(std::optional<Clock::time_point> deadline, Clock::time_point now);

}  // namespace sni::worker
