// CertDecodeCtx (workers/cert_decode_ctx): the backend legs' library context that decodes only
// DER SubjectPublicKeyInfo keys on OpenSSL 3.0. It must decode the keys the default context
// decodes, verify and refuse chains as the default context does, and stay out of the way
// wherever it would change anything else (another OpenSSL version, another provider).
#include <gtest/gtest.h>

#include <openssl/decoder.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/worker/fixture.hpp"
#include "workers/cert_decode_ctx.hpp"
#include "workers/ossl.hpp"

namespace sni::wtest {
namespace {

using worker::CertDecodeCtx;

TEST(CertDecodeCtx, AppliesOnlyToOpenSsl30WithTheDefaultProvider) {
    constexpr unsigned long k3019 = 0x30000130UL, k302 = 0x30200000UL, k111 = 0x1010117fUL;
    EXPECT_EQ(CertDecodeCtx::not_applicable(k3019, {"default"}), "");
    EXPECT_EQ(CertDecodeCtx::not_applicable(k3019, {}), "");
    EXPECT_EQ(CertDecodeCtx::not_applicable(k3019, {"base", "default"}), "");
    EXPECT_NE(CertDecodeCtx::not_applicable(k3019, {"default", "legacy"}).find("\"legacy\""),
              std::string::npos);
    EXPECT_NE(CertDecodeCtx::not_applicable(k3019, {"fips"}).find("\"fips\""), std::string::npos);
    EXPECT_NE(CertDecodeCtx::not_applicable(k302, {"default"}).find("OpenSSL 3.2"),
              std::string::npos);
    EXPECT_NE(CertDecodeCtx::not_applicable(k111, {"default"}).find("OpenSSL 1.1"),
              std::string::npos);
}

// The context of this process: made on OpenSSL 3.0.x (Debian 12, CI), refused elsewhere.
std::optional<CertDecodeCtx> made_here() {
    auto made = CertDecodeCtx::create();
    if (CertDecodeCtx::not_applicable(OpenSSL_version_num(), {}).empty()) {
        EXPECT_TRUE(made) << made.error();
    } else {
        EXPECT_FALSE(made);
        if (!made) {
            EXPECT_NE(made.error().find("caches decoder contexts"), std::string::npos);
        }
    }
    if (!made) return std::nullopt;
    return std::move(made).value();
}

int count_decoders(OSSL_LIB_CTX *libctx, bool spki_only) {
    struct Count {
        int n = 0;
        bool spki_only;
    } c{0, spki_only};
    OSSL_DECODER_do_all_provided(
        libctx,
        [](OSSL_DECODER *d, void *arg) {
            auto *c = static_cast<Count *>(arg);
            const char *props = OSSL_DECODER_get0_properties(d);
            const bool spki =
                props != nullptr &&
                std::string(props).find("structure=SubjectPublicKeyInfo") != std::string::npos &&
                std::string(props).find("input=der") != std::string::npos;
            if (!c->spki_only || spki) ++c->n;
        },
        &c);
    return c.n;
}

class CertDecodeCtxKeys : public WorkerTest {};

TEST_F(CertDecodeCtxKeys, DecodesTheKeysTheDefaultContextDecodesWithFewerDecoders) {
    auto ctx = made_here();
    if (!ctx) GTEST_SKIP() << "not OpenSSL 3.0: the default context is used (checked above)";
    // Only SPKI-from-DER decoders, and fewer than the default context walks.
    const int mine = count_decoders(ctx->get(), false);
    EXPECT_GT(mine, 0);
    EXPECT_EQ(mine, count_decoders(ctx->get(), true));
    EXPECT_LT(mine, count_decoders(nullptr, false));

    const CertFiles rsa = pki_.make_leaf("rsa", {"backend.internal"}, ca_, KeyType::kRsa);
    worker::X509Ptr ca_default = read_certificate(ca_.cert, nullptr);
    ASSERT_TRUE(ca_default);
    for (const CertFiles *c : std::vector<const CertFiles *>{&ca_, &backend_, &rsa}) {
        SCOPED_TRACE(c->cert.string());
        worker::X509Ptr a = read_certificate(c->cert, ctx->get());
        worker::X509Ptr b = read_certificate(c->cert, nullptr);
        ASSERT_TRUE(a && b);
        EVP_PKEY *ka = X509_get0_pubkey(a.get());
        ASSERT_NE(ka, nullptr) << worker::take_openssl_errors();
        EXPECT_EQ(EVP_PKEY_eq(ka, X509_get0_pubkey(b.get())), 1);
        EXPECT_EQ(X509_verify(a.get(), X509_get0_pubkey(ca_default.get())), 1);
    }
    // A certificate signed by another CA does not verify with our CA's key.
    worker::X509Ptr rogue = read_certificate(rogue_backend_.cert, ctx->get());
    ASSERT_TRUE(rogue);
    EXPECT_EQ(X509_verify(rogue.get(), X509_get0_pubkey(ca_default.get())), 0);
    worker::take_openssl_errors();
}

// The worker says which context its backend legs use.
TEST_F(CertDecodeCtxKeys, WorkerLogsTheBackendDecoders) {
    auto ctx = made_here();
    RouteSpec r;
    r.servers = {"127.0.0.1:9"};
    r.backend_extra = backend_tls();
    start({r});
    EXPECT_TRUE(worker_->wait_log_contains(ctx ? "decoders=spki_only" : "decoders=default"))
        << read_file(log_path_);
}

}  // namespace
}  // namespace sni::wtest
