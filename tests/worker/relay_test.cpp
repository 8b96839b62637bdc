// The relay: large transfers checked end to end, half-close in both directions, idle timeout.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "tests/support/process_probe.hpp"
#include "tests/worker/fixture.hpp"

namespace sni::wtest {
namespace {

class RelayTest : public WorkerTest, public ::testing::WithParamInterface<std::string> {
  protected:
    // A backend for the mode: TLS for reencrypt and passthrough, plain for terminate.
    std::unique_ptr<BackendServer> backend_for(const std::string &mode, BackendOptions o) {
        CtxPtr ctx;
        if (mode == "reencrypt")
            ctx = make_backend_ctx(backend_.cert, backend_.key, TLS1_2_VERSION, TLS1_3_VERSION);
        if (mode == "passthrough")
            ctx = make_backend_ctx(pass_backend_.cert, pass_backend_.key, TLS1_2_VERSION,
                                   TLS1_3_VERSION);
        return std::make_unique<BackendServer>(std::move(ctx), std::move(o));
    }
    RouteSpec route_for(const std::string &mode, const BackendServer &b) const {
        RouteSpec r;
        r.mode = mode;
        r.servers = {b.address()};
        if (mode == "reencrypt") r.backend_extra = backend_tls();
        return r;
    }
};

// The size. Measured per test (transfer + setup and hashing): 8-14 s in the default
// tree, 16-24 s in the ASan+UBSan tree, on the shared 2-core machine.
constexpr std::size_t kTransferMiB = 256;

// kTransferMiB each way at the same time (an echo backend), both hashes checked.
TEST_P(RelayTest, TransfersEachWayCheckedBySha256) {
    const std::string mode = GetParam();
    auto backend = backend_for(mode, behaving(Behavior::kEcho));
    start({route_for(mode, *backend)});
    const std::vector<std::uint8_t> payload = make_payload(kTransferMiB << 20, 42);
    const std::string want = sha256_hex(payload.data(), payload.size());

    ClientResult c = connect(0, sni("r.test"));
    ASSERT_TRUE(c.stream) << c.error;
    const auto t0 = std::chrono::steady_clock::now();
    const auto got = c.stream->echo_duplex(payload, 100s);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    ASSERT_TRUE(got) << c.stream->last_error;
    EXPECT_EQ(*got, want) << "backend -> client";
    c.stream->half_close();
    EXPECT_EQ(c.stream->read_to_eof().value_or("?"), "");
    ASSERT_TRUE(backend->wait_done(1));
    const auto rec = backend->records().at(0);
    EXPECT_EQ(rec.bytes_in, payload.size());
    EXPECT_EQ(rec.sha_in, want) << "client -> backend";
    ASSERT_TRUE(wait_access_lines(1));
    const std::string line = access_lines().at(0);
    if (mode == "passthrough") {  // TLS records: a little more than the payload
        EXPECT_GT(std::stoull(field(line, "bytes_down")), payload.size());
    } else {
        EXPECT_EQ(field(line, "bytes_down"), std::to_string(payload.size()));
    }
    RecordProperty("transfer_ms", static_cast<int>(ms));
    std::cout << "[ info ] " << mode << ": " << kTransferMiB << " MiB each way in " << ms
              << " ms\n";
}

// The client ends its direction first; the backend still answers afterwards.
TEST_P(RelayTest, HalfCloseFromClient) {
    const std::string mode = GetParam();
    auto backend = backend_for(mode, behaving(Behavior::kReplyAfterEof));
    start({route_for(mode, *backend)});
    ClientResult c = connect(0, sni("r.test"));
    ASSERT_TRUE(c.stream) << c.error;
    ASSERT_TRUE(c.stream->write_all("hello"));
    c.stream->half_close();
    const auto reply = c.stream->read_to_eof();
    ASSERT_TRUE(reply) << c.stream->last_error;
    EXPECT_EQ(*reply, "got 5 bytes");
    EXPECT_TRUE(c.stream->eof_clean());
    ASSERT_TRUE(backend->wait_done(1));
    EXPECT_EQ(backend->records().at(0).error, "");
    if (mode != "terminate") {
        EXPECT_TRUE(backend->records().at(0).eof_clean);
    }
    ASSERT_TRUE(wait_access_lines(1));
    EXPECT_EQ(field(access_lines().at(0), "reason"), "closed") << access_lines().at(0);
}

// The backend ends its direction first; the client still sends afterwards.
TEST_P(RelayTest, HalfCloseFromBackend) {
    const std::string mode = GetParam();
    auto backend = backend_for(mode, behaving(Behavior::kGreetFirst));
    start({route_for(mode, *backend)});
    ClientResult c = connect(0, sni("r.test"));
    ASSERT_TRUE(c.stream) << c.error;
    const auto greeting = c.stream->read_to_eof();
    ASSERT_TRUE(greeting) << c.stream->last_error;
    EXPECT_EQ(*greeting, "greeting from backend");
    ASSERT_TRUE(c.stream->write_all("reply after eof"));
    c.stream->half_close();
    ASSERT_TRUE(backend->wait_done(1));
    EXPECT_EQ(backend->records().at(0).received, "reply after eof");
    EXPECT_EQ(backend->records().at(0).error, "");
    ASSERT_TRUE(wait_access_lines(1));
    EXPECT_EQ(field(access_lines().at(0), "reason"), "closed") << access_lines().at(0);
}

INSTANTIATE_TEST_SUITE_P(Modes, RelayTest,
                         ::testing::Values("reencrypt", "terminate", "passthrough"),
                         [](const auto &info) { return std::string(info.param); });

#if defined(__SANITIZE_ADDRESS__)
constexpr long kRssSlackKiB = 32 * 1024;  // ASan's quarantine keeps freed buffers resident
#else
constexpr long kRssSlackKiB = 4 * 1024;
#endif

// A backend that does not read: the worker stops reading the client instead of buffering, so
// its memory stays flat while the client is pushing 64 MiB; then everything arrives intact.
TEST_P(RelayTest, SlowBackendBoundsMemory) {
    const std::string mode = GetParam();
    BackendOptions o = behaving(Behavior::kSlowSink);
    o.stall = 1500ms;
    auto backend = backend_for(mode, o);
    testsupport::small_asan_quarantine_for_children();  // before the worker starts
    start({route_for(mode, *backend)});
    ClientResult c = connect(0, sni("r.test"));
    ASSERT_TRUE(c.stream) << c.error;
    const std::vector<std::uint8_t> payload = make_payload(64u << 20, 7);
    const long before = testsupport::rss_kib(worker_->pid());
    auto writer = std::async(std::launch::async, [&] {
        const bool ok = c.stream->write_all(payload.data(), payload.size());
        c.stream->half_close();
        return ok;
    });
    std::this_thread::sleep_for(1000ms);  // the backend is still stalled
    const long during = testsupport::rss_kib(worker_->pid());
    EXPECT_LT(during - before, kRssSlackKiB)
        << "worker RSS grew from " << before << " to " << during << " KiB";
    ASSERT_TRUE(writer.get()) << c.stream->last_error;
    const auto reply = c.stream->read_to_eof();
    ASSERT_TRUE(reply) << c.stream->last_error;
    EXPECT_EQ(*reply, "got " + std::to_string(payload.size()) + " bytes");
    ASSERT_TRUE(backend->wait_done(1));
    EXPECT_EQ(backend->records().at(0).sha_in, sha256_hex(payload.data(), payload.size()));
}

using IdleTest = WorkerTest;

TEST_F(IdleTest, ClosesIdleConnection) {
    BackendServer backend(nullptr, {});
    RouteSpec r;
    r.mode = "terminate";
    r.servers = {backend.address()};
    r.route_extra = {"idle_timeout: 300ms"};
    start({r});
    ClientResult c = connect(0, sni("r.test"));
    ASSERT_TRUE(c.stream) << c.error;
    ASSERT_TRUE(c.stream->write_all("a"));
    EXPECT_EQ(c.stream->read_exactly(1).value_or(""), "a");
    const auto t0 = std::chrono::steady_clock::now();
    const auto rest = c.stream->read_some();  // blocks until the worker closes
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(!rest || rest->empty());
    EXPECT_GE(waited, 250ms);
    EXPECT_LT(waited, 5s);
    ASSERT_TRUE(wait_access_lines(1));
    EXPECT_EQ(field(access_lines().at(0), "reason"), "idle timeout");
}

}  // namespace
}  // namespace sni::wtest
