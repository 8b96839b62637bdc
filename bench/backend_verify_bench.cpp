// CPU of one full backend TLS handshake on the worker's side (BackendTls, ECDSA P-256, TLS 1.3,
// no resumption), with and without the verify cache. Both ends run in this thread over a
// socketpair; only the time spent in the worker side's SSL_do_handshake is counted (thread CPU
// clock), so the test server's own cost is left out.
#include <benchmark/benchmark.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <ctime>
#include <stdexcept>

#include "common/fd.hpp"
#include "tests/support/temp_files.hpp"
#include "tests/worker/pki.hpp"
#include "workers/backend_tls.hpp"

namespace {

using namespace sni;

double thread_cpu_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Setup {
    testsupport::TempDir dir{"sni-bench-"};
    wtest::Pki pki{dir.path()};
    wtest::CertFiles ca = pki.make_ca("ca", "Bench CA");
    wtest::CertFiles leaf = pki.make_leaf("backend", {"backend.internal"}, ca);
    worker::SslCtxPtr server{SSL_CTX_new(TLS_server_method())};

    Setup() {
        SSL_CTX_set_min_proto_version(server.get(), TLS1_3_VERSION);
        SSL_CTX_set_num_tickets(server.get(), 0);
        SSL_CTX_set_session_cache_mode(server.get(), SSL_SESS_CACHE_OFF);
        if (SSL_CTX_use_certificate_chain_file(server.get(), leaf.cert.c_str()) != 1 ||
            SSL_CTX_use_PrivateKey_file(server.get(), leaf.key.c_str(), SSL_FILETYPE_PEM) != 1)
            throw std::runtime_error("server certificate");
    }

    config::Route route(bool cache) const {
        config::Route r;
        r.name = "bench";
        r.backend.servers.push_back({{config::AddressKind::kIpv4, "127.0.0.1", 443}, 1});
        config::BackendTls t;
        t.sni_mode = config::BackendSni::kFixed;
        t.sni = "backend.internal";
        t.verify.ca = ca.cert.string();
        t.verify.cache = cache;
        r.backend.tls = t;
        return r;
    }
};

// One handshake; returns the worker side's CPU seconds.
double handshake(Setup &s, worker::BackendTls &tls) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        throw std::runtime_error("socketpair");
    UniqueFd a(sv[0]), b(sv[1]);
    worker::BackendSslState state;
    state.sni = "backend.internal";
    auto client = tls.new_ssl(a.get(), state, "", false);
    if (!client) throw std::runtime_error(client.error());
    worker::SslPtr server(SSL_new(s.server.get()));
    SSL_set_fd(server.get(), b.get());
    SSL_set_accept_state(server.get());
    double spent = 0;
    bool client_done = false, server_done = false;
    for (int round = 0; round < 20 && !(client_done && server_done); ++round) {
        if (!client_done) {
            const double t0 = thread_cpu_seconds();
            const int r = SSL_do_handshake(client->get());
            spent += thread_cpu_seconds() - t0;
            if (r == 1)
                client_done = true;
            else if (SSL_get_error(client->get(), r) != SSL_ERROR_WANT_READ)
                throw std::runtime_error("client handshake failed");
        }
        if (!server_done) {
            const int r = SSL_do_handshake(server.get());
            if (r == 1)
                server_done = true;
            else if (SSL_get_error(server.get(), r) != SSL_ERROR_WANT_READ)
                throw std::runtime_error("server handshake failed");
        }
    }
    if (!client_done || SSL_get_verify_result(client->get()) != X509_V_OK)
        throw std::runtime_error("handshake incomplete");
    return spent;
}

void BM_BackendHandshake(benchmark::State &st) {
    Setup s;
    auto tls = worker::BackendTls::create(s.route(st.range(0) != 0));
    if (!tls) throw std::runtime_error(tls.error());
    for (auto _ : st) st.SetIterationTime(handshake(s, **tls));
    if (const auto *cache = (*tls)->verify_cache())
        st.counters["hit_ratio"] = static_cast<double>(cache->hits()) /
                                   static_cast<double>(cache->hits() + cache->misses());
}
BENCHMARK(BM_BackendHandshake)
    ->ArgName("cache")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
