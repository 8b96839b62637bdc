// The ClientHello parser against OpenSSL itself: every valid corpus entry (the real captures and
// the synthesized hellos expected OK) is fed into an OpenSSL server through a memory BIO, and
// what OpenSSL extracts from the same bytes must equal the parser's result:
//
//   legacy_version   SSL_client_hello_get0_legacy_version
//   record_version   the first record header OpenSSL read (message callback, SSL3_RT_HEADER)
//   record_bytes     bytes OpenSSL consumed from the read BIO (fed - pending); the hello is fed
//                    followed by a junk application_data record, which must stay unread
//   hello_len        the first handshake message OpenSSL read (message callback)
//   n_extensions     SSL_client_hello_get1_extensions_present (see below)
//   ECH outer        extension 0xfe0d present with first byte 0 (SSL_client_hello_get0_ext)
//   alpn*            the raw ALPN extension (SSL_client_hello_get0_ext(16))
//   versions         the raw supported_versions extension (SSL_client_hello_get0_ext(43))
//   sni              SSL_get_servername in the servername callback, i.e. OpenSSL's own parse of
//                    server_name. OpenSSL neither lower-cases the name nor strips a trailing
//                    dot; the parser does both, so OpenSSL's value is normalized the same way
//                    (ASCII lower case, one trailing dot removed) before comparing.
//
// OpenSSL 3.0 records in its extension list only the extension types it knows, or that are
// registered as custom extensions: the oracle registers a parse-only custom extension for every
// type it does not implement in 0..1023, the GREASE values and a list of known newer or private
// types, so that every extension of the corpus is counted. An unregistered type would make the
// counts differ and the test fail (then add the type to kExtraTypes).
//
// The servername callback returns a fatal alert after recording: OpenSSL then stops reading, so
// the bytes it consumed are exactly the records that carry the ClientHello. Entries whose
// .expect says openssl=rejects (the parser accepts them by design, OpenSSL 3.0 does not) must
// fail in OpenSSL's extension parsing, before that callback; their other fields still compare.
// openssl=rejects_record marks framing OpenSSL refuses before any parsing (a plaintext record
// longer than 2^14, which the parser accepts up to 2^14 + 256).
#include <gtest/gtest.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <cctype>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clienthello.hpp"
#include "tests/unit/corpus_util.hpp"

namespace {

using chtest::Bytes;
using chtest::Entry;

template <auto Fn>
struct Deleter {
    template <class T>
    void operator()(T *p) const {
        Fn(p);
    }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, Deleter<&SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<&SSL_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<&EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<&X509_free>>;

std::string openssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += std::string(out.empty() ? "" : "; ") + buf;
    }
    return out;
}

// What OpenSSL saw of one ClientHello.
struct Observed {
    bool hello_cb = false;
    unsigned legacy_version = 0;
    std::vector<int> ext_types;  // in received order
    std::optional<Bytes> alpn_ext, versions_ext, ech_ext;
    bool servername_cb = false;
    std::optional<std::string> servername;
    std::vector<std::array<uint8_t, 5>> record_headers;
    std::optional<Bytes> first_handshake;
    size_t consumed = 0;
    int handshake_rc = 0;
    std::string errors;
};

Observed &observed(SSL *s) {
    return *static_cast<Observed *>(SSL_get_app_data(s));
}

int on_client_hello(SSL *s, int *, void *) {
    Observed &o = observed(s);
    o.hello_cb = true;
    o.legacy_version = SSL_client_hello_get0_legacy_version(s);
    int *types = nullptr;
    size_t n = 0;
    if (SSL_client_hello_get1_extensions_present(s, &types, &n) == 1) {
        o.ext_types.assign(types, types + n);
        OPENSSL_free(types);
    }
    auto get = [s](unsigned type) -> std::optional<Bytes> {
        const unsigned char *p = nullptr;
        size_t len = 0;
        if (SSL_client_hello_get0_ext(s, type, &p, &len) != 1) return std::nullopt;
        return Bytes(p, p + len);
    };
    o.alpn_ext = get(16);
    o.versions_ext = get(43);
    o.ech_ext = get(0xfe0d);
    return SSL_CLIENT_HELLO_SUCCESS;
}

int on_servername(SSL *s, int *alert, void *) {
    Observed &o = observed(s);
    o.servername_cb = true;
    if (const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name)) o.servername = name;
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // everything is recorded: stop reading here
}

void on_message(int write_p, int, int content_type, const void *buf, size_t len, SSL *s, void *) {
    if (write_p) return;
    Observed &o = observed(s);
    const auto *b = static_cast<const uint8_t *>(buf);
    if (content_type == SSL3_RT_HEADER && len == 5) {
        o.record_headers.push_back({b[0], b[1], b[2], b[3], b[4]});
    } else if (content_type == SSL3_RT_HANDSHAKE && !o.first_handshake) {
        o.first_handshake = Bytes(b, b + len);
    }
}

int custom_ext_add(SSL *, unsigned, unsigned, const unsigned char **, size_t *, X509 *, size_t,
                   int *, void *) {
    return 0;  // never send it back
}

int custom_ext_parse(SSL *, unsigned, unsigned, const unsigned char *, size_t, X509 *, size_t,
                     int *, void *) {
    return 1;
}

// Extension types outside 0..1023 that appear in the corpus or in today's clients.
constexpr unsigned kExtraTypes[] = {0x1234, 0x7777, 0xbeef, 0xfafb, 0x4469,
                                    0x44cd, 0xfe0d, 0xff02, 0xffce};

class Oracle {
  public:
    Oracle() {
        ctx_.reset(SSL_CTX_new(TLS_server_method()));
        if (!ctx_) throw std::runtime_error("SSL_CTX_new: " + openssl_errors());
        // Accept every protocol version and cipher a client may offer.
        SSL_CTX_set_security_level(ctx_.get(), 0);
        SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_VERSION);
        SSL_CTX_set_cipher_list(ctx_.get(), "ALL:@SECLEVEL=0");

        // In-memory EC P-256 self-signed certificate.
        PkeyPtr key(EVP_EC_gen("P-256"));
        X509Ptr cert(X509_new());
        if (!key || !cert) throw std::runtime_error("key/cert: " + openssl_errors());
        X509_set_version(cert.get(), 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
        X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
        X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
        X509_NAME *name = X509_get_subject_name(cert.get());
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char *>("oracle.test"), -1, -1,
                                   0);
        X509_set_issuer_name(cert.get(), name);
        X509_set_pubkey(cert.get(), key.get());
        if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0 ||
            SSL_CTX_use_certificate(ctx_.get(), cert.get()) != 1 ||
            SSL_CTX_use_PrivateKey(ctx_.get(), key.get()) != 1)
            throw std::runtime_error("certificate: " + openssl_errors());

        SSL_CTX_set_client_hello_cb(ctx_.get(), on_client_hello, nullptr);
        SSL_CTX_set_tlsext_servername_callback(ctx_.get(), on_servername);

        auto add = [this](unsigned type) {
            if (SSL_extension_supported(type)) return true;
            return SSL_CTX_add_custom_ext(ctx_.get(), type, SSL_EXT_CLIENT_HELLO, custom_ext_add,
                                          nullptr, nullptr, custom_ext_parse, nullptr) == 1;
        };
        for (unsigned t = 0; t < 1024; t++) add(t);
        for (unsigned i = 0; i < 16; i++)
            if (!add(0x0a0a + 0x1010 * i)) throw std::runtime_error("custom ext GREASE");
        for (unsigned t : kExtraTypes)
            if (!add(t)) throw std::runtime_error("custom ext " + std::to_string(t));
        ERR_clear_error();
    }

    // Feeds `input` to a fresh server SSL and reports what OpenSSL saw.
    Observed run(const Bytes &input) const {
        Observed o;
        SslPtr ssl(SSL_new(ctx_.get()));
        BIO *rbio = BIO_new(BIO_s_mem());
        BIO *wbio = BIO_new(BIO_s_mem());
        if (!ssl || !rbio || !wbio) {
            BIO_free(rbio);
            BIO_free(wbio);
            throw std::runtime_error("SSL_new/BIO_new: " + openssl_errors());
        }
        SSL_set_bio(ssl.get(), rbio, wbio);  // the SSL owns both BIOs now
        SSL_set_app_data(ssl.get(), &o);
        SSL_set_msg_callback(ssl.get(), on_message);
        SSL_set_accept_state(ssl.get());
        if (BIO_write(rbio, input.data(), static_cast<int>(input.size())) !=
            static_cast<int>(input.size()))
            throw std::runtime_error("BIO_write");
        o.handshake_rc = SSL_do_handshake(ssl.get());
        o.consumed = input.size() - BIO_ctrl_pending(rbio);
        o.errors = openssl_errors();
        return o;
    }

  private:
    SslCtxPtr ctx_;
};

std::string normalize(std::string name) {
    for (char &c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!name.empty() && name.back() == '.') name.pop_back();
    return name;
}

// A junk record after the hello: OpenSSL must not read it, the parser must not count it.
const Bytes kJunkRecord = {0x17, 0x03, 0x03, 0x00, 0x08, 'j', 'u', 'n', 'k', 'j', 'u', 'n', 'k'};

class ClientHelloOracleTest : public testing::TestWithParam<Entry> {};

TEST_P(ClientHelloOracleTest, MatchesOpenSsl) {
    const Entry &e = GetParam();
    Bytes input = chtest::read_file(e.input);
    input.insert(input.end(), kJunkRecord.begin(), kJunkRecord.end());

    sni::ClientHelloParser parser(e.cap());
    const ch_info &r = parser.parse(input);
    ASSERT_EQ(sni::status_name(r.status), "ok") << sni::reason_name(r.reason);

    const Oracle oracle;
    const Observed o = oracle.run(input);
    SCOPED_TRACE(e.name + ": OpenSSL handshake rc " + std::to_string(o.handshake_rc) + " " +
                 o.errors);
    if (e.has("openssl") && e.get("openssl") == "rejects_record") {
        // e.g. a 16640-byte record: OpenSSL enforces 2^14 on plaintext records.
        EXPECT_FALSE(o.hello_cb) << "OpenSSL accepted records the corpus says it rejects";
        EXPECT_NE(o.errors.find("data length too long"), std::string::npos);
        return;
    }
    ASSERT_TRUE(o.hello_cb) << "OpenSSL never called the client hello callback";

    EXPECT_EQ(chtest::hex16(r.legacy_version), chtest::hex16(o.legacy_version));
    ASSERT_FALSE(o.record_headers.empty());
    EXPECT_EQ(chtest::hex16(r.record_version),
              chtest::hex16(o.record_headers[0][1] << 8 | o.record_headers[0][2]));
    EXPECT_EQ(r.record_bytes, o.consumed) << "bytes OpenSSL consumed";
    size_t header_sum = 0;
    for (const auto &h : o.record_headers) header_sum += 5 + (h[3] << 8 | h[4]);
    EXPECT_EQ(r.record_bytes, header_sum) << "records OpenSSL read";
    ASSERT_TRUE(o.first_handshake.has_value());
    EXPECT_EQ((*o.first_handshake)[0], 1) << "OpenSSL's first handshake message type";
    EXPECT_EQ(r.hello_len, o.first_handshake->size());

    // Extensions.
    std::string types;
    for (int t : o.ext_types) types += chtest::hex16(t) + " ";
    EXPECT_EQ(r.n_extensions, o.ext_types.size()) << "OpenSSL saw: " << types;
    const bool ech_outer = o.ech_ext && !o.ech_ext->empty() && (*o.ech_ext)[0] == 0;
    EXPECT_EQ(bool(r.flags & CH_F_ECH_OUTER), ech_outer);

    // ALPN: u16 list length, then the wire-format list.
    EXPECT_EQ(bool(r.flags & CH_F_ALPN), o.alpn_ext.has_value());
    if (o.alpn_ext) {
        const Bytes &a = *o.alpn_ext;
        ASSERT_GE(a.size(), 2u);
        const Bytes list(a.begin() + 2, a.end());
        ASSERT_EQ(static_cast<size_t>(a[0] << 8 | a[1]), list.size());
        size_t count = 0;
        for (size_t i = 0; i < list.size(); i += 1 + list[i]) count++;
        EXPECT_EQ(r.alpn_total, list.size());
        EXPECT_EQ(r.alpn_count, count);
        const size_t stored = std::min<size_t>(list.size(), CH_ALPN_BUF);
        EXPECT_EQ(r.alpn_len, stored);
        EXPECT_EQ(Bytes(r.alpn, r.alpn + std::min<size_t>(r.alpn_len, CH_ALPN_BUF)),
                  Bytes(list.begin(), list.begin() + stored));
        EXPECT_EQ(bool(r.flags & CH_F_ALPN_TRUNC), list.size() > CH_ALPN_BUF);
    } else {
        EXPECT_EQ(r.alpn_total, 0u);
        EXPECT_EQ(r.alpn_count, 0u);
    }

    // supported_versions: u8 list length, then u16 versions.
    EXPECT_EQ(bool(r.flags & CH_F_VERSIONS), o.versions_ext.has_value());
    std::vector<uint16_t> versions;
    if (o.versions_ext) {
        const Bytes &v = *o.versions_ext;
        ASSERT_GE(v.size(), 1u);
        ASSERT_EQ(size_t{v[0]} + 1, v.size());
        for (size_t i = 1; i + 1 < v.size(); i += 2)
            versions.push_back(static_cast<uint16_t>(v[i] << 8 | v[i + 1]));
        EXPECT_EQ(bool(r.flags & CH_F_VERSIONS_TRUNC), versions.size() > CH_MAX_VERSIONS);
        if (versions.size() > CH_MAX_VERSIONS) versions.resize(CH_MAX_VERSIONS);
    }
    EXPECT_EQ(chtest::versions_to_string(sni::supported_versions(r)),
              chtest::versions_to_string(versions));

    // SNI, as OpenSSL parsed it.
    if (e.has("openssl") && e.get("openssl") == "rejects") {
        EXPECT_FALSE(o.servername_cb) << "OpenSSL accepted a hello the corpus says it rejects";
        EXPECT_NE(o.errors.find("bad extension"), std::string::npos);
        return;
    }
    ASSERT_TRUE(o.servername_cb) << "OpenSSL stopped before parsing server_name";
    EXPECT_EQ(bool(r.flags & CH_F_SNI), o.servername.has_value());
    EXPECT_EQ(std::string(sni::sni_of(r)), normalize(o.servername.value_or("")))
        << "OpenSSL's raw host name: " << o.servername.value_or("(none)");
}

std::vector<Entry> valid_entries() {
    std::vector<Entry> out;
    for (auto &e : chtest::all_entries())
        if (e.has("status") && e.get("status") == "ok") out.push_back(std::move(e));
    return out;
}

INSTANTIATE_TEST_SUITE_P(ClientHelloOracle, ClientHelloOracleTest,
                         testing::ValuesIn(valid_entries()),
                         [](const testing::TestParamInfo<Entry> &info) {
                             return chtest::param_name(info.param.name);
                         });

// The oracle itself must notice a difference: a hello that OpenSSL parses differently from a
// deliberately wrong expectation (guards against callbacks that silently never run).
TEST(ClientHelloOracle, SeesWhatTheClientSent) {
    auto b = chtest::HelloBuilder::typical("Oracle-Check.example.test.");
    b.extensions.push_back(chtest::ext_raw(0xfe0d, {0, 0, 1, 0, 1, 7, 0, 1, 9, 0, 1, 9}));
    Bytes input = b.records();
    input.insert(input.end(), kJunkRecord.begin(), kJunkRecord.end());
    const Oracle oracle;
    const Observed o = oracle.run(input);
    ASSERT_TRUE(o.hello_cb);
    ASSERT_TRUE(o.servername_cb) << o.errors;
    EXPECT_EQ(o.servername.value_or(""), "Oracle-Check.example.test.");
    EXPECT_EQ(o.legacy_version, 0x0303u);
    EXPECT_EQ(o.ext_types.size(), b.extensions.size());
    EXPECT_EQ(o.consumed, input.size() - kJunkRecord.size());
    ASSERT_TRUE(o.ech_ext.has_value());
    ASSERT_TRUE(o.versions_ext.has_value());
    EXPECT_EQ(*o.versions_ext, (Bytes{4, 0x03, 0x04, 0x03, 0x03}));
}

}  // namespace
