// Focused ClientHello parser tests, one per verdict the synthesized corpus does not already
// cover, built from the small ClientHello builder in corpus_util.hpp. Expectations come from the
// parser's contract (clienthello_types.h and the design notes), never from its output.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/clienthello.hpp"
#include "tests/unit/corpus_util.hpp"

namespace {

using chtest::Bytes;
using chtest::Ext;
using chtest::ext_raw;
using chtest::HelloBuilder;

std::string describe(const ch_info &r) {
    std::string s(sni::status_name(r.status));
    if (r.status == CH_MALFORMED || r.status == CH_NOT_TLS)
        s += "/" + std::string(sni::reason_name(r.reason));
    if (r.status == CH_NEED_MORE) s += " need=" + std::to_string(r.need);
    return s;
}

// The verdict for `in`: status, and reason unless `any_reason`.
testing::AssertionResult Verdict(const Bytes &in, uint32_t status, uint32_t reason = CH_R_NONE,
                                 uint32_t cap = CH_DEFAULT_CAP, bool any_reason = false) {
    sni::ClientHelloParser parser(cap);
    const ch_info &r = parser.parse(in);
    if (r.status == status && (any_reason || r.reason == reason))
        return testing::AssertionSuccess();
    std::string want(sni::status_name(status));
    if (!any_reason && reason != CH_R_NONE) want += "/" + std::string(sni::reason_name(reason));
    return testing::AssertionFailure() << "got " << describe(r) << ", want " << want;
}

testing::AssertionResult Malformed(const Bytes &in, uint32_t reason,
                                   uint32_t cap = CH_DEFAULT_CAP) {
    return Verdict(in, CH_MALFORMED, reason, cap);
}

testing::AssertionResult Ok(const Bytes &in, uint32_t cap = CH_DEFAULT_CAP) {
    return Verdict(in, CH_OK, CH_R_NONE, cap);
}

// A typical hello whose extension at index `i` (or a new one) is replaced by `e`.
Bytes with_ext(Ext e, std::string_view sni = "edge.example.test") {
    auto b = HelloBuilder::typical(sni);
    bool replaced = false;
    for (auto &x : b.extensions) {
        if (x.type == e.type) {
            x = e;
            replaced = true;
        }
    }
    if (!replaced) b.extensions.insert(b.extensions.begin() + 1, e);
    return b.records();
}

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto &p : parts) chtest::append(out, p);
    return out;
}

Bytes record(uint8_t type, uint16_t version, const Bytes &body) {
    Bytes out = {type, static_cast<uint8_t>(version >> 8), static_cast<uint8_t>(version),
                 static_cast<uint8_t>(body.size() >> 8), static_cast<uint8_t>(body.size())};
    chtest::append(out, body);
    return out;
}

// ---------------------------------------------------------------------------------------------
// records

TEST(ClientHelloEdge, TypicalHelloIsOk) {
    sni::ClientHelloParser parser;
    const Bytes in = HelloBuilder::typical().records();
    const ch_info &r = parser.parse(in);
    ASSERT_EQ(r.status, static_cast<uint32_t>(CH_OK)) << describe(r);
    EXPECT_EQ(r.reason, static_cast<uint32_t>(CH_R_NONE));
    EXPECT_EQ(sni::sni_of(r), "edge.example.test");
    EXPECT_EQ(r.record_bytes, in.size());
    EXPECT_EQ(r.hello_len, in.size() - 5);
    EXPECT_EQ(r.n_extensions, 7u);
    EXPECT_EQ(r.record_version, 0x0301u);
    EXPECT_EQ(r.legacy_version, 0x0303u);
}

TEST(ClientHelloEdge, RecordVersionMajorNot3IsNotTls) {
    for (uint16_t v : {0x0000, 0x0200, 0x0203, 0x0401, 0xfeff}) {
        SCOPED_TRACE(chtest::hex16(v));
        EXPECT_TRUE(Verdict(HelloBuilder::typical().records(CH_MAX_RECORD, v), CH_NOT_TLS,
                            CH_R_RECORD_VERSION));
    }
}

TEST(ClientHelloEdge, AnyRecordMinorVersionIsAccepted) {
    for (uint16_t v : {0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0x03ff}) {
        SCOPED_TRACE(chtest::hex16(v));
        sni::ClientHelloParser parser;
        const ch_info &r = parser.parse(HelloBuilder::typical().records(CH_MAX_RECORD, v));
        ASSERT_EQ(r.status, static_cast<uint32_t>(CH_OK)) << describe(r);
        EXPECT_EQ(r.record_version, v);
    }
}

TEST(ClientHelloEdge, FirstRecordNotHandshakeIsNotTls) {
    const Bytes msg = HelloBuilder::typical().message();
    for (uint8_t type : {0x14, 0x15, 0x17, 0x18, 0x00}) {
        SCOPED_TRACE(static_cast<int>(type));
        EXPECT_TRUE(Verdict(record(type, 0x0303, msg), CH_NOT_TLS, CH_R_NONE, CH_DEFAULT_CAP,
                            /*any_reason=*/true));
    }
}

TEST(ClientHelloEdge, NonHandshakeRecordInsideTheHello) {
    const Bytes msg = HelloBuilder::typical().message();
    const Bytes head(msg.begin(), msg.begin() + 100);
    const Bytes tail(msg.begin() + 100, msg.end());
    for (uint8_t type : {0x14, 0x15, 0x17}) {
        SCOPED_TRACE(static_cast<int>(type));
        EXPECT_TRUE(Malformed(concat({record(0x16, 0x0301, head), record(type, 0x0303, tail)}),
                              CH_R_RECORD_TYPE));
    }
}

TEST(ClientHelloEdge, EmptyHandshakeRecord) {
    const Bytes msg = HelloBuilder::typical().message();
    EXPECT_TRUE(Malformed(concat({record(0x16, 0x0301, {}), record(0x16, 0x0301, msg)}),
                          CH_R_RECORD_EMPTY));
    EXPECT_TRUE(Malformed(chtest::frame_sizes(msg, {60, 0, msg.size() - 60}), CH_R_RECORD_EMPTY));
}

TEST(ClientHelloEdge, SecondRecordTooLong) {
    // The hello starts in a small record, the rest of it sits in a 16641-byte record.
    auto b = HelloBuilder::typical();
    b.extensions.push_back(ext_raw(21, Bytes(16800, 0)));
    const Bytes msg = b.message();
    EXPECT_TRUE(Malformed(chtest::frame_sizes(msg, {100, 16641, msg.size() - 16741}),
                          CH_R_RECORD_TOO_LONG, CH_MAX_CAP));
    EXPECT_TRUE(Ok(chtest::frame_sizes(msg, {100, 16640, msg.size() - 16740}), CH_MAX_CAP));
}

TEST(ClientHelloEdge, RecordVersionsMayDifferBetweenRecords) {
    const Bytes msg = HelloBuilder::typical().message();
    const Bytes head(msg.begin(), msg.begin() + 50);
    const Bytes tail(msg.begin() + 50, msg.end());
    sni::ClientHelloParser parser;
    const ch_info &r =
        parser.parse(concat({record(0x16, 0x0301, head), record(0x16, 0x0303, tail)}));
    ASSERT_EQ(r.status, static_cast<uint32_t>(CH_OK)) << describe(r);
    EXPECT_EQ(r.record_version, 0x0301u);
    EXPECT_EQ(r.record_bytes, msg.size() + 10);
}

TEST(ClientHelloEdge, HandshakeHeaderSplitAcrossRecords) {
    const Bytes msg = HelloBuilder::typical().message();
    for (const std::vector<size_t> &sizes : {std::vector<size_t>{1, 1, 1, 1, msg.size() - 4},
                                             {2, 3, msg.size() - 5},
                                             {3, msg.size() - 3},
                                             {msg.size() - 1, 1}}) {
        sni::ClientHelloParser parser;
        const Bytes in = chtest::frame_sizes(msg, sizes);
        const ch_info &r = parser.parse(in);
        ASSERT_EQ(r.status, static_cast<uint32_t>(CH_OK)) << describe(r);
        EXPECT_EQ(sni::sni_of(r), "edge.example.test");
        EXPECT_EQ(r.record_bytes, in.size());
        EXPECT_EQ(r.hello_len, msg.size());
    }
}

TEST(ClientHelloEdge, TrailingDataInTheLastOfSeveralRecords) {
    Bytes msg = HelloBuilder::typical().message();
    msg.push_back(0x01);  // one byte after the hello, inside its last record
    EXPECT_TRUE(Malformed(chtest::frame(msg, 100), CH_R_TRAILING_DATA));
}

TEST(ClientHelloEdge, NextRecordIsNotCounted) {
    const Bytes hello = HelloBuilder::typical().records();
    // A ChangeCipherSpec record, then the start of another record.
    const Bytes in = concat({hello, record(0x14, 0x0303, {1}), Bytes{0x17, 0x03}});
    sni::ClientHelloParser parser;
    const ch_info &r = parser.parse(in);
    ASSERT_EQ(r.status, static_cast<uint32_t>(CH_OK)) << describe(r);
    EXPECT_EQ(r.record_bytes, hello.size());
}

// ---------------------------------------------------------------------------------------------
// cap

TEST(ClientHelloEdge, CapIsInclusive) {
    // Records totalling exactly the cap are fine; one byte more is too big.
    for (uint32_t cap : {600u, CH_DEFAULT_CAP}) {
        SCOPED_TRACE(cap);
        const size_t base = HelloBuilder::typical().message().size();
        const size_t records = cap > 16000 ? 2 : 1;
        auto sized = [&](size_t total) {
            auto b = HelloBuilder::typical();
            b.extensions.push_back(ext_raw(21, Bytes(total - 5 * records - base - 4, 0)));
            Bytes in = b.records(16000);
            EXPECT_EQ(in.size(), total);
            return in;
        };
        EXPECT_TRUE(Ok(sized(cap), cap));
        EXPECT_TRUE(Verdict(sized(cap + 1), CH_TOO_BIG, CH_R_NONE, cap));
    }
}

TEST(ClientHelloEdge, NeverAsksForMoreThanTheCap) {
    // cap 600; a 595-byte hello (595 + one record header = 600 fits) framed in 295-byte records:
    // two records fill the cap exactly, the third header alone cannot fit any more.
    const uint32_t cap = 600;
    auto b = HelloBuilder::typical();
    const size_t base = b.message().size();
    b.extensions.push_back(ext_raw(21, Bytes(595 - base - 4, 0)));
    ASSERT_EQ(b.message().size(), 595u);
    const Bytes in = b.records(295);
    ASSERT_EQ(in.size(), 610u);
    EXPECT_TRUE(Verdict(in, CH_TOO_BIG, CH_R_NONE, cap));

    sni::ClientHelloParser parser(cap);
    for (size_t n = 0; n < in.size(); n++) {
        const ch_info &r = parser.parse(std::span<const uint8_t>(in.data(), n));
        if (r.status == CH_NEED_MORE) {
            EXPECT_LE(r.need, cap)
                << "prefix " << n << ": " << describe(r) << ": beyond the cap; the records "
                << "cannot fit, so this is already TOO_BIG";
        } else {
            EXPECT_EQ(r.status, static_cast<uint32_t>(CH_TOO_BIG))
                << "prefix " << n << ": " << describe(r);
        }
    }
}

TEST(ClientHelloEdge, HandshakeLengthBeyondTheCap) {
    // The handshake header announces 16 MiB: the records cannot fit even the largest cap.
    auto b = HelloBuilder::typical();
    b.length_override = 0xffffff;
    Bytes msg = b.message();
    EXPECT_TRUE(Verdict(chtest::frame(msg, 16000), CH_TOO_BIG, CH_R_NONE, CH_MAX_CAP));
}

// ---------------------------------------------------------------------------------------------
// handshake message and fixed fields

TEST(ClientHelloEdge, NotAClientHello) {
    for (uint8_t type : {0, 2, 11, 20, 254}) {
        SCOPED_TRACE(static_cast<int>(type));
        auto b = HelloBuilder::typical();
        b.msg_type = type;
        EXPECT_TRUE(Malformed(b.records(), CH_R_NOT_CLIENT_HELLO));
    }
}

TEST(ClientHelloEdge, ShortHello) {
    for (size_t n : {0, 1, 10, 33}) {
        SCOPED_TRACE(n);
        HelloBuilder b;
        b.raw_body = Bytes(n, 0x03);
        EXPECT_TRUE(Malformed(b.records(), CH_R_SHORT_HELLO));
    }
}

TEST(ClientHelloEdge, SessionId) {
    for (size_t n : {0, 1, 32}) {
        auto b = HelloBuilder::typical();
        b.session_id = Bytes(n, 0x42);
        EXPECT_TRUE(Ok(b.records())) << n;
    }
    auto b = HelloBuilder::typical();
    b.session_id = Bytes(33, 0x42);
    EXPECT_TRUE(Malformed(b.records(), CH_R_SESSION_ID));
    b.session_id = Bytes(255, 0x42);
    EXPECT_TRUE(Malformed(b.records(), CH_R_SESSION_ID));
}

TEST(ClientHelloEdge, CipherSuites) {
    auto b = HelloBuilder::typical();
    b.ciphers.clear();
    EXPECT_TRUE(Malformed(b.records(), CH_R_CIPHER_SUITES)) << "empty";

    // An odd length: patch the cipher_suites length of a 2-suite hello to 3.
    auto odd = HelloBuilder::typical();
    odd.ciphers = {0x1301, 0x1302};
    Bytes body = odd.body();
    const size_t cs_len_at = 2 + 32 + 1 + odd.session_id.size();
    ASSERT_EQ(body[cs_len_at + 1], 4);
    body[cs_len_at + 1] = 3;
    odd.raw_body = body;
    EXPECT_TRUE(Malformed(odd.records(), CH_R_CIPHER_SUITES)) << "odd";
}

TEST(ClientHelloEdge, Compression) {
    auto b = HelloBuilder::typical();
    b.compression.clear();
    EXPECT_TRUE(Malformed(b.records(), CH_R_COMPRESSION));
    b.compression = {1, 0};  // DEFLATE offered: still a valid hello to classify
    EXPECT_TRUE(Ok(b.records()));
}

TEST(ClientHelloEdge, ExtensionsBlockLength) {
    auto b = HelloBuilder::typical();
    Bytes block;
    for (const auto &e : b.extensions) {
        chtest::put16(block, e.type);
        chtest::append(block, chtest::vec16(e.body));
    }
    auto with_block = [&](Bytes raw) {
        auto x = b;
        x.raw_extensions = std::move(raw);
        return x.records();
    };
    Bytes longer = chtest::vec16(block);
    longer[1] += 1;  // claims one byte more than the body has
    EXPECT_TRUE(Malformed(with_block(longer), CH_R_EXTENSIONS_LENGTH)) << "longer";
    Bytes extra = chtest::vec16(block);
    extra.push_back(0);  // one byte after the block
    EXPECT_TRUE(Malformed(with_block(extra), CH_R_EXTENSIONS_LENGTH)) << "bytes after";
    EXPECT_TRUE(Malformed(with_block({0x00}), CH_R_EXTENSIONS_LENGTH)) << "lone byte";
}

TEST(ClientHelloEdge, ExtensionOverrunsTheBlock) {
    auto b = HelloBuilder::typical();
    Bytes block;
    for (const auto &e : b.extensions) {
        chtest::put16(block, e.type);
        chtest::append(block, chtest::vec16(e.body));
    }
    Bytes overrun = block;
    chtest::append(overrun, Bytes{0x12, 0x34, 0x00, 0x10, 1, 2, 3});  // says 16, has 3
    b.raw_extensions = chtest::vec16(overrun);
    EXPECT_TRUE(Malformed(b.records(), CH_R_EXTENSION_LENGTH)) << "body overrun";

    Bytes partial = block;
    chtest::append(partial, Bytes{0x12, 0x34, 0x00});  // header cut short
    b.raw_extensions = chtest::vec16(partial);
    EXPECT_TRUE(Malformed(b.records(), CH_R_EXTENSION_LENGTH)) << "partial header";
}

TEST(ClientHelloEdge, DuplicateExtensionsOfAnyType) {
    for (uint16_t type : {0x1234, 0x0a0a, 0xfe0d, 28}) {
        SCOPED_TRACE(chtest::hex16(type));
        auto b = HelloBuilder::typical();
        Bytes body = type == 0xfe0d ? Bytes{0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 0} : Bytes{};
        b.extensions.insert(b.extensions.begin(), ext_raw(type, body));
        b.extensions.push_back(ext_raw(type, body));  // first and last: not adjacent
        EXPECT_TRUE(Malformed(b.records(), CH_R_DUPLICATE_EXTENSION));
    }
    // Two different GREASE values are two different types.
    auto b = HelloBuilder::typical();
    b.extensions.insert(b.extensions.begin(), ext_raw(0x0a0a));
    b.extensions.push_back(ext_raw(0xfafa, {0}));
    EXPECT_TRUE(Ok(b.records()));
}

TEST(ClientHelloEdge, PreSharedKeyMustBeLast) {
    auto b = HelloBuilder::typical();
    b.extensions.push_back(chtest::ext_psk());
    EXPECT_TRUE(Ok(b.records()));
    b.extensions.push_back(ext_raw(21, Bytes(10, 0)));  // padding after the psk
    EXPECT_TRUE(Malformed(b.records(), CH_R_PSK_NOT_LAST));
}

// ---------------------------------------------------------------------------------------------
// server_name

TEST(ClientHelloEdge, ServerNameListFraming) {
    const Bytes name = chtest::str("edge.example.test");
    Bytes entry = {0};
    chtest::append(entry, chtest::vec16(name));

    Bytes longer = chtest::vec16(entry);
    longer[1] += 1;
    EXPECT_TRUE(Malformed(with_ext(ext_raw(0, longer)), CH_R_SNI_LIST)) << "list too long";

    Bytes shorter = chtest::vec16(entry);
    shorter[1] -= 1;
    EXPECT_TRUE(Malformed(with_ext(ext_raw(0, shorter)), CH_R_SNI_LIST)) << "list too short";

    Bytes overrun = entry;
    overrun[2] += 5;  // the name claims 5 bytes more than the list holds
    EXPECT_TRUE(Malformed(with_ext(ext_raw(0, chtest::vec16(overrun))), CH_R_SNI_LIST))
        << "name overruns";

    EXPECT_TRUE(Malformed(with_ext(ext_raw(0, chtest::vec16(Bytes{0}))), CH_R_SNI_LIST))
        << "entry cut after the name type";
    EXPECT_TRUE(Malformed(with_ext(ext_raw(0, {0, 0})), CH_R_SNI_LIST)) << "empty list";
    EXPECT_TRUE(Malformed(with_ext(ext_raw(0, {})), CH_R_SNI_LIST)) << "empty extension";
}

TEST(ClientHelloEdge, ServerNameOfOtherTypesOnly) {
    sni::ClientHelloParser parser;
    const ch_info &r = parser.parse(
        with_ext(chtest::ext_sni_entries({{1, chtest::str("x")}, {7, chtest::str("y.z")}})));
    ASSERT_EQ(r.status, static_cast<uint32_t>(CH_OK)) << describe(r);
    EXPECT_FALSE(r.flags & CH_F_SNI);
    EXPECT_TRUE(r.flags & CH_F_SNI_OTHER_TYPES);
    EXPECT_EQ(sni::sni_of(r), "");
}

TEST(ClientHelloEdge, ServerNameCharset) {
    for (const std::string &name :
         std::vector<std::string>{"*.example.test", "a@b.test", "host:443.test", "a\x7f.test",
                                  "a+b.test", "tab\t.test", "\xc3\xa9t\xc3\xa9.test"}) {
        SCOPED_TRACE(name);
        EXPECT_TRUE(Malformed(with_ext(chtest::ext_sni(name)), CH_R_SNI_CHARSET));
    }
    sni::ClientHelloParser parser;
    const ch_info &r = parser.parse(with_ext(chtest::ext_sni("Under_Score.x-y.Z9.")));
    ASSERT_EQ(r.status, static_cast<uint32_t>(CH_OK)) << describe(r);
    EXPECT_EQ(sni::sni_of(r), "under_score.x-y.z9");
}

TEST(ClientHelloEdge, ServerNameLabels) {
    for (const std::string &name : std::vector<std::string>{"a..b.test", ".a.test", "a.test..",
                                                            "..", "a." + std::string(64, 'b')}) {
        SCOPED_TRACE(name);
        EXPECT_TRUE(Malformed(with_ext(chtest::ext_sni(name)), CH_R_SNI_LABEL));
    }
    EXPECT_TRUE(Ok(with_ext(chtest::ext_sni("a"))));
    EXPECT_TRUE(Ok(with_ext(chtest::ext_sni(std::string(63, 'x')))));
}

TEST(ClientHelloEdge, ServerNameLength) {
    // 4 labels: 63 + 63 + 63 + 61 characters and 3 dots = 253.
    const std::string n253 = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                             std::string(63, 'c') + "." + std::string(61, 'd');
    ASSERT_EQ(n253.size(), 253u);
    sni::ClientHelloParser parser;
    const ch_info &r = parser.parse(with_ext(chtest::ext_sni(n253 + ".")));
    ASSERT_EQ(r.status, static_cast<uint32_t>(CH_OK)) << describe(r);
    EXPECT_EQ(sni::sni_of(r), n253);
    EXPECT_EQ(r.sni_len, 253u);
    EXPECT_TRUE(Malformed(with_ext(chtest::ext_sni(n253 + "d.")), CH_R_SNI_TOO_LONG));
    EXPECT_TRUE(Malformed(with_ext(chtest::ext_sni(n253 + ".e")), CH_R_SNI_TOO_LONG));
    EXPECT_TRUE(Malformed(with_ext(chtest::ext_sni(std::string(300, 'a'))), CH_R_SNI_TOO_LONG) ||
                Malformed(with_ext(chtest::ext_sni(std::string(300, 'a'))), CH_R_SNI_LABEL));
}

// ---------------------------------------------------------------------------------------------
// ALPN

TEST(ClientHelloEdge, AlpnFraming) {
    Bytes list;
    chtest::append(list, chtest::vec8(chtest::str("h2")));
    chtest::append(list, chtest::vec8(chtest::str("http/1.1")));

    Bytes longer = chtest::vec16(list);
    longer[1] += 1;
    EXPECT_TRUE(Malformed(with_ext(ext_raw(16, longer)), CH_R_ALPN)) << "list too long";
    Bytes shorter = chtest::vec16(list);
    shorter[1] -= 1;
    EXPECT_TRUE(Malformed(with_ext(ext_raw(16, shorter)), CH_R_ALPN)) << "list too short";

    Bytes overrun = list;
    overrun[0] = 5;  // "h2" claims 5 bytes, only 4 follow
    overrun.resize(1 + 4);
    EXPECT_TRUE(Malformed(with_ext(ext_raw(16, chtest::vec16(overrun))), CH_R_ALPN))
        << "protocol overruns";

    Bytes empty_proto = list;
    empty_proto.push_back(0);
    EXPECT_TRUE(Malformed(with_ext(ext_raw(16, chtest::vec16(empty_proto))), CH_R_ALPN))
        << "empty protocol";
    EXPECT_TRUE(Malformed(with_ext(ext_raw(16, {0, 0})), CH_R_ALPN)) << "empty list";
    EXPECT_TRUE(Malformed(with_ext(ext_raw(16, {})), CH_R_ALPN)) << "empty extension";
}

TEST(ClientHelloEdge, AlpnLongerThanTheBuffer) {
    std::vector<std::string> protos;
    for (int i = 0; i < 12; i++)
        protos.push_back("proto-" + std::to_string(i) + std::string(18, 'x'));
    Ext e = chtest::ext_alpn(protos);
    const Bytes list(e.body.begin() + 2, e.body.end());
    ASSERT_GT(list.size(), CH_ALPN_BUF);

    sni::ClientHelloParser parser;
    const ch_info &r = parser.parse(with_ext(e));
    ASSERT_EQ(r.status, static_cast<uint32_t>(CH_OK)) << describe(r);
    EXPECT_TRUE(r.flags & CH_F_ALPN);
    EXPECT_TRUE(r.flags & CH_F_ALPN_TRUNC);
    EXPECT_EQ(r.alpn_total, list.size());
    EXPECT_EQ(r.alpn_count, protos.size());
    EXPECT_EQ(r.alpn_len, CH_ALPN_BUF);
    EXPECT_EQ(Bytes(r.alpn, r.alpn + CH_ALPN_BUF), Bytes(list.begin(), list.begin() + CH_ALPN_BUF));
    // The helper lists only the protocols wholly inside the stored prefix.
    const auto got = sni::alpn_protocols(r);
    ASSERT_FALSE(got.empty());
    EXPECT_LT(got.size(), protos.size());
    for (size_t i = 0; i < got.size(); i++) EXPECT_EQ(got[i], protos[i]);
}

// ---------------------------------------------------------------------------------------------
// supported_versions

TEST(ClientHelloEdge, SupportedVersionsFraming) {
    EXPECT_TRUE(Malformed(with_ext(ext_raw(43, {3, 0x03, 0x04, 0x03})), CH_R_SUPPORTED_VERSIONS))
        << "odd list";
    EXPECT_TRUE(Malformed(with_ext(ext_raw(43, {4, 0x03, 0x04})), CH_R_SUPPORTED_VERSIONS))
        << "list too long";
    EXPECT_TRUE(
        Malformed(with_ext(ext_raw(43, {2, 0x03, 0x04, 0x03, 0x03})), CH_R_SUPPORTED_VERSIONS))
        << "bytes after the list";
    EXPECT_TRUE(Malformed(with_ext(ext_raw(43, {0})), CH_R_SUPPORTED_VERSIONS)) << "empty list";
    EXPECT_TRUE(Malformed(with_ext(ext_raw(43, {})), CH_R_SUPPORTED_VERSIONS)) << "empty extension";
}

TEST(ClientHelloEdge, SupportedVersionsBeyondTheBuffer) {
    std::vector<uint16_t> versions;
    for (uint16_t i = 0; i < 40; i++) versions.push_back(static_cast<uint16_t>(0x7f00 + i));
    sni::ClientHelloParser parser;
    const ch_info &r = parser.parse(with_ext(chtest::ext_versions(versions)));
    ASSERT_EQ(r.status, static_cast<uint32_t>(CH_OK)) << describe(r);
    EXPECT_TRUE(r.flags & CH_F_VERSIONS);
    EXPECT_TRUE(r.flags & CH_F_VERSIONS_TRUNC);
    EXPECT_EQ(r.n_versions, CH_MAX_VERSIONS);
    EXPECT_EQ(sni::supported_versions(r),
              std::vector<uint16_t>(versions.begin(), versions.begin() + CH_MAX_VERSIONS));

    const ch_info &exact = parser.parse(with_ext(chtest::ext_versions(
        std::vector<uint16_t>(versions.begin(), versions.begin() + CH_MAX_VERSIONS))));
    ASSERT_EQ(exact.status, static_cast<uint32_t>(CH_OK)) << describe(exact);
    EXPECT_FALSE(exact.flags & CH_F_VERSIONS_TRUNC);
    EXPECT_EQ(exact.n_versions, CH_MAX_VERSIONS);
}

// ---------------------------------------------------------------------------------------------
// encrypted_client_hello

TEST(ClientHelloEdge, EncryptedClientHello) {
    EXPECT_TRUE(Malformed(with_ext(ext_raw(0xfe0d, {})), CH_R_ECH)) << "no type byte";

    sni::ClientHelloParser parser;
    const ch_info &inner = parser.parse(with_ext(ext_raw(0xfe0d, {1})));
    ASSERT_EQ(inner.status, static_cast<uint32_t>(CH_OK)) << describe(inner);
    EXPECT_TRUE(inner.flags & CH_F_ECH_INNER);
    EXPECT_FALSE(inner.flags & CH_F_ECH_OUTER);

    const ch_info &outer =
        parser.parse(with_ext(ext_raw(0xfe0d, {0, 0, 1, 0, 1, 9, 0, 1, 0xaa, 0, 1, 0xbb})));
    ASSERT_EQ(outer.status, static_cast<uint32_t>(CH_OK)) << describe(outer);
    EXPECT_TRUE(outer.flags & CH_F_ECH_OUTER);
    EXPECT_FALSE(outer.flags & CH_F_ECH_INNER);
    EXPECT_EQ(sni::sni_of(outer), "edge.example.test");

    const ch_info &none = parser.parse(HelloBuilder::typical().records());
    ASSERT_EQ(none.status, static_cast<uint32_t>(CH_OK)) << describe(none);
    EXPECT_FALSE(none.flags & (CH_F_ECH_OUTER | CH_F_ECH_INNER));
}

// ---------------------------------------------------------------------------------------------
// parser state

TEST(ClientHelloEdge, NoStateLeaksBetweenParses) {
    sni::ClientHelloParser parser;
    const Bytes a = HelloBuilder::typical("first.example.test").records();
    ch_info first;
    std::memcpy(&first, &parser.parse(a), sizeof first);
    ASSERT_EQ(first.status, static_cast<uint32_t>(CH_OK)) << describe(first);

    // A hello rejected half-way through its extensions (duplicate key_share at the end)...
    auto dup = HelloBuilder::typical("second.example.test");
    dup.extensions.push_back(chtest::ext_key_share_x25519());
    EXPECT_EQ(parser.parse(dup.records()).reason, static_cast<uint32_t>(CH_R_DUPLICATE_EXTENSION));
    // ...then hellos with the same extension types are not duplicates of stale ones.
    const ch_info &again = parser.parse(a);
    EXPECT_EQ(std::memcmp(&first, &again, sizeof first), 0) << describe(again);

    // A result with more fields set, then a poorer one: nothing of the first remains.
    const std::string long_name = std::string(60, 'r') + "." + std::string(60, 'i') + "." +
                                  std::string(60, 'c') + ".example.test";
    auto rich = HelloBuilder::typical(long_name);
    rich.extensions.push_back(ext_raw(0xfe0d, {1}));
    ASSERT_EQ(parser.parse(rich.records()).status, static_cast<uint32_t>(CH_OK));
    HelloBuilder bare;
    bare.has_extensions = false;
    const ch_info &r = parser.parse(bare.records());
    ASSERT_EQ(r.status, static_cast<uint32_t>(CH_OK)) << describe(r);
    EXPECT_EQ(r.flags, 0u);
    EXPECT_EQ(r.sni_len, 0u);
    EXPECT_EQ(r.sni[0], '\0');
    EXPECT_EQ(r.n_extensions, 0u);
    EXPECT_EQ(r.n_versions, 0u);
    EXPECT_EQ(r.alpn_len, 0u);
    EXPECT_EQ(r.alpn_total, 0u);
    EXPECT_EQ(r.alpn_count, 0u);
    EXPECT_EQ(r.need, 0u);
    EXPECT_EQ(r.reason, 0u);
}

TEST(ClientHelloEdge, EmptyInputNeedsMore) {
    sni::ClientHelloParser parser;
    const ch_info &r = parser.parse({});
    EXPECT_EQ(r.status, static_cast<uint32_t>(CH_NEED_MORE)) << describe(r);
    EXPECT_GE(r.need, 5u) << "a record header alone is 5 bytes";
    EXPECT_FALSE(r.flags & ~CH_F_NEED_EXACT);
}

}  // namespace
