// sni-test-worker: receives handoffs on fd 3 (SNI_HANDOFF_FD) and serves each connection as an
// echo (see echo_conn.hpp). Args: --pool NAME --config FILE. When the daemon's end of the
// channel closes it finishes its connections and exits; SIGTERM ends it at once.
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clienthello.hpp"
#include "common/config.hpp"
#include "common/conn_report.hpp"
#include "common/fd.hpp"
#include "common/handoff.hpp"
#include "common/log.hpp"
#include "common/prefix_bio.hpp"
#include "common/ticket_keys.hpp"
#include "echo_conn.hpp"
#include "tls_contexts.hpp"

namespace {

using namespace sni;
using test_worker::EchoConn;

constexpr std::uint64_t kChannelToken = ~std::uint64_t(0);

struct Args {
    std::string pool;
    std::string config;
};

bool parse_args(int argc, char **argv, Args &out) {
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view a = argv[i];
        if (a == "--pool")
            out.pool = argv[i + 1];
        else if (a == "--config")
            out.config = argv[i + 1];
        else if (a == "--user" || a == "--log-level")
            continue;  // the stand-in keeps the test's credentials (it holds test keys only)
                       // and logs at its own level
        else
            return false;
    }
    return !out.config.empty();
}

class Worker {
  public:
    Worker(const log::Logger &log, config::Config config,
           std::vector<test_worker::SslCtxPtr> contexts, int channel, UniqueFd epfd)
        : log_(log),
          config_(std::move(config)),
          contexts_(std::move(contexts)),
          channel_(channel),
          epfd_(std::move(epfd)) {}

    int run() {
        // Readiness as the real worker reports it; SNI_TEST_WORKER_READY_DELAY_MS holds the
        // report back (the daemon's /readyz test).
        if (const char *d = std::getenv("SNI_TEST_WORKER_READY_DELAY_MS"))
            ::usleep(static_cast<useconds_t>(std::atoi(d)) * 1000);
        conn_report::Report ready;
        ready.event = conn_report::Event::kReady;
        conn_report::send_report(channel_, ready);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = kChannelToken;
        if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, channel_, &ev) != 0) return 1;
        epoll_event events[128];
        for (;;) {
            const int n = ::epoll_wait(epfd_.get(), events, 128, -1);
            if (n < 0) {
                if (errno == EINTR) continue;
                return 1;
            }
            for (int i = 0; i < n; ++i) {
                if (events[i].data.u64 == kChannelToken) {
                    if (taking_ && !on_channel()) {
                        // Like sni-worker: no more handoffs, finish what we have.
                        taking_ = false;
                        ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, channel_, nullptr);
                    }
                } else {
                    on_conn(events[i].data.u64);
                }
            }
            if (!taking_ && conns_.empty()) return 0;
        }
    }

  private:
    bool on_channel() {
        for (;;) {
            auto d = handoff::recv_datagram(channel_, scratch_);
            // This echo worker has no use for ticket keys: that datagram is dropped.
            if (d && conn_report::magic_of({scratch_.data(), d->size}) == tickets::kMagic) continue;
            auto r = handoff::parse_handoff(std::move(d), scratch_);
            if (!r) {
                const auto &e = r.error();
                if (e.kind == handoff::RecvError::kWouldBlock) return true;
                if (e.kind == handoff::RecvError::kClosed) {
                    log_.info("channel closed, finishing connections",
                              {log::kv("connections", conns_.size())});
                    return false;
                }
                log_.error("bad handoff", {log::kv("error", handoff::recv_error_name(e.kind)),
                                           log::kv("detail", e.detail)});
                if (e.kind == handoff::RecvError::kSystem) return false;
                continue;
            }
            start(std::move(r).value());
        }
    }

    void start(handoff::Received rcv) {
        const auto &h = rcv.handoff;
        if (h.route_id >= config_.routes.size()) {
            log_.error("handoff for an unknown route", {log::kv("route", h.route_id)});
            return;
        }
        const auto &route = config_.routes[h.route_id];
        const int fd = rcv.conn.get();
        std::unique_ptr<EchoConn> conn;
        if (!contexts_[h.route_id]) {
            conn = std::make_unique<EchoConn>(std::move(rcv.conn), rcv.hello);
        } else {
            test_worker::SslPtr ssl(SSL_new(contexts_[h.route_id].get()));
            BioPtr bio = make_prefixed_socket_bio(prefix_method_, rcv.hello, fd);
            if (!ssl || !bio) {
                log_.error("cannot set up TLS");
                return;
            }
            BIO *raw = bio.release();
            SSL_set_bio(ssl.get(), raw, raw);  // one reference, owned by ssl
            const std::string_view sni = sni_of(h.facts);
            std::string greeting = "route=" + route.name +
                                   " sni=" + (sni.empty() ? std::string("-") : std::string(sni)) +
                                   " version=";
            conn = std::make_unique<EchoConn>(std::move(rcv.conn), std::move(ssl),
                                              std::move(greeting));
        }
        log_.debug("connection",
                   {log::kv("conn", h.conn_id), log::kv("route", route.name),
                    log::kv("outcome", handoff::outcome_name(h.outcome)),
                    log::kv("sni", sni_of(h.facts)), log::kv("hello_bytes", rcv.hello.size())});
        const std::uint64_t token = next_token_++;
        epoll_event ev{};
        ev.events = conn->interest();
        ev.data.u64 = token;
        if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return;
        conns_.emplace(token, std::move(conn));
        on_conn(token);
    }

    void on_conn(std::uint64_t token) {
        const auto it = conns_.find(token);
        if (it == conns_.end()) return;
        EchoConn &c = *it->second;
        if (!c.drive()) {
            if (!c.error.empty()) log_.info("connection failed", {log::kv("error", c.error)});
            ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, c.fd(), nullptr);
            conns_.erase(it);
            return;
        }
        epoll_event ev{};
        ev.events = c.interest();
        ev.data.u64 = token;
        ::epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, c.fd(), &ev);
    }

    const log::Logger &log_;
    config::Config config_;
    std::vector<test_worker::SslCtxPtr> contexts_;
    int channel_;
    UniqueFd epfd_;
    PrefixBioMethod prefix_method_;
    std::vector<std::uint8_t> scratch_;
    std::unordered_map<std::uint64_t, std::unique_ptr<EchoConn>> conns_;
    std::uint64_t next_token_ = 1;
    bool taking_ = true;
};

}  // namespace

int main(int argc, char **argv) {
    std::signal(SIGPIPE, SIG_IGN);
    Args args;
    if (!parse_args(argc, argv, args)) {
        std::fputs("usage: sni-test-worker --pool NAME --config FILE (handoff channel: fd 3)\n",
                   stderr);
        return 2;
    }
    const char *level_env = std::getenv("SNI_TEST_WORKER_LOG");
    const auto level = log::parse_level(level_env != nullptr ? level_env : "info");
    log::Logger log("sni-test-worker", level.value_or(log::Level::kInfo));

    const char *fd_env = std::getenv("SNI_HANDOFF_FD");
    const int channel = fd_env != nullptr ? std::atoi(fd_env) : 3;
    if (::fcntl(channel, F_GETFD) < 0) {
        log.error("no handoff channel", {log::kv("fd", channel)});
        return 2;
    }
    ::fcntl(channel, F_SETFD, FD_CLOEXEC);
    ::fcntl(channel, F_SETFL, ::fcntl(channel, F_GETFL) | O_NONBLOCK);

    auto loaded = config::load_file(args.config);
    if (!loaded) {
        log.error("invalid configuration", {log::kv("errors", config::to_string(loaded.error()))});
        return 1;
    }
    auto contexts = test_worker::make_tls_contexts(loaded.value());
    if (!contexts) {
        log.error("TLS setup failed", {log::kv("error", contexts.error())});
        return 1;
    }
    UniqueFd epfd(::epoll_create1(EPOLL_CLOEXEC));
    if (!epfd) return 1;
    log.info("worker running", {log::kv("pool", args.pool), log::kv("pid", ::getpid())});
    Worker worker(log, std::move(loaded).value(), std::move(contexts).value(), channel,
                  std::move(epfd));
    return worker.run();
}
