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

constexpr std::size_t kMaxDatagram = sizeof(WireHeader) + kMaxKeys * sizeof(Key);

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

std::optional<std::uint32_t> peek_magic(int channel) {
    std::uint32_t magic = 0;
    // No control buffer: a peek installs no fd (the kernel reports MSG_CTRUNC instead).
    ssize_t n;
    do {
        n = ::recv(channel, &magic, sizeof magic, MSG_PEEK | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof magic)) return std::nullopt;
    return magic;
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

config::Result<std::vector<Key>, std::string> recv_keys(int channel) {
    std::vector<std::uint8_t> buf(kMaxDatagram);
    // No control buffer: an fd wrongly attached to this datagram is dropped by the kernel.
    // MSG_TRUNC: the datagram's real length, to see one that did not fit.
    ssize_t n;
    do {
        n = ::recv(channel, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return config::unexpected(std::string("recv: ") + std::strerror(errno));
    if (static_cast<std::size_t>(n) > buf.size())
        return config::unexpected("ticket key message of " + std::to_string(n) +
                                  " bytes is too long");
    return decode({buf.data(), static_cast<std::size_t>(n)});
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
