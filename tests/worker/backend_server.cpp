#include "tests/worker/backend_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace sni::wtest {

namespace {

int on_servername(SSL *ssl, int * /*alert*/, void * /*arg*/) {
    auto *rec = static_cast<BackendRecord *>(SSL_get_app_data(ssl));
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (rec != nullptr && name != nullptr) rec->sni = name;
    return SSL_TLSEXT_ERR_OK;
}

int on_alpn_required(SSL * /*ssl*/, const unsigned char **out, unsigned char *outlen,
                     const unsigned char *in, unsigned int inlen, void *arg) {
    const auto *required = static_cast<const std::string *>(arg);
    for (unsigned i = 0; i < inlen;) {
        const unsigned n = in[i];
        if (i + 1 + n > inlen) break;
        if (std::string(reinterpret_cast<const char *>(in + i + 1), n) == *required) {
            *out = in + i + 1;
            *outlen = static_cast<unsigned char>(n);
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

std::string addr_text(int family, const std::uint8_t *addr, std::uint16_t port_be) {
    char buf[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(family, addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(port_be));
}

// Reads a PROXY v2 header from a plain socket. nullopt when malformed.
std::optional<ProxyInfo> read_proxy_v2(int fd) {
    auto read_n = [&](std::uint8_t *p, std::size_t n) {
        std::size_t got = 0;
        while (got < n) {
            const ssize_t r = ::recv(fd, p + got, n - got, 0);
            if (r <= 0) return false;
            got += static_cast<std::size_t>(r);
        }
        return true;
    };
    std::uint8_t head[16];
    if (!read_n(head, 16)) return std::nullopt;
    static const std::uint8_t kSig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                          0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    if (std::memcmp(head, kSig, 12) != 0 || head[12] != 0x21) return std::nullopt;
    const std::size_t len = (std::size_t(head[14]) << 8) | head[15];
    std::vector<std::uint8_t> body(len);
    if (!read_n(body.data(), len)) return std::nullopt;
    ProxyInfo info;
    std::size_t off = 0;
    if (head[13] == 0x11 && len >= 12) {
        std::uint16_t sp, dp;
        std::memcpy(&sp, &body[8], 2);
        std::memcpy(&dp, &body[10], 2);
        info.source = addr_text(AF_INET, &body[0], sp);
        info.destination = addr_text(AF_INET, &body[4], dp);
        off = 12;
    } else if (head[13] == 0x21 && len >= 36) {
        std::uint16_t sp, dp;
        std::memcpy(&sp, &body[32], 2);
        std::memcpy(&dp, &body[34], 2);
        info.source = addr_text(AF_INET6, &body[0], sp);
        info.destination = addr_text(AF_INET6, &body[16], dp);
        off = 36;
    } else {
        return std::nullopt;
    }
    while (off + 3 <= len) {
        const std::uint8_t type = body[off];
        const std::size_t n = (std::size_t(body[off + 1]) << 8) | body[off + 2];
        if (off + 3 + n > len) return std::nullopt;
        const std::string value(reinterpret_cast<const char *>(&body[off + 3]), n);
        if (type == 0x01) info.alpn = value;
        if (type == 0x02) info.authority = value;
        off += 3 + n;
    }
    return info;
}

}  // namespace

CtxPtr make_backend_ctx(const std::filesystem::path &cert, const std::filesystem::path &key,
                        int min_version, int max_version) {
    CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error("backend certificate failed to load");
    SSL_CTX_set_min_proto_version(ctx.get(), min_version);
    SSL_CTX_set_max_proto_version(ctx.get(), max_version);
    if (min_version < TLS1_2_VERSION) {
        SSL_CTX_set_cipher_list(ctx.get(), "DEFAULT:@SECLEVEL=0");
        SSL_CTX_set_security_level(ctx.get(), 0);
    }
    SSL_CTX_set_tlsext_servername_callback(ctx.get(), on_servername);
    SSL_CTX_set_session_id_context(ctx.get(), reinterpret_cast<const unsigned char *>("b"), 1);
    return ctx;
}

BackendServer::BackendServer(CtxPtr ctx, BackendOptions options)
    : ctx_(std::move(ctx)), options_(std::move(options)) {
    if (ctx_ && !options_.required_alpn.empty())
        SSL_CTX_set_alpn_select_cb(ctx_.get(), on_alpn_required, &options_.required_alpn);
    listen_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int one = 1;
    ::setsockopt(listen_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // Accepted sockets inherit it, as in nginx (tcp_nodelay on): an echo is not held back.
    ::setsockopt(listen_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(options_.port);
    if (::bind(listen_.get(), reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
        ::listen(listen_.get(), 128) != 0)
        throw std::runtime_error("backend listen failed");
    socklen_t len = sizeof a;
    ::getsockname(listen_.get(), reinterpret_cast<sockaddr *>(&a), &len);
    port_ = ntohs(a.sin_port);
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    stop_r_.reset(p[0]);
    stop_w_.reset(p[1]);
    acceptor_ = std::thread([this] { accept_loop(); });
}

BackendServer::~BackendServer() {
    const char c = 'x';
    (void)!::write(stop_w_.get(), &c, 1);
    acceptor_.join();
    for (auto &t : threads_) t.join();
}

std::vector<BackendRecord> BackendServer::records() const {
    std::lock_guard lock(mu_);
    return records_;
}

bool BackendServer::wait_done(std::size_t n, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        {
            std::lock_guard lock(mu_);
            std::size_t done = 0;
            for (const auto &r : records_) done += r.done ? 1 : 0;
            if (done >= n) return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
}

void BackendServer::accept_loop() {
    for (;;) {
        pollfd p[2] = {{listen_.get(), POLLIN, 0}, {stop_r_.get(), POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) continue;
        if (p[1].revents != 0) return;
        UniqueFd fd(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!fd) continue;
        ++accepted_;
        std::size_t index;
        {
            std::lock_guard lock(mu_);
            index = records_.size();
            records_.emplace_back();
        }
        threads_.emplace_back(
            [this, f = std::move(fd), index]() mutable { serve(std::move(f), index); });
    }
}

void BackendServer::serve(UniqueFd fd, std::size_t index) {
    BackendRecord rec;
    set_io_timeouts(fd.get(), 20s);
    auto finish = [&] {
        rec.done = true;
        std::lock_guard lock(mu_);
        records_[index] = rec;
    };
    if (options_.expect_proxy_v2) {
        rec.proxy = read_proxy_v2(fd.get());
        if (!rec.proxy) {
            rec.error = "bad PROXY v2 header";
            finish();
            return;
        }
    }
    SslObj ssl;
    if (ctx_) {
        ssl.reset(SSL_new(ctx_.get()));
        SSL_set_fd(ssl.get(), fd.get());
        SSL_set_app_data(ssl.get(), &rec);
        if (SSL_accept(ssl.get()) != 1) {
            char e[256] = {};
            ERR_error_string_n(ERR_peek_last_error(), e, sizeof e);
            rec.error = std::string("handshake: ") + e;
            ERR_clear_error();
            finish();
            return;
        }
        SSL_set_app_data(ssl.get(), nullptr);
        rec.version = SSL_get_version(ssl.get());
        rec.cipher = SSL_get_cipher_name(ssl.get());
        rec.reused = SSL_session_reused(ssl.get()) == 1;
        const unsigned char *alpn = nullptr;
        unsigned alpn_len = 0;
        SSL_get0_alpn_selected(ssl.get(), &alpn, &alpn_len);
        if (alpn != nullptr) rec.alpn.assign(reinterpret_cast<const char *>(alpn), alpn_len);
    }
    Stream s(std::move(fd), std::move(ssl));
    Sha256 hash;
    auto take = [&](const std::string &chunk) {
        hash.update(chunk.data(), chunk.size());
        rec.bytes_in += chunk.size();
        if (rec.received.size() < 4096) rec.received += chunk.substr(0, 4096 - rec.received.size());
    };
    bool ok = true;
    if (options_.behavior == Behavior::kSlowSink) std::this_thread::sleep_for(options_.stall);
    if (options_.behavior == Behavior::kGreetFirst) {
        ok = s.write_all("greeting from backend");
        s.half_close();
    }
    while (ok) {
        auto chunk = s.read_some();
        if (!chunk) {
            rec.error = s.last_error;
            ok = false;
            break;
        }
        if (chunk->empty()) {
            rec.eof_clean = s.eof_clean();
            break;
        }
        take(*chunk);
        if (options_.behavior == Behavior::kEcho && !s.write_all(*chunk)) {
            rec.error = s.last_error;
            ok = false;
        }
    }
    rec.sha_in = hash.hex();
    if (ok &&
        (options_.behavior == Behavior::kReplyAfterEof || options_.behavior == Behavior::kSlowSink))
        ok = s.write_all("got " + std::to_string(rec.bytes_in) + " bytes");
    if (ok && options_.behavior != Behavior::kGreetFirst) s.half_close();
    finish();
}

}  // namespace sni::wtest
