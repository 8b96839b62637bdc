#include "workers/record_reader.hpp"

#include <openssl/bio.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>

#include "common/filter_bio.hpp"

namespace sni::worker {

namespace {

constexpr std::size_t kRecordHeader = 5;  // type, version (2), length (2)

// Where the stream handed on so far stands within its current record.
class RecordBoundary {
  public:
    // How many of the `n` bytes at `p`, the next of the stream, belong to the current record
    // (all `n` when it goes on past them); the position moves past them.
    std::size_t through_record_end(const std::uint8_t *p, std::size_t n) {
        std::size_t i = 0;
        while (i < n) {
            if (header_seen_ < kRecordHeader) {
                const std::size_t take = std::min(kRecordHeader - header_seen_, n - i);
                std::memcpy(header_ + header_seen_, p + i, take);
                header_seen_ += take;
                i += take;
                if (header_seen_ < kRecordHeader) break;
                body_left_ = static_cast<std::size_t>(header_[3]) << 8 | header_[4];
            } else {
                const std::size_t take = std::min(body_left_, n - i);
                body_left_ -= take;
                i += take;
            }
            if (body_left_ == 0) {  // this record ends here: the next byte starts a header
                header_seen_ = 0;
                break;
            }
        }
        return i;
    }

  private:
    std::uint8_t header_[kRecordHeader]{};
    std::size_t header_seen_ = 0;  // bytes of the current record's header handed on
    std::size_t body_left_ = 0;    // bytes of its body still to hand on
};

struct Ahead {
    std::unique_ptr<std::uint8_t[]> buf;  // kReadAheadBytes while bytes are held
    std::size_t off = 0, len = 0;
    RecordBoundary boundary;
};

Ahead *ahead_of(BIO *b) {
    return filter_bio::state<Ahead>(b);
}

int ahead_read_ex(BIO *b, char *out, std::size_t len, std::size_t *read) {
    *read = 0;
    BIO_clear_retry_flags(b);
    Ahead *a = ahead_of(b);
    BIO *next = BIO_next(b);
    if (a == nullptr || next == nullptr) return 0;
    if (a->len == 0) {
        if (!a->buf && !(a->buf = filter_bio::new_buffer(kReadAheadBytes))) return 0;
        std::size_t got = 0;
        const int ret = BIO_read_ex(next, a->buf.get(), kReadAheadBytes, &got);
        if (ret <= 0 || got == 0) {
            BIO_copy_next_retry(b);
            a->buf.reset();  // nothing held: a connection waiting for data keeps no buffer
            return ret;
        }
        a->off = 0;
        a->len = got;
    }
    const std::uint8_t *from = a->buf.get() + a->off;
    const std::size_t n = a->boundary.through_record_end(from, std::min(len, a->len));
    std::memcpy(out, from, n);
    a->off += n;
    a->len -= n;
    if (a->len == 0) a->buf.reset();
    *read = n;
    return 1;
}

long ahead_ctrl(BIO *b, int cmd, long num, void *ptr) {
    const Ahead *a = ahead_of(b);
    return filter_bio::holding_reader_ctrl(b, cmd, num, ptr, a != nullptr ? a->len : 0);
}

const filter_bio::Method &ahead_method() {
    static const filter_bio::Method method("sni record reader",
                                           {.read_ex = ahead_read_ex,
                                            .write_ex = filter_bio::write_through,
                                            .ctrl = ahead_ctrl,
                                            .destroy = filter_bio::destroy<Ahead>});
    return method;
}

}  // namespace

bool read_records_ahead(SSL *ssl) {
    return filter_bio::push_new(ssl, filter_bio::Side::kRead, ahead_method(),
                                std::make_unique<Ahead>());
}

std::size_t read_ahead_bytes(BIO *rbio) {
    if (!ahead_method().made(rbio)) return 0;
    const Ahead *a = ahead_of(rbio);
    return a != nullptr ? a->len : 0;
}

}  // namespace sni::worker
