// One connection in the test worker. Passthrough: writes back the handed-over ClientHello bytes,
// then echoes every byte. TLS: completes the handshake as the server (the ClientHello replayed
// through the prefix BIO), writes "route=<name> sni=<sni> version=<TLSv1.x>\n", then echoes
// application data until EOF.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/fd.hpp"
#include "common/prefix_bio.hpp"

namespace sni::test_worker {

struct SslDeleter {
    void operator()(SSL *s) const { SSL_free(s); }
};
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

class EchoConn {
  public:
    // Passthrough.
    EchoConn(UniqueFd fd, std::span<const std::uint8_t> hello);
    // TLS: `ssl` already has its BIOs set.
    EchoConn(UniqueFd fd, SslPtr ssl, std::string greeting);

    int fd() const { return fd_.get(); }

    // Makes all the progress possible now. False when the connection is finished (close it).
    bool drive();

    // The epoll events this connection waits for.
    std::uint32_t interest() const;

    std::string error;  // why drive() returned false on failure; "" on a clean end

  private:
    bool flush();  // false on a fatal error
    bool read_some(bool &would_block);

    UniqueFd fd_;
    SslPtr ssl_;
    bool handshake_done_ = false;
    bool want_write_ = false;  // TLS layer wants EPOLLOUT
    bool eof_ = false;
    std::string greeting_;
    std::string pending_;  // bytes to write back
};

}  // namespace sni::test_worker
