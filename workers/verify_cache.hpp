// Backend certificate chains verified once: a small bounded cache, per BackendTls (one route's
// SSL_CTX and trust store), of chains that passed X509_verify_cert. The key is a SHA-256 over
// the DER of every certificate the peer sent plus the name checked; an entry lives until
// min(insert + kMaxAge, the earliest notAfter in the verified chain). Failures are never stored.
// The handshake signature still proves the backend holds the key; only the chain building and
// its signature checks, identical for identical bytes, store, name and time window, are skipped.
#pragma once

#include <openssl/x509.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace sni::worker {

struct X509StackDeleter {
    void operator()(STACK_OF(X509) * p) const;
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

class VerifyCache {
  public:
    static constexpr std::size_t kCapacity = 64;
    static constexpr std::time_t kMaxAge = 300;  // seconds
    using Key = std::array<unsigned char, 32>;
    using Clock = std::function<std::time_t()>;  // empty = time(nullptr)

    explicit VerifyCache(Clock clock = {}, std::size_t capacity = kCapacity);

    // The key of the chain `store` was set up with (leaf + untrusted) and `name`; nullopt when
    // a certificate could not be encoded.
    static std::optional<Key> key_of(X509_STORE_CTX *store, std::string_view name);

    // A fresh entry for `key`: its verified chain is handed to `store` (so
    // SSL_get0_verified_chain works), the store's error is X509_V_OK, and true is returned.
    // Counts a hit or a miss.
    bool apply(const Key &key, X509_STORE_CTX *store);
    // Stores the verified chain of `store` (after X509_verify_cert succeeded) under `key`.
    void insert(const Key &key, X509_STORE_CTX *store);

    std::uint64_t hits() const { return hits_; }
    std::uint64_t misses() const { return misses_; }
    std::size_t size() const { return entries_.size(); }

  private:
    struct Entry {
        Key key{};
        std::time_t not_before = 0;  // the latest notBefore of the chain
        std::time_t expires = 0;
        std::uint64_t used = 0;  // LRU stamp
        X509StackPtr chain;
    };

    std::time_t now() const;

    Clock clock_;
    std::size_t capacity_;
    std::vector<Entry> entries_;
    std::uint64_t stamp_ = 0;
    std::uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace sni::worker
