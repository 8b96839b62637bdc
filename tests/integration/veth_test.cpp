// The framing cases over a real link: a veth pair with MTU 1280 into a network namespace the
// test creates (and deletes), so a 1.8 KB ClientHello really arrives as several TCP segments.
// Needs root (ip netns, setns); runs for both classifiers. In the BPF run it also checks that
// the kernel made the decisions (its counters moved), so a silent fallback cannot pass.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "splitter_fixture.hpp"

namespace sni::itest {
namespace {

void ip(const std::vector<std::string> &args, bool must = true) {
    std::vector<std::string> argv = {"ip"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_process(argv, "", 10s);
    if (must && r.exit_code != 0) {
        std::string cmd;
        for (const auto &a : argv) cmd += a + " ";
        throw std::runtime_error(cmd + "failed: " + r.err);
    }
}

class VethTest : public SplitterTest {
  protected:
    void SetUp() override {
        const unsigned id = static_cast<unsigned>(::getpid());
        ns_ = "sni-it-" + std::to_string(id);
        host_if_ = "snih" + std::to_string(id % 100000);
        const std::string net = "10.231." + std::to_string(id % 250 + 1) + ".";
        host_addr_ = net + "1";
        peer_addr_ = net + "2";
        ip({"netns", "add", ns_});
        created_ = true;
        ip({"link", "add", host_if_, "mtu", "1280", "type", "veth", "peer", "name", "snic0", "mtu",
            "1280", "netns", ns_});
        ip({"addr", "add", host_addr_ + "/24", "dev", host_if_});
        ip({"link", "set", host_if_, "up"});
        ip({"-n", ns_, "addr", "add", peer_addr_ + "/24", "dev", "snic0"});
        ip({"-n", ns_, "link", "set", "snic0", "up"});
        ip({"-n", ns_, "link", "set", "lo", "up"});
        SplitterTest::SetUp();
    }
    void TearDown() override {
        SplitterTest::TearDown();
        if (created_) {
            ip({"link", "del", host_if_}, false);
            ip({"netns", "del", ns_}, false);
        }
    }
    std::string extra_main_address() const override { return host_addr_; }

    // Connects from inside the namespace: setns() moves only the calling thread, and the
    // socket keeps its namespace when the fd comes back to the test's thread.
    UniqueFd connect_client(const std::string &host, std::uint16_t port) override {
        UniqueFd out;
        std::thread t([&] {
            UniqueFd nsfd(::open(("/run/netns/" + ns_).c_str(), O_RDONLY | O_CLOEXEC));
            if (nsfd.valid() && ::setns(nsfd.get(), CLONE_NEWNET) == 0)
                out = connect_tcp(host, port);
        });
        t.join();
        return out;
    }

    void expect_kernel_decided() {
        if (classifier() != "bpf") return;
        const int code = daemon_->stop();
        EXPECT_EQ(code, 0);
        const std::string log = daemon_->log();
        const auto at = log.find("kernel_decisions=");
        ASSERT_NE(at, std::string::npos) << "no kernel counters in the daemon's final line";
        EXPECT_GT(std::stoul(log.substr(at + 17)), 0u) << "the BPF path did not decide";
        const auto deferred = log.find("bpf_deferred=");
        if (deferred != std::string::npos)  // informative: how often the first look was partial
            std::cout << "kernel decided, "
                      << log.substr(deferred, log.find(' ', deferred) - deferred) << "\n";
        daemon_.reset();
    }

    std::string ns_, host_if_, host_addr_, peer_addr_;
    bool created_ = false;
};

TEST_P(VethTest, LargeHelloInOneWriteArrivesInSegments) {
    const Bytes hello = build_client_hello(
        {.sni = "p2.test", .key_share_bytes = 1700, .sni_after_key_share = true});
    ASSERT_GT(hello.size(), 1800u) << "must exceed one 1280-MTU segment";
    expect_echo(host_addr_, main_port_, {hello}, 0ms, random_payload(20000, 11));
    expect_kernel_decided();
}

TEST_P(VethTest, HelloInPiecesWithPauses) {
    const Bytes hello = build_client_hello({.sni = "p1.test", .key_share_bytes = 1200});
    std::vector<Bytes> chunks;
    for (std::size_t off = 0; off < hello.size(); off += 300)
        chunks.emplace_back(hello.begin() + static_cast<long>(off),
                            hello.begin() + static_cast<long>(std::min(hello.size(), off + 300)));
    expect_echo(host_addr_, main_port_, chunks, 30ms, random_payload(5000, 12));
    expect_kernel_decided();
}

TEST_P(VethTest, OneByteRecordsOverTheLink) {
    const Bytes records = reframe(build_client_hello({.sni = "p3.test"}), 1);
    expect_echo(host_addr_, main_port_, {records}, 0ms, random_payload(3000, 13));
    expect_kernel_decided();
}

// A client that sends right behind its ClientHello, without waiting for an answer, over a link
// where the bytes arrive in several segments a moment apart: every byte reaches the passthrough
// worker. In the BPF run they used to be dropped with the psock about 1 connection in 100 when
// they arrived while the socket left the classifier's map; a passthrough socket stays there now.
TEST_P(VethTest, BytesRightBehindTheHelloAllArrive) {
    const Bytes hello = build_client_hello({.sni = "p1.test"});
    for (std::uint32_t i = 0; i < 150 && !HasFailure(); ++i)
        expect_echo(host_addr_, main_port_, {hello, random_payload(4000, 100 + i)}, 0ms, {});
    expect_kernel_decided();
}

INSTANTIATE_TEST_SUITE_P(Classifiers, VethTest, SNI_CLASSIFIERS, classifier_name);

// The main listener binds the veth interface by name ("snihN:P"): the daemon follows its
// addresses while it runs. A second subnet is added on both ends, so removing the first
// address (and its subnet route) leaves the second one reachable.
class VethInterfaceBindTest : public VethTest {
  protected:
    std::string extra_main_address() const override { return host_if_; }

    bool wait_log_line(const std::string &event, const std::string &addr) {
        const std::string want = addr + ":" + std::to_string(main_port_);
        return daemon_->wait_log(
            [&](const std::string &log) {
                for (std::size_t at = log.find(event); at != std::string::npos;
                     at = log.find(event, at + 1)) {
                    const auto end = log.find('\n', at);
                    if (log.substr(at, end - at).find(want) != std::string::npos) return true;
                }
                return false;
            },
            5s);
    }
};

TEST_P(VethInterfaceBindTest, FollowsAddressesAddedAndRemoved) {
    ASSERT_TRUE(wait_log_line("listening", host_addr_)) << daemon_->log();
    const unsigned id = static_cast<unsigned>(::getpid());
    const std::string net2 = "10.232." + std::to_string(id % 250 + 1) + ".";
    const std::string second = net2 + "1";
    ip({"addr", "add", second + "/24", "dev", host_if_});
    ip({"-n", ns_, "addr", "add", net2 + "2/24", "dev", "snic0"});
    ASSERT_TRUE(wait_log_line("interface address added", second)) << daemon_->log();
    // Only the new address serves connections in this test, so in the BPF run the kernel's
    // decisions can only have come from the socket registered at runtime.
    expect_echo(second, main_port_,
                {build_client_hello({.sni = "p1.test"}), random_payload(4000, 21)}, 0ms, {});

    ip({"addr", "del", host_addr_ + "/24", "dev", host_if_});
    ASSERT_TRUE(wait_log_line("interface address removed", host_addr_)) << daemon_->log();
    expect_echo(second, main_port_,
                {build_client_hello({.sni = "p2.test"}), random_payload(4000, 22)}, 0ms, {});
    EXPECT_EQ(count_of(daemon_->log(), "interface address removed"), 1u) << daemon_->log();
    if (HasFailure()) std::cout << daemon_->log();
    expect_kernel_decided();
}

INSTANTIATE_TEST_SUITE_P(Classifiers, VethInterfaceBindTest, SNI_CLASSIFIERS, classifier_name);

}  // namespace
}  // namespace sni::itest
