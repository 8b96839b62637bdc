// The userspace classifier: peeks at an accepted socket's first bytes (recv MSG_PEEK, up to
// the listener's max_client_hello) and runs the shared ClientHello parser on them. Nothing is
// consumed here; the caller reads exactly record_bytes once it has decided.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/clienthello.hpp"
#include "common/config_types.hpp"

namespace sni::loader {

class UserspaceClassifier {
  public:
    explicit UserspaceClassifier(const config::Config &config);

    enum class Status : std::uint8_t {
        kNeedMore,    // incomplete: wait for more data (need = stream bytes wanted, 0 = unknown)
        kFinal,       // facts is a final parse (OK, NOT_TLS, MALFORMED or TOO_BIG)
        kPeerClosed,  // the peer closed (or half-closed) before the ClientHello was complete
        kError,       // recv failed (err)
    };
    struct Result {
        Status status = Status::kNeedMore;
        const ch_info *facts = nullptr;  // kFinal; valid until the next peek()
        std::uint32_t need = 0;          // kNeedMore
        int err = 0;                     // kError
    };

    // `peer_hung_up`: the event loop saw EPOLLRDHUP/EPOLLHUP: no more bytes will come.
    Result peek(int fd, std::uint32_t listener_id, bool peer_hung_up);

    std::uint32_t cap(std::uint32_t listener_id) const { return parsers_[listener_id]->cap(); }

    // Parses bytes already read from the stream (the BPF path's deferred ClientHellos).
    // The result is valid until the next call.
    const ch_info &parse(std::uint32_t listener_id, std::span<const std::uint8_t> stream) {
        return parsers_[listener_id]->parse(stream);
    }

  private:
    std::vector<std::uint8_t> buffer_;
    std::vector<std::unique_ptr<ClientHelloParser>> parsers_;  // one per listener (its cap)
};

}  // namespace sni::loader
