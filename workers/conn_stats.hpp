// What a connection records for its access-log line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/log.hpp"
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
    std::string route;
    std::string mode;
    std::string client_addr;
    std::string sni;           // from the ClientHello (peer bytes: escaped by the logger)
    std::string offered_alpn;  // the client's ALPN list, comma separated (peer bytes)
    std::string backend_addr;  // the server finally used, "" when none
    unsigned connect_attempts = 0;
    LegTls client;
    LegTls backend;
    bool splice_up = false;    // client -> backend moved with splice()
    bool splice_down = false;  // backend -> client
    std::uint64_t bytes_up = 0;
    std::uint64_t bytes_down = 0;
    std::string client_end;   // how the client ended its direction: close_notify / fin / ""
    std::string backend_end;  // same for the backend
    std::int64_t duration_ms = 0;
    std::string reason;  // why the connection closed ("closed" = both directions ended)
    bool error = false;
};

// The access-log fields, in a fixed order.
std::vector<log::Field> access_fields(const ConnStats &s);

}  // namespace sni::worker
