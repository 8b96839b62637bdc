#include "workers/session_cache.hpp"

namespace sni::worker {

SSL_SESSION *SessionCache::find(std::size_t server, std::string_view sni) const {
    if (server >= slots_.size()) return nullptr;
    const Slot &slot = slots_[server];
    if (!slot.session || slot.sni != sni) return nullptr;
    if (SSL_SESSION_is_resumable(slot.session.get()) != 1) return nullptr;
    return slot.session.get();
}

void SessionCache::store(std::size_t server, std::string_view sni, SslSessionPtr session) {
    if (server >= slots_.size()) return;
    slots_[server].sni.assign(sni);
    slots_[server].session = std::move(session);
}

void SessionCache::forget(std::size_t server) {
    if (server >= slots_.size()) return;
    slots_[server].session.reset();
}

}  // namespace sni::worker
