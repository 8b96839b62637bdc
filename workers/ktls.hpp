// kTLS: the kernel probe done once at start, and per-leg status after a handshake.
#pragma once

#include <openssl/ssl.h>

#include <string_view>

namespace sni::worker {

enum class KernelKtls : unsigned char {
    kAvailable,  // the "tls" ULP exists (setsockopt on an unconnected socket: ENOTCONN)
    kNoModule,   // ENOENT: no tls module in this kernel
    kUnknown,    // anything else (see err)
};

struct KtlsProbe {
    KernelKtls state = KernelKtls::kUnknown;
    int err = 0;  // errno of the probe
};

// socket(AF_INET, SOCK_STREAM) + setsockopt(TCP_ULP, "tls") on the unconnected socket.
KtlsProbe probe_kernel_ktls();
std::string_view kernel_ktls_name(KernelKtls state);

// The last BIO of a chain: the socket BIO under any filters of ours (prefix, coalescing).
BIO *bottom_bio(BIO *b);

// Whether OpenSSL moved this SSL's record layer into the kernel, per direction (queried on the
// socket BIO at the bottom of the read and write chains).
struct KtlsStatus {
    bool tx = false;
    bool rx = false;
};
KtlsStatus ktls_status(SSL *ssl);

}  // namespace sni::worker
