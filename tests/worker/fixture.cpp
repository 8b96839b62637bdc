#include "tests/worker/fixture.hpp"

#include <csignal>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>

namespace sni::wtest {

WorkerTest::WorkerTest() : pki_(tmp_.path()) {
    std::signal(SIGPIPE, SIG_IGN);  // peers that close early must not kill the test
    ca_ = pki_.make_ca("ca", "Worker Test CA");
    other_ca_ = pki_.make_ca("other-ca", "Some Other CA");
    route_ec_ = pki_.make_leaf("route-ec", {"route.test", "*.route.test", "r.test"}, ca_);
    route_rsa_ =
        pki_.make_leaf("route-rsa", {"route.test", "*.route.test", "r.test"}, ca_, KeyType::kRsa);
    backend_ = pki_.make_leaf("backend", {"backend.internal", "app.route.test"}, ca_);
    rogue_backend_ = pki_.make_leaf("rogue", {"backend.internal"}, other_ca_);
    pass_backend_ = pki_.make_leaf("passthrough", {"passthrough.backend", "p.test"}, ca_);
    config_path_ = tmp_.path() / "config.yaml";
    log_path_ = tmp_.path() / "worker.log";
}

WorkerTest::~WorkerTest() {
    if (worker_) worker_->stop();
    if (HasFailure() && worker_) std::cerr << "---- worker log ----\n" << worker_->log();
}

std::vector<std::string> WorkerTest::backend_tls(const std::string &min,
                                                 const std::string &max) const {
    std::vector<std::string> lines = {
        "sni: backend.internal",
        "min_version: \"" + min + "\"",
        "max_version: \"" + max + "\"",
        "verify: {ca: \"" + ca_.cert.string() + "\", name: backend.internal}",
    };
    if (min == "1.0" || min == "1.1") lines.push_back("security_level: 0");
    return lines;
}

std::string WorkerTest::render(const std::vector<RouteSpec> &routes) const {
    std::ostringstream y;
    y << "listeners:\n  - name: public\n    bind: [\"127.0.0.1:1\"]\n";
    y << "routes:\n";
    for (const auto &r : routes) {
        y << "  - name: " << r.name << "\n";
        y << "    listener: public\n";
        y << "    server_names: [\"" << r.name << ".test\"]\n";
        y << "    mode: " << r.mode << "\n";
        if (r.mode != "passthrough") {
            y << "    tls:\n      certificates:\n";
            y << "        - {cert: \"" << route_ec_.cert.string() << "\", key: \""
              << route_ec_.key.string() << "\"";
            if (!r.ocsp.empty()) y << ", ocsp: \"" << r.ocsp << "\"";
            y << "}\n";
            if (r.rsa_too)
                y << "        - {cert: \"" << route_rsa_.cert.string() << "\", key: \""
                  << route_rsa_.key.string() << "\"}\n";
            for (const auto &l : r.tls_extra) y << "      " << l << "\n";
        }
        y << "    backend:\n      servers: [";
        for (std::size_t i = 0; i < r.servers.size(); ++i)
            y << (i ? ", " : "")
              << (r.servers[i].front() == '{' ? r.servers[i] : "\"" + r.servers[i] + "\"");
        y << "]\n";
        for (const auto &l : r.backend_extra) y << "      " << l << "\n";
        for (const auto &l : r.route_extra) y << "    " << l << "\n";
    }
    return y.str();
}

void WorkerTest::start(const std::vector<RouteSpec> &routes, std::vector<std::string> args) {
    write_file(config_path_, render(routes));
    WorkerProcess::Options o;
    o.config = config_path_;
    o.log = log_path_;
    o.extra_args = std::move(args);
    worker_ = std::make_unique<WorkerProcess>(o);
    ASSERT_TRUE(worker_->wait_log_contains("worker running"))
        << "config:\n"
        << read_file(config_path_) << "\nlog:\n"
        << worker_->log();
}

ClientResult WorkerTest::connect(std::uint32_t route, ClientOptions options) {
    auto client = std::async(std::launch::async, [port = frontend_.port(), options] {
        return tls_connect(port, options);
    });
    const std::string err = frontend_.accept_and_handoff(worker_->channel(), route);
    EXPECT_EQ(err, "");
    return client.get();
}

std::vector<std::string> WorkerTest::access_lines() const {
    std::vector<std::string> out;
    std::istringstream in(worker_->log());
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && line.front() == '{') out.push_back(line);  // the JSON lines
    return out;
}

bool WorkerTest::wait_access_lines(std::size_t n, std::chrono::milliseconds timeout) const {
    return worker_->wait_log([&](const std::string &) { return access_lines().size() >= n; },
                             timeout);
}

std::string field(const std::string &line, const std::string &key) {
    if (!line.empty() && line.front() == '{') {
        const auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.contains(key)) return "";
        const auto &v = j[key];
        if (v.is_null()) return "-";
        if (v.is_string()) return v.get<std::string>();
        return v.dump();
    }
    const std::string needle = " " + key + "=";
    const auto pos = line.find(needle);
    if (pos == std::string::npos) return "";
    std::size_t i = pos + needle.size();
    if (i < line.size() && line[i] == '"') {
        std::string out;
        for (++i; i < line.size() && line[i] != '"'; ++i) {
            if (line[i] == '\\' && i + 1 < line.size()) ++i;
            out += line[i];
        }
        return out;
    }
    const auto end = line.find(' ', i);
    return line.substr(i, end == std::string::npos ? std::string::npos : end - i);
}

}  // namespace sni::wtest
