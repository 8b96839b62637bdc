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
    // kOk reads only: the socket had nothing more at its last recv and nothing is buffered
    // above it, so another read now would only return EAGAIN (the caller waits for EPOLLIN).
    bool drained = false;
};

class Leg {
  public:
    Leg(std::string name) : name_(std::move(name)) {}  // NOLINT: "client" / "backend"
    // The socket BIO may point back here (track_drain): never copied or moved.
    Leg(const Leg &) = delete;
    Leg &operator=(const Leg &) = delete;

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
    // A plain leg's read is `drained` when recv returned less than asked.
    IoResult read(std::span<std::uint8_t> out);
    // A TLS leg that reads ahead (several records per recv; never with kTLS RX, where the
    // kernel hands over one record per recv): from now on a read is `drained` when the last
    // recv under OpenSSL returned less than asked and nothing is buffered above it (in
    // OpenSSL: SSL_has_pending; in the record reader). A no-op on other legs.
    void track_drain();
    // A TLS leg that reads ahead: from its next record boundary on, reads go through the
    // record reader (workers/record_reader.hpp), which brings many records per recv() and
    // hands OpenSSL one at a time. A no-op on other legs.
    void read_records_ahead();
    bool reading_records_ahead() const { return records_ahead_; }
    // A TLS leg whose records OpenSSL writes (not kTLS TX): writes are held by a coalescing
    // filter (workers/write_coalescer.hpp) until flush(), so one write() carries several
    // records. A no-op on other legs.
    void coalesce_writes();
    // Sends what the coalescing filter holds: kOk when nothing is left (always for other legs),
    // kWantWrite when the socket is full, kError.
    IoResult flush();
    IoResult write(std::span<const std::uint8_t> in);
    // Ends our direction: close_notify first when `close_notify` and this is TLS, then what
    // the coalescing filter holds, then FIN (shutdown SHUT_WR). kOk when done; may be called
    // again after kWantRead/kWantWrite.
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
    void start_records_ahead_at_boundary();
    static long on_socket_bio(BIO *b, int oper, const char *argp, std::size_t len, int argi,
                              long argl, int ret, std::size_t *processed);

    std::string name_;
    UniqueFd fd_;
    SslPtr ssl_;
    bool eof_was_fin_ = false;
    bool close_notify_sent_ = false;
    bool hello_pending_ = false;
    bool track_drain_ = false;
    bool coalescing_ = false;
    bool records_ahead_wanted_ = false;  // read_records_ahead() waits for a record boundary
    bool records_ahead_ = false;
    bool socket_short_ = false;  // the last recv under OpenSSL returned less than asked
};

}  // namespace sni::worker
