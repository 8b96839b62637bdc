// Client-side TLS session cache of one reencrypt route: the last session per backend server,
// so repeat connections to that server resume. A session is only offered again with the same
// SNI it was made with (with `sni: $client` the name changes from connection to connection).
//
// A server that refuses the sessions it was offered (a backend with no session cache that still
// issues tickets, or one behind a balancer without shared ticket keys) costs the offer every
// time: a TLS 1.3 PSK binder. After kRefusalsBeforeBackoff refusals in a row the server is not
// offered sessions for kFirstBackoff connections; each further refused offer doubles that, up
// to kMaxBackoff; one resumption ends it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "workers/ossl.hpp"

namespace sni::worker {

class SessionCache {
  public:
    static constexpr std::uint32_t kRefusalsBeforeBackoff = 3;
    static constexpr std::uint32_t kFirstBackoff = 16;
    static constexpr std::uint32_t kMaxBackoff = 1024;

    // `reuse` false (`backend.session_reuse: false`): nothing is kept or offered.
    explicit SessionCache(std::size_t servers, bool reuse = true)
        : slots_(servers), reuse_(reuse) {}

    // The session to offer to `server` for `sni` (borrowed); nullptr when there is none, or
    // while the server is skipped for refusing them (each call then counts one connection).
    SSL_SESSION *offer(std::size_t server, std::string_view sni);
    void store(std::size_t server, std::string_view sni, SslSessionPtr session);
    void forget(std::size_t server);

    // After a handshake with `server` that offered a session. Returns the number of
    // connections the server is now skipped for, when this refusal started or lengthened a
    // skip (for the log), else 0.
    std::uint32_t record_offer(std::size_t server, bool resumed);

  private:
    struct Slot {
        std::string sni;
        SslSessionPtr session;
        std::uint32_t refusals = 0;  // refused offers in a row
        std::uint32_t backoff = 0;   // the length of the last skip
        std::uint32_t skip = 0;      // connections left without an offer
    };
    std::vector<Slot> slots_;
    bool reuse_;
};

// What a backend SSL carries (SSL_set_app_data) for the context's callbacks.
struct BackendSslState {
    SessionCache *cache = nullptr;
    std::size_t server = 0;
    std::string sni;          // the name sent, "" = none
    std::string verify_note;  // set when the pin check rejected the certificate
    bool offered = false;     // a cached session was offered (SSL_set_session)
};

}  // namespace sni::worker
