#include "tests/worker/stream.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "tests/worker/pki.hpp"

namespace sni::wtest {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
}
Sha256::~Sha256() {
    EVP_MD_CTX_free(ctx_);
}
void Sha256::update(const void *data, std::size_t len) {
    EVP_DigestUpdate(ctx_, data, len);
}
std::string Sha256::hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, md, &n);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < n; ++i) {
        out += kHex[md[i] >> 4];
        out += kHex[md[i] & 0xf];
    }
    return out;
}

std::string sha256_hex(const void *data, std::size_t len) {
    Sha256 h;
    h.update(data, len);
    return h.hex();
}

std::vector<std::uint8_t> make_payload(std::size_t size, std::uint64_t seed) {
    std::vector<std::uint8_t> out(size);
    std::mt19937_64 rng(seed);
    for (std::size_t i = 0; i < size; i += 8) {
        const std::uint64_t v = rng();
        std::memcpy(out.data() + i, &v, std::min<std::size_t>(8, size - i));
    }
    return out;
}

void set_io_timeouts(int fd, std::chrono::milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

UniqueFd tcp_connect(std::uint16_t port) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) return UniqueFd();
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_io_timeouts(fd.get(), 15s);
    return fd;
}

Stream::Stream(UniqueFd fd, SslObj ssl) : fd_(std::move(fd)), ssl_(std::move(ssl)) {}

bool Stream::write_all(std::string_view data) {
    return write_all(reinterpret_cast<const std::uint8_t *>(data.data()), data.size());
}

bool Stream::write_all(const std::uint8_t *data, std::size_t len) {
    std::size_t off = 0;
    while (off < len) {
        if (ssl_) {
            std::size_t n = 0;
            if (SSL_write_ex(ssl_.get(), data + off, len - off, &n) != 1) {
                last_error = "SSL_write failed";
                ERR_clear_error();
                return false;
            }
            off += n;
        } else {
            const ssize_t n = ::send(fd_.get(), data + off, len - off, MSG_NOSIGNAL);
            if (n <= 0) {
                last_error = std::string("send: ") + std::strerror(errno);
                return false;
            }
            off += static_cast<std::size_t>(n);
        }
    }
    return true;
}

std::optional<std::string> Stream::read_some() {
    char buf[16384];
    if (ssl_) {
        std::size_t n = 0;
        if (SSL_read_ex(ssl_.get(), buf, sizeof buf, &n) == 1) return std::string(buf, n);
        const int err = SSL_get_error(ssl_.get(), 0);
        if (err == SSL_ERROR_ZERO_RETURN) {
            eof_clean_ = true;
            return std::string();
        }
        const unsigned long code = ERR_peek_last_error();
        if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            eof_clean_ = false;
            ERR_clear_error();
            return std::string();
        }
        char e[256] = {};
        ERR_error_string_n(code, e, sizeof e);
        last_error = std::string("SSL_read: ") + e + " (errno " + std::strerror(errno) + ")";
        ERR_clear_error();
        return std::nullopt;
    }
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n > 0) return std::string(buf, static_cast<std::size_t>(n));
    if (n == 0) {
        eof_clean_ = false;
        return std::string();
    }
    last_error = std::string("recv: ") + std::strerror(errno);
    return std::nullopt;
}

std::optional<std::string> Stream::read_to_eof() {
    std::string out;
    for (;;) {
        auto r = read_some();
        if (!r) return std::nullopt;
        if (r->empty()) return out;
        out += *r;
    }
}

std::optional<std::string> Stream::read_exactly(std::size_t n) {
    std::string out;
    while (out.size() < n) {
        auto r = read_some();
        if (!r) return std::nullopt;
        if (r->empty()) {
            last_error = "EOF after " + std::to_string(out.size()) + " bytes";
            return std::nullopt;
        }
        out += *r;
    }
    return out;
}

void Stream::half_close() {
    if (ssl_) SSL_shutdown(ssl_.get());
    ::shutdown(fd_.get(), SHUT_WR);
}

std::optional<std::string> Stream::echo_duplex(const std::vector<std::uint8_t> &data,
                                               std::chrono::milliseconds timeout) {
    const int flags = ::fcntl(fd_.get(), F_GETFL);
    ::fcntl(fd_.get(), F_SETFL, flags | O_NONBLOCK);
    Sha256 hash;
    std::size_t sent = 0, received = 0;
    std::vector<std::uint8_t> buf(64 * 1024);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::optional<std::string> result;
    for (;;) {
        if (received == data.size()) {
            result = hash.hex();
            break;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            last_error =
                "timed out: sent " + std::to_string(sent) + " received " + std::to_string(received);
            break;
        }
        short events = 0;
        bool progress = false;
        if (sent < data.size()) {
            const std::size_t len = std::min<std::size_t>(64 * 1024, data.size() - sent);
            if (ssl_) {
                std::size_t n = 0;
                if (SSL_write_ex(ssl_.get(), data.data() + sent, len, &n) == 1) {
                    sent += n;
                    progress = true;
                } else {
                    const int e = SSL_get_error(ssl_.get(), 0);
                    if (e == SSL_ERROR_WANT_WRITE)
                        events |= POLLOUT;
                    else if (e == SSL_ERROR_WANT_READ)
                        events |= POLLIN;
                    else {
                        last_error = "SSL_write failed";
                        break;
                    }
                }
            } else {
                const ssize_t n = ::send(fd_.get(), data.data() + sent, len, MSG_NOSIGNAL);
                if (n > 0) {
                    sent += static_cast<std::size_t>(n);
                    progress = true;
                } else if (errno == EAGAIN) {
                    events |= POLLOUT;
                } else {
                    last_error = std::string("send: ") + std::strerror(errno);
                    break;
                }
            }
        }
        std::size_t got = 0;
        if (ssl_) {
            if (SSL_read_ex(ssl_.get(), buf.data(), buf.size(), &got) != 1) {
                const int e = SSL_get_error(ssl_.get(), 0);
                if (e == SSL_ERROR_WANT_READ)
                    events |= POLLIN;
                else if (e == SSL_ERROR_WANT_WRITE)
                    events |= POLLOUT;
                else {
                    last_error = "SSL_read failed/EOF at " + std::to_string(received);
                    break;
                }
            }
        } else {
            const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
            if (n > 0)
                got = static_cast<std::size_t>(n);
            else if (n < 0 && errno == EAGAIN)
                events |= POLLIN;
            else {
                last_error = "recv failed/EOF at " + std::to_string(received);
                break;
            }
        }
        if (got > 0) {
            hash.update(buf.data(), got);
            received += got;
            progress = true;
        }
        if (!progress) {
            pollfd p{fd_.get(), static_cast<short>(events | POLLIN), 0};
            ::poll(&p, 1, 100);
        }
    }
    ERR_clear_error();
    ::fcntl(fd_.get(), F_SETFL, flags);
    return result;
}

namespace {

int on_status(SSL *ssl, void *arg) {
    auto *out = static_cast<std::vector<std::uint8_t> *>(arg);
    const unsigned char *resp = nullptr;
    const long len = SSL_get_tlsext_status_ocsp_resp(ssl, &resp);
    if (resp != nullptr && len > 0) out->assign(resp, resp + len);
    return 1;
}

void on_info(const SSL *ssl, int where, int ret) {
    if ((where & SSL_CB_READ_ALERT) != SSL_CB_READ_ALERT) return;
    auto *out = static_cast<ClientResult *>(SSL_get_app_data(ssl));
    if (out != nullptr) out->alert_received = ret & 0xff;
}

}  // namespace

ClientResult tls_connect(std::uint16_t port, const ClientOptions &o) {
    ClientResult out;
    CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_min_proto_version(ctx.get(), o.min_version);
    SSL_CTX_set_max_proto_version(ctx.get(), o.max_version);
    if (o.min_version < TLS1_2_VERSION) {  // OpenSSL 3 allows TLS 1.0/1.1 at level 0 only
        SSL_CTX_set_cipher_list(ctx.get(), "DEFAULT:@SECLEVEL=0");
        SSL_CTX_set_security_level(ctx.get(), 0);
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_mode(ctx.get(),
                     SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!o.sigalgs.empty()) SSL_CTX_set1_sigalgs_list(ctx.get(), o.sigalgs.c_str());
    if (o.request_ocsp) {
        SSL_CTX_set_tlsext_status_cb(ctx.get(), on_status);
        SSL_CTX_set_tlsext_status_arg(ctx.get(), &out.ocsp);
    }
    UniqueFd fd = tcp_connect(port);
    if (!fd) {
        out.error = "connect failed";
        return out;
    }
    SslObj ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd.get());
    SSL_set_app_data(ssl.get(), &out);
    SSL_set_info_callback(ssl.get(), on_info);
    if (o.request_ocsp) SSL_set_tlsext_status_type(ssl.get(), TLSEXT_STATUSTYPE_ocsp);
    if (!o.sni.empty()) SSL_set_tlsext_host_name(ssl.get(), o.sni.c_str());
    if (o.session != nullptr) SSL_set_session(ssl.get(), o.session);
    if (!o.alpn.empty()) {
        std::vector<unsigned char> wire;
        for (const auto &p : o.alpn) {
            wire.push_back(static_cast<unsigned char>(p.size()));
            wire.insert(wire.end(), p.begin(), p.end());
        }
        SSL_set_alpn_protos(ssl.get(), wire.data(), static_cast<unsigned>(wire.size()));
    }
    if (SSL_connect(ssl.get()) != 1) {
        char e[256] = {};
        ERR_error_string_n(ERR_peek_last_error(), e, sizeof e);
        out.error = e[0] != 0 ? e : "handshake failed (connection closed)";
        ERR_clear_error();
        return out;
    }
    SSL_set_app_data(ssl.get(), nullptr);
    SSL_set_info_callback(ssl.get(), nullptr);
    out.version = SSL_get_version(ssl.get());
    out.cipher = SSL_get_cipher_name(ssl.get());
    out.reused = SSL_session_reused(ssl.get()) == 1;
    const unsigned char *alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(ssl.get(), &alpn, &alpn_len);
    if (alpn != nullptr) out.alpn.assign(reinterpret_cast<const char *>(alpn), alpn_len);
    if (X509 *peer = SSL_get1_peer_certificate(ssl.get())) {
        out.peer_cn = subject_cn(peer);
        EVP_PKEY *key = X509_get0_pubkey(peer);
        out.peer_key = key != nullptr && EVP_PKEY_is_a(key, "RSA") ? "RSA" : "EC";
        X509_free(peer);
    }
    out.stream = std::make_unique<Stream>(std::move(fd), std::move(ssl));
    return out;
}

}  // namespace sni::wtest
