// A small HTTP/1.1 server for the metrics and health endpoints, driven by the daemon's epoll
// loop. One request per connection (the answer carries "Connection: close"); a request head
// larger than kMaxRequest is answered 431, one not complete within kRequestTimeout is closed;
// at most kMaxClients at once (more are accepted and closed at once).
// Only GET and HEAD are served; the handler decides the rest.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/config_result.hpp"
#include "common/config_types.hpp"
#include "common/fd.hpp"
#include "loader/event_loop.hpp"

namespace sni::http {

struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};

// What a request head says. `complete`: the blank line arrived; `bad`: it cannot be served.
struct Request {
    bool complete = false;
    bool bad = false;
    std::string method;
    std::string path;  // without the query string
};

// Parses the head in `buf` (bytes received so far).
Request parse_request(std::string_view buf);
// The whole answer; HEAD gets the headers only.
std::string render_response(const Response &response, bool head_only);
std::string_view status_text(int status);

// Method and path -> response (405 for anything but GET/HEAD is answered before it is called).
using Handler = std::function<Response(std::string_view path)>;

class Endpoint {
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::size_t kMaxRequest = 8192;
    static constexpr std::size_t kMaxClients = 64;
    static constexpr Clock::duration kRequestTimeout = std::chrono::seconds(5);

    static config::Result<std::unique_ptr<Endpoint>, std::string> create(
        const config::SocketAddress &address, loader::EventLoop &loop, Handler handler);
    ~Endpoint();

    std::string local_address() const;  // "127.0.0.1:9490" (the bound port when 0 was asked)
    void on_listener();
    void on_client(std::uint64_t id, std::uint32_t events);
    // Closes clients past their deadline; call periodically.
    void expire(Clock::time_point now);

  private:
    struct Client {
        UniqueFd fd;
        std::string in;
        std::string out;
        std::size_t sent = 0;
        bool answering = false;
        Clock::time_point deadline;
    };
    Endpoint(UniqueFd fd, std::string local, loader::EventLoop &loop, Handler handler)
        : listen_(std::move(fd)),
          local_(std::move(local)),
          loop_(&loop),
          handler_(std::move(handler)) {}

    void read_request(std::uint64_t id, Client &c);
    void answer(std::uint64_t id, Client &c, const Response &r, bool head_only);
    void write_answer(std::uint64_t id, Client &c);
    void close_client(std::uint64_t id);

    UniqueFd listen_;
    std::string local_;
    loader::EventLoop *loop_;
    Handler handler_;
    std::unordered_map<std::uint64_t, Client> clients_;
    std::uint64_t next_id_ = 1;
};

}  // namespace sni::http
