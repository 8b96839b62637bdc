// The record reader (workers/record_reader.hpp) over a memory BIO that plays the socket: what
// each read hands on (never past the end of a record), records whose header or body arrive in
// pieces, a caller's buffer smaller than a record, and the held bytes in PENDING and EOF.
#include <gtest/gtest.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <vector>

#include "workers/ossl.hpp"
#include "workers/record_reader.hpp"

namespace sni::worker {
namespace {

std::vector<std::uint8_t> record(std::uint8_t type, std::size_t body_len, std::uint8_t fill) {
    std::vector<std::uint8_t> r = {type, 0x03, 0x03, static_cast<std::uint8_t>(body_len >> 8),
                                   static_cast<std::uint8_t>(body_len & 0xff)};
    r.insert(r.end(), body_len, fill);
    return r;
}

void append(std::vector<std::uint8_t> &to, const std::vector<std::uint8_t> &from) {
    to.insert(to.end(), from.begin(), from.end());
}

// An SSL whose read BIO is the reader over `below`, a memory BIO the test feeds. The SSL is only
// the carrier read_records_ahead() pushes on; the test reads the reader directly.
class RecordReaderTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ctx_.reset(SSL_CTX_new(TLS_server_method()));
        ASSERT_TRUE(ctx_);
        ssl_.reset(SSL_new(ctx_.get()));
        ASSERT_TRUE(ssl_);
        below_ = BIO_new(BIO_s_mem());
        ASSERT_NE(below_, nullptr);
        BIO_set_mem_eof_return(below_, -1);  // empty: "retry", as a non-blocking socket
        SSL_set_bio(ssl_.get(), below_, below_);
        ASSERT_TRUE(read_records_ahead(ssl_.get()));
        reader_ = SSL_get_rbio(ssl_.get());
        ASSERT_NE(reader_, below_);
    }

    void arrive(const std::vector<std::uint8_t> &bytes) {
        ASSERT_EQ(BIO_write(below_, bytes.data(), static_cast<int>(bytes.size())),
                  static_cast<int>(bytes.size()));
    }

    // One read of at most `max` bytes; -1 when the reader had nothing and asked to retry.
    long read(std::size_t max = 1 << 20) {
        std::vector<std::uint8_t> out(max);
        std::size_t n = 0;
        if (BIO_read_ex(reader_, out.data(), max, &n) != 1)
            return BIO_should_retry(reader_) ? -1 : 0;
        got_.insert(got_.end(), out.begin(), out.begin() + static_cast<long>(n));
        return static_cast<long>(n);
    }

    SslCtxPtr ctx_;
    SslPtr ssl_;
    BIO *below_ = nullptr;   // owned by the SSL's chain
    BIO *reader_ = nullptr;  // owned by the SSL
    std::vector<std::uint8_t> got_;
};

// Four records that arrive together (one of them empty, one the largest TLS allows): each read
// hands on one of them whole, and what the reader holds is what OpenSSL has not seen yet.
TEST_F(RecordReaderTest, HandsOnOneRecordPerRead) {
    const std::vector<std::vector<std::uint8_t>> records = {
        record(23, 100, 'a'), record(23, 0, 'b'), record(23, 16384 + 256, 'c'), record(21, 2, 'd')};
    std::vector<std::uint8_t> stream;
    for (const auto &r : records) append(stream, r);
    arrive(stream);
    std::size_t left = stream.size();
    for (const auto &r : records) {
        EXPECT_EQ(read(), static_cast<long>(r.size()));
        left -= r.size();
        EXPECT_EQ(read_ahead_bytes(reader_), left);
        EXPECT_EQ(BIO_pending(reader_), static_cast<int>(left));
    }
    EXPECT_EQ(got_, stream);
    EXPECT_EQ(read(), -1) << "the socket is empty: the reader must ask to retry";
}

// A header that arrives in two pieces and a body in three: every read hands on what arrived of
// the current record and stops at its end, whatever arrived after it.
TEST_F(RecordReaderTest, RecordsThatArriveInPiecesStopAtTheirEnd) {
    const std::vector<std::uint8_t> first = record(23, 20, 'x');
    const std::vector<std::uint8_t> second = record(23, 30, 'y');
    std::vector<std::uint8_t> stream = first;
    append(stream, second);

    arrive({first.begin(), first.begin() + 2});  // half a header
    EXPECT_EQ(read(), 2);
    arrive({first.begin() + 2, first.begin() + 15});  // the rest of it and 10 of 20 body bytes
    EXPECT_EQ(read(), 13);
    EXPECT_EQ(read(), -1);
    arrive({first.begin() + 15, first.end()});  // the body's end, with the whole next record
    arrive(second);
    EXPECT_EQ(read(), 10) << "the read must end where the first record does";
    EXPECT_EQ(read(), static_cast<long>(second.size()));
    EXPECT_EQ(got_, stream);
}

// A caller who asks for less than a record gets what it asked for, and the reader still knows
// where that record ends.
TEST_F(RecordReaderTest, ReadsSmallerThanARecordKeepTheBoundary) {
    const std::vector<std::uint8_t> first = record(23, 1000, 'p');
    const std::vector<std::uint8_t> second = record(23, 10, 'q');
    std::vector<std::uint8_t> stream = first;
    append(stream, second);
    arrive(stream);
    EXPECT_EQ(read(5), 5);
    EXPECT_EQ(read(600), 600);
    EXPECT_EQ(read(), static_cast<long>(first.size() - 605));
    EXPECT_EQ(read(), static_cast<long>(second.size()));
    EXPECT_EQ(got_, stream);
}

// The end of the stream reaches OpenSSL only after the last held byte.
TEST_F(RecordReaderTest, EndOfStreamComesAfterTheHeldBytes) {
    BIO_set_mem_eof_return(below_, 0);  // empty now means the peer closed
    const std::vector<std::uint8_t> a = record(23, 50, 'e'), b = record(23, 60, 'f');
    std::vector<std::uint8_t> stream = a;
    append(stream, b);
    arrive(stream);
    EXPECT_EQ(read(), static_cast<long>(a.size()));
    EXPECT_EQ(BIO_eof(reader_), 0) << "a record is still held";
    EXPECT_EQ(read(), static_cast<long>(b.size()));
    EXPECT_EQ(read(), 0);
    EXPECT_FALSE(BIO_should_retry(reader_));
    EXPECT_NE(BIO_eof(reader_), 0);
    EXPECT_EQ(got_, stream);
}

}  // namespace
}  // namespace sni::worker
