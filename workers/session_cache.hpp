// Client-side TLS session cache of one reencrypt route: the last session per backend server,
// so repeat connections to that server resume. A session is only offered again with the same
// SNI it was made with (with `sni: $client` the name changes from connection to connection).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "workers/ossl.hpp"

namespace sni::worker {

class SessionCache {
  public:
    explicit SessionCache(std::size_t servers) : slots_(servers) {}

    // Borrowed; nullptr when there is no resumable session for this server and SNI.
    SSL_SESSION *find(std::size_t server, std::string_view sni) const;
    void store(std::size_t server, std::string_view sni, SslSessionPtr session);
    void forget(std::size_t server);

  private:
    struct Slot {
        std::string sni;
        SslSessionPtr session;
    };
    std::vector<Slot> slots_;
};

// What a backend SSL carries (SSL_set_app_data) for the context's callbacks.
struct BackendSslState {
    SessionCache *cache = nullptr;
    std::size_t server = 0;
    std::string sni;          // the name sent, "" = none
    std::string verify_note;  // set when the pin check rejected the certificate
};

}  // namespace sni::worker
