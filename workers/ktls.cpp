#include "workers/ktls.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common/fd.hpp"

namespace sni::worker {

KtlsProbe probe_kernel_ktls() {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return {KernelKtls::kUnknown, errno};
    if (::setsockopt(fd.get(), SOL_TCP, TCP_ULP, "tls", 3) == 0)
        return {KernelKtls::kAvailable, 0};  // not expected on an unconnected socket
    const int err = errno;
    if (err == ENOTCONN) return {KernelKtls::kAvailable, err};
    if (err == ENOENT) return {KernelKtls::kNoModule, err};
    return {KernelKtls::kUnknown, err};
}

std::string_view kernel_ktls_name(KernelKtls state) {
    switch (state) {
        case KernelKtls::kAvailable:
            return "available";
        case KernelKtls::kNoModule:
            return "no_module";
        case KernelKtls::kUnknown:
            return "unknown";
    }
    return "unknown";
}

BIO *bottom_bio(BIO *b) {
    while (b != nullptr && BIO_next(b) != nullptr) b = BIO_next(b);
    return b;
}

KtlsStatus ktls_status(SSL *ssl) {
    KtlsStatus out;
#ifndef OPENSSL_NO_KTLS
    if (ssl == nullptr) return out;
    if (BIO *w = bottom_bio(SSL_get_wbio(ssl))) out.tx = BIO_get_ktls_send(w);
    if (BIO *r = bottom_bio(SSL_get_rbio(ssl))) out.rx = BIO_get_ktls_recv(r);
#else
    (void)ssl;
#endif
    return out;
}

}  // namespace sni::worker
