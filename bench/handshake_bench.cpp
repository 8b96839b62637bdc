// CPU of the two full TLS handshakes a reencrypt connection costs the worker, each leg on its
// own (ECDSA P-256, TLS 1.3, no resumption, as in peerbench's scenario):
// - BM_BackendHandshake: the worker as the backend's client (BackendTls), verify cache off/on,
//   and with the cache on, the default library context or CertDecodeCtx (spki_decoders:1);
// - BM_BackendTicketsRefused: the backend leg against a server that issues tickets it refuses;
// - BM_FrontHandshake: the worker as the client's server (ServerTls).
// Both ends run in this thread over a socketpair; only the time the worker's side spends in
// SSL_do_handshake is counted (thread CPU clock), so the peer's cost is left out. Their sum is
// OpenSSL's floor per reencrypt connection, before any socket, relay or process work.
#include <benchmark/benchmark.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <ctime>
#include <optional>
#include <stdexcept>

#include "common/fd.hpp"
#include "tests/support/temp_files.hpp"
#include "tests/worker/pki.hpp"
#include "workers/backend_tls.hpp"
#include "workers/cert_decode_ctx.hpp"
#include "workers/server_tls.hpp"

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
    wtest::CertFiles front = pki.make_leaf("front", {"a.test"}, ca);
    worker::SslCtxPtr server{SSL_CTX_new(TLS_server_method())};  // plays the backend
    worker::SslCtxPtr client{SSL_CTX_new(TLS_client_method())};  // plays the client

    Setup() {
        SSL_CTX_set_min_proto_version(server.get(), TLS1_3_VERSION);
        SSL_CTX_set_num_tickets(server.get(), 0);
        SSL_CTX_set_session_cache_mode(server.get(), SSL_SESS_CACHE_OFF);
        if (SSL_CTX_use_certificate_chain_file(server.get(), leaf.cert.c_str()) != 1 ||
            SSL_CTX_use_PrivateKey_file(server.get(), leaf.key.c_str(), SSL_FILETYPE_PEM) != 1)
            throw std::runtime_error("server certificate");
        // Like peerbench's h2load: TLS 1.3, verifies nothing, no session to resume.
        SSL_CTX_set_min_proto_version(client.get(), TLS1_3_VERSION);
        SSL_CTX_set_session_cache_mode(client.get(), SSL_SESS_CACHE_OFF);
    }

    config::Route front_route() const {
        config::Route r;
        r.name = "bench";
        config::ClientTls t;
        t.certificates.push_back({front.cert.string(), front.key.string(), ""});
        t.session_tickets = false;
        r.tls = t;
        return r;
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

// Drives `ours` and `peer` to the end of one handshake over their socketpair; returns the CPU
// seconds `ours` spent.
double handshake(SSL *ours, SSL *peer) {
    double spent = 0;
    bool ours_done = false, peer_done = false;
    for (int round = 0; round < 20 && !(ours_done && peer_done); ++round) {
        if (!ours_done) {
            const double t0 = thread_cpu_seconds();
            const int r = SSL_do_handshake(ours);
            spent += thread_cpu_seconds() - t0;
            if (r == 1)
                ours_done = true;
            else if (SSL_get_error(ours, r) != SSL_ERROR_WANT_READ)
                throw std::runtime_error("our side's handshake failed");
        }
        if (!peer_done) {
            const int r = SSL_do_handshake(peer);
            if (r == 1)
                peer_done = true;
            else if (SSL_get_error(peer, r) != SSL_ERROR_WANT_READ)
                throw std::runtime_error("the peer's handshake failed");
        }
    }
    if (!ours_done || !peer_done) throw std::runtime_error("handshake incomplete");
    return spent;
}

struct SocketPair {
    UniqueFd a, b;
    SocketPair() {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
            throw std::runtime_error("socketpair");
        a = UniqueFd(sv[0]);
        b = UniqueFd(sv[1]);
    }
};

// The worker as the backend's client; returns its CPU seconds.
double backend_handshake(Setup &s, worker::BackendTls &tls) {
    SocketPair sp;
    worker::BackendSslState state;
    state.sni = "backend.internal";
    auto client = tls.new_ssl(sp.a.get(), state, "", false);
    if (!client) throw std::runtime_error(client.error());
    worker::SslPtr server(SSL_new(s.server.get()));
    SSL_set_fd(server.get(), sp.b.get());
    SSL_set_accept_state(server.get());
    const double spent = handshake(client->get(), server.get());
    if (SSL_get_verify_result(client->get()) != X509_V_OK)
        throw std::runtime_error("backend certificate not verified");
    return spent;
}

// The worker as the client's server; returns its CPU seconds.
double front_handshake(Setup &s, worker::ServerTls &tls) {
    SocketPair sp;
    worker::SslPtr server(SSL_new(tls.ctx()));
    SSL_set_fd(server.get(), sp.a.get());
    SSL_set_accept_state(server.get());
    worker::SslPtr client(SSL_new(s.client.get()));
    SSL_set_fd(client.get(), sp.b.get());
    SSL_set_tlsext_host_name(client.get(), "a.test");
    SSL_set_connect_state(client.get());
    const double spent = handshake(server.get(), client.get());
    if (SSL_version(server.get()) != TLS1_3_VERSION)
        throw std::runtime_error("front leg did not negotiate TLS 1.3");
    return spent;
}

void BM_BackendHandshake(benchmark::State &st) {
    Setup s;
    std::optional<worker::CertDecodeCtx> decode;
    if (st.range(1) != 0) {
        auto made = worker::CertDecodeCtx::create();
        if (!made) throw std::runtime_error(made.error());
        decode.emplace(std::move(made).value());
    }
    auto tls = worker::BackendTls::create(s.route(st.range(0) != 0), {}, true,
                                          decode ? decode->get() : nullptr);
    if (!tls) throw std::runtime_error(tls.error());
    for (auto _ : st) st.SetIterationTime(backend_handshake(s, **tls));
    if (const auto *cache = (*tls)->verify_cache())
        st.counters["hit_ratio"] = static_cast<double>(cache->hits()) /
                                   static_cast<double>(cache->hits() + cache->misses());
}
BENCHMARK(BM_BackendHandshake)
    ->ArgNames({"cache", "spki_decoders"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({1, 1})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// A backend like peerbench's nginx (`ssl_session_cache off; ssl_session_tickets off;`): two
// TLS 1.3 tickets after each handshake that it can never look up again. Counts the worker's
// handshake and its reading of the tickets. offers: 0 = `session_reuse: false`; 1 = the
// worker's default, which stops offering to a server that refuses (SessionCache); 2 = an offer
// every time, as before that (the bench tells the cache each offer resumed).
void BM_BackendTicketsRefused(benchmark::State &st) {
    Setup s;
    SSL_CTX_set_options(s.server.get(), SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(s.server.get(), 2);
    config::Route route = s.route(true);
    route.backend.tls->session_reuse = st.range(0) != 0;
    auto tls = worker::BackendTls::create(route);
    if (!tls) throw std::runtime_error(tls.error());
    long offered = 0;
    for (auto _ : st) {
        SocketPair sp;
        worker::BackendSslState state;
        state.cache = &(*tls)->sessions();
        state.sni = "backend.internal";
        auto client = (*tls)->new_ssl(sp.a.get(), state, "");
        if (!client) throw std::runtime_error(client.error());
        worker::SslPtr server(SSL_new(s.server.get()));
        SSL_set_fd(server.get(), sp.b.get());
        SSL_set_accept_state(server.get());
        double spent = handshake(client->get(), server.get());
        char byte;
        const double t0 = thread_cpu_seconds();
        const int r = SSL_read(client->get(), &byte, 1);  // the tickets, then nothing
        if (st.range(0) == 2 && state.offered)
            (*tls)->sessions().record_offer(state.server, true);
        else
            (*tls)->record_handshake(state, client->get());
        spent += thread_cpu_seconds() - t0;
        if (r > 0 || SSL_get_error(client->get(), r) != SSL_ERROR_WANT_READ)
            throw std::runtime_error("expected the tickets and nothing else");
        if (SSL_session_reused(client->get()) == 1) throw std::runtime_error("resumed");
        if (state.offered) ++offered;
        SSL_shutdown(client->get());  // as the worker does: the tickets stay resumable
        st.SetIterationTime(spent);
    }
    st.counters["offered"] = static_cast<double>(offered) / static_cast<double>(st.iterations());
}
BENCHMARK(BM_BackendTicketsRefused)
    ->ArgName("offers")
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

void BM_FrontHandshake(benchmark::State &st) {
    Setup s;
    auto tls = worker::ServerTls::create(s.front_route(), false);
    if (!tls) throw std::runtime_error(tls.error());
    for (auto _ : st) st.SetIterationTime(front_handshake(s, **tls));
}
BENCHMARK(BM_FrontHandshake)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
