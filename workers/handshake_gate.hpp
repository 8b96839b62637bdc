// Holds a client's TLS handshake at its ClientHello until the backend's TCP connection is
// settled. The client-side SSL_CTX's ClientHello callback consults the gate that the
// connection attached to the SSL (SSL_set_app_data): while it is closed, the handshake is
// suspended (SSL_accept fails with SSL_ERROR_WANT_CLIENT_HELLO_CB and is simply called again
// later); when the backend could not be reached at all, the callback fails the handshake
// with a fatal internal_error alert, which OpenSSL sends in the clear before any key exchange.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>

namespace sni::worker {

class HandshakeGate {
  public:
    enum class State : std::uint8_t { kHold, kOpen, kFail };

    void open() { state_ = State::kOpen; }
    void fail() { state_ = State::kFail; }
    State state() const { return state_; }
    // The ClientHello went through the open gate: OpenSSL has processed it (the ALPN is chosen
    // by the time the handshake call returns).
    bool passed() const { return passed_; }

    // Attaches the gate to `ssl` (the gate must outlive it).
    void attach(SSL *ssl) { SSL_set_app_data(ssl, this); }

    // The SSL_CTX ClientHello callback (SSL_CTX_set_client_hello_cb).
    static int on_client_hello(SSL *ssl, int *alert, void *arg);

  private:
    State state_ = State::kHold;
    bool passed_ = false;
};

}  // namespace sni::worker
