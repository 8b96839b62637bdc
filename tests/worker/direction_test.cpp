// One relay Direction between two TLS legs, in this process over socketpairs, with the test's
// own OpenSSL peers on the far ends: the syscalls a message costs (read/write counts of this
// thread from /proc/thread-self/io), coalesced writes, and partial writes to a slow reader.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/temp_files.hpp"
#include "tests/worker/pki.hpp"
#include "tests/worker/stream.hpp"
#include "workers/direction.hpp"
#include "workers/leg.hpp"
#include "workers/relay_tls.hpp"
#include "workers/write_coalescer.hpp"

namespace sni::wtest {
namespace {

using worker::Direction;
using worker::Leg;

constexpr std::size_t kBudget = 256 * 1024;  // as workers/connection.hpp

struct IoCounts {
    long reads = 0, writes = 0;
};

// read()/write()-family syscalls of this thread so far (socket BIOs use read() and write()).
// Raw syscalls: a sanitizer's interceptors around a stream or libc read may make syscalls of
// their own (ASan checks memory by writing to a pipe), which would be counted.
IoCounts io_counts() {
    IoCounts c;
    char buf[512];
    const long fd = ::syscall(SYS_openat, AT_FDCWD, "/proc/thread-self/io", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return c;
    const long n = ::syscall(SYS_read, fd, buf, sizeof buf - 1);
    ::syscall(SYS_close, fd);
    if (n <= 0) return c;
    buf[n] = '\0';
    const std::string_view text(buf, static_cast<std::size_t>(n));
    const auto value = [&](std::string_view key) {
        const auto at = text.find(key);
        return at == std::string_view::npos ? -1L : std::strtol(buf + at + key.size(), nullptr, 10);
    };
    c.reads = value("syscr: ");
    c.writes = value("syscw: ");
    return c;
}

// One TLS connection over a socketpair: `leg` (the relay's end, non-blocking, relay modes and
// read-ahead as the worker sets them) and `peer` (the test's end, non-blocking).
struct TlsPair {
    Leg leg;
    UniqueFd peer_fd;
    SslObj peer;
    explicit TlsPair(const char *name) : leg(name) {}
};

class DirectionTest : public ::testing::Test {
  protected:
    void SetUp() override {
        Pki pki(dir_.path());
        const CertFiles ca = pki.make_ca("ca", "direction test CA");
        const CertFiles leaf = pki.make_leaf("leaf", {"relay.test"}, ca);
        server_ctx_.reset(SSL_CTX_new(TLS_server_method()));
        ASSERT_EQ(SSL_CTX_use_certificate_chain_file(server_ctx_.get(), leaf.cert.c_str()), 1);
        ASSERT_EQ(
            SSL_CTX_use_PrivateKey_file(server_ctx_.get(), leaf.key.c_str(), SSL_FILETYPE_PEM), 1);
        client_ctx_.reset(SSL_CTX_new(TLS_client_method()));
        for (SSL_CTX *ctx : {server_ctx_.get(), client_ctx_.get()}) {
            SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
            SSL_CTX_set_num_tickets(ctx, 0);
            worker::set_relay_modes(ctx, false);  // a socketpair: no kTLS
        }
    }

    // `leg_is_server`: which end of the handshake the relay's leg plays.
    void connect(TlsPair &p, bool leg_is_server) {
        int sv[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        UniqueFd leg_fd(sv[0]);
        p.peer_fd.reset(sv[1]);
        worker::SslPtr leg_ssl(SSL_new(leg_is_server ? server_ctx_.get() : client_ctx_.get()));
        p.peer.reset(SSL_new(leg_is_server ? client_ctx_.get() : server_ctx_.get()));
        ASSERT_EQ(SSL_set_fd(leg_ssl.get(), leg_fd.get()), 1);
        ASSERT_EQ(SSL_set_fd(p.peer.get(), p.peer_fd.get()), 1);
        (leg_is_server ? SSL_set_accept_state : SSL_set_connect_state)(leg_ssl.get());
        (leg_is_server ? SSL_set_connect_state : SSL_set_accept_state)(p.peer.get());
        bool leg_done = false, peer_done = false;
        for (int i = 0; i < 100 && !(leg_done && peer_done); ++i) {
            if (!leg_done) leg_done = SSL_do_handshake(leg_ssl.get()) == 1;
            if (!peer_done) peer_done = SSL_do_handshake(p.peer.get()) == 1;
        }
        ASSERT_TRUE(leg_done && peer_done) << "handshake did not finish";
        worker::read_ahead_unless_ktls_rx(leg_ssl.get(), false);
        p.leg.set_fd(std::move(leg_fd));
        p.leg.set_ssl(std::move(leg_ssl));
    }

    // The relay's two legs as the worker sets them up: `src` (the client's, the leg plays the
    // TLS server) reads records ahead and tracks when a read empties it, `dst` (the backend's)
    // coalesces its writes.
    void connect_both() {
        connect(src, true);
        connect(dst, false);
        src.leg.read_records_ahead();
        src.leg.track_drain();
        dst.leg.coalesce_writes();
    }

    // Writes all of `data` from a peer as records of at most 16 KiB (the socket has room).
    static void peer_send(TlsPair &p, const std::vector<std::uint8_t> &data) {
        std::size_t off = 0;
        while (off < data.size()) {
            std::size_t n = 0;
            ASSERT_EQ(SSL_write_ex(p.peer.get(), data.data() + off, data.size() - off, &n), 1);
            off += n;
        }
    }

    // Reads from a peer what has arrived (up to `max`); appends to `out`. False on EOF/error.
    static bool peer_receive(TlsPair &p, std::vector<std::uint8_t> &out, std::size_t max) {
        std::uint8_t buf[16384];
        std::size_t got_total = 0;
        while (got_total < max) {
            std::size_t n = 0;
            const std::size_t want = std::min(sizeof buf, max - got_total);
            if (SSL_read_ex(p.peer.get(), buf, want, &n) != 1)
                return SSL_get_error(p.peer.get(), 0) == SSL_ERROR_WANT_READ;
            out.insert(out.end(), buf, buf + n);
            got_total += n;
        }
        return true;
    }

    testsupport::TempDir dir_{"sni-direction-"};
    CtxPtr server_ctx_, client_ctx_;
    TlsPair src{"client"}, dst{"backend"};
};

// A small request: one read brings it (the socket is then empty and OpenSSL holds nothing), one
// write sends it on; the direction waits for the source to be readable without reading it again
// into EAGAIN, and readiness on the destination alone does not concern it.
TEST_F(DirectionTest, SmallMessageCostsOneReadAndOneWrite) {
    connect_both();
    Direction d(src.leg, dst.leg);
    const std::vector<std::uint8_t> request(100, 'r');
    for (int round = 0; round < 3; ++round) {
        peer_send(src, request);
        const IoCounts before = io_counts();
        EXPECT_EQ(d.pump(kBudget), request.size());
        const IoCounts after = io_counts();
        const IoCounts base = io_counts();  // what reading the counters itself costs
        const long own_reads = base.reads - after.reads;
        EXPECT_EQ(after.reads - before.reads - own_reads, 1) << "round " << round;
        EXPECT_EQ(after.writes - before.writes, 1) << "round " << round;
        EXPECT_EQ(d.events_for(src.leg), static_cast<std::uint32_t>(EPOLLIN));
        EXPECT_EQ(d.events_for(dst.leg), 0u);
        EXPECT_TRUE(d.woken_by(src.leg, EPOLLIN));
        EXPECT_FALSE(d.woken_by(dst.leg, EPOLLIN));
        EXPECT_FALSE(d.woken_by(dst.leg, EPOLLOUT));
        EXPECT_TRUE(d.woken_by(dst.leg, EPOLLHUP));
        std::vector<std::uint8_t> got;
        ASSERT_TRUE(peer_receive(dst, got, request.size()));
        EXPECT_EQ(got, request);
    }
    // Nothing came: a pump reads once (EAGAIN) and writes nothing.
    EXPECT_EQ(d.pump(kBudget), 0u);
    EXPECT_FALSE(d.failed()) << d.error();
}

// Four full records that arrive together: one read-ahead read brings them and one write sends
// them on (without the coalescing filter: four writes, one per record).
TEST_F(DirectionTest, RecordsOfOneReadLeaveInOneWrite) {
    connect_both();
    Direction d(src.leg, dst.leg);
    const std::vector<std::uint8_t> data = make_payload(4 * 16384, 3);
    peer_send(src, data);
    const IoCounts before = io_counts();
    EXPECT_EQ(d.pump(kBudget), data.size());
    const IoCounts after = io_counts();
    const IoCounts base = io_counts();
    EXPECT_EQ(after.reads - before.reads - (base.reads - after.reads), 1);
    EXPECT_EQ(after.writes - before.writes, 1);
    EXPECT_EQ(worker::coalesced_bytes(SSL_get_wbio(dst.leg.ssl())), 0u);
    std::vector<std::uint8_t> got;
    ASSERT_TRUE(peer_receive(dst, got, data.size()));
    EXPECT_EQ(got, data);
}

// A destination that takes a few KiB at a time: every write is partial or refused for a while,
// the filter never holds more than its bound, the direction waits for EPOLLOUT, and every byte
// arrives in order, then the close_notify and the FIN.
TEST_F(DirectionTest, PartialWritesToASlowReaderKeepEveryByte) {
    connect_both();
    const int small = 4096;
    ASSERT_EQ(::setsockopt(dst.leg.fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    Direction d(src.leg, dst.leg);
    const std::vector<std::uint8_t> data = make_payload(1 << 20, 9);
    std::size_t sent = 0;
    bool closed = false;
    std::vector<std::uint8_t> got;
    bool saw_blocked = false;
    for (int i = 0; i < 100000 && !d.done(); ++i) {
        if (sent < data.size()) {  // what fits in the source socket
            std::size_t n = 0;
            const std::size_t chunk = std::min<std::size_t>(16384, data.size() - sent);
            if (SSL_write_ex(src.peer.get(), data.data() + sent, chunk, &n) == 1) sent += n;
        } else if (!closed) {
            ASSERT_EQ(SSL_shutdown(src.peer.get()), 0);
            ASSERT_EQ(::shutdown(src.peer_fd.get(), SHUT_WR), 0);
            closed = true;
        }
        d.pump(kBudget);
        ASSERT_FALSE(d.failed()) << d.error();
        ASSERT_LE(worker::coalesced_bytes(SSL_get_wbio(dst.leg.ssl())), worker::kCoalesceBytes);
        if ((d.events_for(dst.leg) & EPOLLOUT) != 0) saw_blocked = true;
        // The slow reader, never past the data (the close_notify is checked at the end).
        ASSERT_TRUE(peer_receive(dst, got, std::min<std::size_t>(3000, data.size() - got.size())));
    }
    ASSERT_TRUE(d.done());
    EXPECT_TRUE(saw_blocked) << "the destination never filled up: the test proves nothing";
    EXPECT_STREQ(d.source_end(), "close_notify");
    for (int i = 0; i < 1000 && got.size() < data.size(); ++i)
        ASSERT_TRUE(peer_receive(dst, got, data.size() - got.size()));
    ASSERT_EQ(got.size(), data.size());
    EXPECT_EQ(sha256_hex(got.data(), got.size()), sha256_hex(data.data(), data.size()));
    std::uint8_t byte = 0;
    std::size_t n = 0;
    EXPECT_EQ(SSL_read_ex(dst.peer.get(), &byte, 1, &n), 0);
    EXPECT_EQ(SSL_get_error(dst.peer.get(), 0), SSL_ERROR_ZERO_RETURN) << "no close_notify";
    EXPECT_EQ(::recv(dst.peer_fd.get(), &byte, 1, 0), 0) << "no FIN";
}

// Six full records that arrive together: one recv brings them all into the record reader, and
// each read hands OpenSSL one record, so OpenSSL never holds bytes of the next one (holding them,
// OpenSSL 3.0 moves them to its buffer's front at every record start: docs/performance.md). The
// last read is the one that empties the leg.
TEST_F(DirectionTest, ReadAheadRecordsReachOpenSslOneAtATime) {
    connect_both();
    ASSERT_TRUE(src.leg.reading_records_ahead());
    constexpr int kRecords = 6;
    const std::vector<std::uint8_t> data = make_payload(kRecords * 16384, 4);
    peer_send(src, data);
    std::vector<std::uint8_t> buf(64 * 1024), got;
    const IoCounts before = io_counts();
    for (int i = 0; i < kRecords; ++i) {
        const worker::IoResult r = src.leg.read(buf);
        ASSERT_EQ(r.status, worker::IoStatus::kOk) << r.error;
        EXPECT_EQ(r.bytes, 16384u) << "record " << i;
        got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(r.bytes));
        EXPECT_EQ(SSL_has_pending(src.leg.ssl()), 0) << "OpenSSL holds bytes after record " << i;
        EXPECT_EQ(r.drained, i == kRecords - 1) << "record " << i;
    }
    const IoCounts after = io_counts();
    const IoCounts base = io_counts();
    EXPECT_EQ(after.reads - before.reads - (base.reads - after.reads), 1);
    EXPECT_EQ(got, data);
}

// The reader goes in at a record boundary only. Here OpenSSL's own read-ahead has brought the
// first record and part of the second when the relay asks for the reader: OpenSSL finishes the
// second record by itself, and from then on each read hands it exactly one record.
TEST_F(DirectionTest, ReadAheadByRecordStartsAtARecordBoundary) {
    connect(src, true);
    constexpr int kRecords = 8;
    const std::vector<std::uint8_t> data = make_payload(kRecords * 16384, 5);
    peer_send(src, data);
    std::vector<std::uint8_t> buf(64 * 1024), got;
    worker::IoResult r = src.leg.read(buf);
    ASSERT_EQ(r.status, worker::IoStatus::kOk) << r.error;
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(r.bytes));
    ASSERT_EQ(SSL_has_pending(src.leg.ssl()), 1) << "OpenSSL holds no part of the next record: "
                                                    "the test proves nothing";
    src.leg.read_records_ahead();
    src.leg.track_drain();
    EXPECT_FALSE(src.leg.reading_records_ahead()) << "the reader went in mid-record";
    int records_after_start = 0;
    for (int i = 1; i < kRecords; ++i) {
        const bool reading_ahead = src.leg.reading_records_ahead();
        r = src.leg.read(buf);
        ASSERT_EQ(r.status, worker::IoStatus::kOk) << r.error;
        got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(r.bytes));
        if (reading_ahead) {
            ++records_after_start;
            EXPECT_EQ(SSL_has_pending(src.leg.ssl()), 0)
                << "OpenSSL holds bytes after record " << i;
        }
    }
    EXPECT_EQ(records_after_start, kRecords - 2)
        << "the reader should go in after the second record";
    EXPECT_EQ(got, data);
}

}  // namespace
}  // namespace sni::wtest
