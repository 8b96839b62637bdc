#include "workers/leg.hpp"

#include <openssl/err.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "workers/ktls.hpp"
#include "workers/record_reader.hpp"
#include "workers/write_coalescer.hpp"

namespace sni::worker {

namespace {

IoResult sys_error(const char *op, int err) {
    return {IoStatus::kError, 0, std::string(op) + ": " + std::strerror(err)};
}

}  // namespace

void Leg::close() {
    ssl_.reset();
    fd_.reset();
}

long Leg::on_socket_bio(BIO *b, int oper, const char * /*argp*/, std::size_t len, int /*argi*/,
                        long /*argl*/, int ret, std::size_t *processed) {
    if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
        auto *leg = reinterpret_cast<Leg *>(BIO_get_callback_arg(b));
        leg->socket_short_ = ret <= 0 || processed == nullptr || *processed < len;
    }
    return ret;
}

void Leg::track_drain() {
    if (!ssl_ || track_drain_ || SSL_get_read_ahead(ssl_.get()) == 0) return;
    BIO *sock = bottom_bio(SSL_get_rbio(ssl_.get()));
    if (sock == nullptr) return;
    BIO_set_callback_arg(sock, reinterpret_cast<char *>(this));
    BIO_set_callback_ex(sock, &Leg::on_socket_bio);
    track_drain_ = true;
}

void Leg::read_records_ahead() {
    if (!ssl_ || records_ahead_ || records_ahead_wanted_ || SSL_get_read_ahead(ssl_.get()) == 0)
        return;
    records_ahead_wanted_ = true;
    start_records_ahead_at_boundary();
}

// The reader counts records from the first byte it reads, so it goes in only where that byte
// starts one: OpenSSL holds no bytes and waits for a record header ("RH"). OpenSSL's own
// read-ahead gets there by itself: only its header reads read ahead, a body read asks for just
// the rest of its record, so OpenSSL stops at a record's end once it has used what it holds.
void Leg::start_records_ahead_at_boundary() {
    SSL *ssl = ssl_.get();
    if (SSL_has_pending(ssl) != 0 || std::strcmp(SSL_rstate_string(ssl), "RH") != 0) return;
    records_ahead_wanted_ = false;
    records_ahead_ = worker::read_records_ahead(ssl);
}

IoResult Leg::ssl_failure(int ret, const char *op) {
    const int saved_errno = errno;
    const int err = SSL_get_error(ssl_.get(), ret);
    switch (err) {
        case SSL_ERROR_WANT_READ:
            return {IoStatus::kWantRead, 0, {}};
        case SSL_ERROR_WANT_WRITE:
            return {IoStatus::kWantWrite, 0, {}};
        case SSL_ERROR_ZERO_RETURN: {
            BIO *rb = bottom_bio(SSL_get_rbio(ssl_.get()));
            eof_was_fin_ = rb != nullptr && BIO_eof(rb);
            return {IoStatus::kEof, 0, {}};
        }
        case SSL_ERROR_SYSCALL: {
            std::string detail = take_openssl_errors();
            if (detail.empty())
                detail = saved_errno != 0 ? std::strerror(saved_errno) : "unexpected EOF";
            return {IoStatus::kError, 0, std::string(op) + ": " + detail};
        }
        default: {
            std::string detail = take_openssl_errors();
            if (detail.empty()) detail = "SSL error " + std::to_string(err);
            return {IoStatus::kError, 0, std::string(op) + ": " + detail};
        }
    }
}

void Leg::coalesce_writes() {
    if (!ssl_ || coalescing_) return;
    // kTLS TX: the kernel makes the records; OpenSSL tags each non-data write with its type
    // just before it, which a filter holding bytes back would separate.
    if (ktls_status(ssl_.get()).tx) return;
    coalescing_ = worker::coalesce_writes(ssl_.get());
}

IoResult Leg::flush() {
    if (!coalescing_) return {IoStatus::kOk, 0, {}};
    BIO *wbio = SSL_get_wbio(ssl_.get());
    if (coalesced_bytes(wbio) == 0) return {IoStatus::kOk, 0, {}};
    errno = 0;
    if (BIO_flush(wbio) == 1) return {IoStatus::kOk, 0, {}};
    if (BIO_should_retry(wbio)) return {IoStatus::kWantWrite, 0, {}};
    return sys_error("write", errno != 0 ? errno : EPIPE);
}

IoResult Leg::read(std::span<std::uint8_t> out) {
    if (ssl_) {
        ERR_clear_error();
        errno = 0;
        std::size_t n = 0;
        const int r = SSL_read_ex(ssl_.get(), out.data(), out.size(), &n);
        if (r != 1) return ssl_failure(r, "TLS read");
        if (records_ahead_wanted_) start_records_ahead_at_boundary();
        const bool drained = track_drain_ && socket_short_ && SSL_has_pending(ssl_.get()) == 0 &&
                             (!records_ahead_ || read_ahead_bytes(SSL_get_rbio(ssl_.get())) == 0);
        return {IoStatus::kOk, n, {}, drained};
    }
    for (;;) {
        const ssize_t n = ::recv(fd_.get(), out.data(), out.size(), 0);
        if (n > 0) {
            const auto got = static_cast<std::size_t>(n);
            return {IoStatus::kOk, got, {}, got < out.size()};
        }
        if (n == 0) {
            eof_was_fin_ = true;
            return {IoStatus::kEof, 0, {}};
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return {IoStatus::kWantRead, 0, {}};
        return sys_error("read", errno);
    }
}

IoResult Leg::write(std::span<const std::uint8_t> in) {
    if (ssl_) {
        ERR_clear_error();
        errno = 0;
        std::size_t n = 0;
        const int r = SSL_write_ex(ssl_.get(), in.data(), in.size(), &n);
        if (r == 1) return {IoStatus::kOk, n, {}};
        return ssl_failure(r, "TLS write");
    }
    for (;;) {
        const ssize_t n = ::send(fd_.get(), in.data(), in.size(), MSG_NOSIGNAL);
        if (n >= 0) return {IoStatus::kOk, static_cast<std::size_t>(n), {}};
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return {IoStatus::kWantWrite, 0, {}};
        return sys_error("write", errno);
    }
}

IoResult Leg::shutdown_write(bool close_notify) {
    if (ssl_ && close_notify && !close_notify_sent_) {
        ERR_clear_error();
        errno = 0;
        const int r = SSL_shutdown(ssl_.get());
        if (r < 0) {
            IoResult res = ssl_failure(r, "TLS close_notify");
            // SSL_shutdown never reports EOF: a WANT_READ would mean "waiting for the peer's
            // close_notify", which we do not (the other direction reads it in its own time).
            if (res.status == IoStatus::kWantRead || res.status == IoStatus::kEof)
                close_notify_sent_ = true;
            else
                return res;
        } else {
            close_notify_sent_ = true;
        }
    }
    if (const IoResult f = flush(); f.status != IoStatus::kOk) return f;
    if (::shutdown(fd_.get(), SHUT_WR) != 0 && errno != ENOTCONN)
        return sys_error("shutdown", errno);
    return {IoStatus::kOk, 0, {}};
}

IoResult Leg::handshake() {
    ERR_clear_error();
    errno = 0;
    hello_pending_ = false;
    const int r = SSL_do_handshake(ssl_.get());
    if (r == 1) return {IoStatus::kOk, 0, {}};
    if (SSL_get_error(ssl_.get(), r) == SSL_ERROR_WANT_CLIENT_HELLO_CB) {
        hello_pending_ = true;
        return {IoStatus::kWantRead, 0, {}};
    }
    IoResult res = ssl_failure(r, "TLS handshake");
    if (res.status == IoStatus::kEof) return {IoStatus::kError, 0, "TLS handshake: peer closed"};
    return res;
}

}  // namespace sni::worker
