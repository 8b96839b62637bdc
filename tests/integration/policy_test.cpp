// The decision policy seen from the wire: no SNI, unknown SNI (both listener settings),
// plaintext HTTP, a malformed hello, a silent client, a client that gives up half-way.
#include "ctl_support.hpp"
#include "splitter_fixture.hpp"
#include "tests/support/process_probe.hpp"

namespace sni::itest {
namespace {

class PolicyTest : public SplitterTest {
  protected:
    // Until the daemon holds no connection (its `status` says `classifying: 0`), at most 5 s.
    void wait_until_none_classifying() {
        const auto classifying = [this] {
            const nlohmann::json status = ctl_json(control_socket(), {"status"});
            return status.is_object() ? status.value("classifying", std::size_t{1})
                                      : std::size_t{1};
        };
        const auto deadline = Clock::now() + 5s;
        while (classifying() != 0 && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
        EXPECT_EQ(classifying(), 0u);
    }
};

using testsupport::reset_on_close;

const Bytes kUnrecognizedName = {0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x70};
const Bytes kHandshakeFailure = {0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28};
const Bytes kDecodeError = {0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x32};

TEST_P(PolicyTest, NoSniWithRequireSniGetsHandshakeFailure) {
    expect_reply_then_close(strict_port_, build_client_hello({.sni = std::nullopt}),
                            kHandshakeFailure);
}

TEST_P(PolicyTest, NoSniWithoutRequireSniGoesToTheDefaultRoute) {
    expect_echo("127.0.0.1", main_port_, {build_client_hello({.sni = std::nullopt})}, 0ms,
                random_payload(1024, 11));
    EXPECT_TRUE(daemon_->wait_log(
        [](const std::string &l) {
            return l.find("verdict=default_no_sni route=pt-default") != std::string::npos;
        },
        2s));
}

TEST_P(PolicyTest, UnknownSniRejectedWithUnrecognizedName) {
    expect_reply_then_close(strict_port_, build_client_hello({.sni = "nobody.test"}),
                            kUnrecognizedName);
}

TEST_P(PolicyTest, UnknownSniGoesToTheDefaultRoute) {
    expect_echo("127.0.0.1", main_port_, {build_client_hello({.sni = "nobody.test"})}, 0ms,
                random_payload(1024, 12));
    EXPECT_TRUE(daemon_->wait_log(
        [](const std::string &l) {
            return l.find("verdict=default_unknown_sni route=pt-default") != std::string::npos;
        },
        2s));
}

TEST_P(PolicyTest, NameOfAnotherListenerIsUnknownHere) {
    // a.test is served on `main` only.
    expect_reply_then_close(strict_port_, build_client_hello({.sni = "a.test"}), kUnrecognizedName);
    // ...and p1.test on `strict` reaches strict-pt.
    expect_echo("127.0.0.1", strict_port_, {build_client_hello({.sni = "p1.test"})}, 0ms,
                random_payload(100, 13));
}

TEST_P(PolicyTest, PlaintextHttpIsClosedWithoutAnAlert) {
    const std::string req = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
    expect_reply_then_close(main_port_, Bytes(req.begin(), req.end()), {});
}

TEST_P(PolicyTest, MalformedHelloGetsDecodeError) {
    Bytes hello = build_client_hello({.sni = "p1.test"});
    // Corrupt the SNI: a space is not allowed in a host name.
    const std::string needle = "p1.test";
    auto it = std::search(hello.begin(), hello.end(), needle.begin(), needle.end());
    ASSERT_NE(it, hello.end());
    *it = ' ';
    expect_reply_then_close(main_port_, hello, kDecodeError);
}

TEST_P(PolicyTest, SilentClientIsClosedAfterClientHelloTimeout) {
    UniqueFd fd = connect_tcp("127.0.0.1", main_port_);
    ASSERT_TRUE(fd.valid());
    const auto t0 = Clock::now();
    const auto r = read_until_close(fd.get(), 5s);
    const auto elapsed = Clock::now() - t0;
    EXPECT_TRUE(r.closed);
    EXPECT_TRUE(r.data.empty());
    EXPECT_GE(elapsed, 800ms);
    EXPECT_LE(elapsed, 2500ms);
}

TEST_P(PolicyTest, PartialHelloIsClosedAfterClientHelloTimeout) {
    const Bytes hello = build_client_hello({.sni = "p1.test"});
    UniqueFd fd = connect_tcp("127.0.0.1", main_port_);
    ASSERT_TRUE(send_all(fd.get(), {hello.data(), hello.size() / 2}));
    const auto t0 = Clock::now();
    const auto r = read_until_close(fd.get(), 5s);
    EXPECT_TRUE(r.closed);
    EXPECT_TRUE(r.data.empty());
    EXPECT_GE(Clock::now() - t0, 800ms);
}

TEST_P(PolicyTest, ClientLeavingHalfWayIsCountedClosedEarly) {
    const Bytes hello = build_client_hello({.sni = "p1.test"});
    {
        UniqueFd fd = connect_tcp("127.0.0.1", main_port_);
        ASSERT_TRUE(send_all(fd.get(), {hello.data(), 20}));
        std::this_thread::sleep_for(100ms);
    }  // closed here
    // The daemon still works, and says why it closed the first one when it stops.
    expect_echo("127.0.0.1", main_port_, {hello}, 0ms, random_payload(10, 14));
    EXPECT_EQ(daemon_->stop(), 0);
    EXPECT_NE(daemon_->log().find("closed_early=1 "), std::string::npos);
}

// A client that connects and leaves without a ClientHello (a health check, a port scan) is
// closed when it leaves, by FIN or by reset, not at client_hello_timeout. The BPF path learns of
// both from the kernel (the verdict sees the FIN, the sockops state callback the reset).
TEST_P(PolicyTest, ClientLeavingBeforeClientHelloIsClosedWhenItLeaves) {
    {
        UniqueFd fin = connect_tcp("127.0.0.1", main_port_);
        ASSERT_TRUE(fin.valid());
    }
    {
        UniqueFd rst = connect_tcp("127.0.0.1", main_port_);
        ASSERT_TRUE(rst.valid());
        ASSERT_TRUE(reset_on_close(rst.get()));
    }
    // Both gone from the daemon's table; then its counters say how (not `timeout`).
    wait_until_none_classifying();
    EXPECT_EQ(daemon_->stop(), 0);
    const std::string log = daemon_->log();
    EXPECT_NE(log.find(" accepted=2 "), std::string::npos) << log;
    EXPECT_NE(log.find(" timeout=0 "), std::string::npos) << log;
    EXPECT_NE(log.find(" closed_early=1 "), std::string::npos) << log;
    EXPECT_NE(log.find(" read_error=1 "), std::string::npos) << log;
}

// The same for a burst of them, half of which leave while still in the accept queue: every one
// is closed when it leaves, and counted once.
TEST_P(PolicyTest, BurstOfClientsLeavingBeforeClientHelloAreAllClosedWhenTheyLeave) {
    constexpr int kClients = 200;
    for (int i = 0; i < kClients; ++i) {
        UniqueFd fd = connect_tcp("127.0.0.1", main_port_);
        ASSERT_TRUE(fd.valid());
        if (i % 2 == 1) {
            ASSERT_TRUE(reset_on_close(fd.get()));
        }
    }  // each closed at the end of its iteration: a FIN, or a reset
    wait_until_none_classifying();
    EXPECT_EQ(daemon_->stop(), 0);
    const std::string log = daemon_->log();
    const auto counter = [&log](const std::string &name) -> long {
        const std::string key = " " + name + "=";
        const auto at = log.rfind(key);
        return at == std::string::npos ? -1 : std::stol(log.substr(at + key.size()));
    };
    EXPECT_EQ(counter("accepted"), kClients) << log;
    EXPECT_EQ(counter("timeout"), 0) << log;
    EXPECT_EQ(counter("closed_early") + counter("read_error"), kClients) << log;
    EXPECT_GE(counter("read_error"), 1) << log;
}

TEST_P(PolicyTest, CountersOnStop) {
    expect_echo("127.0.0.1", main_port_, {build_client_hello({.sni = "p1.test"})}, 0ms, {});
    expect_reply_then_close(strict_port_, build_client_hello({.sni = "x.test"}), kUnrecognizedName);
    const std::string req = "GET / HTTP/1.0\r\n\r\n";
    expect_reply_then_close(main_port_, Bytes(req.begin(), req.end()), {});
    EXPECT_EQ(daemon_->stop(), 0);
    const std::string log = daemon_->log();
    EXPECT_NE(log.find(" accepted=3 "), std::string::npos) << log;
    EXPECT_NE(log.find(" routed=1 "), std::string::npos);
    EXPECT_NE(log.find(" handed_off=1 "), std::string::npos);
    EXPECT_NE(log.find(" rejected_unknown_sni=1 "), std::string::npos);
    EXPECT_NE(log.find(" not_tls=1 "), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Classifiers, PolicyTest, SNI_CLASSIFIERS, classifier_name);

}  // namespace
}  // namespace sni::itest
