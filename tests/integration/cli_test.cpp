// sni-splitterd's command line: --check, --version, start-up failures, classifier choice.
#include <gtest/gtest.h>
#include <unistd.h>

#include "harness.hpp"

namespace sni::itest {
namespace {

std::string minimal_config(std::uint16_t port, const std::string &bind_host = "127.0.0.1") {
    // A control socket of its own: tests run in parallel with other daemons.
    return "control: {socket: /tmp/sni-itest-ctl-" + std::to_string(::getpid()) + "-" +
           std::to_string(port) +
           ".sock}\n"
           "listeners:\n"
           "  - name: main\n"
           "    bind: [\"" +
           bind_host + ":" + std::to_string(port) +
           "\"]\n"
           "routes:\n"
           "  - name: pt\n"
           "    listener: main\n"
           "    server_names: [p.test]\n"
           "    mode: passthrough\n"
           "    backend: {servers: [\"127.0.0.1:9\"]}\n"
           "pools:\n"
           "  - name: default\n"
           "    workers: 1\n";
}

TEST(Cli, CheckAcceptsAValidConfig) {
    TempDir dir;
    write_file(dir.path() / "ok.yaml", minimal_config(free_ports(1)[0]));
    const auto r = run_process(
        {SNI_SPLITTERD_BIN, "--config", (dir.path() / "ok.yaml").string(), "--check"}, "", 10s);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("configuration OK"), std::string::npos);
}

TEST(Cli, CheckPrintsErrorsAndFails) {
    TempDir dir;
    write_file(dir.path() / "bad.yaml", minimal_config(free_ports(1)[0]) + "surprise: 1\n");
    const auto r = run_process(
        {SNI_SPLITTERD_BIN, "--config", (dir.path() / "bad.yaml").string(), "--check"}, "", 10s);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("bad.yaml:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("surprise"), std::string::npos) << r.err;
}

TEST(Cli, VersionAndUsage) {
    auto r = run_process({SNI_SPLITTERD_BIN, "--version"}, "", 10s);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out.rfind("sni-splitterd ", 0), 0u) << r.out;
    r = run_process({SNI_SPLITTERD_BIN}, "", 10s);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("usage:"), std::string::npos);
    r = run_process({SNI_SPLITTERD_BIN, "--config", "x", "--classifier", "magic"}, "", 10s);
    EXPECT_EQ(r.exit_code, 2);
}

TEST(Cli, MissingWorkerBinaryFailsStartup) {
    TempDir dir;
    write_file(dir.path() / "c.yaml", minimal_config(free_ports(1)[0]));
    const auto r = run_process(
        {SNI_SPLITTERD_BIN, "--config", (dir.path() / "c.yaml").string(), "--classifier",
         "userspace", "--worker-bin", (dir.path() / "no-such-worker").string()},
        "", 10s);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("cannot start"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("no-such-worker"), std::string::npos) << r.err;
}

TEST(Cli, InterfaceBindListensOnTheInterfacesAddresses) {
    TempDir dir;
    const auto port = free_ports(1)[0];
    write_file(dir.path() / "c.yaml", minimal_config(port, "lo"));
    DaemonProcess d({(dir.path() / "c.yaml").string(), "userspace", dir.path() / "d.log", {}, {}});
    ASSERT_TRUE(d.wait_ready()) << d.log();
    EXPECT_NE(d.log().find("addr=127.0.0.1:" + std::to_string(port)), std::string::npos) << d.log();
    EXPECT_EQ(d.stop(), 0);
}

TEST(Cli, UnknownInterfaceFailsStartupClearly) {
    TempDir dir;
    write_file(dir.path() / "c.yaml", minimal_config(free_ports(1)[0], "nosuchif9"));
    const auto r = run_process({SNI_SPLITTERD_BIN, "--config", (dir.path() / "c.yaml").string(),
                                "--classifier", "userspace", "--worker-bin", SNI_TEST_WORKER_BIN},
                               "", 10s);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no interface named \\\"nosuchif9\\\""), std::string::npos) << r.err;
}

TEST(Cli, PortInUseFailsStartup) {
    TempDir dir;
    const auto port = free_ports(1)[0];
    write_file(dir.path() / "c.yaml", minimal_config(port));
    DaemonProcess first(
        {(dir.path() / "c.yaml").string(), "userspace", dir.path() / "1.log", {}, {}});
    ASSERT_TRUE(first.wait_ready()) << first.log();
    const auto r = run_process({SNI_SPLITTERD_BIN, "--config", (dir.path() / "c.yaml").string(),
                                "--classifier", "userspace", "--worker-bin", SNI_TEST_WORKER_BIN},
                               "", 10s);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("Address already in use"), std::string::npos) << r.err;
    EXPECT_EQ(first.stop(), 0);
}

TEST(Cli, AutoClassifierSaysWhichOneRunsAndWhy) {
    TempDir dir;
    write_file(dir.path() / "c.yaml", minimal_config(free_ports(1)[0]));
    DaemonProcess d({(dir.path() / "c.yaml").string(), "auto", dir.path() / "d.log", {}, {}});
    ASSERT_TRUE(d.wait_ready()) << d.log();
    const std::string log = d.log();
    const bool bpf = log.find("classifier=bpf requested=auto") != std::string::npos;
    const bool user = log.find("classifier=userspace requested=auto") != std::string::npos;
    EXPECT_TRUE(bpf || user) << log;
    EXPECT_NE(log.find("why=\"classifier: auto, "), std::string::npos) << log;
    EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace sni::itest
