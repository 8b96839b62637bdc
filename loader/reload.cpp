// Daemon: reload (SIGHUP / sni-ctl reload), nginx/HAProxy style generations.
//
// The new file is read and validated with the same code as --check; a bad one changes nothing
// and the error goes back to the caller. A good one becomes generation N+1: a new set of worker
// processes is started for it (a failure to start them changes nothing either), the route
// tables (the BPF one with one atomic map swap), the listener policies and the drain marks are
// replaced, and new handoffs go to the new workers. The old workers are retired: their channel
// closes once their queued handoffs are sent, they finish their connections on the old
// settings and exit; at the drain deadline they are told to stop (SIGTERM) and then killed.
// A connection being classified during the reload is routed with the table in force when its
// decision is taken (a kernel decision made before the swap is looked up again).
#include <csignal>
#include <cstring>
#include <ctime>

#include "common/config_values.hpp"
#include "loader/daemon.hpp"
#include "loader/metrics_histogram.hpp"

namespace sni::loader {

namespace {

// What a reload cannot change yet (it needs a restart): the listeners' identity and sockets,
// and the sizes the classifiers were built with.
std::string listener_change(const config::Config &old_cfg, const config::Config &new_cfg) {
    if (old_cfg.listeners.size() != new_cfg.listeners.size())
        return "the number of listeners changed";
    for (std::size_t i = 0; i < old_cfg.listeners.size(); ++i) {
        const auto &a = old_cfg.listeners[i];
        const auto &b = new_cfg.listeners[i];
        if (a.name != b.name) return "listener \"" + a.name + "\" was renamed or moved";
        if (a.bind != b.bind) return "listener \"" + a.name + "\": bind addresses changed";
        if (a.max_client_hello != b.max_client_hello)
            return "listener \"" + a.name + "\": max_client_hello changed";
        if (a.client_hello_timeout != b.client_hello_timeout)
            return "listener \"" + a.name + "\": client_hello_timeout changed";
    }
    if (old_cfg.control != new_cfg.control) return "control.socket changed";
    return {};
}

}  // namespace

config::Result<control::Json, std::string> Daemon::reload(std::string_view trigger) {
    notify_systemd("RELOADING=1");
    auto refuse = [&](std::string error) -> config::Result<control::Json, std::string> {
        notify_systemd("READY=1");
        ++counters_.reloads_failed;
        last_reload_error_ = error;
        log_.error("reload refused, the running configuration stays",
                   {log::kv("trigger", trigger), log::kv("error", error)});
        return config::unexpected(std::move(error));
    };
    if (stopping_) return refuse("the daemon is stopping");
    const std::uint64_t gen = generation_ + 1;
    auto loaded = load_and_snapshot(settings_.config_path, gen);
    if (!loaded) return refuse(std::move(loaded).error());
    config::Config next = std::move(loaded->config);
    ConfigSnapshot snapshot = std::move(loaded->snapshot);
    if (!loaded->snapshot_error.empty())
        log_.warn("reload: cannot freeze the configuration, workers read the file itself",
                  {log::kv("error", loaded->snapshot_error)});
    if (const std::string why = listener_change(config_, next); !why.empty())
        return refuse(why + " (needs a restart)");
    if (next.classifier != config_.classifier)
        log_.warn("reload: classifier changes take effect at the next restart");

    auto pools =
        Pools::create(next, settings_.worker_bin, snapshot.path(), loop_, log_, counters_, gen);
    if (!pools) return refuse(std::move(pools).error());
    auto fresh = std::make_unique<Pools>(std::move(pools).value());
    fresh->adopt_ticket_keys(*pools_);
    share_relay_maps(*fresh, next.passthrough_relay);
    if (auto started = fresh->start_all(); !started) {
        fresh->stop();
        retire_pools(std::move(fresh), std::move(snapshot));  // reaped like any retired generation
        return refuse("starting workers: " + started.error());
    }
    if (const int e = loop_.add(fresh->timer_fd(), EPOLLIN,
                                Token{TokenKind::kPoolTimer, fresh->generation()});
        e != 0) {
        fresh->stop();
        retire_pools(std::move(fresh), std::move(snapshot));
        return refuse(std::string("epoll add timer: ") + std::strerror(e));
    }

    RouteTable routes(next);
    if (classifier_.bpf) {
        auto swapped = classifier_.bpf->steering().set_routes(routes.steering_routes());
        if (!swapped) {
            fresh->stop();
            retire_pools(std::move(fresh), std::move(snapshot));
            return refuse("BPF route table: " + swapped.error());
        }
        route_swap_ns_ = monotonic_ns();
    }

    // Nothing can fail any more: switch.
    config_ = std::move(next);
    routes_ = std::move(routes);
    policies_.clear();
    for (std::uint32_t id = 0; id < config_.listeners.size(); ++id) {
        const auto &l = config_.listeners[id];
        policies_.push_back(
            ListenerPolicy{l.require_sni, l.unknown_sni, routes_.default_route(id)});
    }
    userspace_ = std::make_unique<UserspaceClassifier>(config_);
    route_drained_.assign(config_.routes.size(), false);
    std::unique_ptr<Pools> old = std::move(pools_);
    pools_ = std::move(fresh);
    std::swap(settings_.snapshot, snapshot);  // `snapshot` is the old generation's now
    generation_ = gen;
    retire_pools(std::move(old), std::move(snapshot));
    ++counters_.reloads;
    last_reload_error_.clear();
    notify_systemd("READY=1\nSTATUS=serving");
    log_.info("reloaded",
              {log::kv("trigger", trigger), log::kv("generation", gen),
               log::kv("routes", config_.routes.size()), log::kv("workers", pools_->running()),
               log::kv("retiring_generations", retired_.size())});
    return control::Json{
        {"generation", gen}, {"routes", config_.routes.size()}, {"workers", pools_->running()}};
}

void Daemon::retire_pools(std::unique_ptr<Pools> pools, ConfigSnapshot snapshot) {
    if (!pools) return;
    pools->retire();
    retired_.push_back(Retired{std::move(pools), std::move(snapshot),
                               Clock::now() + settings_.drain_timeout, false});
}

// Housekeeping: forget generations whose workers are gone; stop the ones past their deadline.
void Daemon::check_retired(Clock::time_point now) {
    for (auto &r : retired_) {
        if (r.pools->running() == 0 || now < r.stop_at) continue;
        if (!r.told_to_stop) {
            log_.info("drain deadline reached for an old generation",
                      {log::kv("generation", r.pools->generation()),
                       log::kv("workers", r.pools->running())});
            for (const pid_t pid : r.pools->pids()) ::kill(pid, SIGTERM);
            r.told_to_stop = true;
            r.stop_at = now + std::chrono::seconds(4);
        } else {
            for (const pid_t pid : r.pools->pids()) ::kill(pid, SIGKILL);
        }
    }
    std::erase_if(retired_, [this](const Retired &r) {
        if (r.pools->running() != 0) return false;
        fold_reports(*r.pools, reports_history_);  // its counts stay in the metrics
        return true;
    });
}

}  // namespace sni::loader
