// Terminate routes through the BPF classifier with the real sni-worker: TLS with the route's
// certificate, end to end. The daemon reads the ClientHello from the socket's psock, takes the
// socket out of the classifier's SOCKHASH and hands it off; the worker's OpenSSL replays the
// hello and reads the rest from the socket. Every byte must come back, and each connection
// must end cleanly. (Keeping terminate sockets in the map for life, as passthrough ones are, was
// measured and not taken: docs/performance.md, "Passthrough: one SOCKHASH".)
#include <gtest/gtest.h>

#include <string>

#include "harness.hpp"
#include "hello_builder.hpp"
#include "net_client.hpp"
#include "real_worker.hpp"

namespace sni::itest {
namespace {

using namespace std::chrono_literals;

TEST(TerminateThroughTheKernel, EveryByteOfTlsEchoes) {
    TempDir certs;
    make_certificate(certs.path(), "t", {"t.test"});
    EchoBackend backend;
    const std::string crt = (certs.path() / "t.crt").string();
    const std::string key = (certs.path() / "t.key").string();
    RealWorkerDaemon d(
        "  - name: t\n    listener: main\n    server_names: [t.test]\n"
        "    mode: terminate\n"
        "    tls: {certificates: [{cert: \"" +
            crt + "\", key: \"" + key +
            "\"}]}\n"
            "    backend: {servers: [\"127.0.0.1:" +
            std::to_string(backend.port()) + "\"]}\n",
        "bpf");
    ASSERT_TRUE(d.daemon->wait_ready()) << d.daemon->log();
    constexpr int kConns = 20;
    for (int i = 0; i < kConns && !HasFailure(); ++i)
        EXPECT_EQ(tls_echo(d.main_port, "t.test", random_payload(64 * 1024, 300 + i)), "")
            << "connection " << i;
    const std::string log = d.wait_access_lines(kConns);
    EXPECT_EQ(count_of(log, "\"close_reason\":\"closed\""), std::size_t{kConns}) << log;
    if (HasFailure()) ADD_FAILURE() << d.daemon->log();
    EXPECT_EQ(d.daemon->stop(), 0);
}

}  // namespace
}  // namespace sni::itest
