// Host build of the shared ClientHello parser.
#include "common/clienthello.hpp"

#include <array>

extern "C" {
#include "clienthello.h"
}

namespace sni {

ClientHelloParser::ClientHelloParser(uint32_t cap)
    : cap_(cap == 0 || cap > CH_MAX_CAP ? CH_MAX_CAP : cap), state_(std::make_unique<ch_state>()) {
    // make_unique value-initializes: the duplicate-extension bitmap starts clear.
}

ClientHelloParser::~ClientHelloParser() = default;

const ch_info &ClientHelloParser::parse(std::span<const uint8_t> stream) {
    const ch_mem_src src{stream.data(), static_cast<__u32>(stream.size())};
    ch_ctx ctx{&src, state_.get(), &info_};
    const auto avail = stream.size() > 0xffffffffu ? 0xffffffffu : stream.size();
    ch_parse(&ctx, 0, static_cast<__u32>(avail), cap_);
    return info_;
}

std::string_view status_name(uint32_t status) {
    static constexpr std::array<std::string_view, 5> kNames = {"ok", "need_more", "not_tls",
                                                               "malformed", "too_big"};
    return status < kNames.size() ? kNames[status] : "unknown";
}

std::string_view reason_name(uint32_t reason) {
    static constexpr std::array<std::string_view, CH_R__COUNT> kNames = {
        "none",
        "record_version",
        "record_type",
        "record_empty",
        "record_too_long",
        "not_client_hello",
        "trailing_data",
        "short_hello",
        "session_id",
        "cipher_suites",
        "compression",
        "extensions_length",
        "extension_length",
        "duplicate_extension",
        "psk_not_last",
        "sni_list",
        "sni_empty",
        "sni_too_long",
        "sni_charset",
        "sni_label",
        "sni_duplicate",
        "alpn",
        "supported_versions",
        "ech",
    };
    return reason < kNames.size() ? kNames[reason] : "unknown";
}

std::string_view sni_of(const ch_info &info) {
    if (!(info.flags & CH_F_SNI)) return {};
    return {info.sni, info.sni_len};
}

std::vector<std::string> alpn_protocols(const ch_info &info) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < info.alpn_len) {
        const size_t len = info.alpn[pos];
        if (len == 0 || pos + 1 + len > info.alpn_len) break;  // cut by the stored prefix
        out.emplace_back(reinterpret_cast<const char *>(info.alpn + pos + 1), len);
        pos += 1 + len;
    }
    return out;
}

std::vector<uint16_t> supported_versions(const ch_info &info) {
    return {info.versions, info.versions + info.n_versions};
}

}  // namespace sni
