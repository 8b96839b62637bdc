#include "common/prefix_bio.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "common/filter_bio.hpp"

namespace sni {

namespace {

struct PrefixState {
    std::vector<std::uint8_t> bytes;
    std::size_t off = 0;

    std::size_t remaining() const { return bytes.size() - off; }
};

PrefixState *state_of(BIO *b) {
    return filter_bio::state<PrefixState>(b);
}

int prefix_read_ex(BIO *b, char *out, size_t len, size_t *read) {
    *read = 0;
    BIO_clear_retry_flags(b);
    PrefixState *s = state_of(b);
    if (s != nullptr && s->remaining() > 0) {
        const std::size_t n = std::min(len, s->remaining());
        std::memcpy(out, s->bytes.data() + s->off, n);
        s->off += n;
        *read = n;
        if (s->remaining() == 0) {
            s->bytes.clear();
            s->bytes.shrink_to_fit();
            s->off = 0;
        }
        return 1;
    }
    BIO *next = BIO_next(b);
    if (next == nullptr) return 0;
    const int ret = BIO_read_ex(next, out, len, read);
    BIO_copy_next_retry(b);
    return ret;
}

long prefix_ctrl(BIO *b, int cmd, long num, void *ptr) {
    const PrefixState *s = state_of(b);
    return filter_bio::holding_reader_ctrl(b, cmd, num, ptr, s != nullptr ? s->remaining() : 0);
}

int prefix_gets(BIO *b, char *buf, int size) {
    // Line reads are not used on TLS streams; read byte by byte through read_ex.
    if (size <= 0) return 0;
    int i = 0;
    while (i < size - 1) {
        size_t got = 0;
        if (prefix_read_ex(b, buf + i, 1, &got) <= 0 || got == 0) break;
        if (buf[i++] == '\n') break;
    }
    buf[i] = '\0';
    return i;
}

}  // namespace

PrefixBioMethod::PrefixBioMethod()
    : method_("sni prefix filter", {.read_ex = prefix_read_ex,
                                    .write_ex = filter_bio::write_through,
                                    .ctrl = prefix_ctrl,
                                    .gets = prefix_gets,
                                    .destroy = filter_bio::destroy<PrefixState>}) {}

BioPtr PrefixBioMethod::make(std::span<const std::uint8_t> prefix) const {
    if (method_.method() == nullptr) return nullptr;
    BioPtr b(BIO_new(method_.method()));
    if (!b) return nullptr;
    auto s = std::make_unique<PrefixState>();
    s->bytes.assign(prefix.begin(), prefix.end());
    BIO_set_data(b.get(), s.release());  // freed by filter_bio::destroy
    return b;
}

BioPtr make_prefixed_socket_bio(const PrefixBioMethod &method, std::span<const std::uint8_t> prefix,
                                int fd) {
    BioPtr filter = method.make(prefix);
    if (!filter) return nullptr;
    BIO *sock = BIO_new_socket(fd, BIO_NOCLOSE);
    if (sock == nullptr) return nullptr;
    BIO_push(filter.get(), sock);  // the filter now owns sock (BIO_free_all frees the chain)
    return filter;
}

std::size_t PrefixBioMethod::remaining(BIO *filter) const {
    if (!method_.made(filter)) return 0;
    const PrefixState *s = state_of(filter);
    return s != nullptr ? s->remaining() : 0;
}

}  // namespace sni
