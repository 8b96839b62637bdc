#include "workers/health_checks.hpp"

#include <netinet/in.h>
#include <openssl/err.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/socket_facts.hpp"

namespace sni::worker {

namespace {

const char *check_type_name(config::HealthCheckType t) {
    return t == config::HealthCheckType::kTls ? "tls" : "tcp";
}

long long to_ms(Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

HealthChecks::HealthChecks(Epoll &epoll, const log::Logger &log, ReportChannel &reports,
                           const std::vector<std::unique_ptr<RouteRuntime>> &routes,
                           Clock::time_point now)
    : epoll_(epoll), log_(log), reports_(reports) {
    for (const auto &r : routes) {
        if (!r || !r->route->backend.health_check) continue;
        for (std::size_t s = 0; s < r->servers.size(); ++s) {
            if (r->servers[s].len == 0) continue;  // unresolved: never picked anyway
            auto p = std::make_unique<Probe>();
            p->route = r.get();
            p->server = s;
            p->next_start = now;
            probes_.push_back(std::move(p));
        }
    }
}

void HealthChecks::report_all() {
    for (const auto &p : probes_) report(*p);
}

void HealthChecks::report(const Probe &p) {
    conn_report::Report r;
    r.event = conn_report::Event::kHealth;
    r.route_id = static_cast<std::uint32_t>(p.route->id);
    r.backend_server = static_cast<std::int32_t>(p.server);
    r.backend_addr.set(p.route->servers[p.server].text);
    r.server_down = p.route->balancer.down(p.server) ? 1 : 0;
    r.checks_passed = p.total_passed;
    r.checks_failed = p.total_failed;
    r.health_reason.set(p.last_error);
    reports_.send(r);
}

HealthChecks::~HealthChecks() {
    for (auto &p : probes_)
        if (p->events != 0) epoll_.remove(p->fd.get());
}

std::optional<Clock::time_point> HealthChecks::next() const {
    std::optional<Clock::time_point> out;
    for (const auto &p : probes_) {
        const Clock::time_point t = p->phase == Phase::kIdle ? p->next_start : p->deadline;
        if (!out || t < *out) out = t;
    }
    return out;
}

void HealthChecks::on_timer(Clock::time_point now) {
    for (std::size_t i = 0; i < probes_.size(); ++i) {
        Probe &p = *probes_[i];
        if (p.phase == Phase::kIdle) {
            if (now >= p.next_start) begin(i, now);
        } else if (now >= p.deadline) {
            finish(i, false, "timeout", now);
        }
    }
}

void HealthChecks::watch(std::size_t index, std::uint32_t events) {
    Probe &p = *probes_[index];
    if (events == p.events) return;
    const std::uint64_t token = kTokenBase + index;
    if (p.events == 0)
        epoll_.add(p.fd.get(), events, token);
    else
        epoll_.modify(p.fd.get(), events, token);
    p.events = events;
}

void HealthChecks::begin(std::size_t index, Clock::time_point now) {
    Probe &p = *probes_[index];
    const config::HealthCheck &hc = *p.route->route->backend.health_check;
    const ServerAddress &addr = p.route->servers[p.server];
    p.next_start = now + hc.interval;
    p.deadline = now + hc.timeout;
    p.fd.reset(::socket(addr.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!p.fd) {
        finish(index, false, std::string("socket: ") + std::strerror(errno), now);
        return;
    }
    const int one = 1;
    ::setsockopt(p.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc;
    do {
        rc = ::connect(p.fd.get(), reinterpret_cast<const sockaddr *>(&addr.addr), addr.len);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno != EINPROGRESS) {
        finish(index, false, std::string("connect: ") + std::strerror(errno), now);
        return;
    }
    p.phase = Phase::kConnecting;
    watch(index, EPOLLOUT);
}

void HealthChecks::on_event(std::uint64_t token, std::uint32_t /*events*/, Clock::time_point now) {
    const std::size_t index = token - kTokenBase;
    Probe &p = *probes_[index];
    if (p.phase == Phase::kConnecting) {
        const int err = socket_error(p.fd.get());
        if (err == EINPROGRESS) return;
        if (err != 0) {
            finish(index, false, std::string("connect: ") + std::strerror(err), now);
            return;
        }
        const config::HealthCheck &hc = *p.route->route->backend.health_check;
        BackendTls *tls = p.route->backend_tls.get();
        if (hc.type != config::HealthCheckType::kTls || tls == nullptr) {
            finish(index, true, "connected", now);
            return;
        }
        p.ssl_state = BackendSslState{};
        p.ssl_state.server = p.server;
        // `$client` has no client here: the verification name, if any, is sent instead.
        p.ssl_state.sni = tls->sni_for("");
        if (p.ssl_state.sni.empty() && p.route->route->backend.tls)
            p.ssl_state.sni = p.route->route->backend.tls->verify.name;
        auto ssl = tls->new_ssl(p.fd.get(), p.ssl_state, "", false);
        if (!ssl) {
            finish(index, false, "TLS setup: " + ssl.error(), now);
            return;
        }
        p.ssl = std::move(ssl).value();
        p.phase = Phase::kHandshake;
    }
    if (p.phase == Phase::kHandshake) step_handshake(index, now);
}

void HealthChecks::step_handshake(std::size_t index, Clock::time_point now) {
    Probe &p = *probes_[index];
    ERR_clear_error();
    const int rc = SSL_do_handshake(p.ssl.get());
    if (rc == 1) {
        SSL_shutdown(p.ssl.get());  // close_notify, best effort
        finish(index, true, "TLS handshake done", now);
        return;
    }
    const int err = SSL_get_error(p.ssl.get(), rc);
    if (err == SSL_ERROR_WANT_READ) {
        watch(index, EPOLLIN);
        return;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
        watch(index, EPOLLOUT);
        return;
    }
    std::string why;
    const long verify = SSL_get_verify_result(p.ssl.get());
    if (verify != X509_V_OK) {
        why = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
        if (!p.ssl_state.verify_note.empty()) why += " (" + p.ssl_state.verify_note + ")";
        take_openssl_errors();
    } else {
        why = take_openssl_errors();
        if (why.empty()) why = err == SSL_ERROR_SYSCALL ? "connection closed" : "TLS error";
    }
    finish(index, false, "TLS handshake: " + why, now);
}

void HealthChecks::finish(std::size_t index, bool ok, const std::string &why,
                          Clock::time_point /*now*/) {
    Probe &p = *probes_[index];
    if (p.events != 0) epoll_.remove(p.fd.get());
    p.events = 0;
    p.ssl.reset();
    p.fd.reset();
    p.phase = Phase::kIdle;

    const config::HealthCheck &hc = *p.route->route->backend.health_check;
    Balancer &balancer = p.route->balancer;
    const std::string &server = p.route->servers[p.server].text;
    const std::string &route = p.route->route->name;
    if (ok) {
        p.failed = 0;
        ++p.passed;
        ++p.total_passed;
        p.last_error.clear();
        balancer.check_passed(p.server);
        if (balancer.down(p.server) && p.passed >= hc.rise) {
            balancer.set_down(p.server, false);
            log_.info("backend server up", {log::kv("route", route), log::kv("server", server),
                                            log::kv("check", check_type_name(hc.type)),
                                            log::kv("passed", p.passed), log::kv("reason", why)});
        }
        report(p);
        return;
    }
    p.passed = 0;
    ++p.failed;
    ++p.total_failed;
    p.last_error = why;
    log_.debug("health check failed", {log::kv("route", route), log::kv("server", server),
                                       log::kv("failed", p.failed), log::kv("error", why)});
    if (!balancer.down(p.server) && p.failed >= hc.fall) {
        balancer.set_down(p.server, true);
        log_.warn("backend server down",
                  {log::kv("route", route), log::kv("server", server),
                   log::kv("check", check_type_name(hc.type)), log::kv("failed", p.failed),
                   log::kv("interval_ms", to_ms(hc.interval)), log::kv("reason", why)});
    }
    report(p);
}

}  // namespace sni::worker
