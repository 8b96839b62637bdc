#include "real_worker.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <vector>

namespace sni::itest {

EchoBackend::EchoBackend() {
    listen_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_.get(), reinterpret_cast<sockaddr *>(&sin), sizeof sin);
    ::listen(listen_.get(), 16);
    socklen_t len = sizeof sin;
    ::getsockname(listen_.get(), reinterpret_cast<sockaddr *>(&sin), &len);
    port_ = ntohs(sin.sin_port);
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
                                   const std::string &top_level) {
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

}  // namespace sni::itest
