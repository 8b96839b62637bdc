#include "loader/config_watch.hpp"

#include <openssl/evp.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

namespace sni::loader {

namespace fs = std::filesystem;

std::vector<fs::path> watched_files(const fs::path &config_path, const config::Config &config) {
    std::vector<fs::path> files = files_named_by(config);
    files.insert(files.begin(), config_path);
    return files;
}

std::vector<fs::path> files_named_by(const config::Config &config) {
    std::vector<fs::path> out;
    auto add = [&](const std::string &p) {
        if (!p.empty()) out.emplace_back(p);
    };
    auto add_cert = [&](const config::CertificateFiles &c) {
        add(c.cert);
        add(c.key);
        add(c.ocsp);
    };
    for (const auto &route : config.routes) {
        if (route.tls)
            for (const auto &c : route.tls->certificates) add_cert(c);
        if (route.backend.tls) {
            add(route.backend.tls->verify.ca);
            if (route.backend.tls->client_certificate)
                add_cert(*route.backend.tls->client_certificate);
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::string fingerprint_files(const std::vector<fs::path> &files) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return "";
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    std::array<char, 16384> buf;
    for (const auto &f : files) {
        const std::string name = f.string();
        EVP_DigestUpdate(ctx, name.c_str(), name.size() + 1);  // with its NUL: a separator
        std::ifstream in(f, std::ios::binary);
        if (!in) {
            EVP_DigestUpdate(ctx, "missing", 8);
            continue;
        }
        while (in.read(buf.data(), buf.size()) || in.gcount() > 0)
            EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(in.gcount()));
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < len; ++i) {
        hex += kHex[md[i] >> 4];
        hex += kHex[md[i] & 15];
    }
    return hex;
}

config::Result<ConfigWatch, std::string> ConfigWatch::create(std::vector<fs::path> files,
                                                             std::chrono::milliseconds debounce) {
    UniqueFd in(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!in) return config::unexpected(std::string("inotify_init1: ") + std::strerror(errno));
    UniqueFd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!timer) return config::unexpected(std::string("timerfd_create: ") + std::strerror(errno));
    ConfigWatch w(std::move(in), std::move(timer), debounce);
    if (auto r = w.rewatch(std::move(files)); !r) return config::unexpected(r.error());
    return w;
}

config::Result<bool, std::string> ConfigWatch::rewatch(std::vector<fs::path> files) {
    for (const int wd : watches_) ::inotify_rm_watch(inotify_.get(), wd);
    watches_.clear();
    std::set<fs::path> dirs;
    for (auto &f : files) {
        f = fs::absolute(f);
        dirs.insert(f.parent_path());
    }
    constexpr std::uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                    IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
    for (const auto &d : dirs) {
        const int wd = ::inotify_add_watch(inotify_.get(), d.c_str(), kMask);
        if (wd < 0)
            return config::unexpected("inotify_add_watch " + d.string() + ": " +
                                      std::strerror(errno));
        watches_.push_back(wd);
    }
    files_ = std::move(files);
    fingerprint_ = fingerprint_files(files_);
    return true;
}

void ConfigWatch::on_inotify() {
    alignas(inotify_event) std::array<char, 8192> buf;
    bool any = false;
    for (;;) {
        const ssize_t n = ::read(inotify_.get(), buf.data(), buf.size());
        if (n <= 0) break;
        any = true;  // every watched directory holds a watched file (or its ..data link)
    }
    if (!any) return;
    itimerspec its{};
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(debounce_).count();
    its.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
    its.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
    ::timerfd_settime(timer_.get(), 0, &its, nullptr);  // re-armed: the burst's last event wins
}

bool ConfigWatch::on_timer() {
    std::uint64_t expirations = 0;
    if (::read(timer_.get(), &expirations, sizeof expirations) != sizeof expirations) return false;
    std::string now = fingerprint_files(files_);
    if (now == fingerprint_) return false;
    fingerprint_ = std::move(now);
    return true;
}

}  // namespace sni::loader
