#include "workers/relay_tls.hpp"

namespace sni::worker {

void set_relay_modes(SSL_CTX *ctx, bool ktls) {
    // Buffers released while a connection is idle: keeping them measured ~5 % less CPU per GiB
    // (inside the noise) for ~85 KiB more per leg of every idle connection (docs/performance.md).
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (ktls)
        SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
    else
        SSL_CTX_set_read_ahead(ctx, 1);  // nothing reads records behind OpenSSL's back
}

// Per leg, never on the context: a leg with kTLS RX must not read ahead. OpenSSL's own read
// buffer keeps its default size (one record): the records read ahead wait in the relay's filter
// (workers/record_reader.hpp). A bigger OpenSSL buffer is also wrong under kTLS RX, where
// OpenSSL 3.0 reads as much as its buffer holds in one recvmsg and writes that length into a
// 2-byte record header of its own (VM lane: "wrong version number" with a buffer over 64 KiB).
void read_ahead_unless_ktls_rx(SSL *ssl, bool ktls_rx) {
    if (ktls_rx) return;
    SSL_set_read_ahead(ssl, 1);
}

}  // namespace sni::worker
