// Terminate routes through the BPF classifier with the real sni-worker: TLS with the route's
// certificate, end to end. The daemon reads the ClientHello from the socket's psock, takes the
// socket out of the classifier's SOCKHASH and hands it off; the worker's OpenSSL replays the
// hello and reads the rest from the socket. Every byte must come back, and each connection
// must end cleanly. (Keeping terminate sockets in the map for life, as passthrough ones are, was
// measured and not taken: docs/performance.md, "Passthrough: one SOCKHASH".)
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "harness.hpp"
#include "hello_builder.hpp"
#include "net_client.hpp"
#include "real_worker.hpp"

namespace sni::itest {
namespace {

using namespace std::chrono_literals;

struct CtxFree {
    void operator()(SSL_CTX *c) const { SSL_CTX_free(c); }
};
struct SslFree {
    void operator()(SSL *s) const { SSL_free(s); }
};

std::string openssl_error() {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    return buf;
}

// One TLS 1.3 connection: sends `payload`, reads as many bytes back, closes with close_notify.
// Returns "" or what went wrong.
std::string tls_echo(std::uint16_t port, const std::string &sni, const Bytes &payload) {
    std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) return "SSL_CTX_new: " + openssl_error();
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
    UniqueFd fd = connect_tcp("127.0.0.1", port);
    if (!fd.valid()) return "connect failed";
    std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd.get());
    SSL_set_tlsext_host_name(ssl.get(), sni.c_str());
    if (SSL_connect(ssl.get()) != 1) return "handshake: " + openssl_error();
    if (SSL_write(ssl.get(), payload.data(), static_cast<int>(payload.size())) !=
        static_cast<int>(payload.size()))
        return "write: " + openssl_error();
    Bytes back(payload.size());
    std::size_t got = 0;
    while (got < back.size()) {
        const int n = SSL_read(ssl.get(), back.data() + got, static_cast<int>(back.size() - got));
        if (n <= 0) return "read after " + std::to_string(got) + " bytes: " + openssl_error();
        got += static_cast<std::size_t>(n);
    }
    if (back != payload) return "the echo differs";
    SSL_shutdown(ssl.get());
    return "";
}

TEST(TerminateThroughTheKernel, EveryByteOfTlsEchoes) {
    TempDir certs;
    make_certificate(certs.path(), "t", {"t.test"});
    EchoBackend backend;
    const std::string crt = (certs.path() / "t.crt").string();
    const std::string key = (certs.path() / "t.key").string();
    RealWorkerDaemon d(
        "  - name: t\n    listener: main\n    server_names: [t.test]\n"
        "    mode: terminate\n"
        "    tls: {certificates: [{cert: \"" +
            crt + "\", key: \"" + key +
            "\"}]}\n"
            "    backend: {servers: [\"127.0.0.1:" +
            std::to_string(backend.port()) + "\"]}\n",
        "bpf");
    ASSERT_TRUE(d.daemon->wait_ready()) << d.daemon->log();
    constexpr int kConns = 20;
    for (int i = 0; i < kConns && !HasFailure(); ++i)
        EXPECT_EQ(tls_echo(d.main_port, "t.test", random_payload(64 * 1024, 300 + i)), "")
            << "connection " << i;
    const std::string log = d.wait_access_lines(kConns);
    EXPECT_EQ(count_of(log, "\"close_reason\":\"closed\""), std::size_t{kConns}) << log;
    if (HasFailure()) ADD_FAILURE() << d.daemon->log();
    EXPECT_EQ(d.daemon->stop(), 0);
}

}  // namespace
}  // namespace sni::itest
