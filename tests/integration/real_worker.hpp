// What the tests with the real sni-worker share: a loopback echo backend and sni-splitterd
// started with sni-worker behind it (a control socket, the metrics endpoint, the access log in
// the test's directory).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.hpp"
#include "harness.hpp"

namespace sni::itest {

// A TCP listener on 127.0.0.1, an ephemeral port (written to `port`).
UniqueFd loopback_listener(std::uint16_t &port, int backlog);

// Accepts connections and echoes each until the client's EOF, then closes it.
class EchoBackend {
  public:
    EchoBackend();
    ~EchoBackend();
    EchoBackend(const EchoBackend &) = delete;
    EchoBackend &operator=(const EchoBackend &) = delete;
    std::uint16_t port() const { return port_; }

  private:
    void run();
    std::uint16_t port_ = 0;  // before listen_, which sets it
    UniqueFd listen_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// sni-splitterd with the real sni-worker; `routes` is the YAML of the routes (with a pool
// "default" of one worker, user nobody); `top_level` more top-level YAML (e.g.
// "passthrough_relay: splice\n"); the access log goes to access.log in `dir`.
struct RealWorkerDaemon {
    // `log_level`: the daemon's --log-level, which its workers follow ("": the default).
    explicit RealWorkerDaemon(const std::string &routes,
                              const std::string &classifier = "userspace",
                              const std::string &top_level = "", const std::string &log_level = "");
    std::string access_log() const;  // the file's text
    // Waits (up to 5 s) until the access log has `lines` lines; returns its text.
    std::string wait_access_lines(std::size_t lines) const;

    TempDir dir;
    std::uint16_t main_port = 0, metrics_port = 0;
    std::string socket;
    std::unique_ptr<DaemonProcess> daemon;
};

// One TLS 1.3 connection to 127.0.0.1:port for `sni` (no certificate verification): sends
// `payload`, reads as many bytes back, closes with close_notify. "" or what went wrong.
std::string tls_echo(std::uint16_t port, const std::string &sni,
                     const std::vector<std::uint8_t> &payload);

}  // namespace sni::itest
