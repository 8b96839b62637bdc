// The session-ticket keys of this worker's pool, as last sent by the daemon
// (common/ticket_keys.hpp), and the OpenSSL ticket callback that uses them, so that a ticket
// issued by one worker process of the pool resumes on any other. Until the first keys arrive
// the routes' contexts keep OpenSSL's own per-process keys (a worker started on its own, as in
// tests, still issues tickets). A ticket under a key other than the current one is accepted and
// renewed (a new ticket under the current key).
#pragma once

#include <openssl/ssl.h>

#include <span>
#include <vector>

#include "common/ticket_keys.hpp"

namespace sni::worker {

class SessionTickets {
  public:
    SessionTickets() = default;
    SessionTickets(const SessionTickets &) = delete;
    SessionTickets &operator=(const SessionTickets &) = delete;

    // Replaces the keys (current first).
    void set_keys(std::vector<tickets::Key> keys) { keys_ = std::move(keys); }
    std::span<const tickets::Key> keys() const { return keys_; }

    // Makes `ctx` use these keys from now on (idempotent).
    void attach(SSL_CTX *ctx);

  private:
    static int on_ticket(SSL *ssl, unsigned char key_name[16], unsigned char *iv,
                         EVP_CIPHER_CTX *cipher, EVP_MAC_CTX *mac, int enc);

    std::vector<tickets::Key> keys_;
};

}  // namespace sni::worker
