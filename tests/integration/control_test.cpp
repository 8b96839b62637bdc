// sni-ctl against a running daemon: every command, --json, the exit codes scripts rely on,
// drain of a route and of a listener, and the capability drop seen in /proc/PID/status.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "common/tls_alert.hpp"
#include "ctl_support.hpp"
#include "splitter_fixture.hpp"

namespace sni::itest {
namespace {

class ControlTest : public SplitterTest {};

using nlohmann::json;

TEST_P(ControlTest, StatusRoutesMetricsAndConns) {
    ASSERT_TRUE(daemon_->wait_log(
        [](const std::string &l) { return count_of(l, "msg=\"worker running\"") >= 3; }, 5s));
    // The socket is root's only.
    struct stat st {};
    ASSERT_EQ(::stat(control_socket().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(st.st_uid, 0u);

    int code = -1;
    const json status = ctl_json(control_socket(), {"status"}, &code);
    ASSERT_EQ(code, 0);
    ASSERT_TRUE(status.is_object()) << status;
    EXPECT_EQ(status["classifier"]["name"], classifier());
    EXPECT_EQ(status["pid"], daemon_->pid());
    EXPECT_EQ(status["generation"], 1);
    EXPECT_TRUE(status["ktls"].contains("available"));
    std::vector<pid_t> pids;
    for (const auto &p : status["pools"])
        for (const auto &w : p["workers"]) pids.push_back(w["pid"].get<pid_t>());
    auto children = daemon_->children();
    std::sort(pids.begin(), pids.end());
    std::sort(children.begin(), children.end());
    EXPECT_EQ(pids, children);

    // One connection on pt-1, kept open: routes counts it, conns lists it with its route.
    UniqueFd held = connect_tcp("127.0.0.1", main_port_);
    ASSERT_TRUE(held.valid());
    const Bytes hello = build_client_hello({.sni = "p1.test"});
    ASSERT_TRUE(send_all(held.get(), hello));
    ASSERT_EQ(read_exactly(held.get(), hello.size(), 5s).data.size(), hello.size());

    const json routes = ctl_json(control_socket(), {"routes"}, &code);
    ASSERT_EQ(code, 0);
    ASSERT_EQ(routes["routes"].size(), 8u);
    bool seen = false;
    for (const auto &r : routes["routes"]) {
        if (r["name"] != "pt-1") continue;
        seen = true;
        EXPECT_EQ(r["mode"], "passthrough");
        EXPECT_EQ(r["pool"], "default");
        EXPECT_EQ(r["handed_off"], 1);
        EXPECT_EQ(r["server_names"], json::array({"p1.test"}));
        EXPECT_EQ(r["backends"][0]["health"], "unknown");
    }
    EXPECT_TRUE(seen);

    const json conns = ctl_json(control_socket(), {"conns"}, &code);
    ASSERT_EQ(code, 0);
    std::size_t on_pt1 = 0;
    for (const auto &c : conns["connections"])
        if (c.value("route", "") == "pt-1" && c["phase"] == "worker") {
            ++on_pt1;
            // From the daemon's own record of the handoff (only it knows the generation).
            EXPECT_EQ(c.value("generation", 0), 1) << c.dump();
        }
    EXPECT_EQ(on_pt1, 1u) << conns.dump(2);

    const ProcessResult metrics = run_ctl(control_socket(), {"metrics"});
    EXPECT_EQ(metrics.exit_code, 0);
    EXPECT_NE(metrics.out.find("sni_handoffs_total{route=\"pt-1\"} 1\n"), std::string::npos)
        << metrics.out;
    EXPECT_NE(metrics.out.find("# TYPE sni_connections_total counter"), std::string::npos);

    // Human output too.
    const ProcessResult human = run_ctl(control_socket(), {"status"});
    EXPECT_EQ(human.exit_code, 0);
    EXPECT_NE(human.out.find("classifier    " + classifier()), std::string::npos) << human.out;
}

TEST_P(ControlTest, ExitCodes) {
    // 3: no daemon on that socket.
    const auto none = run_process(
        {SNI_CTL_BIN, "--socket", (dir_->path() / "nope.sock").string(), "status"}, "", 10s);
    EXPECT_EQ(none.exit_code, 3);
    EXPECT_NE(none.err.find("not running"), std::string::npos) << none.err;
    // 2: usage.
    EXPECT_EQ(run_ctl(control_socket(), {"frobnicate"}).exit_code, 2);
    EXPECT_EQ(run_ctl(control_socket(), {"drain"}).exit_code, 2);
    // 4: not root (the socket is 0600 root).
    const auto nobody = run_process({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                     SNI_CTL_BIN, "--socket", control_socket(), "status"},
                                    "", 10s);
    EXPECT_EQ(nobody.exit_code, 4) << nobody.err;
    EXPECT_NE(nobody.err.find("permission denied"), std::string::npos) << nobody.err;
    // Even through an opened-up socket file, SO_PEERCRED keeps others out.
    ASSERT_EQ(::chmod(dir_->path().c_str(), 0711), 0);
    ASSERT_EQ(::chmod(control_socket().c_str(), 0666), 0);
    const auto peer = run_process({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                   SNI_CTL_BIN, "--socket", control_socket(), "status"},
                                  "", 10s);
    ASSERT_EQ(::chmod(control_socket().c_str(), 0600), 0);
    ASSERT_EQ(::chmod(dir_->path().c_str(), 0700), 0);
    EXPECT_EQ(peer.exit_code, 4) << peer.err;
    EXPECT_NE(peer.err.find("root only"), std::string::npos) << peer.err;
    EXPECT_NE(daemon_->log().find("control client refused"), std::string::npos);
    // 1: the daemon refuses (unknown route).
    const auto refused = run_ctl(control_socket(), {"drain", "--route", "no-such-route"});
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("no route named"), std::string::npos) << refused.err;
    // check: no daemon needed, the same diagnostics as sni-splitterd --check.
    const auto good = dir_->path() / "splitter.yaml";
    EXPECT_EQ(run_ctl("/nonexistent.sock", {"check", good.string()}).exit_code, 0);
    write_file(dir_->path() / "bad.yaml", read_file(good) + "surprise: 1\n");
    const auto bad = run_ctl("/nonexistent.sock", {"check", (dir_->path() / "bad.yaml").string()});
    EXPECT_EQ(bad.exit_code, 1);
    const auto daemon_check = run_process(
        {SNI_SPLITTERD_BIN, "--config", (dir_->path() / "bad.yaml").string(), "--check"}, "", 10s);
    EXPECT_EQ(bad.err, daemon_check.err);
    EXPECT_NE(bad.err.find("surprise"), std::string::npos);
}

TEST_P(ControlTest, DrainRouteAlertsNewConnectionsOthersFlow) {
    ASSERT_EQ(run_ctl(control_socket(), {"drain", "--route", "pt-1"}).exit_code, 0);
    const auto alert = fatal_alert_record(AlertDescription::kUnrecognizedName);
    expect_reply_then_close(main_port_, build_client_hello({.sni = "p1.test"}),
                            Bytes(alert.begin(), alert.end()));
    expect_echo("127.0.0.1", main_port_, {build_client_hello({.sni = "p2.test"})}, 0ms,
                random_payload(300, 7));
    const json routes = ctl_json(control_socket(), {"routes"});
    for (const auto &r : routes["routes"])
        EXPECT_EQ(r["drained"].get<bool>(), r["name"] == "pt-1") << r["name"];
}

TEST_P(ControlTest, DrainListenerStopsAccepting) {
    ASSERT_EQ(run_ctl(control_socket(), {"drain", "--listener", "strict"}).exit_code, 0);
    EXPECT_FALSE(connect_tcp("127.0.0.1", strict_port_).valid());
    expect_echo("127.0.0.1", main_port_, {build_client_hello({.sni = "p1.test"})}, 0ms,
                random_payload(300, 8));
}

std::uint64_t cap_field(const std::string &status, const std::string &name) {
    const auto at = status.find(name + ":\t");
    if (at == std::string::npos) return ~0ull;
    return std::stoull(status.substr(at + name.size() + 2, 16), nullptr, 16);
}

TEST_P(ControlTest, CapabilitiesAreDroppedAndReloadStillWorks) {
    std::ifstream f("/proc/" + std::to_string(daemon_->pid()) + "/status");
    const std::string status((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // cap_dac_read_search 2, cap_kill 5, cap_setgid 6, cap_setuid 7, cap_net_bind_service 10,
    // and cap_bpf 39 for the BPF classifier only.
    std::uint64_t want = (1ull << 2) | (1ull << 5) | (1ull << 6) | (1ull << 7) | (1ull << 10);
    if (classifier() == "bpf") want |= 1ull << 39;
    EXPECT_EQ(cap_field(status, "CapEff"), want) << status;
    EXPECT_EQ(cap_field(status, "CapPrm"), want);
    EXPECT_EQ(cap_field(status, "CapBnd"), want);
    EXPECT_EQ(cap_field(status, "CapInh"), 0u);
    EXPECT_EQ(cap_field(status, "CapAmb"), 0u);
    EXPECT_EQ(cap_field(status, "CapEff") & (1ull << 21), 0u) << "CAP_SYS_ADMIN kept";
    EXPECT_EQ(cap_field(status, "CapEff") & (1ull << 12), 0u) << "CAP_NET_ADMIN kept";
    EXPECT_NE(status.find("NoNewPrivs:\t1"), std::string::npos);

    const auto r = run_ctl(control_socket(), {"reload"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("generation 2"), std::string::npos) << r.out;
    ASSERT_TRUE(daemon_->wait_log(
        [](const std::string &l) { return count_of(l, "msg=\"worker running\"") >= 6; }, 10s));
    for (int i = 0; i < 6; ++i)
        expect_echo("127.0.0.1", main_port_,
                    {build_client_hello({.sni = "p" + std::to_string(1 + i % 3) + ".test"})}, 0ms,
                    random_payload(200, static_cast<std::uint32_t>(i)));
}

INSTANTIATE_TEST_SUITE_P(Classifiers, ControlTest, SNI_CLASSIFIERS, classifier_name);

}  // namespace
}  // namespace sni::itest
