// Session-ticket keys shared by every worker process of a pool, sent by sni-splitterd over the
// same SOCK_SEQPACKET channel as the handoffs (common/handoff.hpp), as a datagram of its own:
//
//   [WireHeader: magic kMagic, version, count][count x Key]   (host byte order, no fd)
//
// The first key encrypts new tickets; every key decrypts. The daemon's KeyRing makes a new
// key every `interval` and keeps the one before it, so a ticket stays usable for at least one
// interval and at most two. A receiver takes each datagram of the channel with
// handoff::recv_datagram, dispatches on its first u32 (conn_report::magic_of) and decodes this
// kind with decode.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/config_result.hpp"

namespace sni::tickets {

// "SNIT" in memory on little-endian, like the handoff's "SNIH" (0x48494e53).
inline constexpr std::uint32_t kMagic = 0x54494e53;
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::size_t kMaxKeys = 4;

// One key: the name goes in clear into each ticket (it selects the key on decryption), then
// AES-256-CBC and HMAC-SHA256 keys (RFC 5077's recommended construction, as OpenSSL's own).
struct Key {
    std::array<std::uint8_t, 16> name{};
    std::array<std::uint8_t, 32> aes{};
    std::array<std::uint8_t, 32> hmac{};

    bool operator==(const Key &) const = default;
};

struct WireHeader {
    std::uint32_t magic;
    std::uint16_t version;
    std::uint16_t count;
};
static_assert(sizeof(WireHeader) == 8);
static_assert(sizeof(Key) == 80);

// A random key from the kernel's CSPRNG (getrandom). An error only when that fails.
config::Result<Key, std::string> generate_key();

// The datagram for `keys` (1..kMaxKeys of them, current first).
std::vector<std::uint8_t> encode(std::span<const Key> keys);
config::Result<std::vector<Key>, std::string> decode(std::span<const std::uint8_t> datagram);

enum class SendStatus : std::uint8_t { kSent, kWouldBlock, kPeerGone, kError };
// Never blocks, never raises SIGPIPE.
SendStatus send_keys(int channel, std::span<const Key> keys);

// The daemon's side: the keys of one pool and their rotation. Time is passed in, so tests can
// rotate at will.
class KeyRing {
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr Clock::duration kDefaultInterval = std::chrono::hours(1);

    // Makes the first key, due for rotation at now + interval.
    static config::Result<KeyRing, std::string> create(Clock::duration interval,
                                                       Clock::time_point now);

    // The current key first, then the previous one (if any).
    std::span<const Key> keys() const { return keys_; }
    Clock::time_point next_rotation() const { return next_; }
    Clock::duration interval() const { return interval_; }
    // A new current key; the old current one is kept for decryption, older ones dropped.
    config::Result<bool, std::string> rotate(Clock::time_point now);

  private:
    KeyRing(Clock::duration interval) : interval_(interval) {}
    Clock::duration interval_;
    Clock::time_point next_{};
    std::vector<Key> keys_;
};

}  // namespace sni::tickets
