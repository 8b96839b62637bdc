#include "workers/handshake_gate.hpp"

namespace sni::worker {

int HandshakeGate::on_client_hello(SSL *ssl, int *alert, void * /*arg*/) {
    auto *gate = static_cast<HandshakeGate *>(SSL_get_app_data(ssl));
    if (gate == nullptr) return SSL_CLIENT_HELLO_SUCCESS;  // not gated
    switch (gate->state_) {
        case State::kHold:
            return SSL_CLIENT_HELLO_RETRY;
        case State::kOpen:
            gate->passed_ = true;
            return SSL_CLIENT_HELLO_SUCCESS;
        case State::kFail:
            break;
    }
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
}

}  // namespace sni::worker
