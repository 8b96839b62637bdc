#include "common/ticket_keys.hpp"

#include <sys/random.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sni::tickets {

namespace {

bool fill_random(std::uint8_t *p, std::size_t n) {
    while (n > 0) {
        const ssize_t r = ::getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

}  // namespace

config::Result<Key, std::string> generate_key() {
    Key k;
    if (!fill_random(k.name.data(), k.name.size()) || !fill_random(k.aes.data(), k.aes.size()) ||
        !fill_random(k.hmac.data(), k.hmac.size()))
        return config::unexpected(std::string("getrandom: ") + std::strerror(errno));
    return k;
}

std::vector<std::uint8_t> encode(std::span<const Key> keys) {
    WireHeader h{kMagic, kVersion, static_cast<std::uint16_t>(keys.size())};
    std::vector<std::uint8_t> out(sizeof h + keys.size() * sizeof(Key));
    std::memcpy(out.data(), &h, sizeof h);
    if (!keys.empty()) std::memcpy(out.data() + sizeof h, keys.data(), keys.size() * sizeof(Key));
    return out;
}

config::Result<std::vector<Key>, std::string> decode(std::span<const std::uint8_t> d) {
    if (d.size() < sizeof(WireHeader))
        return config::unexpected(std::string("ticket key message shorter than its header"));
    WireHeader h;
    std::memcpy(&h, d.data(), sizeof h);
    if (h.magic != kMagic) return config::unexpected(std::string("not a ticket key message"));
    if (h.version != kVersion)
        return config::unexpected("unsupported ticket key message version " +
                                  std::to_string(h.version));
    if (h.count == 0 || h.count > kMaxKeys)
        return config::unexpected("bad ticket key count " + std::to_string(h.count));
    if (d.size() != sizeof h + h.count * sizeof(Key))
        return config::unexpected(std::string("ticket key message size does not match its count"));
    std::vector<Key> keys(h.count);
    std::memcpy(keys.data(), d.data() + sizeof h, h.count * sizeof(Key));
    return keys;
}

SendStatus send_keys(int channel, std::span<const Key> keys) {
    const std::vector<std::uint8_t> d = encode(keys);
    for (;;) {
        const ssize_t n = ::send(channel, d.data(), d.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0)
            return static_cast<std::size_t>(n) == d.size() ? SendStatus::kSent : SendStatus::kError;
        switch (errno) {
            case EINTR:
                continue;
            case EAGAIN:
                return SendStatus::kWouldBlock;
            case EPIPE:
            case ECONNRESET:
            case ECONNREFUSED:
            case ENOTCONN:
                return SendStatus::kPeerGone;
            default:
                return SendStatus::kError;
        }
    }
}

config::Result<KeyRing, std::string> KeyRing::create(Clock::duration interval,
                                                     Clock::time_point now) {
    KeyRing ring(interval);
    auto r = ring.rotate(now);
    if (!r) return config::unexpected(r.error());
    return ring;
}

config::Result<bool, std::string> KeyRing::rotate(Clock::time_point now) {
    next_ = now + interval_;  // also after a failure: the keys in use stay, no busy retry
    auto key = generate_key();
    if (!key) return config::unexpected(key.error());
    keys_.insert(keys_.begin(), key.value());
    if (keys_.size() > 2) keys_.resize(2);
    return true;
}

}  // namespace sni::tickets
