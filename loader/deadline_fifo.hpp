// client_hello_timeout for all connections of one listener: they all get the same timeout, so
// deadlines are pushed in increasing order and a FIFO plus one timerfd (armed at the head)
// is enough. Entries of connections that finished earlier are simply skipped when they expire.
// The timer is armed kSlack after the head's deadline, so under load one wake-up expires every
// deadline of that window instead of one per connection (a timeout fires up to kSlack late).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "common/config_result.hpp"
#include "common/fd.hpp"

namespace sni::loader {

class DeadlineFifo {
  public:
    using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC, as the timerfd
    static constexpr Clock::duration kSlack = std::chrono::milliseconds(50);

    static config::Result<DeadlineFifo, std::string> create(Clock::duration timeout);

    int fd() const { return timer_.get(); }
    Clock::duration timeout() const { return timeout_; }

    // Starts the timeout of `conn_id` accepted at `now`.
    void push(std::uint64_t conn_id, Clock::time_point now);

    // Call when fd() is readable: the ids whose deadline passed (some may be gone already).
    std::vector<std::uint64_t> expire(Clock::time_point now);

    std::size_t size() const { return fifo_.size(); }

  private:
    DeadlineFifo(UniqueFd timer, Clock::duration timeout)
        : timer_(std::move(timer)), timeout_(timeout) {}
    void arm();

    UniqueFd timer_;
    Clock::duration timeout_;
    std::deque<std::pair<Clock::time_point, std::uint64_t>> fifo_;
    bool armed_ = false;
};

}  // namespace sni::loader
