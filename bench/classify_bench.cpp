// Classification + handoff-read cost per connection: BPF classifier vs userspace classifier.
//
// Each iteration is one whole loopback connection in this process: connect, send a real
// ClientHello, accept, classify, read the ClientHello bytes (and, for BPF, remove the socket
// from the SOCKHASH), close. Client and TCP costs are the same in both rows, so the difference
// between the rows is the classifier's. Reports process CPU (user+sys) per connection.
// Needs root (loads BPF). Not a test: run bench/run-micro.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <vector>

#include "common/clienthello.hpp"
#include "loader/kernel_steering.hpp"

namespace {

using Bytes = std::vector<uint8_t>;

Bytes client_hello(const char *sni) {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                          SSL_CTX_free);
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
    BIO *wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl.get(), BIO_new(BIO_s_mem()), wbio);
    SSL_set_tlsext_host_name(ssl.get(), sni);
    SSL_connect(ssl.get());
    char *data = nullptr;
    const long n = BIO_get_mem_data(wbio, &data);
    return Bytes(data, data + n);
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct Listener {
    int fd = -1;
    sockaddr_in addr{};
    Listener() {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr));
        listen(fd, 1024);
        socklen_t len = sizeof(addr);
        getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len);
    }
    ~Listener() { close(fd); }
    int client(const Bytes &hello) const {
        const int c = socket(AF_INET, SOCK_STREAM, 0);
        const int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        connect(c, reinterpret_cast<const sockaddr *>(&addr), sizeof(addr));
        send(c, hello.data(), hello.size(), 0);
        return c;
    }
};

void BM_ClassifyUserspace(benchmark::State &state) {
    Listener l;
    const Bytes hello = client_hello("a.test");
    sni::ClientHelloParser parser;
    std::vector<uint8_t> buf(CH_DEFAULT_CAP);
    const double cpu0 = cpu_seconds();
    for (auto _ : state) {
        const int c = l.client(hello);
        const int s = accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK);
        for (;;) {
            pollfd p{s, POLLIN, 0};
            poll(&p, 1, 1000);
            const ssize_t n = recv(s, buf.data(), buf.size(), MSG_PEEK);
            if (n <= 0) break;
            const ch_info &r = parser.parse(std::span(buf.data(), size_t(n)));
            if (r.status == CH_NEED_MORE) continue;
            if (r.status == CH_OK) recv(s, buf.data(), r.record_bytes, 0);
            break;
        }
        close(s);
        close(c);
    }
    state.counters["cpu_us_per_conn"] = (cpu_seconds() - cpu0) * 1e6 / double(state.iterations());
}
BENCHMARK(BM_ClassifyUserspace)->UseRealTime()->MinTime(2.0);

void BM_ClassifyBpf(benchmark::State &state) {
    auto ks = sni::loader::KernelSteering::open(sni::loader::find_cgroup2_root(), 4);
    if (!ks.ok()) {
        state.SkipWithError(ks.error().c_str());
        return;
    }
    Listener l;
    sockaddr_storage ss{};
    std::memcpy(&ss, &l.addr, sizeof(l.addr));
    (void)ks.value()->add_listener(0, ss, CH_DEFAULT_CAP);
    (void)ks.value()->set_routes({{0, "a.test", 0}});
    const Bytes hello = client_hello("a.test");
    std::vector<uint8_t> bytes;
    const double cpu0 = cpu_seconds();
    for (auto _ : state) {
        const int c = l.client(hello);
        const int s = accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK);
        uint64_t cookie = 0;
        socklen_t len = sizeof(cookie);
        getsockopt(s, SOL_SOCKET, SO_COOKIE, &cookie, &len);
        sni::loader::KernelSteering::kick(s);
        bool got = false;
        const std::function<void(const sni::loader::KernelDecision &)> sink =
            [&](const sni::loader::KernelDecision &d) { got |= d.cookie == cookie; };
        while (!got) {
            pollfd p{ks.value()->event_fd(), POLLIN, 0};
            poll(&p, 1, 1000);
            ks.value()->consume(sink);
        }
        bytes.clear();
        while (ks.value()->drain(s, cookie, bytes).status ==
               sni::loader::KernelSteering::Drain::kWaiting) {
            pollfd p{s, POLLIN, 0};
            poll(&p, 1, 10);
        }
        close(s);
        close(c);
    }
    state.counters["cpu_us_per_conn"] = (cpu_seconds() - cpu0) * 1e6 / double(state.iterations());
}
BENCHMARK(BM_ClassifyBpf)->UseRealTime()->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
