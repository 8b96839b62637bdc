// OpenSSL settings for relaying bulk data, shared by the client-facing and backend-facing
// contexts: the SSL modes (partial writes, moving write buffers, buffers released when idle)
// and read-ahead once a leg is established without kTLS RX, so one recv() brings several
// records instead of a 5-byte header read plus a body read per record.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>

namespace sni::worker {

// One full TLS record on the wire: 16 KiB of plaintext, the largest expansion, the header.
inline constexpr std::size_t kTlsRecordBytes = 16 * 1024 + 256 + 5;

// The relay's settings for one route's context. `ktls`: the kernel has the tls ULP, so OpenSSL
// is asked for kTLS (SSL_OP_ENABLE_KTLS) and read-ahead waits for the handshake's end
// (read_ahead_unless_ktls_rx). Without it, kTLS is not asked for (each try would be a failing
// TCP_ULP setsockopt, four per connection) and the context reads ahead from the first byte:
// one recv() per handshake flight instead of a header read and a body read per record.
void set_relay_modes(SSL_CTX *ctx, bool ktls);

// After the handshake: read ahead unless the kernel decrypts this leg (kTLS RX reads records
// one by one from the socket; OpenSSL must not hold any of them). The relay then reads through
// workers/record_reader.hpp, which brings many records per recv().
void read_ahead_unless_ktls_rx(SSL *ssl, bool ktls_rx);

}  // namespace sni::worker
