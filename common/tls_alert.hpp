// TLS fatal alerts sent by the splitter itself, before any worker sees the connection.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace sni {

// The alert descriptions the splitter uses (RFC 8446 6.2).
enum class AlertDescription : std::uint8_t {
    kHandshakeFailure = 40,   // no SNI where one is required
    kDecodeError = 50,        // a malformed ClientHello
    kInternalError = 80,      // no worker could take the connection
    kUnrecognizedName = 112,  // an SNI no route serves
};

std::string_view alert_name(AlertDescription description);  // "unrecognized_name", ...

// The 7-byte record: 15 03 01 00 02 02 <description> (alert, TLS 1.0 record version, which
// every client accepts before version negotiation; level fatal).
std::array<std::uint8_t, 7> fatal_alert_record(AlertDescription description);

// Best effort, never blocks, never raises SIGPIPE: a fresh socket's send buffer always has room
// for 7 bytes. True when the whole record was queued.
bool send_fatal_alert(int fd, AlertDescription description);

}  // namespace sni
