// How the ClientHello arrives: split over TCP segments with pauses, in 1-byte TLS records,
// large (SNI after a big key share), together with the first application bytes, too big.
// Passthrough routes echo everything, so the test sees every byte the worker received.
#include <filesystem>

#include "splitter_fixture.hpp"

namespace sni::itest {
namespace {

class FramingTest : public SplitterTest {};

std::filesystem::path data_dir() {
    return SNI_TEST_DATA_DIR;
}

// A captured hello (SNI tls13.example.test), or a synthesized one when the corpus is missing.
Bytes captured_hello() {
    const auto path = data_dir() / "clienthello/real/openssl-tls13.bin";
    if (std::filesystem::exists(path)) return read_binary(path);
    return build_client_hello({.sni = "tls13.example.test"});
}

TEST_P(FramingTest, HelloSplitOverSegmentsWithPauses) {
    const Bytes hello = build_client_hello({.sni = "p1.test"});
    ASSERT_GT(hello.size(), 30u);
    const std::size_t a = 7, b = hello.size() / 2;  // mid record header, then mid body
    const std::vector<Bytes> chunks = {
        Bytes(hello.begin(), hello.begin() + a),
        Bytes(hello.begin() + a, hello.begin() + static_cast<long>(b)),
        Bytes(hello.begin() + static_cast<long>(b), hello.end()),
    };
    expect_echo("127.0.0.1", main_port_, chunks, 200ms, random_payload(4096, 1));
}

TEST_P(FramingTest, CapturedHelloInOneByteRecords) {
    const Bytes original = captured_hello();
    const Bytes one_byte_records = reframe(original, 1);
    ASSERT_EQ(handshake_payload(one_byte_records), handshake_payload(original));
    ASSERT_LT(one_byte_records.size(), 16u * 1024u) << "must stay under the listener's cap";
    expect_echo("127.0.0.1", main_port_, {one_byte_records}, 0ms, random_payload(1000, 2));
}

TEST_P(FramingTest, OneByteRecordsSentInPieces) {
    const Bytes records = reframe(captured_hello(), 1);
    std::vector<Bytes> chunks;
    for (std::size_t off = 0; off < records.size(); off += 600)
        chunks.emplace_back(
            records.begin() + static_cast<long>(off),
            records.begin() + static_cast<long>(std::min(records.size(), off + 600)));
    expect_echo("127.0.0.1", main_port_, chunks, 20ms, random_payload(100, 3));
}

TEST_P(FramingTest, LargeHelloWithSniAfterTheKeyShare) {
    const auto path = data_dir() / "clienthello/synth/pq-x25519mlkem768-keyshare-before-sni.bin";
    Bytes hello =
        std::filesystem::exists(path)
            ? read_binary(path)
            : build_client_hello(
                  {.sni = "pq.example.test", .key_share_bytes = 1600, .sni_after_key_share = true});
    EXPECT_GT(hello.size(), 1700u);
    expect_echo("127.0.0.1", main_port_, {hello}, 0ms, random_payload(4096, 4));
}

TEST_P(FramingTest, SynthesizedLargeHelloInSmallSegments) {
    const Bytes hello = build_client_hello(
        {.sni = "p2.test", .key_share_bytes = 1700, .sni_after_key_share = true});
    ASSERT_GT(hello.size(), 1800u);
    std::vector<Bytes> chunks;
    for (std::size_t off = 0; off < hello.size(); off += 500)
        chunks.emplace_back(hello.begin() + static_cast<long>(off),
                            hello.begin() + static_cast<long>(std::min(hello.size(), off + 500)));
    expect_echo("127.0.0.1", main_port_, chunks, 50ms, random_payload(2048, 5));
}

TEST_P(FramingTest, HelloAndApplicationDataInOneWrite) {
    Bytes both = build_client_hello({.sni = "p3.test"});
    const Bytes payload = random_payload(8192, 6);
    both.insert(both.end(), payload.begin(), payload.end());
    // The daemon consumes exactly the hello's records: the rest must reach the worker intact.
    expect_echo("127.0.0.1", main_port_, {both}, 0ms, {});
}

TEST_P(FramingTest, HelloOverTheCapIsClosed) {
    const auto path = data_dir() / "clienthello/synth/big-hello-two-records.bin";
    const Bytes big = std::filesystem::exists(path)
                          ? read_binary(path)
                          : build_client_hello({.sni = "p1.test", .padding = 20000});
    ASSERT_GT(big.size(), 16u * 1024u);
    expect_reply_then_close(main_port_, big, {});
    EXPECT_TRUE(daemon_->wait_log(
        [](const std::string &log) { return log.find("verdict=too_big") != std::string::npos; },
        2s));
}

TEST_P(FramingTest, HelloOverTheCapInSmallRecordsIsClosed) {
    // 17 KiB of handshake in 1 KiB records: no single record is too long, the total is.
    const Bytes big = build_client_hello({.sni = "p1.test", .padding = 17000, .max_record = 1024});
    expect_reply_then_close(main_port_, big, {});
}

// A client that sends far more than a handoff carries (256 KiB) right after its ClientHello,
// without waiting for an answer. The daemon consumes only the hello's records and the worker
// gets the rest from the socket: userspace, and BPF for a passthrough route (the socket stays in
// the kernel's map, its psock keeps the bytes). BPF for a terminate route: the socket must leave
// the map before the handoff and everything queued in its psock would be lost by letting go, so
// the daemon closes at once with its reason (it used to wait for client_hello_timeout).
TEST_P(FramingTest, FloodAfterHelloIsEchoedOrClosedWithItsReason) {
    const Bytes flood = random_payload(300 * 1024, 8);
    expect_echo("127.0.0.1", main_port_, {build_client_hello({.sni = "p1.test"})}, 0ms, flood);
    if (GetParam() == "userspace") return;
    Bytes both = build_client_hello({.sni = "a.test"});
    both.insert(both.end(), flood.begin(), flood.end());
    expect_reply_then_close(main_port_, both, {});
    // Not "no ClientHello within client_hello_timeout": closed for its own reason.
    EXPECT_TRUE(daemon_->wait_log(
        [](const std::string &log) {
            return log.find("too many bytes after the ClientHello") != std::string::npos;
        },
        2s));
}

TEST_P(FramingTest, IPv6Passthrough) {
    expect_echo("::1", main_port_, {build_client_hello({.sni = "p2.test"})}, 0ms,
                random_payload(4096, 7));
}

INSTANTIATE_TEST_SUITE_P(Classifiers, FramingTest, SNI_CLASSIFIERS, classifier_name);

}  // namespace
}  // namespace sni::itest
