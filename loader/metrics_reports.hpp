// The daemon's side of the connection reports (common/conn_report.hpp): aggregates what the
// workers report by route, and keeps two tables per worker: the connections handed to it and the
// ones it reported open. An entry of either is removed when its "closed" report arrives or when
// its worker dies, so both hold only connections that are still open.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/conn_report.hpp"
#include "loader/addr_pair.hpp"
#include "loader/metrics_histogram.hpp"

namespace sni::loader {

// One open connection as the workers reported it (for `sni-ctl conns`).
struct OpenConnView {
    std::uint32_t pool = 0;
    std::uint32_t worker = 0;  // index in the pool
    pid_t pid = -1;
    std::uint64_t conn_id = 0;
    std::uint32_t route_id = 0;
    std::uint32_t listener_id = 0;
    std::string client_addr;
    std::string backend_addr;
    std::string alpn;  // peer bytes: escape before printing
    std::string client_version, client_cipher, backend_version, backend_cipher;
    bool ktls_client_tx = false, ktls_client_rx = false;
    bool ktls_backend_tx = false, ktls_backend_rx = false;
    std::uint64_t accepted_ns = 0;  // CLOCK_MONOTONIC
};

// By route (index in Config::routes).
struct RouteReports {
    std::uint64_t opened = 0;
    std::array<std::uint64_t, conn_report::kCloseReasonCount> closed{};  // by CloseReason
    std::uint64_t bytes_up = 0;    // client -> backend, at close
    std::uint64_t bytes_down = 0;  // backend -> client, at close
    // (side, version) and (side, cipher) of the connections that opened; side "client"/"backend".
    std::map<std::pair<std::string, std::string>, std::uint64_t> versions;
    std::map<std::pair<std::string, std::string>, std::uint64_t> ciphers;
    // Completed handshakes by side, counted at close.
    std::uint64_t client_handshakes = 0;
    std::uint64_t backend_handshakes = 0;
    // kTLS engaged at open: [leg client/backend][direction tx/rx].
    std::array<std::array<std::uint64_t, 2>, 2> ktls{};
    Histogram time_to_backend;  // handoff -> backend connected
    Histogram duration;         // handoff -> close
    // By server index (as in the route's config): connects that failed, passive ejections.
    std::vector<std::uint64_t> connect_failures;
    std::vector<std::uint64_t> ejections;
    // Active health check probes by server index (the workers' "health" reports).
    std::vector<std::uint64_t> checks_passed;
    std::vector<std::uint64_t> checks_failed;
};

// One server's health as the live workers of its pool see it (their latest "health" reports).
struct ServerHealth {
    std::uint32_t reporting = 0;  // workers that reported on the server
    std::uint32_t down = 0;       // of those, the ones whose checks mark it down
    std::string reason;           // the last failed probe's error of a worker that sees it down
};

// Adds `from`'s counts to `into` (e.g. a gone generation's counts to the running totals).
void merge_into(RouteReports &into, const RouteReports &from);

// A connection the daemon handed to a worker, until the worker reports its close (for
// `sni-ctl conns` and the sni_connections_in_workers gauge).
struct HandedConn {
    std::uint64_t conn_id = 0;
    AddrPair addr;
    std::uint32_t route_id = 0;
    std::uint32_t listener_id = 0;
};

struct ReportTotals {
    std::uint64_t received = 0;
    std::uint64_t malformed = 0;           // datagrams that were not valid reports
    std::uint64_t dropped_by_workers = 0;  // reports workers could not send (sum over workers)
    std::uint64_t lost_open = 0;           // open connections whose worker died
};

class ReportTable {
  public:
    explicit ReportTable(std::size_t routes = 0) : routes_(routes) {}

    // `pool`/`worker` identify the channel the report came on; `pid` the worker's process.
    void on_report(std::uint32_t pool, std::uint32_t worker, pid_t pid,
                   const conn_report::Report &report);
    void on_malformed() { ++totals_.malformed; }
    // The worker is gone: its open connections are forgotten (counted as lost_open).
    void worker_gone(std::uint32_t pool, std::uint32_t worker);
    // True once the worker (since its last start) sent its "ready" report.
    bool worker_ready(std::uint32_t pool, std::uint32_t worker) const;

    // A connection was sent to the worker: tracked until its "closed" report or the worker's end.
    void on_handed(std::uint32_t pool, std::uint32_t worker, const HandedConn &conn);
    // Forgets the handed connections for which `gone` says true. For those whose "closed" report
    // the worker had to drop (its channel was full): the caller asks the kernel's table.
    void forget_handed_if(const std::function<bool(const AddrPair &)> &gone);
    // True when a worker dropped reports since the last forget_handed_if: some handed
    // connections may have closed unheard.
    bool handed_may_be_stale() const { return handed_stale_; }
    std::vector<HandedConn> handed_connections() const;
    std::size_t handed_count() const;

    std::vector<OpenConnView> open_connections() const;
    // By (route id, server index); only servers some live worker reported on.
    std::map<std::pair<std::uint32_t, std::uint32_t>, ServerHealth> health() const;
    const std::vector<RouteReports> &routes() const { return routes_; }
    ReportTotals totals() const;

  private:
    using WorkerKey = std::pair<std::uint32_t, std::uint32_t>;
    struct WorkerState {
        bool ready = false;
        std::uint64_t dropped = 0;  // the worker's running total
        std::unordered_map<std::uint64_t, OpenConnView> open;
        std::unordered_map<std::uint64_t, HandedConn> handed;
        // The latest "health" report by (route id, server index).
        std::map<std::pair<std::uint32_t, std::uint32_t>, conn_report::Report> health;
    };

    void on_opened(WorkerState &w, std::uint32_t pool, std::uint32_t worker, pid_t pid,
                   const conn_report::Report &r);
    void on_closed(WorkerState &w, const conn_report::Report &r);
    void on_health(WorkerState &w, const conn_report::Report &r);

    std::vector<RouteReports> routes_;
    std::map<WorkerKey, WorkerState> workers_;
    ReportTotals totals_;
    std::uint64_t dropped_by_gone_ = 0;  // drops reported by workers that are gone
    bool handed_stale_ = false;
};

}  // namespace sni::loader
