// Worker pools: spawning, supervision and the dispatch of handoffs.
//
// Each pool runs N worker processes; each worker has its own SOCK_SEQPACKET channel. A handoff
// goes to the pool's workers round-robin (skipping workers that are down). When a worker's
// channel is full the handoff waits in that worker's bounded queue and is retried on EPOLLOUT;
// when the queue is full the connection is closed (handoff_overflow). A worker that exits is
// restarted after a back-off (100 ms, doubling up to 5 s; reset after it ran 10 s), and its
// queued handoffs go to the pool's other workers.
//
// Each pool also has its session-ticket keys (common/ticket_keys.hpp): made at start, sent to
// every worker of the pool when it starts (before any handoff) and again at each rotation
// (every `ticket_rotation`, default 1 h; the previous key is kept for decryption). A key
// message that meets a full channel waits and goes first when the channel drains.
//
// The daemon reads the workers' connection reports (common/conn_report.hpp) on the same
// channels and aggregates them (reports()).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/config_result.hpp"
#include "common/config_types.hpp"
#include "common/fd.hpp"
#include "common/handoff.hpp"
#include "common/log.hpp"
#include "common/ticket_keys.hpp"
#include "loader/counters.hpp"
#include "loader/event_loop.hpp"
#include "loader/metrics_reports.hpp"
#include "loader/spawn.hpp"

namespace sni::loader {

// A classified connection on its way to a worker.
struct PendingHandoff {
    handoff::Handoff meta;
    std::vector<std::uint8_t> hello;
    UniqueFd conn;
};

class Pools {
  public:
    using Clock = std::chrono::steady_clock;

    static constexpr std::size_t kMaxQueuePerWorker = 256;
    static constexpr Clock::duration kFirstBackoff = std::chrono::milliseconds(100);
    static constexpr Clock::duration kMaxBackoff = std::chrono::seconds(5);
    static constexpr Clock::duration kStableRun = std::chrono::seconds(10);

    // `worker_bin` + `config_path` make each worker's command line. `generation` numbers the
    // configuration these workers serve (1 at start, +1 per reload); it is the high half of
    // every channel id, so channels of several generations can share one event loop.
    static config::Result<Pools, std::string> create(const config::Config &config,
                                                     std::string worker_bin,
                                                     std::string config_path, EventLoop &loop,
                                                     const log::Logger &log, Counters &counters,
                                                     std::uint64_t generation = 1);
    Pools(Pools &&) = default;
    ~Pools();

    // Before start_all: how often each pool's ticket key changes (tests make it short).
    void set_ticket_rotation(Clock::duration interval) { ticket_rotation_ = interval; }
    // Before start_all: fds every worker inherits (as 4, 5...) with an environment line naming
    // them, e.g. the kernel relay's maps and "SNI_RELAY_FDS=4,5".
    void set_inherited(std::vector<int> fds, std::string env) {
        inherit_fds_ = std::move(fds);
        inherit_env_ = std::move(env);
    }

    // Starts every worker; an error when one cannot be started at all (bad binary...).
    config::Result<bool, std::string> start_all();

    // Pool index of route `route_id`.
    std::uint32_t pool_of_route(std::uint32_t route_id) const { return route_pool_[route_id]; }
    const std::string &pool_name(std::uint32_t pool) const { return pools_[pool].name; }

    // Hands `h` to a worker of `pool`. Counts handed_off / handoff_overflow / no_worker /
    // handoff_error; the connection is closed on every failure.
    void dispatch(std::uint32_t pool, PendingHandoff h);

    int timer_fd() const { return timer_.get(); }
    void on_timer();  // restarts that are due
    void on_channel_event(std::uint64_t channel_id, std::uint32_t events);
    // Called for every reaped child. False when the pid is not one of our workers.
    bool on_child_exit(pid_t pid, int wait_status);

    // Shutdown: drops queued handoffs (counted as shutdown), closes every channel, sends
    // SIGTERM to every running worker. Returns their pids.
    std::vector<pid_t> stop();
    std::size_t running() const;
    std::vector<pid_t> pids() const;  // of the running workers

    // Reports: aggregates by route, and the open connections the workers reported.
    const ReportTable &reports() const { return reports_; }
    std::vector<OpenConnView> open_connections() const { return reports_.open_connections(); }
    // The connections handed to this generation's workers whose close is not reported yet.
    std::vector<HandedConn> handed_connections() const { return reports_.handed_connections(); }
    void forget_handed_if(const std::function<bool(const AddrPair &)> &gone) {
        reports_.forget_handed_if(gone);
    }

    struct PoolState {
        std::string name;
        std::size_t workers = 0;  // configured
        std::size_t running = 0;  // processes alive with an open channel
        std::size_t ready = 0;    // of those, the ones that reported "ready"
    };
    std::vector<PoolState> pool_states() const;

    // Reload/shutdown drain: no restarts any more, every worker's channel is closed as soon as
    // its queued handoffs are sent; a worker whose channel closes stops taking handoffs,
    // finishes its connections and exits. The caller forces the exit after its deadline.
    void retire();
    // Reload: pools of the same name keep their session-ticket keys (call before start_all), so
    // tickets issued before the reload still resume after it.
    void adopt_ticket_keys(const Pools &previous);
    // Route names by route id of this generation's configuration (metrics across reloads).
    const std::vector<std::string> &route_names() const { return route_names_; }
    const std::vector<std::string> &listener_names() const { return listener_names_; }
    bool retiring() const { return retiring_; }
    std::uint64_t generation() const { return generation_; }
    static std::uint64_t generation_of_channel(std::uint64_t channel_id) {
        return channel_id >> 32;
    }

    // For status: per pool, its name, user and workers (index, pid, queued handoffs).
    struct WorkerView {
        std::uint32_t index;
        pid_t pid;
        std::size_t queued;
    };
    struct PoolView {
        std::string name;
        std::string user;
        std::vector<WorkerView> workers;
    };
    std::vector<PoolView> view() const;

  private:
    struct Worker {
        std::uint32_t index = 0;
        pid_t pid = -1;
        UniqueFd channel;
        std::uint64_t channel_id = 0;
        bool want_out = false;
        bool keys_pending = false;  // the pool's current keys still have to be sent
        bool write_shut = false;    // retiring: our side shut for writing, reports still read
        std::deque<PendingHandoff> queue;
        Clock::time_point started{};
        Clock::duration backoff = kFirstBackoff;
        std::optional<Clock::time_point> restart_at;
    };
    struct Pool {
        std::string name;
        std::string user;  // the worker drops to this user when the daemon runs as root
        std::vector<Worker> workers;
        std::size_t next = 0;
        std::optional<tickets::KeyRing> tickets;
    };

    Pools(EventLoop &loop, const log::Logger &log, Counters &counters, UniqueFd timer)
        : loop_(&loop), log_(&log), counters_(&counters), timer_(std::move(timer)) {}

    config::Result<bool, std::string> start(std::uint32_t pool, std::uint32_t worker);
    void worker_down(std::uint32_t pool, std::uint32_t worker);
    void close_channel(Worker &w);
    void flush(std::uint32_t pool, std::uint32_t worker);
    enum class Sent : std::uint8_t { kSent, kWouldBlock, kPeerGone, kFailed };
    // One send_handoff to the worker, counted and logged; the caller drops `h` unless
    // kWouldBlock or kPeerGone.
    Sent send_one(std::uint32_t pool, std::uint32_t worker, const PendingHandoff &h);
    void update_interest(Worker &w);
    bool send_keys(std::uint32_t pool, Worker &w);  // false: the channel is gone
    void rotate_due(Clock::time_point now);
    void schedule_restart(Worker &w, Clock::time_point now);
    void arm_timer();
    std::optional<std::uint32_t> pick(std::uint32_t pool);
    // At most `datagrams` datagrams; stops early when the channel has nothing more.
    void read_reports(std::uint32_t pool, std::uint32_t worker, int datagrams = 1);

    EventLoop *loop_;
    const log::Logger *log_;
    Counters *counters_;
    UniqueFd timer_;
    std::string worker_bin_;
    std::string config_path_;
    std::vector<Pool> pools_;
    std::vector<std::uint32_t> route_pool_;
    std::unordered_map<std::uint64_t, std::pair<std::uint32_t, std::uint32_t>> channels_;
    std::uint64_t next_channel_id_ = 1;
    std::uint64_t generation_ = 1;
    bool stopping_ = false;
    Clock::duration ticket_rotation_ = tickets::KeyRing::kDefaultInterval;
    std::vector<int> inherit_fds_;  // not owned
    std::string inherit_env_;
    ReportTable reports_;
    std::vector<std::string> route_names_;
    std::vector<std::string> listener_names_;
    std::vector<std::uint8_t> report_buf_;
    bool retiring_ = false;
};

// Adds every route's report counts of `pools` to `into`, by route name.
void fold_reports(const Pools &pools, std::map<std::string, RouteReports> &into);

}  // namespace sni::loader
