// The metrics and health endpoint (metrics.listen) of a running daemon: exact counter deltas
// after known traffic, /healthz, /readyz before and after the workers are ready, 404/405.
#include "metrics_scrape.hpp"
#include "splitter_fixture.hpp"

namespace sni::itest {
namespace {

class MetricsTest : public SplitterTest {
  protected:
    bool with_metrics() const override { return true; }

    std::map<std::string, double> scrape() {
        const HttpReply r = http_get(metrics_port_, "/metrics");
        EXPECT_EQ(r.status, 200) << r.head;
        EXPECT_NE(r.head.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
        return parse_metrics(r.body);
    }
    bool wait_readyz(int status, std::chrono::milliseconds timeout) {
        return wait_http_status(metrics_port_, "/readyz", status, timeout);
    }
};

const Bytes kUnrecognizedName = {0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x70};

TEST_P(MetricsTest, CountersMoveByExactlyTheTrafficSent) {
    ASSERT_TRUE(wait_readyz(200, 10s));
    const auto before = scrape();
    EXPECT_EQ(before.at("sni_up"), 1);
    EXPECT_EQ(before.at("sni_ready"), 1);

    for (std::uint32_t i = 0; i < 3; ++i)
        expect_echo("127.0.0.1", main_port_, {build_client_hello({.sni = "p1.test"})}, 0ms,
                    random_payload(512, 40 + i));
    expect_echo("127.0.0.1", main_port_, {build_client_hello({.sni = "nobody.test"})}, 0ms,
                random_payload(64, 50));
    for (int i = 0; i < 2; ++i)
        expect_reply_then_close(strict_port_, build_client_hello({.sni = "nobody.test"}),
                                kUnrecognizedName);
    const std::string req = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
    expect_reply_then_close(main_port_, Bytes(req.begin(), req.end()), {});

    const auto after = scrape();
    EXPECT_EQ(metric_delta(before, after, "sni_accepted_total"), 7);
    EXPECT_EQ(metric_delta(
                  before, after,
                  "sni_connections_total{listener=\"main\",route=\"pt-1\",outcome=\"handed_off\"}"),
              3);
    EXPECT_EQ(metric_delta(before, after,
                           "sni_connections_total{listener=\"main\",route=\"pt-default\",outcome="
                           "\"handed_off\"}"),
              1);
    EXPECT_EQ(metric_delta(before, after,
                           "sni_connections_total{listener=\"strict\",route=\"\",outcome="
                           "\"rejected_unknown_sni\"}"),
              2);
    EXPECT_EQ(
        metric_delta(before, after,
                     "sni_connections_total{listener=\"main\",route=\"\",outcome=\"not_tls\"}"),
        1);
    EXPECT_EQ(metric_delta(before, after, "sni_daemon_connections_total{outcome=\"handed_off\"}"),
              4);
    EXPECT_EQ(metric_delta(before, after, "sni_daemon_connections_total{outcome=\"not_tls\"}"), 1);
    EXPECT_EQ(metric_delta(before, after, "sni_decisions_total{decision=\"routed\"}"), 3);
    EXPECT_EQ(metric_delta(before, after, "sni_decisions_total{decision=\"default_unknown_sni\"}"),
              1);
    EXPECT_EQ(metric_delta(before, after, "sni_classification_seconds_count"), 7);
    EXPECT_EQ(metric_delta(before, after, "sni_classification_seconds_bucket{le=\"+Inf\"}"), 7);
    EXPECT_EQ(metric_delta(before, after, "sni_handoff_seconds_count"), 4);
    EXPECT_EQ(after.at("sni_workers{pool=\"default\",state=\"ready\"}"), 2);
    EXPECT_EQ(after.at("sni_workers{pool=\"tls\",state=\"configured\"}"), 1);
    EXPECT_EQ(after.at("sni_reloads_total{result=\"ok\"}"), 0);
}

TEST_P(MetricsTest, HealthAndErrors) {
    EXPECT_EQ(http_get(metrics_port_, "/healthz").status, 200);
    EXPECT_EQ(http_get(metrics_port_, "/nothing").status, 404);
    EXPECT_EQ(
        http_request(metrics_port_, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").status,
        405);
    EXPECT_EQ(http_request(metrics_port_, "nonsense\r\n\r\n").status, 400);
    const HttpReply head = http_request(metrics_port_, "HEAD /healthz HTTP/1.1\r\n\r\n");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.body, "");
    // An endless header is cut off at the size bound.
    EXPECT_EQ(http_request(metrics_port_,
                           "GET /metrics HTTP/1.1\r\nX: " + std::string(12000, 'a') + "\r\n\r\n")
                  .status,
              431);
    // The daemon still serves after all that.
    EXPECT_EQ(http_get(metrics_port_, "/healthz").status, 200);
}

// The workers hold their "ready" report back: /readyz is 503 until they send it.
class ReadyzTest : public MetricsTest {
  protected:
    void SetUp() override {
        ::setenv("SNI_TEST_WORKER_READY_DELAY_MS", "3000", 1);
        MetricsTest::SetUp();
        ::unsetenv("SNI_TEST_WORKER_READY_DELAY_MS");
    }
};

TEST_P(ReadyzTest, NotReadyUntilEveryPoolHasAReadyWorker) {
    EXPECT_EQ(http_get(metrics_port_, "/healthz").status, 200);
    EXPECT_EQ(http_get(metrics_port_, "/readyz").status, 503);
    EXPECT_EQ(parse_metrics(http_get(metrics_port_, "/metrics").body).at("sni_ready"), 0);
    EXPECT_TRUE(wait_readyz(200, 10s));
}

INSTANTIATE_TEST_SUITE_P(Classifiers, MetricsTest, SNI_CLASSIFIERS, classifier_name);
INSTANTIATE_TEST_SUITE_P(Classifiers, ReadyzTest, ::testing::Values(std::string("userspace")),
                         classifier_name);

}  // namespace
}  // namespace sni::itest
