// The backend verify cache (workers/verify_cache): BackendTls driven in-process against real
// OpenSSL backends on loopback, full handshakes only (no resumption), with an injected clock.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <ctime>
#include <memory>

#include "tests/worker/fixture.hpp"
#include "workers/backend_tls.hpp"
#include "workers/cert_decode_ctx.hpp"

namespace sni::wtest {
namespace {

using worker::BackendSslState;
using worker::BackendTls;
using worker::VerifyCache;

struct Handshake {
    bool ok = false;
    long verify_result = -1;
    int verified_chain = 0;  // certificates in SSL_get0_verified_chain
    std::string note;        // BackendSslState::verify_note
};

class ReencryptVerifyCache : public WorkerTest {
  protected:
    ReencryptVerifyCache() { now_ = std::time(nullptr); }

    config::Route route(std::uint16_t port, bool cache = true,
                        std::vector<std::string> pins = {}) const {
        config::Route r;
        r.name = "r";
        r.backend.servers.push_back({{config::AddressKind::kIpv4, "127.0.0.1", port}, 1});
        config::BackendTls t;
        t.sni_mode = config::BackendSni::kClient;  // the name is the one given per handshake
        t.verify.ca = ca_.cert.string();
        t.verify.cache = cache;
        t.verify.pin_sha256 = std::move(pins);
        r.backend.tls = t;
        return r;
    }

    std::unique_ptr<BackendTls> make(const config::Route &r, OSSL_LIB_CTX *libctx = nullptr) {
        auto tls = BackendTls::create(
            r, [this] { return now_; }, true, libctx);
        EXPECT_TRUE(tls) << (tls ? "" : tls.error());
        return tls ? std::move(*tls) : nullptr;
    }

    static std::unique_ptr<BackendServer> backend(const CertFiles &cert, std::uint16_t port = 0) {
        BackendOptions o;
        o.port = port;
        return std::make_unique<BackendServer>(
            make_backend_ctx(cert.cert, cert.key, TLS1_2_VERSION, TLS1_3_VERSION), o);
    }

    // One full handshake with `tls` to 127.0.0.1:`port`, checking the name `name`.
    static Handshake handshake(BackendTls &tls, std::uint16_t port, const std::string &name) {
        Handshake h;
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
            h.note = "connect failed";
            return h;
        }
        BackendSslState state;
        state.sni = name;
        auto ssl = tls.new_ssl(fd.get(), state, "", /*resume=*/false);
        if (!ssl) {
            h.note = ssl.error();
            return h;
        }
        h.ok = SSL_connect(ssl->get()) == 1;
        h.verify_result = SSL_get_verify_result(ssl->get());
        if (STACK_OF(X509) *chain = SSL_get0_verified_chain(ssl->get()))
            h.verified_chain = sk_X509_num(chain);
        h.note = state.verify_note;
        if (h.ok) SSL_shutdown(ssl->get());
        ERR_clear_error();
        return h;
    }

    std::time_t now_;
};

TEST_F(ReencryptVerifyCache, SecondHandshakeToTheSameBackendHits) {
    auto be = backend(backend_);
    auto tls = make(route(be->port()));
    ASSERT_TRUE(tls);
    ASSERT_NE(tls->verify_cache(), nullptr);

    const Handshake first = handshake(*tls, be->port(), "backend.internal");
    EXPECT_TRUE(first.ok);
    EXPECT_EQ(first.verify_result, X509_V_OK);
    EXPECT_EQ(tls->verify_cache()->misses(), 1u);
    EXPECT_EQ(tls->verify_cache()->hits(), 0u);

    const Handshake second = handshake(*tls, be->port(), "backend.internal");
    EXPECT_TRUE(second.ok);
    EXPECT_EQ(second.verify_result, X509_V_OK);
    EXPECT_EQ(second.verified_chain, first.verified_chain);  // leaf + CA
    EXPECT_EQ(second.verified_chain, 2);
    EXPECT_EQ(tls->verify_cache()->hits(), 1u);
    EXPECT_EQ(tls->verify_cache()->misses(), 1u);
}

TEST_F(ReencryptVerifyCache, UntrustedCertificateOnTheSamePortIsRefusedAfterACachedOne) {
    auto be = backend(backend_);
    const std::uint16_t port = be->port();
    auto tls = make(route(port));
    ASSERT_TRUE(tls);
    ASSERT_TRUE(handshake(*tls, port, "backend.internal").ok);
    ASSERT_TRUE(handshake(*tls, port, "backend.internal").ok);
    EXPECT_EQ(tls->verify_cache()->hits(), 1u);

    be.reset();
    be = backend(rogue_backend_, port);  // same port and name, a CA we do not trust
    for (int i = 0; i < 2; ++i) {
        const Handshake h = handshake(*tls, port, "backend.internal");
        EXPECT_FALSE(h.ok) << "attempt " << i;
        EXPECT_NE(h.verify_result, X509_V_OK);
    }
    EXPECT_EQ(tls->verify_cache()->hits(), 1u);
    EXPECT_EQ(tls->verify_cache()->misses(), 3u);  // a failure is never stored
}

TEST_F(ReencryptVerifyCache, ADifferentVerifyNameIsAMiss) {
    auto be = backend(backend_);  // valid for backend.internal and app.route.test
    auto tls = make(route(be->port()));
    ASSERT_TRUE(tls);
    EXPECT_TRUE(handshake(*tls, be->port(), "backend.internal").ok);
    EXPECT_TRUE(handshake(*tls, be->port(), "app.route.test").ok);
    EXPECT_EQ(tls->verify_cache()->hits(), 0u);
    EXPECT_EQ(tls->verify_cache()->misses(), 2u);
    // A name the certificate does not carry fails, though the same chain is cached twice.
    const Handshake wrong = handshake(*tls, be->port(), "other.internal");
    EXPECT_FALSE(wrong.ok);
    EXPECT_EQ(wrong.verify_result, X509_V_ERR_HOSTNAME_MISMATCH);
    EXPECT_TRUE(handshake(*tls, be->port(), "app.route.test").ok);
    EXPECT_EQ(tls->verify_cache()->hits(), 1u);
}

TEST_F(ReencryptVerifyCache, CacheFalseNeverCaches) {
    auto be = backend(backend_);
    auto tls = make(route(be->port(), /*cache=*/false));
    ASSERT_TRUE(tls);
    EXPECT_EQ(tls->verify_cache(), nullptr);
    for (int i = 0; i < 2; ++i) {
        const Handshake h = handshake(*tls, be->port(), "backend.internal");
        EXPECT_TRUE(h.ok);
        EXPECT_EQ(h.verify_result, X509_V_OK);
        EXPECT_EQ(h.verified_chain, 2);
    }
}

TEST_F(ReencryptVerifyCache, AnExpiredEntryIsVerifiedAgain) {
    auto be = backend(backend_);
    auto tls = make(route(be->port()));
    ASSERT_TRUE(tls);
    EXPECT_TRUE(handshake(*tls, be->port(), "backend.internal").ok);
    now_ += VerifyCache::kMaxAge - 1;
    EXPECT_TRUE(handshake(*tls, be->port(), "backend.internal").ok);
    EXPECT_EQ(tls->verify_cache()->hits(), 1u);
    now_ += 2;  // kMaxAge + 1 after the insert
    EXPECT_TRUE(handshake(*tls, be->port(), "backend.internal").ok);
    EXPECT_EQ(tls->verify_cache()->hits(), 1u);
    EXPECT_EQ(tls->verify_cache()->misses(), 2u);
    EXPECT_TRUE(handshake(*tls, be->port(), "backend.internal").ok);
    EXPECT_EQ(tls->verify_cache()->hits(), 2u);
}

TEST_F(ReencryptVerifyCache, PinsAreCheckedOnEveryHit) {
    auto be = backend(backend_);
    auto tls = make(route(be->port(), true, {spki_pin_of(rogue_backend_.cert)}));
    ASSERT_TRUE(tls);
    for (int i = 0; i < 2; ++i) {
        const Handshake h = handshake(*tls, be->port(), "backend.internal");
        EXPECT_FALSE(h.ok) << "attempt " << i;
        EXPECT_EQ(h.verify_result, X509_V_ERR_APPLICATION_VERIFICATION);
        EXPECT_NE(h.note.find("matches no pin_sha256"), std::string::npos) << h.note;
    }
    EXPECT_EQ(tls->verify_cache()->hits(), 1u);  // the chain itself was valid
}

// The backend legs' own library context on OpenSSL 3.0 (CertDecodeCtx: SPKI decoders only)
// verifies ECDSA and RSA backends, caches their chains and refuses an untrusted one, as the
// default context does.
TEST_F(ReencryptVerifyCache, SpkiDecoderContextVerifiesCachesAndRefuses) {
    auto decode = worker::CertDecodeCtx::create();
    if (!worker::CertDecodeCtx::not_applicable(OpenSSL_version_num(), {}).empty())
        GTEST_SKIP() << "not OpenSSL 3.0: " << (decode ? "" : decode.error());
    ASSERT_TRUE(decode) << decode.error();
    const CertFiles rsa = pki_.make_leaf("backend-rsa", {"backend.internal"}, ca_, KeyType::kRsa);
    for (const CertFiles *cert : std::vector<const CertFiles *>{&backend_, &rsa}) {
        SCOPED_TRACE(cert->cert.string());
        auto be = backend(*cert);
        auto tls = make(route(be->port()), decode->get());
        ASSERT_TRUE(tls);
        for (int i = 0; i < 2; ++i) {
            const Handshake h = handshake(*tls, be->port(), "backend.internal");
            EXPECT_TRUE(h.ok) << h.note;
            EXPECT_EQ(h.verify_result, X509_V_OK);
            EXPECT_EQ(h.verified_chain, 2);
        }
        EXPECT_EQ(tls->verify_cache()->hits(), 1u);
        const Handshake wrong = handshake(*tls, be->port(), "other.internal");
        EXPECT_FALSE(wrong.ok);
        EXPECT_EQ(wrong.verify_result, X509_V_ERR_HOSTNAME_MISMATCH);
    }
    auto rogue = backend(rogue_backend_);
    auto tls = make(route(rogue->port()), decode->get());
    ASSERT_TRUE(tls);
    const Handshake h = handshake(*tls, rogue->port(), "backend.internal");
    EXPECT_FALSE(h.ok);
    EXPECT_NE(h.verify_result, X509_V_OK);
}

// Where the kernel has no tls ULP the worker builds its contexts without SSL_OP_ENABLE_KTLS,
// so no handshake makes TCP_ULP setsockopts that cannot succeed, and with read-ahead from the
// start; elsewhere kTLS is asked for and read-ahead waits for the handshake's end.
TEST_F(ReencryptVerifyCache, KtlsIsAskedForOnlyWhereTheKernelHasIt) {
    const config::Route r = route(9);
    auto with = BackendTls::create(r, {}, true);
    auto without = BackendTls::create(r, {}, false);
    ASSERT_TRUE(with && without);
    EXPECT_NE(SSL_CTX_get_options((*with)->ctx()) & SSL_OP_ENABLE_KTLS, 0u);
    EXPECT_EQ(SSL_CTX_get_options((*without)->ctx()) & SSL_OP_ENABLE_KTLS, 0u);
    // Without kTLS, read-ahead from the first handshake byte; with it, only after (per SSL).
    EXPECT_EQ(SSL_CTX_get_read_ahead((*with)->ctx()), 0);
    EXPECT_EQ(SSL_CTX_get_read_ahead((*without)->ctx()), 1);
}

}  // namespace
}  // namespace sni::wtest
