// One handed-over client connection and its backend connection: the per-connection state
// machine of the worker.
//
//   handoff ──► backend TCP connect (non-blocking, connect_timeout, one retry on another
//   │           server) ─┬─► PROXY v2 header (+ the ClientHello bytes in passthrough)
//   │                    └─► backend TLS handshake (reencrypt: SNI, ALPN, session resumption)
//   └─► client TLS handshake over the prefix BIO (reencrypt/terminate), held at the
//       ClientHello until the TCP connect is settled, so an unreachable backend can be
//       answered with a proper internal_error alert
//   both ready ──► relay (two Directions) ──► both directions ended, or an error, or idle
//   timeout ──► both legs closed, one access-log line.
//
// Everything is non-blocking; the worker calls on_event()/on_timer()/resume() and then reads
// finished(), deadline() and wants_resume().
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/handoff.hpp"
#include "common/log.hpp"
#include "common/prefix_bio.hpp"
#include "workers/access_log.hpp"
#include "workers/conn_stats.hpp"
#include "workers/direction.hpp"
#include "workers/event_loop.hpp"
#include "workers/handshake_gate.hpp"
#include "workers/kernel_relay.hpp"
#include "workers/leg.hpp"
#include "workers/report_channel.hpp"
#include "workers/route_runtime.hpp"
#include "workers/session_cache.hpp"

namespace sni::worker {

// What connections share, owned by the worker.
struct ConnEnv {
    Epoll &epoll;
    const PrefixBioMethod &prefix;
    const log::Logger &log;
    const AccessLogSink *access = nullptr;                // nullptr: access log off
    ReportChannel *reports = nullptr;                     // nullptr: no reports (tests)
    const std::vector<std::string> *listeners = nullptr;  // listener names by id
    KernelRelay *relay = nullptr;  // nullptr: passthrough is spliced (workers/kernel_relay.hpp)
};

enum class LegId : std::uint8_t { kClient = 0, kBackend = 1 };

class Connection {
  public:
    // Bytes relayed per direction before yielding to other connections.
    static constexpr std::size_t kBudget = 256 * 1024;

    Connection(ConnEnv &env, RouteRuntime &route, handoff::Received received, std::uint64_t id);
    ~Connection();
    Connection(const Connection &) = delete;
    Connection &operator=(const Connection &) = delete;

    std::uint64_t id() const { return id_; }
    static std::uint64_t token(std::uint64_t id, LegId leg) {
        return (id << 1) | static_cast<std::uint64_t>(leg);
    }

    void start(Clock::time_point now);
    void on_event(LegId leg, std::uint32_t events, Clock::time_point now);
    void on_timer(Clock::time_point now);
    void resume(Clock::time_point now);  // continue after the budget ran out
    // The worker is stopping: close now.
    void abort(const std::string &reason, Clock::time_point now);

    bool finished() const { return finished_; }
    bool wants_resume() const { return wants_resume_; }
    Clock::time_point deadline() const;
    // The earliest deadline the worker has queued for this connection (see TimerQueue).
    std::optional<Clock::time_point> queued_timer;

  private:
    enum class Backend : std::uint8_t { kIdle, kConnecting, kPreamble, kHandshake, kReady };

    // The TCP connect, the preamble and the backend TLS handshake share connect_timeout: the
    // connect restarts it; the rest is bounded by a second one from the moment it connected.
    bool establishing() const {
        return backend_state_ == Backend::kConnecting || backend_state_ == Backend::kPreamble ||
               backend_state_ == Backend::kHandshake;
    }

    // connection_backend.cpp
    void connect_next(Clock::time_point now);
    void on_connect_result(int err, Clock::time_point now);
    void connect_failed(const std::string &why, Clock::time_point now);
    void backend_unreachable(const std::string &why, Clock::time_point now);
    bool build_preamble();
    void write_preamble(Clock::time_point now);
    bool start_backend_tls(Clock::time_point now);
    void drive_backend_handshake(Clock::time_point now);
    std::string backend_handshake_error(const IoResult &r) const;
    void note_session_offer();

    // connection_client.cpp
    bool setup_client_tls();
    void drive_client_handshake(Clock::time_point now);
    static LegTls leg_tls(SSL *ssl);

    // connection_kernel.cpp: the passthrough relay in the kernel
    bool start_kernel_relay(Clock::time_point now);
    void kernel_event(LegId leg, std::uint32_t events, Clock::time_point now);
    void kernel_progress(Clock::time_point now, bool timer);
    std::uint64_t kernel_bytes(bool up);
    bool kernel_flush(int to_fd, std::uint64_t expected, bool &done);
    void kernel_leave();

    // connection.cpp
    void advance(Clock::time_point now);
    void start_relay();
    void pump(Clock::time_point now);
    bool should_pump(const Direction &d) const;
    void update_interest();
    void update_leg(Leg &leg, LegId id, std::uint32_t events);
    std::uint32_t client_events() const;
    std::uint32_t backend_events() const;
    void finish(conn_report::CloseReason why, const std::string &detail, Clock::time_point now);
    std::uint64_t since_start_us(Clock::time_point now) const;

    ConnEnv &env_;
    RouteRuntime &route_;
    handoff::Handoff handoff_;
    std::vector<std::uint8_t> hello_;
    std::uint64_t id_;
    Clock::time_point started_{};
    Clock::time_point last_activity_{};

    HandshakeGate gate_;           // attached to the client SSL
    BackendSslState backend_ssl_;  // attached to the backend SSL
    Leg client_{"client"};
    Leg backend_{"backend"};
    std::unique_ptr<Direction> up_;    // client -> backend
    std::unique_ptr<Direction> down_;  // backend -> client

    bool client_tls_ = false;
    bool client_ready_ = false;      // handshake complete (or no TLS)
    std::uint32_t client_want_ = 0;  // handshake wait
    Backend backend_state_ = Backend::kIdle;
    std::uint32_t backend_want_ = 0;                 // connect / preamble / handshake wait
    std::optional<std::size_t> server_;              // index in route.servers, while acquired
    static constexpr std::size_t kMaxAttempts = 2;   // the first server, then one other
    std::array<std::size_t, kMaxAttempts> tried_{};  // servers tried, in order
    std::size_t tried_count_ = 0;
    Clock::time_point connect_deadline_{};
    std::vector<std::uint8_t> preamble_;
    std::size_t preamble_sent_ = 0;
    bool preamble_built_ = false;
    std::string pending_failure_;  // backend unreachable, reported once the alert is out
    bool relaying_ = false;
    std::optional<KernelRelay::Pair> kernel_;  // set while the kernel relays this pair
    // The client socket is in the classifier's SOCKHASH (Handoff::in_relay_map): its bytes go
    // through its psock, which splice() does not read.
    bool client_in_map_ = false;
    bool k_up_eof_ = false, k_up_done_ = false;  // client FIN seen / carried to the backend
    bool k_down_eof_ = false, k_down_done_ = false;
    std::uint64_t k_seen_bytes_ = 0;                     // for the idle timeout
    std::uint64_t k_up_bytes_ = 0, k_down_bytes_ = 0;    // last read redirected counts
    std::uint64_t k_up_resent_ = 0, k_down_resent_ = 0;  // retransmitted bytes cut
    bool k_cut_failed_ = false;                          // a resent buffer was dropped whole
    std::optional<Clock::time_point> k_flush_at_;        // re-check a FIN waiting for its bytes
    // The readiness on_event() is handling, so pump() moves only the directions it concerns
    // (a request from the client need not try the backend's read); nullopt: pump both.
    struct Wake {
        LegId leg;
        std::uint32_t events;
    };
    std::optional<Wake> wake_;
    bool wants_resume_ = false;
    bool finished_ = false;
    ConnStats stats_;
};

}  // namespace sni::worker
