// Real TLS clients through the splitter: openssl s_client (TLS 1.2 and 1.3, IPv4 and IPv6),
// curl, python3 ssl. The test worker answers "route=<name> sni=<sni> version=<v>" and echoes.
#include "splitter_fixture.hpp"

namespace sni::itest {
namespace {

class RoutingTest : public SplitterTest {};

// s_client with certificate and host-name verification against the route's own certificate:
// proves the worker behind the right route answered.
ProcessResult s_client(const std::string &host, std::uint16_t port, const std::string &sni,
                       const std::string &version_flag, const std::string &cafile,
                       const std::string &line) {
    return run_process({"openssl", "s_client", "-connect", host + ":" + std::to_string(port),
                        "-servername", sni, version_flag, "-quiet", "-no_ign_eof", "-CAfile",
                        cafile, "-verify_return_error", "-verify_hostname", sni},
                       line, 10s,
                       [&](const std::string &out) { return out.find(line) != std::string::npos; });
}

TEST_P(RoutingTest, OpensslTls13ByExactName) {
    const auto r = s_client("127.0.0.1", main_port_, "a.test", "-tls1_3",
                            (certs() / "a.crt").string(), "hello over 1.3\n");
    EXPECT_EQ(r.out, "route=tls-a sni=a.test version=TLSv1.3\nhello over 1.3\n") << r.err;
    EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_P(RoutingTest, OpensslTls12ByWildcard) {
    const auto r = s_client("127.0.0.1", main_port_, "x.b.test", "-tls1_2",
                            (certs() / "b.crt").string(), "hello over 1.2\n");
    EXPECT_EQ(r.out, "route=tls-b sni=x.b.test version=TLSv1.2\nhello over 1.2\n") << r.err;
    EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_P(RoutingTest, OpensslOverIpv6) {
    const auto r = s_client("[::1]", main_port_, "a.test", "-tls1_3", (certs() / "a.crt").string(),
                            "hello over ipv6\n");
    EXPECT_EQ(r.out, "route=tls-a sni=a.test version=TLSv1.3\nhello over ipv6\n") << r.err;
}

TEST_P(RoutingTest, OpensslUppercaseSniIsNormalized) {
    const auto r = s_client("127.0.0.1", main_port_, "Y.B.Test", "-tls1_3",
                            (certs() / "b.crt").string(), "case\n");
    EXPECT_EQ(r.out, "route=tls-b sni=y.b.test version=TLSv1.3\ncase\n") << r.err;
}

TEST_P(RoutingTest, Curl) {
    // The worker's greeting is not HTTP, so let curl read it as HTTP/0.9 until its time limit.
    const std::string port = std::to_string(main_port_);
    const auto r = run_process(
        {"curl", "-sS", "--http0.9", "--max-time", "1.5", "--cacert", (certs() / "b.crt").string(),
         "--resolve", "curl.b.test:" + port + ":127.0.0.1", "https://curl.b.test:" + port + "/"},
        "", 10s);
    EXPECT_EQ(r.out.rfind("route=tls-b sni=curl.b.test version=TLSv1.3\nGET / HTTP/1.1\r\n", 0), 0u)
        << "stdout: " << r.out << "\nstderr: " << r.err;
    EXPECT_TRUE(r.exit_code == 28 || r.exit_code == 0) << r.exit_code << " " << r.err;
}

TEST_P(RoutingTest, PythonSsl) {
    const char *script = R"(
import socket, ssl, sys
port, host, cafile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
    with ctx.wrap_socket(raw, server_hostname=host) as s:
        f = s.makefile("rb")
        line = f.readline()
        s.sendall(b"ping from python\n")
        echo = f.readline()
        sys.stdout.write(line.decode() + echo.decode() + s.version() + "\n")
)";
    const auto r = run_process({"python3", "-c", script, std::to_string(main_port_), "py.b.test",
                                (certs() / "b.crt").string()},
                               "", 15s);
    EXPECT_EQ(r.out, "route=tls-b sni=py.b.test version=TLSv1.3\nping from python\nTLSv1.3\n")
        << r.err;
    EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_P(RoutingTest, ManyTlsClientsInARow) {
    for (int i = 0; i < 10; ++i) {
        const std::string sni = "n" + std::to_string(i) + ".b.test";
        const auto r = s_client("127.0.0.1", main_port_, sni, i % 2 ? "-tls1_2" : "-tls1_3",
                                (certs() / "b.crt").string(), "x\n");
        EXPECT_EQ(r.out, "route=tls-b sni=" + sni + " version=" + (i % 2 ? "TLSv1.2" : "TLSv1.3") +
                             "\nx\n")
            << r.err;
    }
}

INSTANTIATE_TEST_SUITE_P(Classifiers, RoutingTest, SNI_CLASSIFIERS, classifier_name);

}  // namespace
}  // namespace sni::itest
