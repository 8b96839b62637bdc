// ConfigWatch: content changes are reported once per burst, whichever way the file is replaced
// (in place, rename, Kubernetes' ..data symlink swap); touches and neighbours are ignored.
#include "loader/config_watch.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <filesystem>

#include "tests/support/temp_files.hpp"

namespace sni::loader {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Delivers pending inotify events, then waits for the debounce timer; true if it reported a
// change. `wait` bounds the wait for the timer.
bool changed(ConfigWatch &w, std::chrono::milliseconds wait = 1000ms) {
    pollfd in{w.inotify_fd(), POLLIN, 0};
    if (::poll(&in, 1, 200) == 1) w.on_inotify();
    pollfd t{w.timer_fd(), POLLIN, 0};
    if (::poll(&t, 1, static_cast<int>(wait.count())) != 1) return false;
    return w.on_timer();
}

TEST(ConfigWatch, ReportsAnInPlaceRewriteOnce) {
    testsupport::TempDir dir;
    const fs::path f = dir.path() / "config.yaml";
    testsupport::write_file(f, "a: 1\n");
    auto w = ConfigWatch::create({f}, 50ms);
    ASSERT_TRUE(w) << w.error();
    testsupport::write_file(f, "a: 2\n");
    EXPECT_TRUE(changed(*w));
    EXPECT_FALSE(changed(*w, 200ms)) << "one change, one report";
}

TEST(ConfigWatch, IgnoresTouchesAndUnrelatedFiles) {
    testsupport::TempDir dir;
    const fs::path f = dir.path() / "config.yaml";
    testsupport::write_file(f, "a: 1\n");
    auto w = ConfigWatch::create({f}, 50ms);
    ASSERT_TRUE(w) << w.error();
    testsupport::write_file(f, "a: 1\n");                  // same bytes
    testsupport::write_file(dir.path() / "other", "x\n");  // a neighbour
    EXPECT_FALSE(changed(*w));
}

TEST(ConfigWatch, SeesRenameOverAndCertificateChanges) {
    testsupport::TempDir dir;
    const fs::path f = dir.path() / "config.yaml";
    fs::create_directories(dir.path() / "certs");
    const fs::path cert = dir.path() / "certs/site.crt";
    testsupport::write_file(f, "a: 1\n");
    testsupport::write_file(cert, "cert 1\n");
    auto w = ConfigWatch::create({f, cert}, 50ms);
    ASSERT_TRUE(w) << w.error();
    testsupport::write_file(dir.path() / "config.yaml.tmp", "a: 2\n");
    fs::rename(dir.path() / "config.yaml.tmp", f);
    EXPECT_TRUE(changed(*w));
    testsupport::write_file(cert, "cert 2\n");
    EXPECT_TRUE(changed(*w));
}

// The kubelet's atomic update: config.yaml -> ..data/config.yaml, ..data -> ..<timestamp>;
// an update writes a new timestamped directory and renames a new ..data link over the old one.
TEST(ConfigWatch, SeesAKubernetesConfigMapSwap) {
    testsupport::TempDir dir;
    const fs::path d = dir.path();
    fs::create_directories(d / "..2026_01");
    testsupport::write_file(d / "..2026_01/config.yaml", "a: 1\n");
    fs::create_directory_symlink("..2026_01", d / "..data");
    fs::create_symlink("..data/config.yaml", d / "config.yaml");
    auto w = ConfigWatch::create({d / "config.yaml"}, 50ms);
    ASSERT_TRUE(w) << w.error();

    fs::create_directories(d / "..2026_02");
    testsupport::write_file(d / "..2026_02/config.yaml", "a: 2\n");
    fs::create_directory_symlink("..2026_02", d / "..data_tmp");
    fs::rename(d / "..data_tmp", d / "..data");
    fs::remove_all(d / "..2026_01");
    EXPECT_TRUE(changed(*w));
}

TEST(ConfigWatch, AMissingDirectoryIsAnError) {
    auto w = ConfigWatch::create({"/nonexistent-sni-dir/config.yaml"}, 50ms);
    ASSERT_FALSE(w);
    EXPECT_NE(w.error().find("/nonexistent-sni-dir"), std::string::npos) << w.error();
}

TEST(ConfigWatch, FilesNamedByAConfigAreItsCertificatesKeysAndCas) {
    config::Config c;
    config::Route r;
    r.tls = config::ClientTls{};
    r.tls->certificates = {{"/c/a.crt", "/c/a.key", "/c/a.ocsp"}, {"/c/b.crt", "/c/b.key", ""}};
    r.backend.tls = config::BackendTls{};
    r.backend.tls->verify.ca = "/c/ca.pem";
    r.backend.tls->client_certificate = config::CertificateFiles{"/c/cl.crt", "/c/cl.key", ""};
    c.routes = {r, r};
    const std::vector<fs::path> want = {"/c/a.crt", "/c/a.key",  "/c/a.ocsp", "/c/b.crt",
                                        "/c/b.key", "/c/ca.pem", "/c/cl.crt", "/c/cl.key"};
    EXPECT_EQ(files_named_by(c), want);
}

}  // namespace
}  // namespace sni::loader
