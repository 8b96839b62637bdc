#include "workers/verify_cache.hpp"

#include <openssl/asn1.h>
#include <openssl/evp.h>

#include <algorithm>
#include <optional>

namespace sni::worker {

namespace {

struct MdCtxDeleter {
    void operator()(EVP_MD_CTX *p) const { EVP_MD_CTX_free(p); }
};

bool hash_der(EVP_MD_CTX *md, X509 *cert) {
    const int len = i2d_X509(cert, nullptr);
    if (len <= 0) return false;
    std::vector<unsigned char> der(static_cast<std::size_t>(len));
    unsigned char *p = der.data();
    if (i2d_X509(cert, &p) != len) return false;
    const auto len32 = static_cast<std::uint32_t>(len);
    return EVP_DigestUpdate(md, &len32, sizeof len32) == 1 &&
           EVP_DigestUpdate(md, der.data(), der.size()) == 1;
}

std::optional<std::time_t> to_time(const ASN1_TIME *t) {
    std::tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
    return ::timegm(&tm);
}

}  // namespace

void X509StackDeleter::operator()(STACK_OF(X509) * p) const {
    sk_X509_pop_free(p, X509_free);
}

VerifyCache::VerifyCache(Clock clock, std::size_t capacity)
    : clock_(std::move(clock)), capacity_(std::max<std::size_t>(capacity, 1)) {
    entries_.reserve(capacity_);
}

std::time_t VerifyCache::now() const {
    return clock_ ? clock_() : std::time(nullptr);
}

std::optional<VerifyCache::Key> VerifyCache::key_of(X509_STORE_CTX *store, std::string_view name) {
    std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> md(EVP_MD_CTX_new());
    if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1) return std::nullopt;
    X509 *leaf = X509_STORE_CTX_get0_cert(store);
    if (leaf == nullptr) return std::nullopt;
    // OpenSSL passes the whole peer chain, leaf first, as the untrusted certificates: the leaf
    // is hashed on its own only when it is not that first one.
    STACK_OF(X509) *sent = X509_STORE_CTX_get0_untrusted(store);
    const int n = sent == nullptr ? 0 : sk_X509_num(sent);
    if ((n == 0 || sk_X509_value(sent, 0) != leaf) && !hash_der(md.get(), leaf))
        return std::nullopt;
    const auto count = static_cast<std::uint32_t>(n);
    if (EVP_DigestUpdate(md.get(), &count, sizeof count) != 1) return std::nullopt;
    for (int i = 0; i < n; ++i)
        if (!hash_der(md.get(), sk_X509_value(sent, i))) return std::nullopt;
    if (EVP_DigestUpdate(md.get(), name.data(), name.size()) != 1) return std::nullopt;
    Key key{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(md.get(), key.data(), &len) != 1 || len != key.size())
        return std::nullopt;
    return key;
}

bool VerifyCache::apply(const Key &key, X509_STORE_CTX *store) {
    const std::time_t t = now();
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const Entry &e) { return e.key == key; });
    if (it == entries_.end() || t >= it->expires || t < it->not_before) {
        if (it != entries_.end()) entries_.erase(it);
        ++misses_;
        return false;
    }
    STACK_OF(X509) *chain = X509_chain_up_ref(it->chain.get());
    if (chain == nullptr) {
        ++misses_;
        return false;
    }
    X509_STORE_CTX_set0_verified_chain(store, chain);
    X509_STORE_CTX_set_error(store, X509_V_OK);
    it->used = ++stamp_;
    ++hits_;
    return true;
}

void VerifyCache::insert(const Key &key, X509_STORE_CTX *store) {
    STACK_OF(X509) *verified = X509_STORE_CTX_get0_chain(store);
    if (verified == nullptr || sk_X509_num(verified) == 0) return;
    const std::time_t t = now();
    Entry e;
    e.key = key;
    e.expires = t + kMaxAge;
    for (int i = 0; i < sk_X509_num(verified); ++i) {
        X509 *cert = sk_X509_value(verified, i);
        const auto not_after = to_time(X509_get0_notAfter(cert));
        const auto not_before = to_time(X509_get0_notBefore(cert));
        if (!not_after || !not_before) return;
        e.expires = std::min(e.expires, *not_after);
        e.not_before = std::max(e.not_before, *not_before);
    }
    if (e.expires <= t) return;
    e.chain.reset(X509_chain_up_ref(verified));
    if (!e.chain) return;
    e.used = ++stamp_;
    auto same = std::find_if(entries_.begin(), entries_.end(),
                             [&](const Entry &x) { return x.key == key; });
    if (same != entries_.end()) {
        *same = std::move(e);
        return;
    }
    if (entries_.size() >= capacity_) {
        // Out goes an expired entry, else the least recently used.
        auto victim =
            std::min_element(entries_.begin(), entries_.end(), [&](const Entry &a, const Entry &b) {
                const bool ax = a.expires <= t, bx = b.expires <= t;
                if (ax != bx) return ax;
                return a.used < b.used;
            });
        *victim = std::move(e);
        return;
    }
    entries_.push_back(std::move(e));
}

}  // namespace sni::worker
