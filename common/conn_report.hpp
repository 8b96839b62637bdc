// Connection reports: what a worker tells the daemon about its connections, on the same
// SOCK_SEQPACKET channel that carries the handoffs (see common/handoff.hpp), in the other
// direction (worker -> daemon).
//
// Reports are fixed-size structs in host byte order (both ends run from the same build); a
// datagram carries one or more of them back to back (a worker sends what one turn of its event
// loop produced as one datagram, at most kMaxBatch). The events: "ready" once when the worker
// enters its loop, "opened" when a connection's handshakes are done (relay starts), "closed" when
// it closes (also for connections that never opened), "health" after each active health check probe
// of a server (and once at start, before any probe): the server's verdict (up/down) and the
// worker's running totals of probes. Text fields are fixed-size, NUL-padded and truncated; the ALPN
// and the addresses may carry a peer's bytes and must be escaped before they reach a log.
//
// The worker never blocks on a report: it sends with MSG_DONTWAIT; when the channel is full the
// report is dropped and counted, and every report carries the worker's running total of drops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace sni::conn_report {

inline constexpr std::uint32_t kMagic = 0x52494e53;  // "SNIR" in memory on little-endian
inline constexpr std::uint16_t kVersion = 2;

enum class Event : std::uint8_t { kReady = 1, kOpened = 2, kClosed = 3, kHealth = 4 };

// Why a connection ended. Every value has a metric label (close_reason_name).
enum class CloseReason : std::uint8_t {
    kNone = 0,            // not closed yet (opened / ready reports)
    kClosed,              // both directions ended
    kIdleTimeout,         // no byte either way within the route's idle_timeout
    kBackendUnreachable,  // no backend server could be connected (refused, timeout...)
    kBackendTimeout,      // the backend's preamble or TLS handshake timed out
    kBackendHandshake,    // the backend's TLS handshake failed (verification...)
    kBackendError,        // writing to the backend failed before the relay
    kClientHandshake,     // the client's TLS handshake failed
    kRelayError,          // a read or write failed while relaying
    kWorkerShutdown,      // the worker stopped with the connection open
    kInternal,            // setup failures of ours (SSL objects, epoll)
};
inline constexpr std::size_t kCloseReasonCount = 11;
std::string_view close_reason_name(CloseReason reason);
std::string_view event_name(Event event);

// Fixed-size text: NUL-padded, truncated to N-1 bytes.
template <std::size_t N>
struct FixedText {
    char bytes[N] = {};
    void set(std::string_view s);
    std::string_view view() const;
};

struct LegInfo {
    FixedText<16> version;  // "TLSv1.3", "" without TLS
    FixedText<64> cipher;   // OpenSSL's name
    std::uint8_t ktls_tx = 0;
    std::uint8_t ktls_rx = 0;
    std::uint8_t reserved[6] = {};
};

// The datagram exactly as it travels.
struct Report {
    std::uint32_t magic = kMagic;
    std::uint16_t version = kVersion;
    std::uint16_t size = sizeof(Report);
    Event event = Event::kReady;
    CloseReason reason = CloseReason::kNone;
    std::uint8_t reserved0[2] = {};
    std::int32_t backend_server = -1;  // index in the route's servers, -1 = none
    std::uint64_t conn_id = 0;         // the daemon's connection id (from the handoff)
    std::uint32_t route_id = 0;
    std::uint32_t listener_id = 0;
    std::uint64_t dropped_reports = 0;  // the worker's total of reports it could not send
    LegInfo client;
    LegInfo backend;
    FixedText<64> alpn;                      // negotiated with the client (peer bytes)
    FixedText<64> client_addr;               // "ip:port"
    FixedText<64> backend_addr;              // "ip:port" of the server used, "" when none
    std::uint64_t bytes_up = 0;              // client -> backend
    std::uint64_t bytes_down = 0;            // backend -> client
    std::uint64_t accepted_ns = 0;           // CLOCK_MONOTONIC when the daemon accepted it
    std::uint64_t backend_connected_us = 0;  // from the handoff to TCP connected, 0 = never
    std::uint64_t client_handshake_us = 0;   // from the handoff to the client handshake done
    std::uint64_t duration_us = 0;           // from the handoff to now (close: total)
    std::uint64_t failed_servers = 0;   // bitmask of server indices (< 64) whose connect failed
    std::uint64_t ejected_servers = 0;  // bitmask of servers that this connection ejected
    // "health" (route_id, backend_server and backend_addr name the server):
    std::uint8_t server_down = 0;  // 1 when the active checks mark the server down
    std::uint8_t reserved1[7] = {};
    std::uint64_t checks_passed = 0;  // this worker's probes of the server since it started
    std::uint64_t checks_failed = 0;
    FixedText<64> health_reason;  // the last probe's error, "" when it passed
};

static_assert(std::is_trivially_copyable_v<Report>);
static_assert(sizeof(Report) == 560, "the report layout changed: bump kVersion");

// Reports in one datagram, at most.
inline constexpr std::size_t kMaxBatch = 32;

// Sends one report without blocking and without SIGPIPE. True when it was queued.
bool send_report(int channel, const Report &report);
// Sends 1..kMaxBatch reports as one datagram, the same way. True when it was queued.
bool send_reports(int channel, std::span<const Report> reports);

// Decodes a datagram the daemon received; nullopt when it is not a valid report.
std::optional<Report> decode(std::span<const std::uint8_t> datagram);
// Every report of a datagram of 1..kMaxBatch reports; nullopt when any of them is not valid or
// the size is not a whole number of reports.
std::optional<std::vector<Report>> decode_all(std::span<const std::uint8_t> datagram);

// The magic of a datagram (0 when shorter than 4 bytes): lets a receiver tell kinds apart.
std::uint32_t magic_of(std::span<const std::uint8_t> datagram);

}  // namespace sni::conn_report
