// The fixture of the worker tests: a temp dir with a test PKI, a config written from route
// specs, sni-worker started on it, and the Frontend that hands client connections over.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/worker/backend_server.hpp"
#include "tests/worker/frontend.hpp"
#include "tests/worker/pki.hpp"
#include "tests/worker/process.hpp"
#include "tests/worker/stream.hpp"

namespace sni::wtest {

struct RouteSpec {
    std::string name = "r";
    std::string mode = "reencrypt";
    std::vector<std::string> servers;        // "127.0.0.1:port", or a YAML mapping "{address: ..}"
    std::vector<std::string> tls_extra;      // extra lines under `tls:`
    std::vector<std::string> backend_extra;  // extra lines under `backend:`
    std::vector<std::string> route_extra;    // extra lines under the route
    bool rsa_too = true;                     // the RSA certificate next to the ECDSA one
    std::string ocsp;                        // OCSP file for the ECDSA certificate
};

class WorkerTest : public ::testing::Test {
  protected:
    WorkerTest();
    ~WorkerTest() override;

    // Backend TLS lines for a reencrypt route: fixed SNI backend.internal, the version range,
    // verification against the test CA with that name.
    std::vector<std::string> backend_tls(const std::string &min = "1.2",
                                         const std::string &max = "1.3") const;

    std::string render(const std::vector<RouteSpec> &routes) const;
    // Writes the config and starts the worker; waits for its "worker running" line.
    void start(const std::vector<RouteSpec> &routes, std::vector<std::string> args = {});

    // A client through the frontend, handed to the worker for `route`.
    ClientResult connect(std::uint32_t route, ClientOptions options = {});
    // The access-log lines (JSON objects) so far.
    std::vector<std::string> access_lines() const;
    bool wait_access_lines(std::size_t n, std::chrono::milliseconds timeout = 10s) const;

    TempDir tmp_;
    Pki pki_;
    CertFiles ca_, other_ca_, route_ec_, route_rsa_, backend_, rogue_backend_, pass_backend_;
    Frontend frontend_;
    std::filesystem::path config_path_, log_path_;
    std::unique_ptr<WorkerProcess> worker_;
};

// The value of `key` in an access-log (JSON) line: strings as they are, null as "-", numbers
// and booleans as JSON text; "" when absent. For other (logfmt) lines: key=value, unquoted.
std::string field(const std::string &line, const std::string &key);

}  // namespace sni::wtest
