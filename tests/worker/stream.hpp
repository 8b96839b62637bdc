// Blocking test-side streams (TLS or plain TCP) for clients and backends, a TLS client that
// connects through the Frontend, and SHA-256 helpers.
#pragma once

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"

namespace sni::wtest {

using namespace std::chrono_literals;

struct CtxFree {
    void operator()(SSL_CTX *c) const { SSL_CTX_free(c); }
};
struct SslFree {
    void operator()(SSL *s) const { SSL_free(s); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;
using SslObj = std::unique_ptr<SSL, SslFree>;

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256 &) = delete;
    Sha256 &operator=(const Sha256 &) = delete;
    void update(const void *data, std::size_t len);
    std::string hex();  // finishes

  private:
    EVP_MD_CTX *ctx_;
};
std::string sha256_hex(const void *data, std::size_t len);

class Stream {
  public:
    Stream(UniqueFd fd, SslObj ssl);
    SSL *ssl() const { return ssl_.get(); }
    int fd() const { return fd_.get(); }

    bool write_all(std::string_view data);
    bool write_all(const std::uint8_t *data, std::size_t len);
    // One read: bytes, "" on EOF (see eof_clean()), nullopt on error (see last_error).
    std::optional<std::string> read_some();
    std::optional<std::string> read_to_eof();
    std::optional<std::string> read_exactly(std::size_t n);
    // close_notify (TLS), then FIN.
    void half_close();
    // After EOF: true when it was a close_notify (TLS) rather than a bare FIN.
    bool eof_clean() const { return eof_clean_; }

    // Sends `data` while reading back as many bytes (an echo peer), full duplex, non-blocking
    // internally. Returns the SHA-256 of what came back, or nullopt (see last_error).
    std::optional<std::string> echo_duplex(const std::vector<std::uint8_t> &data,
                                           std::chrono::milliseconds timeout);

    std::string last_error;

  private:
    UniqueFd fd_;
    SslObj ssl_;
    bool eof_clean_ = false;
};

struct ClientOptions {
    int min_version = TLS1_2_VERSION;
    int max_version = TLS1_3_VERSION;
    std::string sni;
    std::vector<std::string> alpn;
    std::string sigalgs;  // "" = OpenSSL's default list
    bool request_ocsp = false;
    SSL_SESSION *session = nullptr;  // offered for resumption (not owned)

    ClientOptions &versions(int min, int max) {
        min_version = min;
        max_version = max;
        return *this;
    }
    ClientOptions &protocols(std::vector<std::string> p) {
        alpn = std::move(p);
        return *this;
    }
    ClientOptions &signature_algorithms(std::string s) {
        sigalgs = std::move(s);
        return *this;
    }
    ClientOptions &resume(SSL_SESSION *s) {
        session = s;
        return *this;
    }
    ClientOptions &ocsp() {
        request_ocsp = true;
        return *this;
    }
};
// Options with this SNI (the usual start of a chain: sni("a.test").protocols({"h2"})).
inline ClientOptions sni(std::string name) {
    ClientOptions o;
    o.sni = std::move(name);
    return o;
}

struct ClientResult {
    std::unique_ptr<Stream> stream;  // nullptr when connect or handshake failed
    std::string error;
    int alert_received = -1;  // the alert description the server sent, if any
    std::string peer_cn;
    std::string peer_key;  // "EC" / "RSA"
    std::string version;
    std::string cipher;  // SSL_get_cipher_name
    std::string alpn;
    std::vector<std::uint8_t> ocsp;
    bool reused = false;  // SSL_session_reused
};

// Connects to 127.0.0.1:port and runs the TLS handshake (no certificate verification: tests
// check the subject themselves).
ClientResult tls_connect(std::uint16_t port, const ClientOptions &options);

// Plain TCP to 127.0.0.1:port with 15 s I/O timeouts.
UniqueFd tcp_connect(std::uint16_t port);
void set_io_timeouts(int fd, std::chrono::milliseconds timeout);

// Deterministic pseudo-random bytes.
std::vector<std::uint8_t> make_payload(std::size_t size, std::uint64_t seed);

}  // namespace sni::wtest
