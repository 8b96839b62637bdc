// ClientHello bytes for the raw-socket tests: synthesized, or captured ones re-framed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sni::itest {

using Bytes = std::vector<std::uint8_t>;

struct HelloSpec {
    std::optional<std::string> sni;    // nullopt: no server_name extension
    std::size_t key_share_bytes = 32;  // size of the one key_share entry's key
    bool sni_after_key_share = false;  // put server_name after the (big) key_share
    std::size_t padding = 0;           // a padding extension (21) of this many bytes
    std::size_t max_record = 16384;    // records are split at this size
};

// A TLS 1.3 style ClientHello, in records of at most max_record bytes of payload.
Bytes build_client_hello(const HelloSpec &spec);

// The handshake bytes carried by a stream of handshake records (record headers removed).
Bytes handshake_payload(const Bytes &records);

// Re-frames handshake bytes into records of `record_size` bytes each (last may be shorter),
// keeping `record_version`.
Bytes reframe(const Bytes &records, std::size_t record_size);

// Random bytes, reproducible per seed.
Bytes random_payload(std::size_t n, std::uint32_t seed);

}  // namespace sni::itest
