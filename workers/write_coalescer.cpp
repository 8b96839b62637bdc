#include "workers/write_coalescer.hpp"

#include <openssl/bio.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "common/filter_bio.hpp"

namespace sni::worker {

namespace {

struct Held {
    std::unique_ptr<std::uint8_t[]> buf;  // kCoalesceBytes while something may be held
    std::size_t off = 0, len = 0;
};

Held *held_of(BIO *b) {
    return filter_bio::state<Held>(b);
}

// Writes everything held to the next BIO. 1 when nothing is left; 0 when the next BIO took
// less (its retry flags copied, so the caller's BIO_should_retry tells a full socket apart).
int send_held(BIO *b, Held &h) {
    BIO *next = BIO_next(b);
    while (h.len > 0) {
        std::size_t n = 0;
        if (next == nullptr || BIO_write_ex(next, h.buf.get() + h.off, h.len, &n) <= 0 || n == 0) {
            if (next != nullptr) BIO_copy_next_retry(b);
            return 0;
        }
        h.off += n;
        h.len -= n;
    }
    h.off = 0;
    return 1;
}

int coalesce_write_ex(BIO *b, const char *in, std::size_t len, std::size_t *written) {
    *written = 0;
    BIO_clear_retry_flags(b);
    Held *h = held_of(b);
    BIO *next = BIO_next(b);
    if (h == nullptr || next == nullptr) return 0;
    if (h->len + len > kCoalesceBytes && send_held(b, *h) != 1) return 0;
    if (h->len == 0 && len >= kCoalesceBytes) {  // too big to hold: straight through
        const int ret = BIO_write_ex(next, in, len, written);
        BIO_copy_next_retry(b);
        return ret;
    }
    if (!h->buf && !(h->buf = filter_bio::new_buffer(kCoalesceBytes))) return 0;
    if (h->off + h->len + len > kCoalesceBytes) {  // a partial send left a gap at the front
        std::memmove(h->buf.get(), h->buf.get() + h->off, h->len);
        h->off = 0;
    }
    std::memcpy(h->buf.get() + h->off + h->len, in, len);
    h->len += len;
    *written = len;
    return 1;
}

long coalesce_ctrl(BIO *b, int cmd, long num, void *ptr) {
    Held *h = held_of(b);
    BIO *next = BIO_next(b);
    switch (cmd) {
        case BIO_CTRL_FLUSH:
            BIO_clear_retry_flags(b);
            if (h != nullptr && h->len > 0 && send_held(b, *h) != 1) return 0;
            if (h != nullptr) h->buf.reset();  // empty: an idle connection holds no buffer
            break;
        case BIO_CTRL_WPENDING: {
            const long below = next != nullptr ? BIO_ctrl(next, cmd, num, ptr) : 0;
            return static_cast<long>(h != nullptr ? h->len : 0) + (below > 0 ? below : 0);
        }
        case BIO_CTRL_DUP:
            return 0;  // not supported: the held bytes belong to one connection
        default:
            break;
    }
    return filter_bio::ctrl_below(b, cmd, num, ptr);
}

const filter_bio::Method &coalesce_method() {
    static const filter_bio::Method method("sni write coalescer",
                                           {.write_ex = coalesce_write_ex,
                                            .ctrl = coalesce_ctrl,
                                            .destroy = filter_bio::destroy<Held>});
    return method;
}

}  // namespace

bool coalesce_writes(SSL *ssl) {
    return filter_bio::push_new(ssl, filter_bio::Side::kWrite, coalesce_method(),
                                std::make_unique<Held>());
}

std::size_t coalesced_bytes(BIO *wbio) {
    if (!coalesce_method().made(wbio)) return 0;
    const Held *h = held_of(wbio);
    return h != nullptr ? h->len : 0;
}

}  // namespace sni::worker
