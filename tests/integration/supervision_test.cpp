// Worker supervision (a killed worker is restarted, traffic keeps flowing; stopped workers get
// the connections queued for them when they go on) and running out of file descriptors (excess
// connections are shed, the daemon neither spins nor stops serving).
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <thread>

#include "ctl_support.hpp"
#include "metrics_scrape.hpp"
#include "splitter_fixture.hpp"

namespace sni::itest {
namespace {

class SupervisionTest : public SplitterTest {};

TEST_P(SupervisionTest, KilledWorkerIsRestartedAndTrafficFlows) {
    // Let every worker start up (3 = 2 in pool default + 1 in pool tls).
    ASSERT_TRUE(daemon_->wait_log(
        [](const std::string &l) { return count_of(l, "msg=\"worker running\"") >= 3; }, 5s));
    const auto workers = daemon_->children();
    ASSERT_EQ(workers.size(), 3u);
    const std::size_t started_before = count_of(daemon_->log(), "msg=\"worker started\"");

    // A process this test started (the daemon) started it: end it by its PID.
    ASSERT_EQ(::kill(workers.front(), SIGKILL), 0);
    ASSERT_TRUE(daemon_->wait_log(
        [&](const std::string &l) {
            return l.find("msg=\"worker exited\"") != std::string::npos &&
                   count_of(l, "msg=\"worker started\"") == started_before + 1;
        },
        5s))
        << "no restart";
    for (int i = 0; i < 20; ++i)
        expect_echo("127.0.0.1", main_port_,
                    {build_client_hello({.sni = "p" + std::to_string(1 + i % 3) + ".test"})}, 0ms,
                    random_payload(512, static_cast<std::uint32_t>(i)));
    EXPECT_EQ(daemon_->children().size(), 3u);
}

TEST_P(SupervisionTest, WorkersAreStoppedWithTheDaemon) {
    ASSERT_TRUE(daemon_->wait_log(
        [](const std::string &l) { return count_of(l, "msg=\"worker running\"") >= 3; }, 5s));
    const auto workers = daemon_->children();
    ASSERT_EQ(workers.size(), 3u);
    EXPECT_EQ(daemon_->stop(), 0);
    for (const pid_t pid : workers) {
        // Reaped by the daemon before it exited: the pid is gone (or reused by someone else,
        // which is not our child's name).
        std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
        std::string name;
        comm >> name;
        EXPECT_NE(name, "sni-test-worker") << pid;
    }
    EXPECT_EQ(count_of(daemon_->log(), "msg=\"worker stopped\""), 3u);
}

// The workers of pool `pool` among the daemon's children (their command line names the pool).
std::vector<pid_t> pool_workers(const std::vector<pid_t> &children, const std::string &pool) {
    std::vector<pid_t> out;
    for (const pid_t pid : children) {
        std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline");
        const std::string cmdline((std::istreambuf_iterator<char>(f)),
                                  std::istreambuf_iterator<char>());
        if (cmdline.find(std::string("--pool\0", 7) + pool + '\0') != std::string::npos)
            out.push_back(pid);
    }
    return out;
}

// Stopped workers take no handoffs: the kernel queue of each worker's channel fills (sendmsg
// says EAGAIN), the daemon queues the rest per worker up to its bound and closes what is beyond
// it (handoff_overflow). When the workers go on, every queued connection is delivered: each
// client gets either its echo or a close that the daemon counted, none is lost or mixed up.
TEST_P(SupervisionTest, StoppedWorkersGetTheirQueuedConnectionsWhenTheyGoOn) {
    ASSERT_TRUE(daemon_->wait_log(
        [](const std::string &l) { return count_of(l, "msg=\"worker running\"") >= 3; }, 5s));
    const auto stopped = pool_workers(daemon_->children(), "default");
    ASSERT_EQ(stopped.size(), 2u);
    // Processes this test started (through the daemon); continued below, or by `resume` on any
    // early return, so that the daemon can stop them at the end.
    struct Resume {
        const std::vector<pid_t> &pids;
        ~Resume() {
            for (const pid_t pid : pids) ::kill(pid, SIGCONT);
        }
    } resume{stopped};
    for (const pid_t pid : stopped) ASSERT_EQ(::kill(pid, SIGSTOP), 0);

    // Beyond what two channels and two queues of 256 hold, so some are shed: ClientHellos of
    // 14 KB fill a channel's kernel buffer (kChannelBufferBytes) after a few hundred handoffs.
    constexpr int kConns = 2000;
    const Bytes hello = build_client_hello({.sni = "p1.test", .padding = 14000});
    rlimit files{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &files), 0);
    if (files.rlim_cur < 2 * kConns) {
        files.rlim_cur = std::min<rlim_t>(files.rlim_max, 2 * kConns);
        ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &files), 0);
    }
    ASSERT_GE(files.rlim_cur, static_cast<rlim_t>(kConns + 100)) << "too few file descriptors";
    std::vector<UniqueFd> conns;
    std::vector<Bytes> sent;
    for (int i = 0; i < kConns; ++i) {
        UniqueFd fd = connect_tcp("127.0.0.1", main_port_);
        ASSERT_TRUE(fd.valid()) << i;
        Bytes bytes = hello;
        const Bytes tag = random_payload(64, static_cast<std::uint32_t>(i));
        bytes.insert(bytes.end(), tag.begin(), tag.end());
        ASSERT_TRUE(send_all(fd.get(), bytes)) << i;
        conns.push_back(std::move(fd));
        sent.push_back(std::move(bytes));
    }
    // Every connection is sent into a channel, queued or shed before the workers go on: the
    // daemon's outcome counters and its queues add up to kConns (two snapshots, which agree
    // once the daemon is done: stopped workers take nothing).
    const auto metrics = [this] {
        return parse_metrics(run_ctl(control_socket(), {"metrics"}).out);
    };
    const auto outcome = [](const std::map<std::string, double> &m, const std::string &name) {
        const auto it = m.find("sni_daemon_connections_total{outcome=\"" + name + "\"}");
        return it == m.end() ? 0L : static_cast<long>(it->second);
    };
    long decided = 0;
    for (int i = 0; i < 200 && decided != kConns; ++i) {
        const auto m = metrics();
        decided = outcome(m, "handed_off") + outcome(m, "handoff_overflow");
        const auto st = ctl_json(control_socket(), {"status"});
        for (const auto &pool : st["pools"])
            for (const auto &w : pool["workers"]) decided += w["queued"].get<long>();
        if (decided != kConns) std::this_thread::sleep_for(50ms);
    }
    for (const pid_t pid : stopped) ASSERT_EQ(::kill(pid, SIGCONT), 0);
    ASSERT_EQ(decided, kConns) << "the daemon did not decide every connection";

    int echoed = 0, closed = 0;
    for (int i = 0; i < kConns; ++i) {
        const auto r = read_exactly(conns[i].get(), sent[i].size(), 10s);
        ASSERT_FALSE(r.timed_out) << "connection " << i << " neither echoed nor closed";
        if (r.data.size() == sent[i].size()) {
            EXPECT_TRUE(r.data == sent[i]) << "connection " << i << " got other bytes";
            ++echoed;
        } else {
            EXPECT_TRUE(r.data.empty() && r.closed) << i;
            ++closed;
        }
    }
    conns.clear();
    EXPECT_GT(echoed, 2 * 256) << "the queues were not used";
    EXPECT_GT(closed, 0) << "nothing was beyond the queues";
    const auto after = metrics();
    EXPECT_EQ(outcome(after, "handed_off"), echoed);
    EXPECT_EQ(outcome(after, "handoff_overflow"), closed);
    EXPECT_EQ(outcome(after, "handoff_error"), 0);
    RecordProperty("echoed", echoed);
    RecordProperty("closed", closed);
    EXPECT_EQ(daemon_->stop(), 0);
    EXPECT_NE(daemon_->log().find("handoff queue full, connection closed"), std::string::npos);
}

class FdLimitTest : public SplitterTest {
  protected:
    std::optional<unsigned> daemon_fd_limit() const override { return 96; }
};

long cpu_ticks(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto close = s.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream rest(s.substr(close + 2));
    std::string field;
    long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stol(field);
        if (i == 15) stime = std::stol(field);
    }
    return utime + stime;
}

TEST_P(FdLimitTest, ExcessConnectionsAreShedWithoutSpinning) {
    std::vector<UniqueFd> silent;
    for (int i = 0; i < 150; ++i) {
        UniqueFd fd = connect_tcp("127.0.0.1", main_port_);
        ASSERT_TRUE(fd.valid());
        silent.push_back(std::move(fd));
    }
    // Some were closed right away (shed), the rest are held until their timeout.
    std::this_thread::sleep_for(300ms);
    const long before = cpu_ticks(daemon_->pid());
    std::this_thread::sleep_for(500ms);
    const long after = cpu_ticks(daemon_->pid());
    const long hz = ::sysconf(_SC_CLK_TCK);
    EXPECT_LT(after - before, hz / 4) << "the daemon burns CPU while out of fds";

    for (auto &fd : silent) EXPECT_TRUE(read_until_close(fd.get(), 3s).closed);
    silent.clear();
    // Everything timed out or was shed: the daemon serves again.
    expect_echo("127.0.0.1", main_port_, {build_client_hello({.sni = "p1.test"})}, 0ms,
                random_payload(100, 1));
    EXPECT_EQ(daemon_->stop(), 0);
    const std::string log = daemon_->log();
    EXPECT_EQ(log.find(" accept_shed=0 "), std::string::npos) << "nothing was shed";
    EXPECT_NE(log.find("out of file descriptors"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Classifiers, SupervisionTest, SNI_CLASSIFIERS, classifier_name);
INSTANTIATE_TEST_SUITE_P(Classifiers, FdLimitTest, SNI_CLASSIFIERS, classifier_name);

}  // namespace
}  // namespace sni::itest
