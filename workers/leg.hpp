// One side of a relayed connection: a TCP socket, with or without a TLS session over it, and
// the non-blocking read/write/half-close operations the relay needs, each reporting what it is
// waiting for (read or write readiness) instead of blocking.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/fd.hpp"
#include "workers/ossl.hpp"

namespace sni::worker {

enum class IoStatus : std::uint8_t { kOk, kWantRead, kWantWrite, kEof, kError };

struct IoResult {
    IoStatus status = IoStatus::kOk;
    std::size_t bytes = 0;
    std::string error;  // kError only
};

class Leg {
  public:
    Leg(std::string name) : name_(std::move(name)) {}  // NOLINT: "client" / "backend"

    const std::string &name() const { return name_; }
    int fd() const { return fd_.get(); }
    SSL *ssl() const { return ssl_.get(); }
    bool open() const { return fd_.valid(); }

    void set_fd(UniqueFd fd) { fd_ = std::move(fd); }
    void set_ssl(SslPtr ssl) { ssl_ = std::move(ssl); }
    // Frees the SSL first (it refers to the fd), then closes the fd.
    void close();

    // Reads application bytes. kEof: the peer ended its direction; eof_was_fin() then tells
    // whether it was a bare FIN (TLS without close_notify) rather than a close_notify.
    IoResult read(std::span<std::uint8_t> out);
    IoResult write(std::span<const std::uint8_t> in);
    // Ends our direction: close_notify first when `close_notify` and this is TLS, then FIN
    // (shutdown SHUT_WR). kOk when done; may be called again after kWantRead/kWantWrite.
    IoResult shutdown_write(bool close_notify);
    bool eof_was_fin() const { return eof_was_fin_; }

    // A TLS handshake step (SSL_do_handshake). kOk when complete.
    IoResult handshake();
    bool hello_callback_pending() const { return hello_pending_; }

    // epoll bookkeeping, maintained by the connection.
    std::uint32_t events = 0;
    bool in_epoll = false;

  private:
    IoResult ssl_failure(int ret, const char *op);

    std::string name_;
    UniqueFd fd_;
    SslPtr ssl_;
    bool eof_was_fin_ = false;
    bool close_notify_sent_ = false;
    bool hello_pending_ = false;
};

}  // namespace sni::worker
