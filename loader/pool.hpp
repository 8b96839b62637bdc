// Worker pools: spawning, supervision and the dispatch of handoffs.
//
// Each pool runs N worker processes; each worker has its own SOCK_SEQPACKET channel. A handoff
// goes to the pool's workers round-robin (skipping workers that are down). When a worker's
// channel is full the handoff waits in that worker's bounded queue and is retried on EPOLLOUT;
// when the queue is full the connection is closed (handoff_overflow). A worker that exits is
// restarted after a back-off (100 ms, doubling up to 5 s; reset after it ran 10 s), and its
// queued handoffs go to the pool's other workers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/config_result.hpp"
#include "common/config_types.hpp"
#include "common/fd.hpp"
#include "common/handoff.hpp"
#include "common/log.hpp"
#include "loader/counters.hpp"
#include "loader/event_loop.hpp"
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

    // Reload/shutdown drain: no restarts any more, every worker's channel is closed as soon as
    // its queued handoffs are sent; a worker whose channel closes stops taking handoffs,
    // finishes its connections and exits. The caller forces the exit after its deadline.
    void retire();
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
    };

    Pools(EventLoop &loop, const log::Logger &log, Counters &counters, UniqueFd timer)
        : loop_(&loop), log_(&log), counters_(&counters), timer_(std::move(timer)) {}

    config::Result<bool, std::string> start(std::uint32_t pool, std::uint32_t worker);
    void worker_down(std::uint32_t pool, std::uint32_t worker);
    void close_channel(Worker &w);
    void flush(std::uint32_t pool, std::uint32_t worker);
    void update_interest(Worker &w);
    void schedule_restart(Worker &w, Clock::time_point now);
    void arm_timer();
    std::optional<std::uint32_t> pick(std::uint32_t pool);

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
    bool retiring_ = false;
};

}  // namespace sni::loader
