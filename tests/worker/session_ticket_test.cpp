// Session tickets shared by the worker processes of a pool: the test plays the daemon and
// sends the pool's ticket keys (common/ticket_keys.hpp) to two workers; a ticket issued by one
// resumes on the other (SSL_session_reused on the client), an old ticket still resumes after a
// rotation (grace: the previous key decrypts), and no longer after a second one.
#include <gtest/gtest.h>

#include <cstring>
#include <future>

#include "common/ticket_keys.hpp"
#include "tests/worker/fixture.hpp"

namespace sni::wtest {
namespace {

struct SessionFree {
    void operator()(SSL_SESSION *s) const { SSL_SESSION_free(s); }
};
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

class SessionTicketTest : public WorkerTest, public ::testing::WithParamInterface<int> {
  protected:
    SessionTicketTest() : backend_server_(nullptr, {}) {}

    void start_pool() {
        RouteSpec r;
        r.mode = "terminate";
        r.servers = {backend_server_.address()};
        start({r});
        WorkerProcess::Options o;
        o.config = config_path_;
        o.log = tmp_.path() / "worker2.log";
        second_ = std::make_unique<WorkerProcess>(o);
        ASSERT_TRUE(second_->wait_log_contains("worker running")) << second_->log();
    }

    // Sends the keys to both workers, as the daemon does at start and at each rotation.
    void send_keys(std::span<const tickets::Key> keys) {
        ++key_messages_;
        for (WorkerProcess *w : {worker_.get(), second_.get()}) {
            ASSERT_EQ(tickets::send_keys(w->channel(), keys), tickets::SendStatus::kSent);
            ASSERT_TRUE(w->wait_log([&](const std::string &) {
                return w->count_in_log("ticket keys installed") >= key_messages_;
            })) << w->log();
        }
    }

    struct Visit {
        bool ok = false;
        bool reused = false;
        SessionPtr session;  // the newest session the client holds after one round trip
    };
    // One client connection through `worker`, offering `session`.
    Visit visit(WorkerProcess &worker, SSL_SESSION *session) {
        Visit v;
        const int version = GetParam();
        auto options = sni("r.test").versions(version, version).resume(session);
        auto client = std::async(std::launch::async, [port = frontend_.port(), options] {
            return tls_connect(port, options);
        });
        EXPECT_EQ(frontend_.accept_and_handoff(worker.channel(), 0), "");
        ClientResult c = client.get();
        EXPECT_TRUE(c.stream) << c.error;
        if (!c.stream) return v;
        // The round trip also takes in the TLS 1.3 tickets sent after the handshake.
        EXPECT_TRUE(c.stream->write_all("ping"));
        EXPECT_EQ(c.stream->read_exactly(4).value_or(""), "ping");
        v.ok = true;
        v.reused = c.reused;
        v.session.reset(SSL_get1_session(c.stream->ssl()));
        c.stream->half_close();
        c.stream->read_to_eof();
        return v;
    }

    BackendServer backend_server_;
    std::unique_ptr<WorkerProcess> second_;
    std::size_t key_messages_ = 0;
};

TEST_P(SessionTicketTest, TicketFromOneWorkerResumesOnTheOther) {
    start_pool();
    using Clock = tickets::KeyRing::Clock;
    Clock::time_point now = Clock::now();
    auto ring = tickets::KeyRing::create(std::chrono::hours(1), now);
    ASSERT_TRUE(ring) << ring.error();
    send_keys(ring->keys());

    Visit first = visit(*worker_, nullptr);
    ASSERT_TRUE(first.ok);
    EXPECT_FALSE(first.reused);
    ASSERT_TRUE(first.session);
    ASSERT_TRUE(SSL_SESSION_has_ticket(first.session.get()));
    EXPECT_TRUE(visit(*second_, first.session.get()).reused)
        << "a ticket of worker 1 did not resume on worker 2";

    // Rotation: the key that issued `first` is now the previous one and still decrypts.
    now += ring->interval();
    ASSERT_TRUE(ring->rotate(now));
    send_keys(ring->keys());
    Visit grace = visit(*second_, first.session.get());
    EXPECT_TRUE(grace.reused) << "an old ticket must resume within the grace window";
    ASSERT_TRUE(grace.session);
    // The ticket the client holds now was renewed under the current key.
    Visit renewed = visit(*worker_, grace.session.get());
    EXPECT_TRUE(renewed.reused);
    ASSERT_TRUE(renewed.session);

    // A second rotation drops the first key: its tickets give a full handshake, while the
    // ticket renewed during the grace window (under the second key) still resumes.
    now += ring->interval();
    ASSERT_TRUE(ring->rotate(now));
    send_keys(ring->keys());
    EXPECT_FALSE(visit(*worker_, first.session.get()).reused);
    EXPECT_TRUE(visit(*second_, renewed.session.get()).reused);
}

// Without shared keys each process has its own: the same ticket does not resume elsewhere
// (what the shared keys fix; also shows the test above can fail).
TEST_P(SessionTicketTest, WithoutSharedKeysTicketsStayInOneProcess) {
    start_pool();
    Visit first = visit(*worker_, nullptr);
    ASSERT_TRUE(first.session);
    EXPECT_TRUE(visit(*worker_, first.session.get()).reused);
    EXPECT_FALSE(visit(*second_, first.session.get()).reused);
}

INSTANTIATE_TEST_SUITE_P(Versions, SessionTicketTest,
                         ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION), [](const auto &info) {
                             return std::string(info.param == TLS1_2_VERSION ? "Tls12" : "Tls13");
                         });

TEST(TicketKeys, EncodeDecodeAndRotation) {
    using Clock = tickets::KeyRing::Clock;
    const Clock::time_point t0{};
    auto ring = tickets::KeyRing::create(std::chrono::minutes(5), t0);
    ASSERT_TRUE(ring);
    ASSERT_EQ(ring->keys().size(), 1u);
    EXPECT_EQ(ring->next_rotation(), t0 + std::chrono::minutes(5));
    const tickets::Key k1 = ring->keys()[0];
    ASSERT_TRUE(ring->rotate(t0 + std::chrono::minutes(5)));
    ASSERT_EQ(ring->keys().size(), 2u);
    EXPECT_EQ(ring->keys()[1], k1);
    EXPECT_NE(ring->keys()[0].name, k1.name);
    ASSERT_TRUE(ring->rotate(t0 + std::chrono::minutes(10)));
    ASSERT_EQ(ring->keys().size(), 2u);
    EXPECT_NE(ring->keys()[1], k1);  // two rotations later the first key is gone
    EXPECT_EQ(ring->next_rotation(), t0 + std::chrono::minutes(15));

    const auto wire = tickets::encode(ring->keys());
    ASSERT_EQ(wire.size(), 8u + 2 * 80u);
    std::uint32_t magic;
    std::memcpy(&magic, wire.data(), 4);
    EXPECT_EQ(magic, 0x54494e53u);  // "SNIT"

    auto back = tickets::decode(wire);
    ASSERT_TRUE(back) << back.error();
    EXPECT_TRUE(std::equal(back->begin(), back->end(), ring->keys().begin()));
    auto shorter = wire;
    shorter.pop_back();
    EXPECT_FALSE(tickets::decode(shorter));
    auto bad_magic = wire;
    bad_magic[0] ^= 1;
    EXPECT_FALSE(tickets::decode(bad_magic));
    EXPECT_FALSE(tickets::decode(tickets::encode({})));
}

}  // namespace
}  // namespace sni::wtest
