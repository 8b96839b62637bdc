#include "workers/session_cache.hpp"

#include <algorithm>

namespace sni::worker {

SSL_SESSION *SessionCache::offer(std::size_t server, std::string_view sni) {
    if (!reuse_ || server >= slots_.size()) return nullptr;
    Slot &slot = slots_[server];
    if (slot.skip > 0) {
        --slot.skip;
        return nullptr;
    }
    if (!slot.session || slot.sni != sni) return nullptr;
    if (SSL_SESSION_is_resumable(slot.session.get()) != 1) return nullptr;
    return slot.session.get();
}

void SessionCache::store(std::size_t server, std::string_view sni, SslSessionPtr session) {
    if (!reuse_ || server >= slots_.size()) return;
    slots_[server].sni.assign(sni);
    slots_[server].session = std::move(session);
}

void SessionCache::forget(std::size_t server) {
    if (server >= slots_.size()) return;
    slots_[server].session.reset();
}

std::uint32_t SessionCache::record_offer(std::size_t server, bool resumed) {
    if (server >= slots_.size()) return 0;
    Slot &slot = slots_[server];
    if (resumed) {
        slot.refusals = slot.backoff = slot.skip = 0;
        return 0;
    }
    if (++slot.refusals < kRefusalsBeforeBackoff) return 0;
    slot.backoff = slot.backoff == 0 ? kFirstBackoff : std::min(slot.backoff * 2, kMaxBackoff);
    slot.skip = slot.backoff;
    return slot.skip;
}

}  // namespace sni::worker
