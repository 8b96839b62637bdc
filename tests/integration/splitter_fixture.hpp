// The fixture every parametrized integration test uses: generates certificates (once per test
// process), writes a config on fresh ports, starts sni-splitterd with the classifier under test
// (the test parameter: "userspace" or "bpf") and sni-test-worker behind it, and stops it by PID
// at the end, expecting a clean exit.
//
// Listeners and routes of the generated config:
//   main   (127.0.0.1:P and [::1]:P)  default_route pt-default, unknown_sni default,
//          client_hello_timeout 1s, max_client_hello 16KiB (default)
//     tls-a      a.test                 terminate (cert a.crt, CN/SAN a.test)   pool tls
//     tls-b      *.b.test               terminate (cert b.crt, SAN *.b.test)    pool tls
//     pt-1..3    p1.test p2.test p3.test passthrough                           pool default
//     pt-capture tls13.example.test, pq.example.test  passthrough (the corpus' SNIs)
//     pt-default (no names)             passthrough: the default route
//   strict (127.0.0.1:S)  require_sni, unknown_sni reject, client_hello_timeout 1s
//     strict-pt  p1.test                passthrough
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "harness.hpp"
#include "hello_builder.hpp"
#include "net_client.hpp"

namespace sni::itest {

class SplitterTest : public ::testing::TestWithParam<std::string> {
  protected:
    static void SetUpTestSuite();
    static void TearDownTestSuite();
    void SetUp() override;
    void TearDown() override;

    // Overridable by derived fixtures before SetUp runs.
    virtual std::optional<unsigned> daemon_fd_limit() const { return std::nullopt; }
    // sni-splitterd --drain-timeout (seconds): short, so that teardown is quick.
    virtual std::string drain_timeout() const { return "2"; }
    // More sni-splitterd arguments (e.g. --watch).
    virtual std::vector<std::string> extra_daemon_args() const { return {}; }
    // Routes placed before the standard ones (their ids shift the others'), as YAML items.
    std::string extra_routes_;
    // One more address (no port) the main listener binds, e.g. a veth address.
    virtual std::string extra_main_address() const { return {}; }
    // True: the config gets `metrics: {listen: "127.0.0.1:<metrics_port_>"}`.
    virtual bool with_metrics() const { return false; }
    // How expect_echo connects (a fixture may connect from another network namespace).
    virtual UniqueFd connect_client(const std::string &host, std::uint16_t port) {
        return connect_tcp(host, port);
    }

    const std::string &classifier() const { return GetParam(); }
    static const std::filesystem::path &certs();
    std::string config_text() const;
    std::string control_socket() const;  // in the test's own directory

    // Passthrough round trip: sends `chunks` (pausing `pause` between them), then `payload`;
    // expects every byte back, in order.
    void expect_echo(const std::string &host, std::uint16_t port, const std::vector<Bytes> &chunks,
                     std::chrono::milliseconds pause, const Bytes &payload);
    // Sends `hello`; expects exactly `expected` back and then a close.
    void expect_reply_then_close(std::uint16_t port, const Bytes &hello, const Bytes &expected);

    std::uint16_t main_port_ = 0;
    std::uint16_t strict_port_ = 0;
    std::uint16_t metrics_port_ = 0;
    std::unique_ptr<TempDir> dir_;
    std::unique_ptr<DaemonProcess> daemon_;
    bool expect_clean_exit_ = true;
};

// "userspace" / "bpf" as the test name suffix.
std::string classifier_name(const ::testing::TestParamInfo<std::string> &info);

#define SNI_CLASSIFIERS ::testing::Values(std::string("userspace"), std::string("bpf"))

}  // namespace sni::itest
