// One test per configuration error: each checks that the error names the file, the line of the
// offending node and the key path, and says what is wrong.
//
// YAML snippets start on the line after R"( so that the first YAML line is line 1.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "common/config.hpp"

namespace sni::config {
namespace {

namespace fs = std::filesystem;

const fs::path kDataDir = fs::path(SNI_TEST_DATA_DIR) / "config";

struct Loaded {
    bool ok = false;
    ConfigErrors errors;
    std::string text;  // every error, formatted, one per line
};

Loaded load(std::string_view yaml) {
    if (yaml.starts_with('\n')) yaml.remove_prefix(1);
    auto result = load_string(yaml, "test.yaml", kDataDir);
    if (result) return {true, {}, ""};
    return {false, result.error(), to_string(result.error())};
}

// There is an error at `line` for key path `path` whose message contains `words`, and its
// formatted form starts "test.yaml:<line>:<col>: <path>: ".
::testing::AssertionResult has_error(const Loaded &r, int line, std::string_view path,
                                     std::string_view words) {
    if (r.ok) return ::testing::AssertionFailure() << "the config loaded without errors";
    for (const ConfigError &e : r.errors) {
        const std::string formatted = to_string(e);
        const std::string prefix = "test.yaml:" + std::to_string(line) + ":";
        const std::string with_path = path.empty() ? "" : ": " + std::string(path) + ": ";
        if (e.line == line && e.path == path && e.message.find(words) != std::string::npos &&
            formatted.starts_with(prefix) && formatted.find(with_path) != std::string::npos)
            return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "no error at line " << line << " for \"" << path
                                         << "\" containing \"" << words << "\"; got:\n"
                                         << r.text;
}

::testing::AssertionResult error_count(const Loaded &r, std::size_t n) {
    if (r.errors.size() == n) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "expected " << n << " error(s), got " << r.errors.size() << ":\n"
           << r.text;
}

// ---- YAML level -------------------------------------------------------------------------------

TEST(ConfigErrors, YamlSyntaxError) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"
routes: []
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_GE(r.errors[0].line, 3);
    EXPECT_GT(r.errors[0].column, 0);
    EXPECT_NE(r.text.find("YAML syntax error"), std::string::npos) << r.text;
}

TEST(ConfigErrors, YamlSyntaxErrorBadIndentation) {
    auto r = load(R"(
listeners:
  - name: public
     bind: x
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 3, "", "YAML syntax error"));
}

TEST(ConfigErrors, EmptyDocument) {
    auto r = load("# nothing here\n");
    EXPECT_TRUE(has_error(r, 1, "", "the configuration is empty"));
}

TEST(ConfigErrors, TopLevelIsNotAMapping) {
    auto r = load(R"(
- listeners
)");
    EXPECT_TRUE(has_error(r, 1, "", "expected a mapping"));
}

TEST(ConfigErrors, DuplicateYamlKey) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
    name: other
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(
        has_error(r, 4, "listeners[0].name", "duplicate key \"name\" (first set on line 2)"));
}

// ---- keys and types ---------------------------------------------------------------------------

TEST(ConfigErrors, UnknownKeyWithSuggestion) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
    requre_sni: true
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 4, "listeners[0].requre_sni",
                          "unknown key \"requre_sni\"; did you mean \"require_sni\"?"));
    // Quoted in docs/config.md.
    EXPECT_EQ(r.text,
              "test.yaml:4:5: listeners[0].requre_sni: unknown key \"requre_sni\"; did you mean "
              "\"require_sni\"?\n");
}

TEST(ConfigErrors, UnknownKeyWithoutSuggestion) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"], weighting_scheme: x}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 9, "routes[0].backend.weighting_scheme", "unknown key"));
    EXPECT_EQ(r.text.find("did you mean"), std::string::npos) << r.text;
}

TEST(ConfigErrors, UnknownTopLevelKey) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
clasifier: bpf
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 10, "clasifier", "did you mean \"classifier\"?"));
}

TEST(ConfigErrors, WrongTypeListExpected) {
    auto r = load(R"(
listeners:
  - name: public
    bind: "0.0.0.0:443"
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 3, "listeners[0].bind", "expected a list, got a string"));
}

TEST(ConfigErrors, WrongTypeMappingExpected) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: ["10.0.0.1:443"]
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(
        has_error(r, 9, "routes[0].backend", "expected a mapping (key: value pairs), got a list"));
}

TEST(ConfigErrors, WrongTypeScalarExpected) {
    auto r = load(R"(
listeners:
  - name: [public]
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    EXPECT_TRUE(has_error(r, 2, "listeners[0].name", "expected a name, got a list"));
}

TEST(ConfigErrors, WrongTypeBoolean) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
    require_sni: sometimes
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 4, "listeners[0].require_sni", "\"sometimes\" is not a boolean"));
}

TEST(ConfigErrors, MissingRequiredKey) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 5, "routes[0]", "missing required key \"backend\""));
}

TEST(ConfigErrors, MissingTopLevelSection) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 1, "", "missing required key \"routes\""));
}

// ---- values -----------------------------------------------------------------------------------

TEST(ConfigErrors, BadDuration) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend:
      servers: ["10.0.0.1:443"]
      connect_timeout: 5
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 11, "routes[0].backend.connect_timeout", "\"5\" has no unit"));
}

TEST(ConfigErrors, BadDurationUnit) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
    client_hello_timeout: 5sec
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 4, "listeners[0].client_hello_timeout", "unknown unit \"sec\""));
}

TEST(ConfigErrors, ZeroDuration) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
    idle_timeout: 0s
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 10, "routes[0].idle_timeout", "must be greater than zero"));
}

TEST(ConfigErrors, BadSize) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
    max_client_hello: 16KB
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 4, "listeners[0].max_client_hello",
                          "\"16KB\" is not a size: unknown unit \"KB\""));
}

TEST(ConfigErrors, MaxClientHelloTooLarge) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
    max_client_hello: 65KiB
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(
        has_error(r, 4, "listeners[0].max_client_hello", "must be between 512 and 65536 bytes"));
}

TEST(ConfigErrors, MaxClientHelloTooSmall) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
    max_client_hello: 511
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 4, "listeners[0].max_client_hello", "out of range"));
}

TEST(ConfigErrors, BadEnumValueWithSuggestion) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: reencrpyt
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 8, "routes[0].mode",
                          "\"reencrpyt\" is not one of \"reencrypt\", \"terminate\" or "
                          "\"passthrough\"; did you mean \"reencrypt\"?"));
}

TEST(ConfigErrors, BadEnumValue) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"], balance: random}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 9, "routes[0].backend.balance",
                          "\"random\" is not one of \"roundrobin\" or \"leastconn\""));
}

TEST(ConfigErrors, BadTlsVersion) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: terminate
    tls:
      certificates: [{cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key}]
      min_version: 1.4
    backend: {servers: ["10.0.0.1:80"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 11, "routes[0].tls.min_version", "\"1.4\" is not a TLS version"));
}

TEST(ConfigErrors, AddressWithoutPort) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend:
      servers:
        - 10.0.0.1:443
        - 10.0.0.2
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 12, "routes[0].backend.servers[1]", "\"10.0.0.2\" has no port"));
}

TEST(ConfigErrors, BadPort) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443", "[::]:70000"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 3, "listeners[0].bind[1]", "\"70000\" is not a valid port"));
}

TEST(ConfigErrors, UnbracketedIpv6) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["::1:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 3, "listeners[0].bind[0]", "must be written in brackets"));
}

TEST(ConfigErrors, MetricsListenMustBeAnIp) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
metrics: {listen: "localhost:9490"}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 10, "metrics.listen", "\"localhost\" is not an IP address"));
}

TEST(ConfigErrors, EmptyServersList) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend:
      servers: []
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 10, "routes[0].backend.servers", "the list is empty"));
}

TEST(ConfigErrors, BadWeight) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend:
      servers: [{address: "10.0.0.1:443", weight: 0}]
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 10, "routes[0].backend.servers[0].weight", "range 1..256"));
}

TEST(ConfigErrors, BadWorkers) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
pools:
  - {name: default, workers: 300}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 11, "pools[0].workers",
                          "\"300\" is not \"auto\" or a whole number in the range 1..256"));
}

TEST(ConfigErrors, ControlSocketMustBeAbsolute) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
control:
  socket: ctl.sock
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 11, "control.socket", "must be an absolute path"));
}

TEST(ConfigErrors, BadAccessLogPath) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
access_log: {path: logs/access.log}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 10, "access_log.path", "is not \"stderr\", \"off\" or an absolute"));
}

TEST(ConfigErrors, BackendSniIsAnIpAddress) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: reencrypt
    tls: {certificates: [{cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key}]}
    backend: {servers: ["10.0.0.1:443"], sni: 10.0.0.1}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 10, "routes[0].backend.sni", "SNI can only carry host names"));
}

TEST(ConfigErrors, BadPin) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: reencrypt
    tls: {certificates: [{cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key}]}
    backend:
      servers: ["10.0.0.1:443"]
      verify: {pin_sha256: abcd}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 12, "routes[0].backend.verify.pin_sha256", "expected 64 hex digits"));
}

TEST(ConfigErrors, BadVerifyCache) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: reencrypt
    tls: {certificates: [{cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key}]}
    backend:
      servers: ["10.0.0.1:443"]
      verify: {cache: maybe}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 12, "routes[0].backend.verify.cache", "true or false"));
}

TEST(ConfigErrors, BadVerifyValue) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: reencrypt
    tls: {certificates: [{cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key}]}
    backend:
      servers: ["10.0.0.1:443"]
      verify: nope
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 12, "routes[0].backend.verify", "did you mean \"none\"?"));
}

TEST(ConfigErrors, BadCipherList) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: terminate
    tls:
      certificates: [{cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key}]
      ciphers: "NOT-A-CIPHER"
      ciphersuites: "TLS_NOT_A_SUITE"
    backend: {servers: ["10.0.0.1:80"]}
)");
    ASSERT_TRUE(error_count(r, 2));
    EXPECT_TRUE(has_error(r, 11, "routes[0].tls.ciphers", "selects no cipher OpenSSL knows"));
    EXPECT_TRUE(has_error(r, 12, "routes[0].tls.ciphersuites", "TLS 1.3 cipher suites"));
}

// ---- files ------------------------------------------------------------------------------------

TEST(ConfigErrors, MissingCertificateFile) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: terminate
    tls:
      certificates:
        - cert: certs/missing.crt
          key: certs/shop-ecdsa.key
    backend: {servers: ["10.0.0.1:80"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    const std::string resolved = (kDataDir / "certs/missing.crt").string();
    EXPECT_TRUE(has_error(r, 11, "routes[0].tls.certificates[0].cert",
                          "certificate file \"" + resolved + "\" does not exist"));
}

TEST(ConfigErrors, MissingKeyFile) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: terminate
    tls:
      certificates:
        - {cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key}
        - {cert: certs/shop-rsa.crt, key: certs/nope.key}
    backend: {servers: ["10.0.0.1:80"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(
        r, 12, "routes[0].tls.certificates[1].key",
        "private key file \"" + (kDataDir / "certs/nope.key").string() + "\" does not exist"));
}

TEST(ConfigErrors, MissingCaFile) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: reencrypt
    tls: {certificates: [{cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key}]}
    backend:
      servers: ["10.0.0.1:443"]
      verify:
        ca: /nonexistent/ca.pem
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 13, "routes[0].backend.verify.ca",
                          "CA file \"/nonexistent/ca.pem\" does not exist"));
}

TEST(ConfigErrors, MissingClientCertificateAndOcspFiles) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: reencrypt
    tls:
      certificates: [{cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key, ocsp: x.ocsp}]
    backend:
      servers: ["10.0.0.1:443"]
      client_certificate: {cert: certs/client.crt, key: client.key}
)");
    ASSERT_TRUE(error_count(r, 2));
    EXPECT_TRUE(has_error(r, 10, "routes[0].tls.certificates[0].ocsp", "OCSP response file"));
    EXPECT_TRUE(has_error(r, 13, "routes[0].backend.client_certificate.key", "does not exist"));
}

TEST(ConfigErrors, CertificatePathIsADirectory) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: terminate
    tls: {certificates: [{cert: certs, key: certs/shop-ecdsa.key}]}
    backend: {servers: ["10.0.0.1:80"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 9, "routes[0].tls.certificates[0].cert", "is a directory"));
}

void UnreadableKeyFileCheck();

// Root reads any file, so as root the check runs in a child that became `nobody`.
TEST(ConfigErrors, UnreadableKeyFile) {
    if (::geteuid() == 0) {
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
            UnreadableKeyFileCheck();
            ::_exit(::testing::Test::HasFailure() ? 1 : 0);
        }
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        EXPECT_EQ(WEXITSTATUS(status), 0) << "the check failed as user nobody (3: setuid failed)";
        return;
    }
    UnreadableKeyFileCheck();
}

void UnreadableKeyFileCheck() {
    const fs::path dir =
        fs::temp_directory_path() / ("sni-config-test-" + std::to_string(getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "secret.key") << "x";
    fs::permissions(dir / "secret.key", fs::perms::none);
    auto result = load_string(R"(listeners: [{name: l, bind: ["0.0.0.0:443"]}]
routes:
  - name: r
    listener: l
    server_names: [a.example]
    mode: terminate
    tls: {certificates: [{cert: )" +
                                  (kDataDir / "certs/shop-ecdsa.crt").string() +
                                  R"(, key: secret.key}]}
    backend: {servers: ["10.0.0.1:80"]}
)",
                              "test.yaml", dir);
    fs::remove_all(dir);
    ASSERT_FALSE(result);
    ASSERT_EQ(result.error().size(), 1u) << to_string(result.error());
    EXPECT_EQ(result.error()[0].line, 7);
    EXPECT_EQ(result.error()[0].path, "routes[0].tls.certificates[0].key");
    EXPECT_NE(result.error()[0].message.find("is not readable"), std::string::npos);
}

// ---- names and references ---------------------------------------------------------------------

TEST(ConfigErrors, DuplicateListenerName) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
  - name: public
    bind: ["0.0.0.0:8443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 4, "listeners[1].name",
                          "duplicate listener name \"public\" (already used by listeners[0] on "
                          "line 2)"));
}

TEST(ConfigErrors, DuplicateRouteName) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
  - name: r
    listener: public
    server_names: [b.example]
    mode: passthrough
    backend: {servers: ["10.0.0.2:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 10, "routes[1].name", "duplicate route name \"r\""));
}

TEST(ConfigErrors, DuplicatePoolName) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
pools:
  - name: default
  - name: default
    workers: 2
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 12, "pools[1].name", "duplicate pool name \"default\""));
}

TEST(ConfigErrors, DuplicateBindAddress) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
  - name: other
    bind: ["[::]:443", "0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 5, "listeners[1].bind[1]",
                          "address 0.0.0.0:443 is already bound by listeners[0].bind[0]"));
}

TEST(ConfigErrors, RouteOnUnknownListener) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: pubilc
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 6, "routes[0].listener",
                          "there is no listener named \"pubilc\"; did you mean \"public\"?"));
}

TEST(ConfigErrors, RouteOnUnknownPool) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    pool: egde
    backend: {servers: ["10.0.0.1:443"]}
pools: [{name: edge}]
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 9, "routes[0].pool",
                          "there is no pool named \"egde\"; did you mean \"edge\"?"));
}

TEST(ConfigErrors, DefaultPoolNotDefined) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
pools: [{name: edge}]
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 5, "routes[0]", "the default pool \"default\" is not defined"));
}

TEST(ConfigErrors, DefaultRouteDoesNotExist) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
    default_route: fallbak
routes:
  - name: fallback
    listener: public
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    // Also: "fallback" is then unreachable (no server_names, not a default route).
    EXPECT_TRUE(has_error(r, 4, "listeners[0].default_route",
                          "there is no route named \"fallbak\"; did you mean \"fallback\"?"));
}

TEST(ConfigErrors, DefaultRouteOnAnotherListener) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
    default_route: internal-only
  - name: internal
    bind: ["10.1.1.1:443"]
routes:
  - name: internal-only
    listener: internal
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 4, "listeners[0].default_route",
                          "route \"internal-only\" belongs to listener \"internal\", not to "
                          "\"public\""));
}

TEST(ConfigErrors, UnknownSniDefaultWithoutDefaultRoute) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
    unknown_sni: default
routes:
  - name: r
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 4, "listeners[0].unknown_sni", "needs a default_route"));
}

TEST(ConfigErrors, UnreachableRoute) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: r
    listener: public
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 5, "routes[0]", "no connection can reach it"));
}

// ---- server names -----------------------------------------------------------------------------

TEST(ConfigErrors, DuplicateExactServerNameAcrossRoutes) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [shop.example.com]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
  - name: two
    listener: public
    server_names: [other.example.com, Shop.Example.com.]
    mode: passthrough
    backend: {servers: ["10.0.0.2:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 12, "routes[1].server_names[1]",
                          "\"shop.example.com\" is already used by route \"one\" (routes[0] on "
                          "line 5) on listener \"public\""));
    // Quoted in docs/config.md.
    EXPECT_EQ(r.text,
              "test.yaml:12:39: routes[1].server_names[1]: \"shop.example.com\" is already used "
              "by route \"one\" (routes[0] on line 5) on listener \"public\"\n");
}

TEST(ConfigErrors, DuplicateWildcardAcrossRoutes) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: ["*.example.com"]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
  - name: two
    listener: public
    server_names:
      - "*.EXAMPLE.com"
    mode: passthrough
    backend: {servers: ["10.0.0.2:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 13, "routes[1].server_names[0]",
                          "\"*.example.com\" is already used by route \"one\""));
}

TEST(ConfigErrors, SameServerNameTwiceInOneRoute) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example, b.example, a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 7, "routes[0].server_names[2]",
                          "\"a.example\" is listed twice in this route"));
}

TEST(ConfigErrors, DuplicateIsReportedAtTheRightIndexAfterAnInvalidName) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
  - name: two
    listener: public
    server_names: ["bad name", a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.2:443"]}
)");
    ASSERT_TRUE(error_count(r, 2));
    EXPECT_TRUE(has_error(r, 12, "routes[1].server_names[0]", "not a valid server name"));
    EXPECT_TRUE(has_error(r, 12, "routes[1].server_names[1]", "already used by route \"one\""));
}

TEST(ConfigErrors, ExactNameAndCoveringWildcardAreNotOverlapping) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: ["*.example.com"]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
  - name: two
    listener: public
    server_names: [www.example.com]
    mode: passthrough
    backend: {servers: ["10.0.0.2:443"]}
)");
    EXPECT_TRUE(r.ok) << r.text;
}

TEST(ConfigErrors, SameServerNameOnDifferentListenersIsFine) {
    auto r = load(R"(
listeners:
  - {name: a, bind: ["0.0.0.0:443"]}
  - {name: b, bind: ["0.0.0.0:8443"]}
routes:
  - {name: one, listener: a, server_names: [x.example], mode: passthrough, backend: {servers: ["10.0.0.1:443"]}}
  - {name: two, listener: b, server_names: [x.example], mode: passthrough, backend: {servers: ["10.0.0.1:443"]}}
)");
    EXPECT_TRUE(r.ok) << r.text;
}

TEST(ConfigErrors, WildcardInTheMiddle) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: ["a.*.com"]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    EXPECT_TRUE(has_error(r, 7, "routes[0].server_names[0]",
                          "\"a.*.com\" is not a valid wildcard: \"*\" is only allowed as the "
                          "whole first label"));
}

TEST(ConfigErrors, WildcardGluedToALabel) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [ok.example, "*foo.com"]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(
        has_error(r, 7, "routes[0].server_names[1]", "\"*foo.com\" is not a valid wildcard"));
}

TEST(ConfigErrors, BareStarWildcard) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [ok.example, "*"]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 7, "routes[0].server_names[1]", "\"*\" is not a valid wildcard"));
}

TEST(ConfigErrors, InvalidServerNameCharacters) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [ok.example, "shop example.com"]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 7, "routes[0].server_names[1]",
                          "\"shop example.com\" is not a valid server name: only letters, digits"));
}

TEST(ConfigErrors, InvalidServerNameLabelTooLong) {
    const std::string label(64, 'a');
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [ok.example, )" +
                  label + R"(.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 7, "routes[0].server_names[1]", "longer than 63 characters"));
}

TEST(ConfigErrors, InvalidServerNameTooLong) {
    std::string name;
    for (int i = 0; i < 5; ++i) name += std::string(60, 'a') + ".";
    name += "com";  // 308 characters
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [ok.example, )" +
                  name + R"(]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 7, "routes[0].server_names[1]", "longer than 253 characters"));
}

TEST(ConfigErrors, InvalidServerNameEmptyLabel) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: ["shop..example.com"]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 7, "routes[0].server_names[0]", "empty label"));
}

// ---- modes and TLS ----------------------------------------------------------------------------

TEST(ConfigErrors, TlsGivenForPassthrough) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: passthrough
    tls:
      certificates: [{cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key}]
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(
        has_error(r, 9, "routes[0].tls", "\"tls\" is not allowed for mode \"passthrough\""));
}

TEST(ConfigErrors, TlsMissingForReencrypt) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: reencrypt
    backend: {servers: ["10.0.0.1:443"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 5, "routes[0]",
                          "missing required key \"tls\": mode \"reencrypt\" terminates the "
                          "client's TLS"));
}

TEST(ConfigErrors, TlsMissingForTerminate) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: terminate
    backend: {servers: ["10.0.0.1:80"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 5, "routes[0]", "missing required key \"tls\": mode \"terminate\""));
}

TEST(ConfigErrors, CertificatesMissingInTls) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: terminate
    tls: {alpn: [h2]}
    backend: {servers: ["10.0.0.1:80"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 9, "routes[0].tls", "missing required key \"certificates\""));
}

TEST(ConfigErrors, BackendTlsKeysForTerminate) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: terminate
    tls: {certificates: [{cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key}]}
    backend:
      servers: ["10.0.0.1:80"]
      sni: a.internal
      verify: none
)");
    ASSERT_TRUE(error_count(r, 2));
    EXPECT_TRUE(has_error(r, 12, "routes[0].backend.sni",
                          "\"sni\" is not allowed for mode \"terminate\": it configures TLS to "
                          "the backend, but in this mode the worker speaks plain TCP"));
    EXPECT_TRUE(has_error(r, 13, "routes[0].backend.verify", "not allowed for mode \"terminate\""));
}

TEST(ConfigErrors, BackendTlsKeysForPassthrough) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend:
      servers: ["10.0.0.1:443"]
      min_version: "1.2"
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 11, "routes[0].backend.min_version",
                          "\"min_version\" is not allowed for mode \"passthrough\""));
}

TEST(ConfigErrors, SessionReuseIsABooleanForReencryptOnly) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: reencrypt
    tls:
      certificates: [{cert: /etc/ssl/a.crt, key: /etc/ssl/a.key}]
    backend:
      servers: ["10.0.0.1:443"]
      session_reuse: sometimes
  - name: two
    listener: public
    server_names: [b.example]
    mode: passthrough
    backend:
      servers: ["10.0.0.2:443"]
      session_reuse: false
)");
    EXPECT_TRUE(has_error(r, 13, "routes[0].backend.session_reuse", "true or false"));
    EXPECT_TRUE(has_error(r, 20, "routes[1].backend.session_reuse",
                          "\"session_reuse\" is not allowed for mode \"passthrough\""));
}

TEST(ConfigErrors, TlsHealthCheckNeedsReencrypt) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend:
      servers: ["10.0.0.1:443"]
      health_check:
        type: tls
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 12, "routes[0].backend.health_check.type",
                          "only available for mode \"reencrypt\""));
}

TEST(ConfigErrors, HealthCheckTimeoutLongerThanInterval) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend:
      servers: ["10.0.0.1:443"]
      health_check: {interval: 1s, timeout: 2s}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(
        has_error(r, 11, "routes[0].backend.health_check.timeout",
                  "the health-check timeout (2000ms) is longer than its interval (1000ms)"));
}

TEST(ConfigErrors, ClientMinVersionAboveMax) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: terminate
    tls:
      certificates: [{cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key}]
      min_version: "1.3"
      max_version: "1.2"
    backend: {servers: ["10.0.0.1:80"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 11, "routes[0].tls.min_version",
                          "min_version \"1.3\" is higher than max_version \"1.2\""));
}

TEST(ConfigErrors, BackendMaxVersionBelowDefaultMin) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: reencrypt
    tls: {certificates: [{cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key}]}
    backend:
      servers: ["10.0.0.1:443"]
      max_version: "1.1"
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 12, "routes[0].backend.max_version",
                          "min_version \"1.2\" (the default) is higher than max_version \"1.1\""));
}

TEST(ConfigErrors, LegacyBackendVersionsNeedSecurityLevel0) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: reencrypt
    tls: {certificates: [{cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key}]}
    backend:
      servers: ["10.0.0.1:443"]
      min_version: "1.0"
      max_version: "1.1"
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 12, "routes[0].backend.min_version",
                          "allows TLS 1.0/1.1, which OpenSSL 3 only negotiates at security "
                          "level 0: add \"security_level: 0\""));
    // Quoted in docs/config.md.
    EXPECT_EQ(r.text,
              "test.yaml:12:7: routes[0].backend.min_version: min_version \"1.0\" allows TLS "
              "1.0/1.1, which OpenSSL 3 only negotiates at security level 0: add "
              "\"security_level: 0\" next to it (this also allows SHA-1 signatures and small "
              "keys), or raise min_version to \"1.2\"\n");
}

TEST(ConfigErrors, LegacyBackendVersionsWithSecurityLevel1) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: reencrypt
    tls: {certificates: [{cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key}]}
    backend:
      servers: ["10.0.0.1:443"]
      min_version: "1.1"
      security_level: 1
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 12, "routes[0].backend.min_version", "security level 0"));
}

TEST(ConfigErrors, LegacyClientVersionsNeedSecurityLevel0) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: terminate
    tls:
      certificates: [{cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key}]
      min_version: "1.0"
    backend: {servers: ["10.0.0.1:80"]}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 11, "routes[0].tls.min_version", "security level 0"));
}

TEST(ConfigErrors, LegacyVersionsWithSecurityLevel0AreAccepted) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: reencrypt
    tls: {certificates: [{cert: certs/shop-ecdsa.crt, key: certs/shop-ecdsa.key}]}
    backend:
      servers: ["10.0.0.1:443"]
      min_version: "1.0"
      security_level: 0
)");
    EXPECT_TRUE(r.ok) << r.text;
}

// ---- collecting -------------------------------------------------------------------------------

TEST(ConfigErrors, AllErrorsAreCollectedInFileOrder) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0"]
    client_hello_timeout: soon
routes:
  - name: one
    listener: public
    server_names: ["a.*.com"]
    mode: reencrypt
    backend:
      servers: ["10.0.0.1:443"]
      conect_timeout: 1s
classifier: ebpf
)");
    ASSERT_TRUE(error_count(r, 6));
    EXPECT_TRUE(has_error(r, 3, "listeners[0].bind[0]", "has no port"));
    EXPECT_TRUE(has_error(r, 4, "listeners[0].client_hello_timeout", "is not a duration"));
    EXPECT_TRUE(has_error(r, 6, "routes[0]", "missing required key \"tls\""));
    EXPECT_TRUE(has_error(r, 8, "routes[0].server_names[0]", "not a valid wildcard"));
    EXPECT_TRUE(
        has_error(r, 12, "routes[0].backend.conect_timeout", "did you mean \"connect_timeout\"?"));
    EXPECT_TRUE(has_error(r, 13, "classifier", "\"ebpf\" is not one of"));
    for (std::size_t i = 1; i < r.errors.size(); ++i)
        EXPECT_LE(r.errors[i - 1].line, r.errors[i].line) << r.text;
}

TEST(ConfigErrors, ABadValueDoesNotCauseFollowOnErrors) {
    // A bad mode must not also produce "tls missing"/"tls not allowed" errors.
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: sideways
    backend: {servers: ["10.0.0.1:443"], sni: a.internal}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_TRUE(has_error(r, 8, "routes[0].mode", "\"sideways\" is not one of"));
}

TEST(ConfigErrors, MessageFormat) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: [a.example]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"], balance: random}
)");
    ASSERT_TRUE(error_count(r, 1));
    EXPECT_EQ(r.text,
              "test.yaml:9:42: routes[0].backend.balance: \"random\" is not one of "
              "\"roundrobin\" or \"leastconn\"\n");
}

// ---- passthrough_relay -----------------------------------------------------------------------

TEST(ConfigErrors, PassthroughRelaySockmapNeedsTheBpfClassifier) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: ["a.test"]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
classifier: userspace
passthrough_relay: sockmap
)");
    ASSERT_TRUE(error_count(r, 1)) << r.text;
    EXPECT_TRUE(has_error(r, 11, "passthrough_relay", "needs the BPF classifier"));
}

TEST(ConfigErrors, PassthroughRelayUnknownValue) {
    auto r = load(R"(
listeners:
  - name: public
    bind: ["0.0.0.0:443"]
routes:
  - name: one
    listener: public
    server_names: ["a.test"]
    mode: passthrough
    backend: {servers: ["10.0.0.1:443"]}
passthrough_relay: kernel
)");
    ASSERT_TRUE(error_count(r, 1)) << r.text;
    EXPECT_TRUE(has_error(r, 10, "passthrough_relay", "\"kernel\" is not one of"));
}

}  // namespace
}  // namespace sni::config
