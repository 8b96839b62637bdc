// sni-worker: serves the connections sni-splitterd hands over on fd 3 (see common/handoff.hpp)
// for the routes of one pool: terminates/re-encrypts/relays them to the route's backends.
// Start-up order: config, kTLS probe, every TLS context and key of the pool's routes, access
// log, then (as root with --user) the privilege drop, then the event loop.
#include <fcntl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "common/config.hpp"
#include "common/config_query.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "workers/kernel_relay.hpp"
#include "workers/access_log.hpp"
#include "workers/allocator.hpp"
#include "workers/event_loop.hpp"
#include "workers/cert_decode_ctx.hpp"
#include "workers/ktls.hpp"
#include "workers/options.hpp"
#include "workers/privileges.hpp"
#include "workers/route_runtime.hpp"
#include "workers/worker.hpp"

namespace {

using namespace sni;

// SIGTERM/SIGINT as events on an fd.
UniqueFd block_stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return UniqueFd();
    return UniqueFd(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
}

// The access log's destination: stderr, a file (opened before privileges are dropped), or none.
struct AccessLog {
    UniqueFd file;
    std::unique_ptr<worker::AccessLogSink> sink;
};

config::Result<AccessLog, std::string> open_access_log(const config::AccessLog &cfg) {
    AccessLog out;
    switch (cfg.target) {
        case config::AccessLogTarget::kOff:
            return out;
        case config::AccessLogTarget::kStderr:
            out.sink = std::make_unique<worker::AccessLogSink>(2);
            return out;
        case config::AccessLogTarget::kFile:
            break;
    }
    out.file.reset(::open(cfg.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    if (!out.file) return config::unexpected(cfg.path + ": " + std::strerror(errno));
    out.sink = std::make_unique<worker::AccessLogSink>(out.file.get());
    return out;
}

int run(int argc, char **argv) {
    std::signal(SIGPIPE, SIG_IGN);
    worker::keep_heap_memory();
    auto opts = worker::parse_options(argc, argv, std::getenv("SNI_HANDOFF_FD"));
    if (!opts) {
        std::fprintf(stderr, "sni-worker: %s\n%s", opts.error().c_str(), worker::kUsage);
        return 2;
    }
    const worker::Options &o = opts.value();
    log::Logger log("sni-worker", o.log_level);

    const int channel = o.channel_fd;
    if (::fcntl(channel, F_GETFD) < 0) {
        log.error("no handoff channel", {log::kv("fd", channel)});
        return 2;
    }
    ::fcntl(channel, F_SETFD, FD_CLOEXEC);
    ::fcntl(channel, F_SETFL, ::fcntl(channel, F_GETFL) | O_NONBLOCK);

    auto loaded = config::load_file(o.config);
    if (!loaded) {
        log.error("invalid configuration", {log::kv("errors", config::to_string(loaded.error()))});
        return 1;
    }
    const config::Config &cfg = loaded.value();
    if (config::find_pool(cfg, o.pool) == nullptr) {
        log.error("no such pool in the configuration", {log::kv("pool", o.pool)});
        return 1;
    }

    const worker::KtlsProbe ktls = worker::probe_kernel_ktls();
    log.info("kernel TLS",
             {log::kv("ktls", worker::kernel_ktls_name(ktls.state)),
              log::kv("probe_errno", ktls.err), log::kv("detail", std::strerror(ktls.err))});

    // Declared before the routes, whose backend SSL_CTXs live in it.
    auto decode = worker::CertDecodeCtx::create();
    if (decode)
        log.info("backend certificates", {log::kv("decoders", "spki_only")});
    else
        log.info("backend certificates",
                 {log::kv("decoders", "default"), log::kv("reason", decode.error())});

    // A kernel without the tls ULP (ENOENT): OpenSSL is not asked for kTLS, so no handshake
    // makes the TCP_ULP setsockopts (two per leg) that would fail anyway.
    auto routes = worker::build_routes(cfg, o.pool, ktls.state != worker::KernelKtls::kNoModule,
                                       decode ? decode->get() : nullptr);
    if (!routes) {
        log.error("TLS setup failed", {log::kv("error", routes.error())});
        return 1;
    }
    std::size_t served = 0;
    for (const auto &r : routes.value()) {
        if (!r) continue;
        ++served;
        for (const auto &s : r->servers)
            if (s.len == 0)
                log.warn("backend server unusable",
                         {log::kv("route", r->route->name), log::kv("server", s.text),
                          log::kv("error", s.error)});
    }

    auto access = open_access_log(cfg.access_log);
    if (!access) {
        log.error("cannot open the access log", {log::kv("error", access.error())});
        return 1;
    }

    if (!o.user.empty()) {
        auto dropped = worker::drop_privileges(o.user);
        if (!dropped) {
            log.error("cannot drop privileges", {log::kv("error", dropped.error())});
            return 1;
        }
        log.info("privileges dropped", {log::kv("user", o.user), log::kv("uid", dropped->uid),
                                        log::kv("gid", dropped->gid)});
    } else if (::geteuid() == 0) {
        log.warn("running as root (no --user given)");
    }

    UniqueFd signals = block_stop_signals();
    if (!signals) {
        log.error("signalfd failed", {log::kv("error", std::strerror(errno))});
        return 1;
    }
    auto epoll = worker::Epoll::create();
    if (!epoll) {
        log.error("epoll failed", {log::kv("error", epoll.error())});
        return 1;
    }
    log.info("worker running",
             {log::kv("pool", o.pool), log::kv("pid", ::getpid()), log::kv("routes", served)});
    std::vector<std::string> listeners;
    for (const auto &l : cfg.listeners) listeners.push_back(l.name);
    worker::Worker w(log, access->sink.get(), std::move(routes).value(), std::move(epoll).value(),
                     channel, std::move(signals), std::move(listeners));
    if (const char *fds = std::getenv("SNI_RELAY_FDS")) {
        auto relay = worker::KernelRelay::from_env(fds);
        if (relay) {
            log.info("kernel relay offered for passthrough", {log::kv("fds", fds)});
            w.set_kernel_relay(std::move(relay).value());
        } else {
            log.warn("kernel relay not usable, passthrough is spliced",
                     {log::kv("error", relay.error())});
        }
    }
    return w.run();
}

}  // namespace

int main(int argc, char **argv) {
    return run(argc, argv);
}
