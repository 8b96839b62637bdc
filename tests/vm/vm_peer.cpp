// sni-vm-peer: the TLS client and backend of the VM scenario (tests/vm/run-vm). Both ends send
// a deterministic pseudo-random stream of --bytes bytes (seeded by --send-seed) while reading
// the other end's, full duplex, then close with close_notify. Each connection prints one line:
//   peer role=client version=TLSv1.2 cipher=... sent=N recv=N sent_sha256=... recv_sha256=...
//        match=yes|no result=ok|mismatch|error
// where match says whether the bytes received are, byte for byte, the stream the other end was
// told to send (--recv-seed): each end proves on its own that what it received is intact, and
// the SHA-256 of one end's sent bytes must equal the other end's received ones.
//
//   sni-vm-peer server --port P --cert F --key F [common options]   (serves until killed)
//   sni-vm-peer client --port P --sni NAME [common options]          (one connection)
// common: --bytes N --send-seed S --recv-seed S --min 1.0..1.3 --max 1.0..1.3
//         --seclevel N --ciphers LIST --ktls; client only: --split-hello N (the ClientHello as
//         N bytes, a 300 ms pause, then the rest)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "workers/ossl.hpp"

namespace {

struct MdFree {
    void operator()(EVP_MD_CTX *p) const { EVP_MD_CTX_free(p); }
};
using sni::UniqueFd;
using sni::worker::SslCtxPtr;
using sni::worker::SslPtr;

// splitmix64 as a byte stream: the same seed gives the same bytes however it is chunked.
class Stream {
  public:
    explicit Stream(std::uint64_t seed) : state_(seed) {}
    void fill(std::uint8_t *out, std::size_t n) {
        std::size_t i = 0;
        for (; i < n && left_ > 0; ++i) out[i] = take_byte();
        for (; i + 8 <= n; i += 8) {  // whole words, low byte first like take_byte()
            std::uint64_t w = next();
            for (int b = 0; b < 8; ++b, w >>= 8) out[i + b] = static_cast<std::uint8_t>(w);
        }
        for (; i < n; ++i) out[i] = take_byte();
    }

  private:
    std::uint8_t take_byte() {
        if (left_ == 0) {
            word_ = next();
            left_ = 8;
        }
        const auto b = static_cast<std::uint8_t>(word_);
        word_ >>= 8;
        --left_;
        return b;
    }
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    std::uint64_t state_;
    std::uint64_t word_ = 0;
    int left_ = 0;
};

class Sha256 {
  public:
    Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
    void update(const std::uint8_t *p, std::size_t n) { EVP_DigestUpdate(ctx_.get(), p, n); }
    std::string hex() {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        EVP_DigestFinal_ex(ctx_.get(), md, &len);
        std::string out;
        char two[3];
        for (unsigned int i = 0; i < len; ++i) {
            std::snprintf(two, sizeof two, "%02x", md[i]);
            out += two;
        }
        return out;
    }

  private:
    std::unique_ptr<EVP_MD_CTX, MdFree> ctx_;
};

struct Options {
    std::string role;
    int port = 0;
    std::string sni, cert, key, ciphers;
    std::uint64_t bytes = 1 << 20, send_seed = 1, recv_seed = 2;
    int min_version = TLS1_2_VERSION, max_version = TLS1_3_VERSION;
    int seclevel = -1;
    bool ktls = false;
    std::size_t split_hello = 0;  // client: send the ClientHello as this many bytes, then the rest
};

std::optional<int> version_of(const std::string &v) {
    static const std::map<std::string, int> k = {{"1.0", TLS1_VERSION},
                                                 {"1.1", TLS1_1_VERSION},
                                                 {"1.2", TLS1_2_VERSION},
                                                 {"1.3", TLS1_3_VERSION}};
    const auto it = k.find(v);
    if (it == k.end()) return std::nullopt;
    return it->second;
}

std::optional<Options> parse(int argc, char **argv) {
    if (argc < 2) return std::nullopt;
    Options o;
    o.role = argv[1];
    if (o.role != "server" && o.role != "client") return std::nullopt;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--ktls") {
            o.ktls = true;
            continue;
        }
        if (i + 1 >= argc) return std::nullopt;
        const std::string v = argv[++i];
        if (a == "--port") {
            o.port = std::stoi(v);
        } else if (a == "--sni") {
            o.sni = v;
        } else if (a == "--cert") {
            o.cert = v;
        } else if (a == "--key") {
            o.key = v;
        } else if (a == "--ciphers") {
            o.ciphers = v;
        } else if (a == "--bytes") {
            o.bytes = std::stoull(v);
        } else if (a == "--send-seed") {
            o.send_seed = std::stoull(v);
        } else if (a == "--recv-seed") {
            o.recv_seed = std::stoull(v);
        } else if (a == "--split-hello") {
            o.split_hello = std::stoul(v);
        } else if (a == "--seclevel") {
            o.seclevel = std::stoi(v);
        } else if (a == "--min" || a == "--max") {
            const auto ver = version_of(v);
            if (!ver) return std::nullopt;
            (a == "--min" ? o.min_version : o.max_version) = *ver;
        } else {
            return std::nullopt;
        }
    }
    if (o.port <= 0 || (o.role == "server" && (o.cert.empty() || o.key.empty())))
        return std::nullopt;
    return o;
}

void print_errors(const char *what) {
    std::fprintf(stderr, "sni-vm-peer: %s\n", what);
    ERR_print_errors_fp(stderr);
}

SslCtxPtr make_ctx(const Options &o) {
    SslCtxPtr ctx(SSL_CTX_new(o.role == "server" ? TLS_server_method() : TLS_client_method()));
    if (!ctx) return ctx;
    if (o.seclevel >= 0) SSL_CTX_set_security_level(ctx.get(), o.seclevel);
    SSL_CTX_set_min_proto_version(ctx.get(), o.min_version);
    SSL_CTX_set_max_proto_version(ctx.get(), o.max_version);
    if (!o.ciphers.empty() && SSL_CTX_set_cipher_list(ctx.get(), o.ciphers.c_str()) != 1)
        return nullptr;
    SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (o.ktls) SSL_CTX_set_options(ctx.get(), SSL_OP_ENABLE_KTLS);
    if (o.role == "server") {
        if (SSL_CTX_use_certificate_chain_file(ctx.get(), o.cert.c_str()) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx.get(), o.key.c_str(), SSL_FILETYPE_PEM) != 1)
            return nullptr;
    }
    return ctx;
}

// Waits for `events` on fd; false on timeout (30 s without progress is a failure).
bool wait_for(int fd, short events) {
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, 30000) > 0;
}

// The full-duplex exchange on a connected, handshaken, non-blocking SSL. True when both
// streams completed; the line printed says whether they are intact.
bool exchange(const Options &o, SSL *ssl, int fd) {
    Stream out(o.send_seed), expect(o.recv_seed);
    Sha256 sent_sha, recv_sha;
    bool match = true;
    std::vector<std::uint8_t> wbuf(16384), rbuf(16384), ebuf(16384);
    std::size_t wlen = 0, woff = 0;
    std::uint64_t sent = 0, recvd = 0;
    std::string error;
    while (error.empty() && (sent < o.bytes || woff < wlen || recvd < o.bytes)) {
        bool progress = false;
        short want = 0;
        if (woff == wlen && sent < o.bytes) {
            wlen = static_cast<std::size_t>(std::min<std::uint64_t>(wbuf.size(), o.bytes - sent));
            woff = 0;
            out.fill(wbuf.data(), wlen);
            sent_sha.update(wbuf.data(), wlen);
            sent += wlen;
        }
        if (woff < wlen) {
            const int n = SSL_write(ssl, wbuf.data() + woff, static_cast<int>(wlen - woff));
            if (n > 0) {
                woff += static_cast<std::size_t>(n);
                progress = true;
            } else {
                const int e = SSL_get_error(ssl, n);
                if (e == SSL_ERROR_WANT_WRITE)
                    want |= POLLOUT;
                else if (e == SSL_ERROR_WANT_READ)
                    want |= POLLIN;
                else
                    error = "write failed";
            }
        }
        if (error.empty() && recvd < o.bytes) {
            const int n = SSL_read(ssl, rbuf.data(), static_cast<int>(rbuf.size()));
            if (n > 0) {
                const auto got = static_cast<std::size_t>(n);
                recv_sha.update(rbuf.data(), got);
                expect.fill(ebuf.data(), got);
                match = match && std::memcmp(rbuf.data(), ebuf.data(), got) == 0;
                recvd += got;
                progress = true;
            } else {
                const int e = SSL_get_error(ssl, n);
                if (e == SSL_ERROR_WANT_READ)
                    want |= POLLIN;
                else if (e == SSL_ERROR_WANT_WRITE)
                    want |= POLLOUT;
                else
                    error = "read ended after " + std::to_string(recvd) + " bytes";
            }
        }
        if (error.empty() && !progress && !wait_for(fd, want != 0 ? want : POLLIN))
            error = "no progress for 30 s";
    }
    if (recvd > o.bytes) error = "more bytes than expected";
    if (error.empty()) {
        // close_notify, then wait (bounded) for the other end's close.
        SSL_shutdown(ssl);
        for (int i = 0; i < 100; ++i) {
            const int n = SSL_read(ssl, rbuf.data(), static_cast<int>(rbuf.size()));
            if (n > 0) {
                error = "bytes after the stream";
                break;
            }
            if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ) break;
            if (!wait_for(fd, POLLIN)) break;
        }
    }
    const std::string got = recv_sha.hex();
    const char *cipher = SSL_get_cipher_name(ssl);
    const bool ok = error.empty() && match && recvd == o.bytes;
    std::printf(
        "peer role=%s version=%s cipher=%s sent=%llu recv=%llu sent_sha256=%s recv_sha256=%s "
        "match=%s result=%s%s%s\n",
        o.role.c_str(), SSL_get_version(ssl), cipher != nullptr ? cipher : "-",
        static_cast<unsigned long long>(sent), static_cast<unsigned long long>(recvd),
        sent_sha.hex().c_str(), got.c_str(), match ? "yes" : "no",
        !error.empty() ? "error" : (ok ? "ok" : "mismatch"),
        error.empty() ? "" : " error=", error.c_str());
    std::fflush(stdout);
    return ok;
}

bool serve_one(const Options &o, SSL_CTX *ctx, UniqueFd conn) {
    SslPtr ssl(SSL_new(ctx));
    if (!ssl || SSL_set_fd(ssl.get(), conn.get()) != 1) return false;
    if (SSL_accept(ssl.get()) != 1) {
        print_errors("handshake failed");
        return false;
    }
    ::fcntl(conn.get(), F_SETFL, ::fcntl(conn.get(), F_GETFL) | O_NONBLOCK);
    return exchange(o, ssl.get(), conn.get());
}

int run_server(const Options &o, SSL_CTX *ctx) {
    UniqueFd lfd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int one = 1;
    ::setsockopt(lfd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(o.port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(lfd.get(), reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
        ::listen(lfd.get(), 16) != 0) {
        std::perror("sni-vm-peer: bind/listen");
        return 1;
    }
    for (;;) {
        UniqueFd conn(::accept4(lfd.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (conn.get() < 0) continue;
        serve_one(o, ctx, std::move(conn));
    }
}

bool send_all(int fd, const char *p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return false;
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

// Sends the ClientHello as two TCP segments, `first` bytes, a pause, then the rest, so the
// kernel's verdict sees an incomplete hello. The hello is produced into a memory BIO (with the
// socket non-blocking, SSL_connect stops waiting for the ServerHello); then the SSL writes to
// the socket again and the caller finishes the handshake.
bool send_split_hello(SSL *ssl, int fd, std::size_t first) {
    BIO *mem = BIO_new(BIO_s_mem());
    if (mem == nullptr) return false;
    SSL_set0_wbio(ssl, mem);  // the SSL owns it
    const int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    const int r = SSL_connect(ssl);
    ::fcntl(fd, F_SETFL, flags);
    if (r == 1 || SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ) return false;
    char *data = nullptr;
    const long len = BIO_get_mem_data(mem, &data);
    if (len <= 0 || static_cast<std::size_t>(len) <= first) return false;
    const std::string hello(data, static_cast<std::size_t>(len));
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!send_all(fd, hello.data(), first)) return false;
    ::usleep(300 * 1000);
    if (!send_all(fd, hello.data() + first, hello.size() - first)) return false;
    BIO *sock = BIO_new_socket(fd, BIO_NOCLOSE);
    if (sock == nullptr) return false;
    SSL_set0_wbio(ssl, sock);  // frees the memory BIO
    return true;
}

int run_client(const Options &o, SSL_CTX *ctx) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(o.port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
        std::perror("sni-vm-peer: connect");
        return 1;
    }
    SslPtr ssl(SSL_new(ctx));
    if (!ssl || SSL_set_fd(ssl.get(), fd.get()) != 1) return 1;
    if (!o.sni.empty()) SSL_set_tlsext_host_name(ssl.get(), o.sni.c_str());
    if (o.split_hello > 0 && !send_split_hello(ssl.get(), fd.get(), o.split_hello)) {
        print_errors("sending the split ClientHello failed");
        return 1;
    }
    if (SSL_connect(ssl.get()) != 1) {
        print_errors("handshake failed");
        return 1;
    }
    ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
    return exchange(o, ssl.get(), fd.get()) ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv) {
    const auto o = parse(argc, argv);
    if (!o) {
        std::fprintf(stderr,
                     "usage: sni-vm-peer server|client --port P [--sni NAME] [--cert F --key F] "
                     "[--bytes N] [--send-seed S] [--recv-seed S] [--min V] [--max V] "
                     "[--seclevel N] [--ciphers LIST] [--ktls] [--split-hello N]\n");
        return 2;
    }
    SslCtxPtr ctx = make_ctx(*o);
    if (!ctx) {
        print_errors("TLS context");
        return 1;
    }
    return o->role == "server" ? run_server(*o, ctx.get()) : run_client(*o, ctx.get());
}
