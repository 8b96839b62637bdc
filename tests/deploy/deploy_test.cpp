// The deployment files against the code: every port, path, capability and probe they rely on
// must be what the daemon does. A change on either side without the other fails here.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "common/config.hpp"
#include "common/config_error.hpp"
#include "deploy_files.hpp"
#include "tests/support/temp_files.hpp"

namespace sni::deploytest {
namespace {

namespace fs = std::filesystem;
const fs::path kDeploy = fs::path(SNI_SOURCE_DIR) / "deploy";

// What the daemon needs, measured (docs/kubernetes.md "Capabilities"): BPF, PERFMON and
// NET_ADMIN to load and attach the programs, NET_BIND_SERVICE for :443, SETUID/SETGID to start
// workers as the pool user, KILL to signal them.
const std::set<std::string> kCapabilities = {"BPF",    "PERFMON", "NET_ADMIN", "NET_BIND_SERVICE",
                                             "SETUID", "SETGID",  "KILL"};
// The daemon's HTTP endpoint paths for orchestrators.
constexpr const char *kHealthz = "/healthz";
constexpr const char *kReadyz = "/readyz";
// The SIGTERM drain deadline the daemon applies by default, in seconds.
constexpr int kDrainSeconds = 30;

std::uint16_t port_of(const config::SocketAddress &a) {
    return a.port;
}

YAML::Node load_yaml(const fs::path &p) {
    return YAML::LoadFile(p.string());
}

YAML::Node daemonset() {
    return load_yaml(kDeploy / "kubernetes/daemonset.yaml");
}
YAML::Node container() {
    return daemonset()["spec"]["template"]["spec"]["containers"][0];
}

// The ConfigMap's config, loaded by the daemon's own parser, with the certificate paths that
// only exist inside the pod pointed at test fixtures.
config::Config configmap_config(std::string *raw = nullptr) {
    const auto cm = load_yaml(kDeploy / "kubernetes/configmap.yaml");
    std::string text = cm["data"]["config.yaml"].as<std::string>();
    if (raw) *raw = text;
    const std::string certs = std::string(SNI_TEST_DATA_DIR) + "/config/certs/";
    text = std::regex_replace(text, std::regex("/etc/sni-splitter/certs/shop/tls\\.crt"),
                              certs + "shop-ecdsa.crt");
    text = std::regex_replace(text, std::regex("/etc/sni-splitter/certs/shop/tls\\.key"),
                              certs + "shop-ecdsa.key");
    text = std::regex_replace(text, std::regex("/etc/ssl/certs/ca-certificates\\.crt"),
                              certs + "ca.pem");
    auto loaded = config::load_string(text, "configmap.yaml", "/");
    EXPECT_TRUE(static_cast<bool>(loaded)) << (loaded ? "" : config::to_string(loaded.error()));
    return loaded ? std::move(loaded).value() : config::Config{};
}

int named_port(const YAML::Node &c, const std::string &name) {
    for (const auto &p : c["ports"])
        if (p["name"].as<std::string>() == name) return p["containerPort"].as<int>();
    return -1;
}

TEST(DeployKubernetes, ConfigMapIsAValidConfigWhosePortsTheDaemonSetPublishes) {
    const auto cfg = configmap_config();
    ASSERT_FALSE(cfg.listeners.empty());
    const auto c = container();
    EXPECT_EQ(named_port(c, "tls"), port_of(cfg.listeners[0].bind[0]));
    ASSERT_TRUE(cfg.metrics.listen.has_value()) << "probes need the metrics endpoint";
    EXPECT_EQ(named_port(c, "metrics"), port_of(*cfg.metrics.listen));
    for (const auto &p : c["ports"])
        EXPECT_EQ(p["hostPort"].as<int>(), p["containerPort"].as<int>()) << "hostNetwork";
    EXPECT_TRUE(daemonset()["spec"]["template"]["spec"]["hostNetwork"].as<bool>());
}

TEST(DeployKubernetes, ProbesUseTheDaemonsHealthEndpoints) {
    const auto c = container();
    EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"].as<std::string>(), kHealthz);
    EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"].as<std::string>(), kReadyz);
    EXPECT_EQ(c["livenessProbe"]["httpGet"]["port"].as<std::string>(), "metrics");
    EXPECT_EQ(c["readinessProbe"]["httpGet"]["port"].as<std::string>(), "metrics");
}

TEST(DeployKubernetes, OnlyTheProvenCapabilitiesAndNotPrivileged) {
    const auto sc = container()["securityContext"];
    EXPECT_FALSE(sc["privileged"].as<bool>());
    std::set<std::string> drop, add;
    for (const auto &d : sc["capabilities"]["drop"]) drop.insert(d.as<std::string>());
    for (const auto &a : sc["capabilities"]["add"]) add.insert(a.as<std::string>());
    EXPECT_EQ(drop, std::set<std::string>{"ALL"});
    EXPECT_EQ(add, kCapabilities);
    EXPECT_TRUE(sc["readOnlyRootFilesystem"].as<bool>());
}

// Every file the daemon reads or writes in the pod is on a volume: the config file (args), the
// certificates (Secret), the control socket's directory (writable emptyDir).
TEST(DeployKubernetes, MountsCoverTheConfigCertificatesAndControlSocket) {
    std::string raw;
    const auto cfg = configmap_config(&raw);
    const auto c = container();
    std::map<std::string, std::pair<std::string, bool>> mounts;  // volume -> (path, readOnly)
    for (const auto &m : c["volumeMounts"])
        mounts[m["name"].as<std::string>()] = {m["mountPath"].as<std::string>(),
                                               m["readOnly"] && m["readOnly"].as<bool>()};
    std::vector<std::string> args;
    for (const auto &a : c["args"]) args.push_back(a.as<std::string>());
    ASSERT_EQ(args.size(), 3u);
    EXPECT_EQ(args[0], "--config");
    EXPECT_EQ(args[1], mounts["config"].first + "/config.yaml");
    EXPECT_EQ(args[2], "--watch") << "ConfigMap and Secret updates must reload the daemon";

    const fs::path socket_dir = fs::path(cfg.control.socket).parent_path();
    EXPECT_EQ(socket_dir, fs::path(config::Control{}.socket).parent_path())
        << "the manifests assume the default control socket";
    EXPECT_EQ(mounts["run"].first, socket_dir.string());
    EXPECT_FALSE(mounts["run"].second) << "the daemon creates its socket there";

    EXPECT_NE(raw.find(mounts["shop-tls"].first + "/tls.crt"), std::string::npos);
    EXPECT_NE(raw.find(mounts["shop-tls"].first + "/tls.key"), std::string::npos);
}

TEST(DeployKubernetes, DrainFitsTheGracePeriodAndRollsOneNodeAtATime) {
    const auto spec = daemonset()["spec"];
    EXPECT_GT(spec["template"]["spec"]["terminationGracePeriodSeconds"].as<int>(), kDrainSeconds);
    EXPECT_EQ(spec["updateStrategy"]["rollingUpdate"]["maxUnavailable"].as<int>(), 1);
    const auto pdb = load_yaml(kDeploy / "kubernetes/poddisruptionbudget.yaml");
    EXPECT_EQ(pdb["spec"]["maxUnavailable"].as<int>(), 1);
    EXPECT_EQ(pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"].as<std::string>(),
              spec["selector"]["matchLabels"]["app.kubernetes.io/name"].as<std::string>());
}

TEST(DeployKubernetes, KustomizationListsEveryManifestButTheSecretPlaceholder) {
    const auto k = load_yaml(kDeploy / "kubernetes/kustomization.yaml");
    std::set<std::string> listed;
    for (const auto &r : k["resources"]) listed.insert(r.as<std::string>());
    std::set<std::string> present;
    for (const auto &e : fs::directory_iterator(kDeploy / "kubernetes"))
        if (e.path().extension() == ".yaml" && e.path().filename() != "kustomization.yaml")
            present.insert(e.path().filename().string());
    present.erase("secret-example.yaml");
    EXPECT_EQ(listed, present);
}

// The unit: paths are where `cmake --install` puts the binaries (prefix /usr/local), the
// capability bounding set is the proven set, the stop timeout exceeds the drain deadline.
TEST(DeploySystemd, UnitMatchesInstallPathsCapabilitiesAndDrain) {
    const auto unit = parse_unit(read_text(kDeploy / "systemd/sni-splitterd.service"));
    const std::string daemon = std::string("/usr/local/") + SNI_INSTALL_SBINDIR + "/sni-splitterd";
    const std::string ctl = std::string("/usr/local/") + SNI_INSTALL_BINDIR + "/sni-ctl";
    EXPECT_EQ(unit_value(unit, "Service", "Type"), "notify");
    EXPECT_EQ(unit_value(unit, "Service", "ExecStart").rfind(daemon + " --config ", 0), 0u);
    EXPECT_EQ(unit_value(unit, "Service", "ExecReload"), ctl + " reload");
    EXPECT_EQ(unit_value(unit, "Service", "KillSignal"), "SIGTERM");
    const std::string timeout = unit_value(unit, "Service", "TimeoutStopSec");
    EXPECT_GT(std::stoi(timeout), kDrainSeconds);
    std::set<std::string> caps;
    for (const auto &w : split_words(unit_value(unit, "Service", "CapabilityBoundingSet")))
        caps.insert(w.substr(4));  // "CAP_BPF" -> "BPF"
    EXPECT_EQ(caps, kCapabilities);
    EXPECT_EQ(unit_value(unit, "Service", "RuntimeDirectory"),
              fs::path(config::Control{}.socket).parent_path().filename().string());
    EXPECT_EQ(unit_value(unit, "Service", "ProtectSystem"), "strict");
}

// systemd itself must accept every line (an unknown key or a bad value is only a warning to
// systemd, so any output fails). The binaries are pointed at the build tree's.
TEST(DeploySystemd, SystemdAnalyzeVerifyIsClean) {
    int code = 0;
    run_capture("command -v systemd-analyze", code);
    ASSERT_EQ(code, 0) << "systemd-analyze is missing (scripts/setup installs systemd)";
    testsupport::TempDir dir;
    std::string text = read_text(kDeploy / "systemd/sni-splitterd.service");
    const fs::path bin = fs::path(SNI_SPLITTERD_BIN).parent_path();
    text = std::regex_replace(text, std::regex("/usr/local/s?bin/"), bin.string() + "/");
    const fs::path unit = dir.path() / "sni-splitterd.service";
    testsupport::write_file(unit, text);
    const std::string out =
        run_capture("systemd-analyze verify '" + unit.string() + "' 2>&1", code);
    EXPECT_EQ(code, 0) << out;
    EXPECT_EQ(out, "") << out;
}

TEST(DeployContainer, RuntimeStageHasEveryLibraryTheBinariesLinkAndNoCompiler) {
    const auto ins = dockerfile_instructions(read_text(kDeploy / "container/Dockerfile"));
    std::size_t runtime_from = ins.size();
    for (std::size_t i = 0; i < ins.size(); ++i)
        if (ins[i].rfind("FROM ", 0) == 0 && ins[i].find(" AS runtime") != std::string::npos)
            runtime_from = i;
    ASSERT_LT(runtime_from, ins.size()) << "no runtime stage";
    std::string runtime;
    for (std::size_t i = runtime_from; i < ins.size(); ++i) runtime += ins[i] + "\n";
    const auto words = split_words(runtime);
    // Always in debian:12-slim.
    const std::set<std::string> base = {"libc6",    "libstdc++6",  "libgcc-s1",   "libzstd1",
                                        "liblzma5", "libcrypt1",   "libgcrypt20", "libgpg-error0",
                                        "libcap2",  "libselinux1", "libpcre2-8-0"};
    std::set<std::string> needed;
    for (const char *bin : {SNI_SPLITTERD_BIN, SNI_WORKER_BIN, SNI_CTL_BIN})
        for (const auto &pkg : library_packages(bin)) {
            needed.insert(pkg);
            EXPECT_TRUE(words.count(pkg) || base.count(pkg))
                << bin << " links a library of package " << pkg
                << " that the runtime stage does not install";
        }
    // And nothing more: every library package the runtime stage installs is linked.
    for (const auto &w : words) {
        if (w.rfind("lib", 0) != 0 || w.find('/') != std::string::npos) continue;
        EXPECT_TRUE(needed.count(w))
            << "the runtime stage installs " << w << ", which no binary links";
    }
    for (const char *tool : {"build-essential", "clang", "gcc", "g++", "cmake", "bpftool"})
        EXPECT_EQ(words.count(tool), 0u) << tool << " in the runtime stage";
    EXPECT_NE(runtime.find("useradd --system"), std::string::npos);
    EXPECT_NE(runtime.find(" " + config::Pool{}.user), std::string::npos)
        << "the runtime image must create the default pool user " << config::Pool{}.user;
    EXPECT_NE(runtime.find("ENTRYPOINT [\"/usr/local/" + std::string(SNI_INSTALL_SBINDIR) +
                           "/sni-splitterd\"]"),
              std::string::npos);
}

// There is no container runtime in CI, so the image is not built there; its runtime stage's
// packages must at least exist in Debian 12's archive as this machine's apt sees it.
TEST(DeployContainer, RuntimePackagesExistInTheArchive) {
    const auto ins = dockerfile_instructions(read_text(kDeploy / "container/Dockerfile"));
    std::string install;
    for (const auto &i : ins)
        if (i.find("apt-get install") != std::string::npos) install = i;
    ASSERT_FALSE(install.empty());
    std::vector<std::string> packages;
    std::istringstream words(install.substr(install.find("--no-install-recommends") + 23));
    for (std::string w; words >> w && w != "&&";) packages.push_back(w);
    ASSERT_GE(packages.size(), 5u);
    // One apt-cache call: "pkg:\n  Installed: ...\n  Candidate: 1.2\n ..." per known package.
    std::string query;
    for (const auto &p : packages) query += " '" + p + "'";
    int code = 0;
    std::istringstream out(run_capture("apt-cache policy" + query + " 2>/dev/null", code));
    std::set<std::string> known;
    std::string current;
    for (std::string line; std::getline(out, line);) {
        if (!line.empty() && line[0] != ' ' && line.back() == ':')
            current = line.substr(0, line.size() - 1);
        if (line.find("Candidate:") != std::string::npos &&
            line.find("(none)") == std::string::npos)
            known.insert(current);
    }
    for (const auto &p : packages)
        EXPECT_TRUE(known.count(p)) << p << " is not a Debian 12 package apt knows";
}

TEST(DeployContainer, ExposesTheConfiguredPorts) {
    const auto ins = dockerfile_instructions(read_text(kDeploy / "container/Dockerfile"));
    std::set<std::string> exposed;
    for (const auto &i : ins)
        if (i.rfind("EXPOSE ", 0) == 0)
            for (const auto &w : split_words(i.substr(7))) exposed.insert(w);
    const auto cfg = configmap_config();
    ASSERT_FALSE(cfg.listeners.empty());
    ASSERT_TRUE(cfg.metrics.listen.has_value());
    EXPECT_TRUE(exposed.count(std::to_string(port_of(cfg.listeners[0].bind[0]))));
    EXPECT_TRUE(exposed.count(std::to_string(port_of(*cfg.metrics.listen))));
}

}  // namespace
}  // namespace sni::deploytest
