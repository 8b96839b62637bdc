// What a connection records for its access-log line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/conn_report.hpp"
#include "workers/ktls.hpp"

namespace sni::worker {

struct LegTls {
    std::string version;  // "" when this leg has no TLS (or no completed handshake)
    std::string cipher;
    std::string alpn;
    bool resumed = false;
    KtlsStatus ktls;
};

struct ConnStats {
    std::uint64_t conn_id = 0;
    std::uint32_t listener_id = 0;
    std::uint32_t route_id = 0;
    std::uint64_t accepted_ns = 0;  // CLOCK_MONOTONIC when the daemon accepted it
    std::string listener;           // config name
    std::string route;
    std::string mode;
    std::string client_addr;
    std::string sni;                    // from the ClientHello (peer bytes: escaped by the logger)
    std::string offered_alpn;           // the client's ALPN list, comma separated (peer bytes)
    std::string backend_addr;           // the server finally used, "" when none
    int backend_server = -1;            // its index in the route's servers
    std::uint64_t failed_servers = 0;   // bitmask: servers whose connect failed
    std::uint64_t ejected_servers = 0;  // bitmask: servers this connection's failures ejected
    unsigned connect_attempts = 0;
    LegTls client;
    LegTls backend;
    bool splice_up = false;     // client -> backend moved with splice()
    bool splice_down = false;   // backend -> client
    bool kernel_relay = false;  // both directions redirected in the kernel (sockmap)
    std::uint64_t bytes_up = 0;
    std::uint64_t bytes_down = 0;
    std::string client_end;   // how the client ended its direction: close_notify / fin / ""
    std::string backend_end;  // same for the backend
    std::int64_t duration_ms = 0;
    std::uint64_t backend_connected_us = 0;  // handoff -> backend TCP connected (0: never)
    std::uint64_t client_handshake_us = 0;   // handoff -> client handshake done (0: never)
    std::uint64_t duration_us = 0;           // handoff -> close
    std::string reason;  // why the connection closed, in words ("closed" = both ended)
    conn_report::CloseReason close_reason = conn_report::CloseReason::kNone;
    bool error = false;
};

// The report for the daemon (see common/conn_report.hpp).
conn_report::Report make_report(const ConnStats &s, conn_report::Event event);

}  // namespace sni::worker
