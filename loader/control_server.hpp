// The daemon's control socket (config `control.socket`): a Unix SOCK_STREAM listener served
// from the daemon's epoll loop. The parent directory is created (0700) when missing, the socket
// is mode 0600, and every client's SO_PEERCRED is checked: only uid 0 or the daemon's own euid
// may talk to it (others get a `forbidden` answer). One JSON request per connection, one JSON
// answer (common/control_protocol.hpp); requests are bounded, clients are non-blocking, and a
// client that stalls for kClientTimeout is dropped by the housekeeping tick.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

#include "common/config_result.hpp"
#include "common/control_protocol.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "loader/event_loop.hpp"

namespace sni::loader {

class ControlServer {
  public:
    using Clock = std::chrono::steady_clock;
    // Answers one request: the full wire text (control::encode_ok / encode_error).
    using Handler = std::function<std::string(const control::Request &)>;
    static constexpr std::size_t kMaxClients = 64;
    static constexpr Clock::duration kClientTimeout = std::chrono::seconds(10);

    // Binds `path` (a stale socket file is replaced; a live one is an error: another daemon).
    static config::Result<ControlServer, std::string> open(const std::string &path, EventLoop &loop,
                                                           const log::Logger &log, Handler handler);
    ControlServer(ControlServer &&) = default;
    ~ControlServer();

    const std::string &path() const { return path_; }
    void on_listen_ready();
    void on_client_event(std::uint64_t id, std::uint32_t events);
    void expire(Clock::time_point now);  // drops clients older than kClientTimeout

  private:
    struct Client {
        UniqueFd fd;
        std::string in;
        std::string out;
        std::size_t sent = 0;
        bool answered = false;
        Clock::time_point started;
    };
    ControlServer(std::string path, UniqueFd fd, EventLoop &loop, const log::Logger &log,
                  Handler handler);
    void read_request(std::uint64_t id, Client &c);
    void answer(std::uint64_t id, Client &c, std::string text);
    void write_answer(std::uint64_t id, Client &c);
    void drop(std::uint64_t id);

    std::string path_;
    UniqueFd fd_;
    EventLoop *loop_;
    const log::Logger *log_;
    Handler handler_;
    std::unordered_map<std::uint64_t, Client> clients_;
    std::uint64_t next_id_ = 1;
    bool unlink_on_close_ = true;
};

}  // namespace sni::loader
