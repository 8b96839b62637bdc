// libFuzzer target over the host build of the shared ClientHello parser.
//
// Besides ASan/UBSan it checks that the parser
//  - never asks its source for bytes past the input (CH_ON_OUT_OF_BOUNDS aborts),
//  - runs a number of loop iterations linear in the input size (no unbounded loop),
//  - leaves its duplicate-extension bitmap clear,
//  - answers consistently: a complete ClientHello is NEED_MORE one byte short, and the same
//    with bytes appended after its records.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#define CH_ON_OUT_OF_BOUNDS() abort()
extern "C" {
#include "clienthello.h"
}

namespace {

struct Parser {
    std::unique_ptr<ch_state> st = std::make_unique<ch_state>();
    ch_info out{};

    const ch_info &parse(const uint8_t *data, size_t len, uint32_t cap) {
        // An exact-size heap copy, so ASan sees any read past the end.
        std::unique_ptr<uint8_t[]> copy(new uint8_t[len ? len : 1]);
        if (len) memcpy(copy.get(), data, len);
        const ch_mem_src src{copy.get(), static_cast<__u32>(len)};
        ch_ctx ctx{&src, st.get(), &out};
        st->iterations = 0;
        ch_parse(&ctx, 0, static_cast<__u32>(len), cap);
        if (st->iterations > 2 * len + 1024) abort();  // loops are linear in the input
        static const uint8_t zeros[CH_EXT_BITMAP_BYTES] = {};
        if (memcmp(st->ext_seen, zeros, sizeof(zeros)) != 0) abort();
        return out;
    }
};

void check_facts(const ch_info &r, size_t len) {
    switch (r.status) {
        case CH_OK:
            if (r.record_bytes == 0 || r.record_bytes > len) abort();
            if (r.hello_len + 5 > r.record_bytes) abort();
            if ((r.flags & CH_F_SNI) && (r.sni_len == 0 || r.sni_len > CH_SNI_MAX)) abort();
            if (r.sni[r.sni_len] != '\0') abort();
            for (unsigned i = 0; i < r.sni_len; i++) {
                const char c = r.sni[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                      c == '.'))
                    abort();
            }
            if (r.alpn_len > r.alpn_total || r.alpn_len > CH_ALPN_BUF) abort();
            if (r.n_versions > CH_MAX_VERSIONS) abort();
            if (r.reason != CH_R_NONE) abort();
            break;
        case CH_NEED_MORE:
            if (r.need <= len) abort();
            break;
        case CH_NOT_TLS:
        case CH_MALFORMED:
            if (r.reason == CH_R_NONE || r.reason >= CH_R__COUNT) abort();
            break;
        case CH_TOO_BIG:
            break;
        default:
            abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static Parser p;  // scratch reused across inputs, as in the daemon
    if (size > CH_MAX_CAP + 1024) return 0;
    for (uint32_t cap : {CH_DEFAULT_CAP, CH_MAX_CAP}) {
        const ch_info r = p.parse(data, size, cap);
        check_facts(r, size);
        if (r.status != CH_OK) continue;
        // One byte short of the records: must wait for more, never claim a result.
        const ch_info shorter = p.parse(data, r.record_bytes - 1, cap);
        if (shorter.status != CH_NEED_MORE && shorter.status != CH_MALFORMED) abort();
        // Bytes after the records change nothing.
        std::vector<uint8_t> longer(data, data + r.record_bytes);
        longer.push_back(0x17);
        const ch_info again = p.parse(longer.data(), longer.size(), cap);
        if (memcmp(&again, &r, sizeof(r)) != 0) abort();
    }
    return 0;
}
