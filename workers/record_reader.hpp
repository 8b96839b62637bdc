// Read-ahead for a relayed TLS leg, one record at a time: a BIO filter pushed under OpenSSL's
// read side that fills its own buffer with one recv() (as many records as the socket holds, up
// to kReadAheadBytes) and hands OpenSSL, at each read, bytes up to the end of one record at
// most.
//
// Why not OpenSSL's own read-ahead with a big buffer: at the start of each record, OpenSSL 3.0
// moves every unread byte of its buffer to the buffer's front (ssl3_read_n aligns the next
// record's payload), so a recv that brought k records costs (k-1)/2 extra copies of them. That
// memmove was 6.4 % of the worker's CPU in bulk relay (docs/performance.md, "Bulk relay: one
// record at a time"). Given one record per read, OpenSSL finds its buffer empty at every record
// start and moves nothing; the filter's one copy per byte replaces the quadratic moves.
//
// The filter only splits the stream at the record boundaries its 5-byte headers announce; it
// judges nothing (a malformed header reaches OpenSSL, which rejects it as before). Bounded: the
// buffer exists only while it holds bytes, so an idle connection keeps none. Writes and every
// ctrl go to the BIO below unchanged, but PENDING and EOF count the held bytes and DUP is
// refused.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>

#include "workers/relay_tls.hpp"

namespace sni::worker {

// What one recv() may bring: sixteen full records (267 KiB), measured the best of 4, 8, 16 and
// 32 with OpenSSL's own read-ahead (docs/performance.md, "Bulk relay: sixteen records per read").
inline constexpr std::size_t kReadAheadBytes = 16 * kTlsRecordBytes;

// Pushes the filter over `ssl`'s read BIO. False (and `ssl` unchanged) when it could not be
// made. Only for a leg whose records OpenSSL reads itself (not kTLS RX), after its handshake.
bool read_records_ahead(SSL *ssl);

// Bytes the filter on top of `rbio` holds (0 when `rbio` is not one): data OpenSSL has not seen
// yet, which SSL_has_pending does not count.
std::size_t read_ahead_bytes(BIO *rbio);

}  // namespace sni::worker
