#include "real_worker.hpp"

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "net_client.hpp"

namespace sni::itest {

UniqueFd loopback_listener(std::uint16_t &port, int backlog) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd.get(), reinterpret_cast<sockaddr *>(&sin), sizeof sin);
    ::listen(fd.get(), backlog);
    socklen_t len = sizeof sin;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr *>(&sin), &len);
    port = ntohs(sin.sin_port);
    return fd;
}

EchoBackend::EchoBackend() : listen_(loopback_listener(port_, 16)) {
    thread_ = std::thread([this] { run(); });
}

EchoBackend::~EchoBackend() {
    stop_ = true;
    thread_.join();
}

void EchoBackend::run() {
    std::vector<char> buf(64 * 1024);
    while (!stop_) {
        pollfd p{listen_.get(), POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        UniqueFd c(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!c) continue;
        for (;;) {
            const ssize_t n = ::recv(c.get(), buf.data(), buf.size(), 0);
            if (n <= 0) break;
            if (::send(c.get(), buf.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
        }
    }
}

RealWorkerDaemon::RealWorkerDaemon(const std::string &routes, const std::string &classifier,
                                   const std::string &top_level, const std::string &log_level) {
    const auto ports = free_ports(2);
    main_port = ports[0];
    metrics_port = ports[1];
    socket = (dir.path() / "ctl.sock").string();
    std::ostringstream y;
    y << "control: {socket: \"" << socket << "\"}\n"
      << "listeners:\n  - name: main\n    bind: [\"127.0.0.1:" << main_port << "\"]\n"
      << "routes:\n"
      << routes << "pools:\n  - {name: default, workers: 1, user: nobody}\n"
      << "metrics: {listen: \"127.0.0.1:" << metrics_port << "\"}\n"
      << "access_log: {path: \"" << (dir.path() / "access.log").string() << "\"}\n"
      << top_level;
    write_file(dir.path() / "c.yaml", y.str());
    DaemonProcess::Options o;
    o.config_path = (dir.path() / "c.yaml").string();
    o.classifier = classifier;
    o.log_path = dir.path() / "daemon.log";
    o.extra_args = {"--worker-bin", SNI_WORKER_BIN};
    if (!log_level.empty()) o.extra_args.insert(o.extra_args.end(), {"--log-level", log_level});
    daemon = std::make_unique<DaemonProcess>(o);
}

std::string RealWorkerDaemon::access_log() const {
    std::ifstream in(dir.path() / "access.log");
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string RealWorkerDaemon::wait_access_lines(std::size_t lines) const {
    std::string text;
    for (int i = 0; i < 100; ++i) {
        text = access_log();
        if (static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) >= lines) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return text;
}

namespace {

struct CtxFree {
    void operator()(SSL_CTX *c) const { SSL_CTX_free(c); }
};
struct SslFree {
    void operator()(SSL *s) const { SSL_free(s); }
};

std::string openssl_error() {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    return buf;
}

}  // namespace

std::string tls_echo(std::uint16_t port, const std::string &sni,
                     const std::vector<std::uint8_t> &payload) {
    std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) return "SSL_CTX_new: " + openssl_error();
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
    UniqueFd fd = connect_tcp("127.0.0.1", port);
    if (!fd.valid()) return "connect failed";
    std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd.get());
    SSL_set_tlsext_host_name(ssl.get(), sni.c_str());
    if (SSL_connect(ssl.get()) != 1) return "handshake: " + openssl_error();
    if (SSL_write(ssl.get(), payload.data(), static_cast<int>(payload.size())) !=
        static_cast<int>(payload.size()))
        return "write: " + openssl_error();
    Bytes back(payload.size());
    std::size_t got = 0;
    while (got < back.size()) {
        const int n = SSL_read(ssl.get(), back.data() + got, static_cast<int>(back.size() - got));
        if (n <= 0) return "read after " + std::to_string(got) + " bytes: " + openssl_error();
        got += static_cast<std::size_t>(n);
    }
    if (back != payload) return "the echo differs";
    SSL_shutdown(ssl.get());
    return "";
}

}  // namespace sni::itest
