// The passthrough floor: the least CPU per connection a sockmap passthrough proxy can cost on
// this machine, to measure sni-splitter's passthrough row against (docs/performance.md,
// "Passthrough: the floor of the design"). One process, one thread, no handoff: accept, read
// the ClientHello, pick the backend by its SNI (the shared parser), connect, pair both sockets
// in the kernel relay, send the ClientHello, and at each FIN carry it over once the peer has
// taken every redirected byte. Nothing else: no health checks, balancer, timeouts, PROXY
// header, access log, metrics, reload or limits, and it stops at the first error it cannot
// pass by. A bench instrument run by the peerbench adapter bench/peerbench/passthrough-floor,
// never a relay to deploy.
//
//   passthrough_floor [--split] CONFIG
//       CONFIG lines: "listen HOST PORT", "exact NAME HOST PORT", "suffix .SUFFIX HOST PORT",
//       "default HOST PORT"
//       --split: two processes, as sni-splitter's daemon and worker: one accepts, reads and
//       routes the ClientHello and hands the socket on (SCM_RIGHTS, with the ClientHello and the
//       backend's address); the other connects, pairs and carries the FINs. Measures what the
//       split itself costs.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/clienthello.hpp"
#include "common/fd.hpp"
#include "common/socket_facts.hpp"
#include "passthrough_floor.skel.h"

namespace {

using sni::UniqueFd;

struct Route {
    std::string name;  // the exact name, or the suffix with its leading dot
    bool suffix = false;
    sockaddr_in backend{};
};

struct Config {
    sockaddr_in listen{};
    std::vector<Route> routes;
    std::optional<sockaddr_in> fallback;  // no SNI, or an unknown one
};

std::optional<sockaddr_in> make_addr(const std::string &host, int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) return std::nullopt;
    return a;
}

std::optional<Config> read_config(const char *path, std::string &error) {
    std::ifstream in(path);
    if (!in) {
        error = std::string("cannot open ") + path;
        return std::nullopt;
    }
    Config c;
    bool have_listen = false;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        std::istringstream words(line);
        std::string kind, name, host;
        int port = 0;
        if (!(words >> kind) || kind[0] == '#') continue;
        if (kind != "listen" && kind != "default") words >> name;
        words >> host >> port;
        const auto addr = make_addr(host, port);
        if (!words || !addr) {
            error = std::string(path) + ":" + std::to_string(n) +
                    ": expected an IPv4 address and a port";
            return std::nullopt;
        }
        if (kind == "listen") {
            c.listen = *addr;
            have_listen = true;
        } else if (kind == "default") {
            c.fallback = addr;
        } else if (kind == "exact" || kind == "suffix") {
            c.routes.push_back({name, kind == "suffix", *addr});
        } else {
            error = std::string(path) + ":" + std::to_string(n) + ": unknown line kind " + kind;
            return std::nullopt;
        }
    }
    if (!have_listen) error = std::string(path) + ": no listen line";
    return have_listen ? std::optional<Config>(std::move(c)) : std::nullopt;
}

const sockaddr_in *pick(const Config &c, std::string_view sni) {
    for (const Route &r : c.routes) {
        if (!r.suffix && sni == r.name) return &r.backend;
        if (r.suffix && sni.size() > r.name.size() && sni.ends_with(r.name)) return &r.backend;
    }
    return c.fallback ? &*c.fallback : nullptr;
}

struct FloorPeer {  // struct floor_peer of passthrough_floor.bpf.c
    uint64_t peer;
    uint64_t bytes;
};

// One client connection: waiting for its ClientHello, then paired with its backend.
struct Conn {
    UniqueFd client, backend;
    std::vector<uint8_t> hello;
    uint64_t client_cookie = 0, backend_cookie = 0;
    bool paired = false;
    bool client_watched = false;  // in epoll already: the next watch is a MOD
    bool dropped = false;         // closed; freed after the epoll batch that may still name it
    std::array<bool, 2> eof{};    // [0]: the client's FIN came, [1]: the backend's
    std::array<bool, 2> done{};   // [0]: our FIN went to the backend, [1]: to the client
};

// kWhole does everything; with --split, kAcceptor hands each routed socket to kPairer.
enum class Role { kWhole, kAcceptor, kPairer };

// The handoff's bytes: the backend's address, then the ClientHello.
struct HandoffHead {
    sockaddr_in backend;
};

// A two-part message with room for one fd (SCM_RIGHTS).
struct FdMessage {
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    explicit FdMessage(iovec (&iov)[2]) {
        msg.msg_iov = iov;
        msg.msg_iovlen = 2;
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
    }
    FdMessage(const FdMessage &) = delete;
    FdMessage &operator=(const FdMessage &) = delete;
};

constexpr uintptr_t kListenerTag = 0, kChannelTag = 2;  // a Conn* is 8-aligned: never 2

class Floor {
  public:
    Floor(Role role, UniqueFd channel, Config config, passthrough_floor *skel, UniqueFd listener,
          UniqueFd epoll)
        : role_(role),
          channel_(std::move(channel)),
          config_(std::move(config)),
          listener_(std::move(listener)),
          epoll_(std::move(epoll)),
          socks_(bpf_map__fd(skel->maps.socks)),
          peers_(bpf_map__fd(skel->maps.peers)) {}

    int run(const volatile std::sig_atomic_t &stop) {
        std::array<epoll_event, 64> events;
        while (!stop) {
            const int n =
                epoll_wait(epoll_.get(), events.data(), events.size(), flushing_.empty() ? -1 : 1);
            if (n < 0 && errno != EINTR) return perror("epoll_wait"), 1;
            for (int i = 0; i < n; ++i) {
                const uintptr_t tag = events[i].data.u64;
                if (tag == kListenerTag) {
                    accept_one();
                    continue;
                }
                if (tag == kChannelTag) {
                    receive_handoff();
                    continue;
                }
                Conn *c = reinterpret_cast<Conn *>(tag & ~uintptr_t{1});
                const bool from_backend = (tag & 1) != 0;
                if (c->dropped) continue;
                if (!c->paired) {
                    read_hello(c);
                } else {
                    on_paired_event(c, from_backend, events[i].events);
                }
            }
            retry_flushes();
            dropped_.clear();
        }
        return 0;
    }

  private:
    void accept_one() {
        UniqueFd fd(accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) return;
        auto conn = std::make_unique<Conn>();
        conn->client = std::move(fd);
        Conn *c = conn.get();
        conns_.emplace(c, std::move(conn));
        read_hello(c);
    }

    void read_hello(Conn *c) {
        uint8_t buf[16384];
        const ssize_t got = recv(c->client.get(), buf, sizeof(buf), 0);
        if (got < 0 && errno == EAGAIN) {
            watch(c, false, EPOLLIN);
            return;
        }
        if (got <= 0) return drop(c);
        c->hello.insert(c->hello.end(), buf, buf + got);
        const ch_info &info = parser_.parse(c->hello);
        if (info.status == CH_NEED_MORE) {
            watch(c, false, EPOLLIN);
            return;
        }
        const sockaddr_in *to = pick(config_, info.status == CH_OK ? sni::sni_of(info) : "");
        if (to == nullptr) return drop(c);
        if (role_ == Role::kAcceptor) return hand_off(c, *to);
        pair(c, *to);
    }

    void hand_off(Conn *c, const sockaddr_in &to) {
        HandoffHead head{to};
        iovec iov[2] = {{&head, sizeof(head)}, {c->hello.data(), c->hello.size()}};
        FdMessage m(iov);
        msghdr &msg = m.msg;
        cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        const int fd = c->client.get();
        std::memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
        // epoll watches the socket, not the fd: closing ours leaves the pairer's copy watched.
        if (c->client_watched) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
        sendmsg(channel_.get(), &msg, MSG_NOSIGNAL);
        drop(c);  // our copy of the socket: the pairer has its own
    }

    void receive_handoff() {
        HandoffHead head{};
        std::vector<uint8_t> hello(16384);
        iovec iov[2] = {{&head, sizeof(head)}, {hello.data(), hello.size()}};
        FdMessage m(iov);
        msghdr &msg = m.msg;
        const ssize_t got = recvmsg(channel_.get(), &msg, MSG_CMSG_CLOEXEC);
        cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        if (got < static_cast<ssize_t>(sizeof(head)) || cm == nullptr ||
            cm->cmsg_type != SCM_RIGHTS)
            return;
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
        auto conn = std::make_unique<Conn>();
        conn->client.reset(fd);
        hello.resize(static_cast<size_t>(got) - sizeof(head));
        conn->hello = std::move(hello);
        Conn *c = conn.get();
        conns_.emplace(c, std::move(conn));
        pair(c, head.backend);
    }

    void pair(Conn *c, const sockaddr_in &to) {
        // Blocking connect: on loopback the handshake completes inside the call.
        c->backend.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        const int one = 1;
        if (!c->backend ||
            connect(c->backend.get(), reinterpret_cast<const sockaddr *>(&to), sizeof(to)) != 0)
            return drop(c);
        setsockopt(c->backend.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        const auto cc = sni::socket_cookie(c->client.get());
        const auto bc = sni::socket_cookie(c->backend.get());
        if (!cc || !bc) return drop(c);
        c->client_cookie = *cc;
        c->backend_cookie = *bc;
        uint64_t value = c->backend.get();
        if (bpf_map_update_elem(socks_, &c->backend_cookie, &value, BPF_NOEXIST) != 0)
            return drop(c);
        std::array<uint64_t, 2> keys{c->client_cookie, c->backend_cookie};
        std::array<FloorPeer, 2> vals{FloorPeer{c->backend_cookie, 0},
                                      FloorPeer{c->client_cookie, 0}};
        uint32_t count = 2;
        if (bpf_map_update_batch(peers_, keys.data(), vals.data(), &count, nullptr) != 0)
            return drop(c);
        c->paired = true;
        if (send(c->backend.get(), c->hello.data(), c->hello.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(c->hello.size()))
            return drop(c);
        // Client bytes that came between the read and the pairing sit on the socket: sound
        // relays must look (sni-splitter's worker does too).
        uint8_t probe;
        if (recv(c->client.get(), &probe, 1, MSG_PEEK | MSG_DONTWAIT) == 1) return drop(c);
        // Only each side's end: the bytes never reach the sockets' queues, and EPOLLIN would
        // wake the floor at every buffer the verdict redirects.
        watch(c, false, EPOLLRDHUP | EPOLLET);
        watch(c, true, EPOLLRDHUP | EPOLLET);
    }

    void watch(Conn *c, bool backend, uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = reinterpret_cast<uintptr_t>(c) | (backend ? 1 : 0);
        const int fd = backend ? c->backend.get() : c->client.get();
        const bool added = !backend && c->client_watched;
        if (epoll_ctl(epoll_.get(), added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) == 0 &&
            !backend)
            c->client_watched = true;
    }

    void on_paired_event(Conn *c, bool from_backend, uint32_t events) {
        if (events & EPOLLERR) return drop(c);
        if (events & (EPOLLRDHUP | EPOLLHUP)) c->eof[from_backend ? 1 : 0] = true;
        progress(c);
    }

    // Carries each FIN over once the other socket took every byte redirected before it.
    void progress(Conn *c) {
        bool waiting = false;
        for (int side = 0; side < 2; ++side) {
            if (!c->eof[side] || c->done[side]) continue;
            const uint64_t from = side == 0 ? c->client_cookie : c->backend_cookie;
            const int to_fd = side == 0 ? c->backend.get() : c->client.get();
            const uint64_t base = side == 0 ? c->hello.size() + sni::kSynInBytesAcked : 0;
            FloorPeer p{};
            const auto queued = sni::tcp_bytes_queued(to_fd);
            if (bpf_map_lookup_elem(peers_, &from, &p) != 0 || !queued) return drop(c);
            if (*queued < base + p.bytes) {
                waiting = true;
                continue;
            }
            shutdown(to_fd, SHUT_WR);
            c->done[side] = true;
        }
        if (c->done[0] && c->done[1]) return drop(c);
        if (waiting)
            flushing_.insert(c);
        else
            flushing_.erase(c);
    }

    void retry_flushes() {
        if (flushing_.empty()) return;
        std::vector<Conn *> now(flushing_.begin(), flushing_.end());
        for (Conn *c : now)
            if (!c->dropped) progress(c);
    }

    void drop(Conn *c) {
        if (c->paired) {
            std::array<uint64_t, 2> keys{c->client_cookie, c->backend_cookie};
            uint32_t count = 2;
            bpf_map_delete_batch(peers_, keys.data(), &count, nullptr);
        }
        flushing_.erase(c);
        c->dropped = true;
        c->client.reset();  // the kernel takes both sockets out of `socks`
        c->backend.reset();
        auto it = conns_.find(c);
        dropped_.push_back(std::move(it->second));
        conns_.erase(it);
    }

    Role role_;
    UniqueFd channel_;
    Config config_;
    UniqueFd listener_, epoll_;
    int socks_, peers_;
    sni::ClientHelloParser parser_;
    std::unordered_map<Conn *, std::unique_ptr<Conn>> conns_;
    std::vector<std::unique_ptr<Conn>> dropped_;
    std::unordered_set<Conn *> flushing_;
};

volatile std::sig_atomic_t g_stop = 0;

}  // namespace

int main(int argc, char **argv) {
    const bool split = argc == 3 && std::string_view(argv[1]) == "--split";
    if (argc != 2 && !split) {
        std::fprintf(stderr, "usage: %s [--split] CONFIG\n", argv[0]);
        return 2;
    }
    std::string error;
    auto config = read_config(argv[argc - 1], error);
    if (!config) {
        std::fprintf(stderr, "passthrough_floor: %s\n", error.c_str());
        return 2;
    }
    std::unique_ptr<passthrough_floor, void (*)(passthrough_floor *)> skel(
        passthrough_floor__open(), passthrough_floor__destroy);
    if (!skel) return perror("opening the BPF object"), 1;
    skel->rodata->listen_port = ntohs(config->listen.sin_port);
    if (passthrough_floor__load(skel.get()) != 0) return perror("loading the BPF object"), 1;
    if (bpf_prog_attach(bpf_program__fd(skel->progs.floor_verdict), bpf_map__fd(skel->maps.socks),
                        BPF_SK_SKB_VERDICT, 0) != 0)
        return perror("attaching the verdict"), 1;
    UniqueFd cgroup(open("/sys/fs/cgroup/unified", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cgroup) cgroup.reset(open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    std::unique_ptr<bpf_link, int (*)(bpf_link *)> link(
        bpf_program__attach_cgroup(skel->progs.floor_sockops, cgroup.get()), bpf_link__destroy);
    if (!link) return perror("attaching sockops"), 1;

    UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const int one = 1;
    setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(listener.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind(listener.get(), reinterpret_cast<const sockaddr *>(&config->listen),
             sizeof(config->listen)) != 0 ||
        listen(listener.get(), 1024) != 0)
        return perror("listening"), 1;
    std::signal(SIGTERM, [](int) { g_stop = 1; });
    std::signal(SIGINT, [](int) { g_stop = 1; });
    Role role = Role::kWhole;
    UniqueFd channel;
    pid_t pairer = -1;
    if (split) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
            return perror("socketpair"), 1;
        UniqueFd acceptor_end(sv[0]), pairer_end(sv[1]);
        pairer = fork();
        if (pairer < 0) return perror("fork"), 1;
        if (pairer == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            channel = std::move(pairer_end);
            listener.reset();
            role = Role::kPairer;
        } else {
            channel = std::move(acceptor_end);
            role = Role::kAcceptor;
        }
    }
    UniqueFd epoll(epoll_create1(EPOLL_CLOEXEC));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = role == Role::kPairer ? kChannelTag : kListenerTag;
    epoll_ctl(epoll.get(), EPOLL_CTL_ADD, role == Role::kPairer ? channel.get() : listener.get(),
              &ev);

    Floor floor(role, std::move(channel), std::move(*config), skel.get(), std::move(listener),
                std::move(epoll));
    const int rc = floor.run(g_stop);
    if (role == Role::kPairer) {
        (void)link.release();  // the acceptor owns the sockops link; the pairer leaves it alone
        return rc;
    }
    if (pairer > 0) {
        kill(pairer, SIGTERM);
        waitpid(pairer, nullptr, 0);
    }
    return rc;  // `link` detaches sockops
}
