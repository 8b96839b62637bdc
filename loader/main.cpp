// sni-splitterd: command line, configuration, and the daemon's lifetime.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <span>
#include <string>

#include "common/config.hpp"
#include "common/config_error.hpp"
#include "common/log.hpp"
#include "loader/capabilities.hpp"
#include "loader/config_snapshot.hpp"
#include "loader/daemon.hpp"
#include "loader/options.hpp"

#ifndef SNI_VERSION
#define SNI_VERSION "0.0.0"
#endif

namespace {

void write_stderr(const std::string &text) {
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
}

// Connections, workers' channels and the BPF maps all need fds: use the hard limit.
void raise_fd_limit(const sni::log::Logger &log) {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == rl.rlim_max) return;
    rl.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) log.warn("could not raise the open-files limit");
}

}  // namespace

int main(int argc, char **argv) {
    using namespace sni;
    auto parsed = loader::parse_options(std::span<const char *const>(argv, argc));
    if (!parsed) {
        write_stderr("sni-splitterd: " + parsed.error() + "\n" + loader::usage());
        return 2;
    }
    const loader::Options &opt = parsed.value();
    if (opt.help) {
        std::fputs(loader::usage().c_str(), stdout);
        return 0;
    }
    if (opt.version) {
        std::printf("sni-splitterd %s\n", SNI_VERSION);
        return 0;
    }

    log::Logger log("sni-splitterd", opt.log_level);
    auto loaded = config::load_file(opt.config_path);
    if (!loaded) {
        write_stderr(config::to_string(loaded.error()));
        if (!opt.check)
            log.error("invalid configuration",
                      {log::kv("file", opt.config_path), log::kv("errors", loaded.error().size())});
        return 1;
    }
    if (opt.check) {
        std::printf("%s: configuration OK\n", opt.config_path.c_str());
        return 0;
    }

    // What was just checked may have changed since: the daemon runs the text it froze.
    auto frozen = loader::load_and_snapshot(opt.config_path, 1);
    if (!frozen) {
        write_stderr(frozen.error());
        log.error("invalid configuration", {log::kv("file", opt.config_path)});
        return 1;
    }
    if (!frozen->snapshot_error.empty())
        log.warn("cannot freeze the configuration, workers read the file itself",
                 {log::kv("error", frozen->snapshot_error)});
    config::Config cfg = std::move(frozen->config);
    loader::DaemonSettings settings;
    settings.config_path = opt.config_path;
    settings.snapshot = std::move(frozen->snapshot);
    settings.worker_bin = opt.worker_bin.empty() ? loader::default_worker_bin() : opt.worker_bin;
    settings.classifier = opt.classifier.value_or(cfg.classifier);
    settings.drain_timeout = opt.drain_timeout;
    settings.watch = opt.watch;
    settings.version = SNI_VERSION;

    raise_fd_limit(log);
    log.info("starting", {log::kv("version", SNI_VERSION), log::kv("config", opt.config_path),
                          log::kv("worker_bin", settings.worker_bin), log::kv("pid", ::getpid())});
    auto daemon = loader::Daemon::create(std::move(cfg), std::move(settings), log);
    if (!daemon) {
        log.error("cannot start", {log::kv("error", daemon.error())});
        return 1;
    }
    if (!opt.keep_capabilities) {
        const auto keep = loader::capabilities_to_keep(daemon.value()->uses_bpf());
        auto dropped = loader::drop_capabilities(keep);
        if (!dropped) {
            log.error("cannot drop capabilities", {log::kv("error", dropped.error())});
            return 1;
        }
        log.info("capabilities dropped",
                 {log::kv("kept", loader::capability_names(dropped.value()))});
    }
    return daemon.value()->run();
}
