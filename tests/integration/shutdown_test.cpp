// SIGTERM: the daemon stops accepting at once, lets open connections finish (up to the drain
// deadline), then exits 0.
#include <signal.h>

#include <thread>

#include "splitter_fixture.hpp"

namespace sni::itest {
namespace {

class ShutdownTest : public SplitterTest {
  protected:
    std::string drain_timeout() const override { return "3"; }
    // Without a second SIGTERM (that one would end the drain at once).
    bool wait_exit(std::chrono::milliseconds timeout) {
        const auto end = Clock::now() + timeout;
        while (daemon_->running()) {
            if (Clock::now() > end) return false;
            std::this_thread::sleep_for(20ms);
        }
        return true;
    }
};

TEST_P(ShutdownTest, OpenConnectionFinishesNewOnesAreRefused) {
    UniqueFd fd = connect_tcp("127.0.0.1", main_port_);
    ASSERT_TRUE(fd.valid());
    const Bytes hello = build_client_hello({.sni = "p1.test"});
    ASSERT_TRUE(send_all(fd.get(), hello));
    ASSERT_EQ(read_exactly(fd.get(), hello.size(), 5s).data, hello);

    ASSERT_EQ(::kill(daemon_->pid(), SIGTERM), 0);
    ASSERT_TRUE(daemon_->wait_log(
        [](const std::string &l) {
            return l.find("msg=\"draining workers\"") != std::string::npos;
        },
        5s));
    EXPECT_FALSE(connect_tcp("127.0.0.1", main_port_).valid()) << "still accepting";
    // The open connection still works during the drain.
    for (int i = 0; i < 5; ++i) {
        const Bytes more = random_payload(4096, static_cast<std::uint32_t>(i));
        ASSERT_TRUE(send_all(fd.get(), more));
        ASSERT_EQ(read_exactly(fd.get(), more.size(), 5s).data, more);
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(daemon_->running());
    const auto closed_at = Clock::now();
    fd.reset();  // the last connection ends: the workers exit, then the daemon
    EXPECT_TRUE(wait_exit(5s));
    EXPECT_LT(Clock::now() - closed_at, 2500ms) << "the daemon waited for the deadline";
    EXPECT_EQ(daemon_->stop(), 0);
    EXPECT_EQ(daemon_->log().find("drain deadline reached"), std::string::npos);
}

TEST_P(ShutdownTest, DrainDeadlineEndsIdleConnections) {
    UniqueFd fd = connect_tcp("127.0.0.1", main_port_);
    ASSERT_TRUE(fd.valid());
    const Bytes hello = build_client_hello({.sni = "p2.test"});
    ASSERT_TRUE(send_all(fd.get(), hello));
    ASSERT_EQ(read_exactly(fd.get(), hello.size(), 5s).data, hello);
    const auto start = Clock::now();
    ASSERT_EQ(::kill(daemon_->pid(), SIGTERM), 0);
    // The client never closes: the deadline (3 s) stops the workers, the connection closes.
    const auto r = read_until_close(fd.get(), 15s);
    EXPECT_TRUE(r.closed);
    const auto took = Clock::now() - start;
    EXPECT_GE(took, 2500ms);
    EXPECT_TRUE(wait_exit(10s));
    EXPECT_EQ(daemon_->stop(), 0);
    EXPECT_NE(daemon_->log().find("drain deadline reached"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Classifiers, ShutdownTest, SNI_CLASSIFIERS, classifier_name);

}  // namespace
}  // namespace sni::itest
