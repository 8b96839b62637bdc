// A BIO filter that first returns saved bytes and then reads from the next BIO.
//
// A worker receives a connection whose ClientHello the daemon already consumed; it pushes this
// filter over the socket BIO so OpenSSL reads the handed-over ClientHello first and then the
// rest of the stream. Writes and every ctrl (flush, kTLS enable/queries, fd access, ...) go to
// the next BIO unchanged; only PENDING, EOF and WPENDING-style queries account for the prefix.
#pragma once

#include <openssl/bio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "common/filter_bio.hpp"

namespace sni {

struct BioDeleter {
    void operator()(BIO *b) const { BIO_free_all(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

// Owns the BIO_METHOD; must outlive every BIO made from it.
class PrefixBioMethod {
  public:
    PrefixBioMethod();

    bool ok() const { return method_.method() != nullptr; }

    // A new filter holding a copy of `prefix` (not yet pushed on anything): BIO_push(filter,
    // next) it. nullptr on allocation failure.
    BioPtr make(std::span<const std::uint8_t> prefix) const;

    // Bytes of the prefix not yet read; 0 for a BIO that is not one of ours.
    std::size_t remaining(BIO *filter) const;

  private:
    filter_bio::Method method_;
};

// Convenience: prefix filter over a socket BIO for `fd` (BIO_NOCLOSE: the caller owns fd).
BioPtr make_prefixed_socket_bio(const PrefixBioMethod &method, std::span<const std::uint8_t> prefix,
                                int fd);

}  // namespace sni
