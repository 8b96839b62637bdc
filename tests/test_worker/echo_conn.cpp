#include "echo_conn.hpp"

#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sni::test_worker {

namespace {
constexpr std::size_t kMaxPending = 256 * 1024;
}

EchoConn::EchoConn(UniqueFd fd, std::span<const std::uint8_t> hello)
    : fd_(std::move(fd)), handshake_done_(true), pending_(hello.begin(), hello.end()) {}

EchoConn::EchoConn(UniqueFd fd, SslPtr ssl, std::string greeting)
    : fd_(std::move(fd)), ssl_(std::move(ssl)), greeting_(std::move(greeting)) {}

std::uint32_t EchoConn::interest() const {
    std::uint32_t ev = EPOLLRDHUP;
    if (!eof_ && pending_.size() < kMaxPending) ev |= EPOLLIN;
    if (!pending_.empty() || want_write_) ev |= EPOLLOUT;
    return ev;
}

bool EchoConn::flush() {
    want_write_ = false;
    while (!pending_.empty()) {
        if (ssl_) {
            const int n = SSL_write(ssl_.get(), pending_.data(), static_cast<int>(pending_.size()));
            if (n > 0) {
                pending_.erase(0, static_cast<std::size_t>(n));
                continue;
            }
            const int err = SSL_get_error(ssl_.get(), n);
            if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
                want_write_ = err == SSL_ERROR_WANT_WRITE;
                return true;
            }
            error = "SSL_write failed";
            return false;
        }
        const ssize_t n = ::send(fd_.get(), pending_.data(), pending_.size(), MSG_NOSIGNAL);
        if (n > 0) {
            pending_.erase(0, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return true;
        error = std::string("send: ") + std::strerror(errno);
        return false;
    }
    return true;
}

bool EchoConn::read_some(bool &would_block) {
    char buf[16384];
    would_block = false;
    if (ssl_) {
        const int n = SSL_read(ssl_.get(), buf, sizeof buf);
        if (n > 0) {
            pending_.append(buf, static_cast<std::size_t>(n));
            return true;
        }
        const int err = SSL_get_error(ssl_.get(), n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            want_write_ = err == SSL_ERROR_WANT_WRITE;
            would_block = true;
            return true;
        }
        if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
            eof_ = true;  // close_notify, or a plain FIN without one
            ERR_clear_error();
            return true;
        }
        error = "SSL_read failed";
        ERR_clear_error();
        return false;
    }
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n > 0) {
        pending_.append(buf, static_cast<std::size_t>(n));
        return true;
    }
    if (n == 0) {
        eof_ = true;
        return true;
    }
    if (errno == EINTR || errno == EAGAIN) {
        would_block = true;
        return true;
    }
    error = std::string("recv: ") + std::strerror(errno);
    return false;
}

bool EchoConn::drive() {
    if (!handshake_done_) {
        const int r = SSL_accept(ssl_.get());
        if (r != 1) {
            const int err = SSL_get_error(ssl_.get(), r);
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
                want_write_ = err == SSL_ERROR_WANT_WRITE;
                return true;
            }
            char buf[256] = {};
            ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
            ERR_clear_error();
            error = std::string("TLS handshake failed: ") + buf;
            return false;
        }
        handshake_done_ = true;
        pending_ = greeting_ + SSL_get_version(ssl_.get()) + "\n";
    }
    for (;;) {
        if (!flush()) return false;
        if (!pending_.empty() || eof_) break;  // one thing at a time: keeps SSL_write retries exact
        bool would_block = false;
        if (!read_some(would_block)) return false;
        if (would_block) break;
    }
    if (eof_ && pending_.empty()) {
        if (ssl_) SSL_shutdown(ssl_.get());
        return false;
    }
    return true;
}

}  // namespace sni::test_worker
