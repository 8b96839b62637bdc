// The metrics pieces without a daemon: connection reports on the wire, the daemon's report
// table, the Prometheus rendering and the HTTP request parsing of the endpoint.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "common/conn_report.hpp"
#include "common/fd.hpp"
#include "loader/http_endpoint.hpp"
#include "loader/metrics_render.hpp"
#include "loader/metrics_reports.hpp"

namespace sni {
namespace {

using conn_report::CloseReason;
using conn_report::Event;
using conn_report::Report;

Report opened(std::uint64_t conn, std::uint32_t route) {
    Report r;
    r.event = Event::kOpened;
    r.conn_id = conn;
    r.route_id = route;
    r.client.version.set("TLSv1.3");
    r.client.cipher.set("TLS_AES_256_GCM_SHA384");
    r.client.ktls_tx = 1;
    r.backend.version.set("TLSv1");
    r.alpn.set("h2");
    r.client_addr.set("127.0.0.1:1000");
    r.backend_connected_us = 2000;
    return r;
}

Report closed(std::uint64_t conn, std::uint32_t route, CloseReason reason) {
    Report r = opened(conn, route);
    r.event = Event::kClosed;
    r.reason = reason;
    r.bytes_up = 10;
    r.bytes_down = 20;
    r.duration_us = 5000;
    return r;
}

TEST(ConnReport, RoundTripOverASeqpacketChannel) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    UniqueFd a(sv[0]), b(sv[1]);
    Report r = closed(7, 1, CloseReason::kIdleTimeout);
    r.failed_servers = 0b101;
    r.alpn.set(std::string(100, 'a'));  // truncated to the field
    ASSERT_TRUE(conn_report::send_report(a.get(), r));
    std::uint8_t buf[sizeof(Report) + 16];
    const ssize_t n = ::recv(b.get(), buf, sizeof buf, 0);
    ASSERT_EQ(n, static_cast<ssize_t>(sizeof(Report)));
    const std::span<const std::uint8_t> d(buf, static_cast<std::size_t>(n));
    EXPECT_EQ(conn_report::magic_of(d), conn_report::kMagic);
    const auto got = conn_report::decode(d);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->conn_id, 7u);
    EXPECT_EQ(got->reason, CloseReason::kIdleTimeout);
    EXPECT_EQ(got->client.version.view(), "TLSv1.3");
    EXPECT_EQ(got->alpn.view(), std::string(63, 'a'));
    EXPECT_EQ(got->failed_servers, 0b101u);
}

TEST(ConnReport, DecodeRejectsOtherDatagrams) {
    Report r = opened(1, 0);
    auto bytes = [](const Report &x) {
        return std::vector<std::uint8_t>(reinterpret_cast<const std::uint8_t *>(&x),
                                         reinterpret_cast<const std::uint8_t *>(&x) + sizeof x);
    };
    EXPECT_TRUE(conn_report::decode(bytes(r)));
    auto short_one = bytes(r);
    short_one.pop_back();
    EXPECT_FALSE(conn_report::decode(short_one));
    Report bad = r;
    bad.magic = 0x48494e53;  // a handoff's magic
    EXPECT_FALSE(conn_report::decode(bytes(bad)));
    bad = r;
    bad.reason = static_cast<CloseReason>(200);
    EXPECT_FALSE(conn_report::decode(bytes(bad)));
    bad = r;
    bad.event = static_cast<Event>(9);
    EXPECT_FALSE(conn_report::decode(bytes(bad)));
    EXPECT_EQ(conn_report::magic_of(std::span<const std::uint8_t>()), 0u);
}

TEST(ConnReport, BatchTravelsAsOneDatagramAndDecodesInOrder) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    UniqueFd a(sv[0]), b(sv[1]);
    const std::vector<Report> batch = {opened(1, 0), closed(1, 0, CloseReason::kClosed),
                                       opened(2, 1)};
    ASSERT_TRUE(conn_report::send_reports(a.get(), batch));
    std::vector<std::uint8_t> buf(conn_report::kMaxBatch * sizeof(Report));
    const ssize_t n = ::recv(b.get(), buf.data(), buf.size(), 0);
    ASSERT_EQ(n, static_cast<ssize_t>(3 * sizeof(Report)));
    const auto got = conn_report::decode_all({buf.data(), static_cast<std::size_t>(n)});
    ASSERT_TRUE(got);
    ASSERT_EQ(got->size(), 3u);
    EXPECT_EQ((*got)[0].event, Event::kOpened);
    EXPECT_EQ((*got)[1].event, Event::kClosed);
    EXPECT_EQ((*got)[1].conn_id, 1u);
    EXPECT_EQ((*got)[2].conn_id, 2u);

    // Too many for one datagram, none at all, a partial report, one bad report in the batch.
    EXPECT_FALSE(
        conn_report::send_reports(a.get(), std::vector<Report>(conn_report::kMaxBatch + 1)));
    EXPECT_FALSE(conn_report::send_reports(a.get(), {}));
    std::vector<std::uint8_t> bytes(reinterpret_cast<const std::uint8_t *>(batch.data()),
                                    reinterpret_cast<const std::uint8_t *>(batch.data() + 3));
    EXPECT_FALSE(conn_report::decode_all({bytes.data(), bytes.size() - 1}));
    EXPECT_FALSE(conn_report::decode_all({}));
    Report bad = batch[1];
    bad.event = static_cast<Event>(9);
    std::memcpy(bytes.data() + sizeof(Report), &bad, sizeof bad);
    EXPECT_FALSE(conn_report::decode_all(bytes));
}

TEST(ConnReport, FullChannelDropsWithoutBlocking) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    UniqueFd a(sv[0]), b(sv[1]);
    const int small = 4096;
    ::setsockopt(a.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    int sent = 0;
    bool dropped = false;
    for (int i = 0; i < 100000 && !dropped; ++i) {
        if (conn_report::send_report(a.get(), opened(std::uint64_t(i), 0)))
            ++sent;
        else
            dropped = true;
    }
    EXPECT_TRUE(dropped);
    EXPECT_GT(sent, 0);
}

TEST(ReportTable, OpenConnectionsAndAggregates) {
    loader::ReportTable t(2);
    Report ready;
    ready.event = Event::kReady;
    EXPECT_FALSE(t.worker_ready(0, 0));
    t.on_report(0, 0, 100, ready);
    EXPECT_TRUE(t.worker_ready(0, 0));

    t.on_report(0, 0, 100, opened(1, 0));
    t.on_report(0, 0, 100, opened(2, 1));
    t.on_report(0, 1, 101, opened(3, 1));
    auto open = t.open_connections();
    ASSERT_EQ(open.size(), 3u);

    Report c = closed(1, 0, CloseReason::kClosed);
    c.failed_servers = 0b10;
    c.ejected_servers = 0b10;
    t.on_report(0, 0, 100, c);
    open = t.open_connections();
    ASSERT_EQ(open.size(), 2u);

    const auto &r0 = t.routes()[0];
    EXPECT_EQ(r0.opened, 1u);
    EXPECT_EQ(r0.closed[static_cast<std::size_t>(CloseReason::kClosed)], 1u);
    EXPECT_EQ(r0.bytes_up, 10u);
    EXPECT_EQ(r0.bytes_down, 20u);
    EXPECT_EQ(r0.client_handshakes, 1u);
    EXPECT_EQ(r0.ktls[0][0], 1u);
    EXPECT_EQ(r0.ktls[0][1], 0u);
    EXPECT_EQ((r0.versions.at({"backend", "TLSv1"})), 1u);
    EXPECT_EQ(r0.time_to_backend.count, 1u);
    ASSERT_EQ(r0.ejections.size(), 2u);
    EXPECT_EQ(r0.ejections[1], 1u);
    EXPECT_EQ(r0.connect_failures[0], 0u);

    // Worker (0,0) dies: its open connection 2 is forgotten and counted as lost.
    Report drops = opened(9, 1);
    drops.event = Event::kReady;
    drops.dropped_reports = 5;
    t.on_report(0, 0, 100, drops);
    t.worker_gone(0, 0);
    open = t.open_connections();
    ASSERT_EQ(open.size(), 1u);
    EXPECT_EQ(open[0].conn_id, 3u);
    EXPECT_EQ(open[0].pid, 101);
    EXPECT_EQ(open[0].alpn, "h2");
    EXPECT_FALSE(t.worker_ready(0, 0));
    EXPECT_EQ(t.totals().lost_open, 1u);
    EXPECT_EQ(t.totals().dropped_by_workers, 5u);

    // Reports for routes the daemon does not know are kept out of the aggregates.
    t.on_report(0, 1, 101, closed(3, 77, CloseReason::kClosed));
    EXPECT_TRUE(t.open_connections().empty());
}

loader::HandedConn handed(std::uint64_t conn, std::uint16_t client_port) {
    sockaddr_storage client{}, local{};
    auto *c = reinterpret_cast<sockaddr_in *>(&client);
    c->sin_family = AF_INET;
    c->sin_port = htons(client_port);
    c->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto *l = reinterpret_cast<sockaddr_in *>(&local);
    l->sin_family = AF_INET;
    l->sin_port = htons(443);
    l->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return loader::HandedConn{conn, loader::make_addr_pair(client, local), 0, 0};
}

// A handed-off connection is tracked until its worker reports the close (whether or not its
// handshakes completed), until its worker is gone, or until the caller finds it gone from the
// kernel's table after the worker dropped reports.
TEST(ReportTable, HandedConnectionsUntilTheirClose) {
    loader::ReportTable t(1);
    t.on_handed(0, 0, handed(1, 1001));
    t.on_handed(0, 0, handed(2, 1002));
    t.on_handed(0, 1, handed(3, 1003));
    t.on_handed(0, 1, handed(4, 1004));
    EXPECT_EQ(t.handed_count(), 4u);

    t.on_report(0, 0, 100, opened(1, 0));
    t.on_report(0, 0, 100, closed(1, 0, CloseReason::kClosed));
    t.on_report(0, 0, 100, closed(2, 0, CloseReason::kClientHandshake));  // never opened
    EXPECT_EQ(t.handed_count(), 2u);
    EXPECT_FALSE(t.handed_may_be_stale());

    // Worker (0,1) dropped reports: some of its closes may be unheard until the kernel says.
    Report ready;
    ready.event = Event::kReady;
    ready.dropped_reports = 3;
    t.on_report(0, 1, 101, ready);
    EXPECT_TRUE(t.handed_may_be_stale());
    const auto gone_port = handed(3, 1003).addr;
    t.forget_handed_if([&](const loader::AddrPair &a) { return a == gone_port; });
    EXPECT_FALSE(t.handed_may_be_stale());
    auto left = t.handed_connections();
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].conn_id, 4u);
    EXPECT_EQ(loader::to_string(left[0].addr), "127.0.0.1:1004|127.0.0.1:443");

    t.worker_gone(0, 1);
    EXPECT_EQ(t.handed_count(), 0u);
    EXPECT_TRUE(t.handed_connections().empty());
}

Report health(std::uint32_t route, std::int32_t server, bool down, std::uint64_t passed,
              std::uint64_t failed) {
    Report r;
    r.event = Event::kHealth;
    r.route_id = route;
    r.backend_server = server;
    r.server_down = down ? 1 : 0;
    r.checks_passed = passed;
    r.checks_failed = failed;
    r.health_reason.set(down ? "connect: Connection refused" : "");
    return r;
}

// Health reports: the latest verdict per (worker, route, server), probe counts that move by
// the difference of the workers' running totals and never go back when a worker dies.
TEST(ReportTable, BackendHealthByWorkerAndServer) {
    loader::ReportTable t(1);
    EXPECT_TRUE(t.health().empty());
    t.on_report(0, 0, 100, health(0, 0, false, 0, 0));
    t.on_report(0, 1, 101, health(0, 0, false, 0, 0));
    t.on_report(0, 0, 100, health(0, 1, false, 4, 0));
    auto h = t.health();
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ((h.at({0, 0}).reporting), 2u);
    EXPECT_EQ((h.at({0, 0}).down), 0u);

    // Worker 1 sees server 0 down; worker 0 still up.
    t.on_report(0, 1, 101, health(0, 0, true, 1, 3));
    h = t.health();
    EXPECT_EQ((h.at({0, 0}).down), 1u);
    EXPECT_EQ((h.at({0, 0}).reason), "connect: Connection refused");
    EXPECT_EQ(t.routes()[0].checks_failed.at(0), 3u);
    EXPECT_EQ(t.routes()[0].checks_passed.at(0), 1u);
    EXPECT_EQ(t.routes()[0].checks_passed.at(1), 4u);

    // More probes of worker 1: counted by difference.
    t.on_report(0, 1, 101, health(0, 0, true, 1, 5));
    EXPECT_EQ(t.routes()[0].checks_failed.at(0), 5u);

    loader::MetricsSnapshot s;
    s.routes = {"web"};
    s.route_servers = {{"127.0.0.1:1", "127.0.0.1:2"}};
    s.reports = t.routes();
    s.backend_health = t.health();
    const std::string text = loader::render_prometheus(s);
    auto has = [&](const std::string &line) {
        return text.find("\n" + line + "\n") != std::string::npos;
    };
    EXPECT_TRUE(has("sni_backend_up{route=\"web\",server=\"127.0.0.1:1\"} 0")) << text;
    EXPECT_TRUE(has("sni_backend_up{route=\"web\",server=\"127.0.0.1:2\"} 1")) << text;
    EXPECT_TRUE(
        has("sni_backend_health_checks_total{route=\"web\",server=\"127.0.0.1:1\","
            "result=\"failed\"} 5"))
        << text;
    EXPECT_TRUE(
        has("sni_backend_health_checks_total{route=\"web\",server=\"127.0.0.1:2\","
            "result=\"passed\"} 4"))
        << text;

    // Worker 1 dies: its verdict goes, its probes stay counted.
    t.worker_gone(0, 1);
    h = t.health();
    EXPECT_EQ((h.at({0, 0}).reporting), 1u);
    EXPECT_EQ((h.at({0, 0}).down), 0u);
    EXPECT_EQ(t.routes()[0].checks_failed.at(0), 5u);
    // A report without a server or for a route the daemon does not know moves no counter.
    t.on_report(0, 0, 100, health(0, -1, true, 9, 9));
    t.on_report(0, 0, 100, health(7, 0, true, 9, 9));
    EXPECT_EQ(t.routes()[0].checks_failed.at(0), 5u);
}

TEST(Prometheus, RendersLabelsFromConfigNamesAndEveryReason) {
    loader::MetricsSnapshot s;
    s.listeners = {"main"};
    s.routes = {"web", "le\"gacy"};
    s.route_servers = {{"127.0.0.1:8443", "[::1]:8443"}, {"10.0.0.1:443"}};
    s.counters.accepted = 5;
    s.counters.not_tls = 1;
    s.counters.not_tls_by_reason[1] = 1;
    s.counters.obs.count(0, 0, "handed_off");
    s.counters.obs.count(0, loader::kNoRoute, "not_tls");
    s.counters.obs.classification.observe_us(150);
    loader::ReportTable t(2);
    t.on_report(0, 0, 1, opened(1, 0));
    Report c = closed(1, 0, CloseReason::kBackendHandshake);
    c.ejected_servers = 0b10;
    t.on_report(0, 0, 1, c);
    s.reports = t.routes();
    s.pools = {{"default", 2, 2, 1}};
    s.ready = true;
    const std::string text = loader::render_prometheus(s);
    auto has = [&](const std::string &line) {
        return text.find("\n" + line + "\n") != std::string::npos;
    };
    EXPECT_TRUE(has("sni_accepted_total 5")) << text;
    EXPECT_TRUE(has("sni_ready 1"));
    EXPECT_TRUE(
        has("sni_connections_total{listener=\"main\",route=\"web\",outcome=\"handed_off\"} 1"));
    EXPECT_TRUE(has("sni_connections_total{listener=\"main\",route=\"\",outcome=\"not_tls\"} 1"));
    EXPECT_TRUE(has("sni_daemon_connections_total{outcome=\"not_tls\"} 1"));
    EXPECT_TRUE(has("sni_daemon_connections_total{outcome=\"bpf_handoff_loss\"} 0"));
    EXPECT_TRUE(has("sni_classification_seconds_bucket{le=\"0.0001\"} 0"));
    EXPECT_TRUE(has("sni_classification_seconds_bucket{le=\"0.00025\"} 1"));
    EXPECT_TRUE(has("sni_classification_seconds_bucket{le=\"+Inf\"} 1"));
    EXPECT_TRUE(has("sni_classification_seconds_count 1"));
    EXPECT_TRUE(
        has("sni_worker_connections_closed_total{route=\"web\",reason=\"backend_handshake\"} 1"));
    EXPECT_TRUE(
        has("sni_worker_connections_closed_total{route=\"le\\\"gacy\",reason=\"closed\"} 0"));
    EXPECT_TRUE(
        has("sni_tls_handshake_failures_total{side=\"backend\",route=\"web\",reason=\"backend_"
            "handshake\"} 1"));
    EXPECT_TRUE(has("sni_tls_versions_total{side=\"client\",route=\"web\",version=\"TLSv1.3\"} 1"));
    EXPECT_TRUE(has("sni_ktls_total{route=\"web\",leg=\"client\",direction=\"tx\"} 1"));
    EXPECT_TRUE(has("sni_bytes_total{route=\"web\",direction=\"backend_to_client\"} 20"));
    EXPECT_TRUE(has("sni_backend_passive_ejections_total{route=\"web\",server=\"[::1]:8443\"} 1"));
    EXPECT_TRUE(
        has("sni_backend_passive_ejections_total{route=\"web\",server=\"127.0.0.1:8443\"} 0"));
    EXPECT_TRUE(has("sni_workers{pool=\"default\",state=\"ready\"} 1"));
    EXPECT_TRUE(has("sni_reloads_total{result=\"failed\"} 0"));
    // Every close reason of the workers appears for every route.
    for (std::size_t k = 1; k < conn_report::kCloseReasonCount; ++k)
        EXPECT_NE(text.find(std::string("route=\"web\",reason=\"") +
                            std::string(conn_report::close_reason_name(CloseReason(k))) + "\"}"),
                  std::string::npos);
    // Each family is declared once, before its samples.
    EXPECT_EQ(text.find("# TYPE sni_connections_total counter"),
              text.rfind("# TYPE sni_connections_total counter"));
}

TEST(HttpEndpoint, ParsesRequestHeads) {
    EXPECT_FALSE(http::parse_request("GET /metrics HTTP/1.1\r\nHost: x\r\n").complete);
    auto r = http::parse_request("GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(r.complete);
    EXPECT_FALSE(r.bad);
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.path, "/metrics");
    EXPECT_TRUE(http::parse_request("GET /x SPDY/3\r\n\r\n").bad);
    EXPECT_TRUE(http::parse_request("GET\r\n\r\n").bad);
    EXPECT_TRUE(http::parse_request("GET http://x/ HTTP/1.1\r\n\r\n").bad);
    EXPECT_EQ(http::parse_request("HEAD /readyz HTTP/1.0\n\n").path, "/readyz");
    const std::string resp = http::render_response({503, "text/plain", "no\n"}, false);
    EXPECT_EQ(resp,
              "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: "
              "3\r\nConnection: close\r\n\r\nno\n");
    EXPECT_EQ(http::render_response({200, "text/plain", "body"}, true).find("body"),
              std::string::npos);
}

}  // namespace
}  // namespace sni
