// The access log: one JSON object per line, one line per connection, written at close.
//
// Fields (always present, in this order; "null" where a leg has no TLS or there was no backend):
//   time (RFC 3339 UTC, ms), conn, listener, route, mode, client, sni, alpn_offered, alpn,
//   client_version, client_cipher, backend, attempts, backend_version, backend_cipher,
//   backend_alpn, backend_resumed, ktls_client_tx, ktls_client_rx, ktls_backend_tx,
//   ktls_backend_rx, splice_up, splice_down, bytes_up, bytes_down, client_end, backend_end,
//   time_to_backend_ms, client_handshake_ms, duration_ms, outcome ("ok"/"error"),
//   close_reason (enum, see conn_report::close_reason_name), reason (words).
// Strings go through json::append_string: a peer's SNI or ALPN can never break the line or
// add a field.
#pragma once

#include <chrono>
#include <string>

#include "workers/conn_stats.hpp"

namespace sni::worker {

// The line, ending with '\n'.
std::string access_json(const ConnStats &s, std::chrono::system_clock::time_point now);

// Where the lines go: an fd (stderr or the opened file); each line is one write(2).
class AccessLogSink {
  public:
    explicit AccessLogSink(int fd) : fd_(fd) {}
    void write(const std::string &line) const;

  private:
    int fd_;
};

}  // namespace sni::worker
