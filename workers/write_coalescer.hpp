// Write coalescing for a relayed TLS leg: a BIO filter pushed over the socket BIO that collects
// the records OpenSSL writes while one direction is pumped and sends them with one write() when
// flushed (at the end of every pump, see workers/direction.cpp) or when the next record would
// not fit. Without it each SSL_write_ex is one write() per record (16 KiB at most), so a relay
// that reads several records per recv (read-ahead) wrote them with one syscall each.
//
// Bounded: at most kCoalesceBytes are held; a record that does not fit first flushes what is
// held, and when the socket cannot take it the write reports a retry (OpenSSL: WANT_WRITE), the
// same back-pressure as without the filter. The buffer is allocated on the first write after a
// flush and freed when a flush empties it, so an idle connection holds none. Every ctrl other
// than flush and the pending counts goes to the socket BIO unchanged.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>

#include "workers/relay_tls.hpp"

namespace sni::worker {

// What one flush may carry: four full records (66 KiB). Sixteen, like the read buffer, measured
// the same worker CPU per MiB within the noise and would hold four times the memory per leg
// while a flush waits (docs/performance.md, "Bulk relay: sixteen records per read").
inline constexpr std::size_t kCoalesceBytes = 4 * kTlsRecordBytes;

// Pushes the filter over `ssl`'s write BIO. False (and `ssl` unchanged) when it could not be
// made. Only for a leg whose records OpenSSL writes itself (not kTLS TX).
bool coalesce_writes(SSL *ssl);

// Bytes the filter on top of `wbio` holds (0 when `wbio` is not one).
std::size_t coalesced_bytes(BIO *wbio);

}  // namespace sni::worker
