// Host build of the shared ClientHello parser (bpf/clienthello.h), wrapped for C++.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

extern "C" {
#include "clienthello_types.h"
}

namespace sni {

// Parses the bytes at the start of a TCP stream. One parser per thread: it owns ~140 KiB of
// scratch memory (the reassembly buffer), allocated once.
class ClientHelloParser {
  public:
    explicit ClientHelloParser(uint32_t cap = CH_DEFAULT_CAP);
    ~ClientHelloParser();
    ClientHelloParser(const ClientHelloParser &) = delete;
    ClientHelloParser &operator=(const ClientHelloParser &) = delete;

    // Parses `stream`; the result stays valid until the next call.
    const ch_info &parse(std::span<const uint8_t> stream);

    uint32_t cap() const { return cap_; }

  private:
    uint32_t cap_;
    std::unique_ptr<ch_state> state_;
    ch_info info_{};
};

// Stable lower-case names, for logs, metrics and tests ("ok", "need_more", "sni_charset"...).
std::string_view status_name(uint32_t status);
std::string_view reason_name(uint32_t reason);

// Convenience views of a result.
std::string_view sni_of(const ch_info &info);                  // "" when there is no SNI
std::vector<std::string> alpn_protocols(const ch_info &info);  // from the stored prefix
std::vector<uint16_t> supported_versions(const ch_info &info);

}  // namespace sni
