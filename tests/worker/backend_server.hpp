// Test backends on 127.0.0.1: a listener thread plus one thread per connection, TLS (with a
// test SSL_CTX) or plain. Each connection is recorded: the SNI, version, ALPN and resumption
// the backend saw, the PROXY v2 header if one was expected, and what it received.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.hpp"
#include "tests/worker/stream.hpp"

namespace sni::wtest {

enum class Behavior {
    kEcho,           // echo until EOF, then half-close
    kReplyAfterEof,  // read until EOF, then send "got <n> bytes" and half-close
    kGreetFirst,     // send "greeting from backend", half-close, then read until EOF
    kSlowSink,       // read nothing for `stall`, then like kReplyAfterEof
};

struct ProxyInfo {
    std::string source;  // "ip:port"
    std::string destination;
    std::string authority;  // PP2_TYPE_AUTHORITY
    std::string alpn;       // PP2_TYPE_ALPN
};

struct BackendRecord {
    std::string sni;
    std::string version;
    std::string cipher;  // SSL_get_cipher_name
    std::string alpn;
    bool reused = false;
    std::uint64_t bytes_in = 0;
    std::string sha_in;
    std::string received;  // the first 4 KiB received
    bool eof_clean = false;
    std::optional<ProxyInfo> proxy;
    std::string error;
    bool done = false;
};

struct BackendOptions {
    Behavior behavior = Behavior::kEcho;
    bool expect_proxy_v2 = false;
    std::string required_alpn;           // TLS: fail the handshake unless the client offers it
    std::chrono::milliseconds stall{0};  // kSlowSink
    std::uint16_t port = 0;              // 0 = ephemeral; else this one (a restarted backend)
};
inline BackendOptions behaving(Behavior b) {
    BackendOptions o;
    o.behavior = b;
    return o;
}
inline BackendOptions with_proxy_v2() {
    BackendOptions o;
    o.expect_proxy_v2 = true;
    return o;
}
inline BackendOptions requiring_alpn(std::string alpn) {
    BackendOptions o;
    o.required_alpn = std::move(alpn);
    return o;
}

// A server SSL_CTX for a test backend: one certificate and a version range (level 0 and
// "DEFAULT:@SECLEVEL=0" when it reaches below TLS 1.2); it records the SNI it receives.
CtxPtr make_backend_ctx(const std::filesystem::path &cert, const std::filesystem::path &key,
                        int min_version, int max_version);

class BackendServer {
  public:
    // `ctx` nullptr: plain TCP.
    BackendServer(CtxPtr ctx, BackendOptions options);
    ~BackendServer();
    BackendServer(const BackendServer &) = delete;
    BackendServer &operator=(const BackendServer &) = delete;

    std::uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    SSL_CTX *ctx() const { return ctx_.get(); }

    std::vector<BackendRecord> records() const;
    // Waits until `n` connections are complete (handler finished).
    bool wait_done(std::size_t n, std::chrono::milliseconds timeout = 20s) const;
    std::size_t accepted() const { return accepted_.load(); }

  private:
    void accept_loop();
    void serve(UniqueFd fd, std::size_t index);

    CtxPtr ctx_;
    BackendOptions options_;
    UniqueFd listen_;
    UniqueFd stop_r_, stop_w_;
    std::uint16_t port_ = 0;
    mutable std::mutex mu_;
    std::vector<BackendRecord> records_;
    std::vector<std::thread> threads_;
    std::atomic<std::size_t> accepted_{0};
    std::thread acceptor_;
};

}  // namespace sni::wtest
