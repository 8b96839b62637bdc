#include "workers/session_tickets.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

namespace sni::worker {

namespace {

bool set_mac_key(EVP_MAC_CTX *mac, const tickets::Key &k) {
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                          const_cast<std::uint8_t *>(k.hmac.data()), k.hmac.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(mac, params) == 1;
}

}  // namespace

void SessionTickets::attach(SSL_CTX *ctx) {
    SSL_CTX_set_app_data(ctx, this);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &SessionTickets::on_ticket);
}

// enc = 1: a new ticket under the current key (1 = done). enc = 0: find the key the ticket
// names (0 = unknown: full handshake; 1 = current key; 2 = older key: accept and renew).
int SessionTickets::on_ticket(SSL *ssl, unsigned char key_name[16], unsigned char *iv,
                              EVP_CIPHER_CTX *cipher, EVP_MAC_CTX *mac, int enc) {
    const auto *self =
        static_cast<const SessionTickets *>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    if (self == nullptr || self->keys_.empty()) return 0;
    const EVP_CIPHER *aes = EVP_aes_256_cbc();
    if (enc == 1) {
        const tickets::Key &k = self->keys_.front();
        std::memcpy(key_name, k.name.data(), k.name.size());
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) != 1) return -1;
        if (EVP_EncryptInit_ex(cipher, aes, nullptr, k.aes.data(), iv) != 1) return -1;
        return set_mac_key(mac, k) ? 1 : -1;
    }
    const auto it =
        std::find_if(self->keys_.begin(), self->keys_.end(), [&](const tickets::Key &k) {
            return std::memcmp(k.name.data(), key_name, k.name.size()) == 0;
        });
    if (it == self->keys_.end()) return 0;
    if (!set_mac_key(mac, *it)) return -1;
    if (EVP_DecryptInit_ex(cipher, aes, nullptr, it->aes.data(), iv) != 1) return -1;
    return it == self->keys_.begin() ? 1 : 2;
}

}  // namespace sni::worker
