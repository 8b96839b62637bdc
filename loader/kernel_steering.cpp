// The BPF classifier's userspace half: loads steer.bpf.c, attaches it, feeds it listeners and
// routes, and consumes its decisions. See kernel_steering.hpp for the connection's life.
#include "loader/kernel_steering.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include "common/handoff.hpp"
#include "common/recv_available.hpp"
#include "common/server_names.hpp"
#include "common/socket_facts.hpp"
#include "steer.skel.h"

extern "C" {
#include "steer_types.h"
}

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace sni::loader {
namespace {

std::string errno_text(const std::string &what, int err) {
    return what + ": " + std::strerror(err);
}

// RAII for the few raw kernel objects libbpf does not own for us.
class OwnedFd {
  public:
    OwnedFd() = default;
    explicit OwnedFd(int fd) : fd_(fd) {}
    OwnedFd(OwnedFd &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    OwnedFd &operator=(OwnedFd &&o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~OwnedFd() { reset(); }
    int get() const { return fd_; }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

  private:
    int fd_ = -1;
};

struct SkelDeleter {
    void operator()(steer *s) const { steer__destroy(s); }
};
struct LinkDeleter {
    void operator()(bpf_link *l) const { bpf_link__destroy(l); }
};
struct RingDeleter {
    void operator()(ring_buffer *r) const { ring_buffer__free(r); }
};

uint32_t prog_id(int fd) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return 0;
    return info.id;
}

bool is_cgroup2(const std::string &path) {
    struct statfs st {};
    return statfs(path.c_str(), &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

bool has_capability(int cap) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &hdr, data) != 0) return false;
    return (data[cap / 32].effective & (1u << (cap % 32))) != 0;
}

}  // namespace

struct KernelSteering::Impl {
    std::unique_ptr<steer, SkelDeleter> skel;
    std::unique_ptr<bpf_link, LinkDeleter> sockops_link;
    std::unique_ptr<ring_buffer, RingDeleter> ring;
    OwnedFd cgroup;
    std::string cgroup_path;
    uint32_t max_routes = 1;
    bool verdict_attached = false;
    const std::function<void(const KernelDecision &)> *sink = nullptr;

    ~Impl() {
        // Detach the sk_skb programs from the map before the map goes: sockets still in the
        // map keep working as plain sockets once the psock is dropped.
        if (skel) {
            const int map = bpf_map__fd(skel->maps.sock_hash);
            if (verdict_attached)
                bpf_prog_detach2(bpf_program__fd(skel->progs.steer_verdict), map,
                                 BPF_SK_SKB_VERDICT);
        }
    }

    static int on_event(void *ctx, void *data, size_t size) {
        auto *self = static_cast<Impl *>(ctx);
        if (size < sizeof(steer_event) || !self->sink) return 0;
        const auto *ev = static_cast<const steer_event *>(data);
        KernelDecision d;
        d.cookie = ev->cookie;
        d.listener_id = ev->listener_id;
        d.route_id = ev->route_id;
        d.ktime_ns = ev->ktime_ns;
        std::memcpy(&d.facts, &ev->facts, sizeof(d.facts));
        (*self->sink)(d);
        return 0;
    }
};

std::string find_cgroup2_root() {
    for (const char *p : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"})
        if (is_cgroup2(p)) return p;
    return {};
}

std::string kernel_steering_unavailable_reason(const std::string &cgroup_path) {
    constexpr int kCapBpf = 39, kCapSysAdmin = 21, kCapNetAdmin = 12;
    if (!has_capability(kCapBpf) && !has_capability(kCapSysAdmin))
        return "no CAP_BPF (run as root or grant CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)";
    if (!has_capability(kCapNetAdmin) && !has_capability(kCapSysAdmin))
        return "no CAP_NET_ADMIN (needed to attach sockops and sk_skb programs)";
    if (cgroup_path.empty()) return "no cgroup v2 hierarchy is mounted";
    if (!is_cgroup2(cgroup_path)) return cgroup_path + " is not a cgroup v2 directory";
    if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
        return "the kernel has no BTF (/sys/kernel/btf/vmlinux): CO-RE programs cannot load";
    return {};
}

KernelSteering::KernelSteering(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KernelSteering::~KernelSteering() = default;

KernelSteering::Result<std::unique_ptr<KernelSteering>> KernelSteering::open(
    const std::string &cgroup_path, uint32_t max_routes) {
    using config::unexpected;
    auto impl = std::make_unique<Impl>();
    impl->cgroup_path = cgroup_path;
    impl->max_routes = max_routes ? max_routes : 1;

    impl->skel.reset(steer__open());
    if (!impl->skel) return unexpected(errno_text("opening the BPF object", errno));
    auto *skel = impl->skel.get();

    const int ncpus = libbpf_num_possible_cpus();
    if (ncpus <= 0) return unexpected(errno_text("counting CPUs", -ncpus));
    if (bpf_map__set_max_entries(skel->maps.scratch, ncpus * STEER_NEST_SLOTS) ||
        bpf_map__set_max_entries(skel->maps.route_counters, impl->max_routes))
        return unexpected(std::string("sizing the BPF maps failed"));

    if (int err = steer__load(skel); err != 0)
        return unexpected(
            errno_text("loading the BPF programs (verifier or missing kernel feature;"
                       " run with LIBBPF_LOG=1 for the verifier log)",
                       -err));

    const int map = bpf_map__fd(skel->maps.sock_hash);
    if (bpf_prog_attach(bpf_program__fd(skel->progs.steer_verdict), map, BPF_SK_SKB_VERDICT, 0) !=
        0)
        return unexpected(errno_text("attaching the skb verdict to the SOCKHASH", errno));
    impl->verdict_attached = true;

    impl->cgroup = OwnedFd(::open(cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (impl->cgroup.get() < 0)
        return unexpected(errno_text("opening cgroup " + cgroup_path, errno));
    impl->sockops_link.reset(
        bpf_program__attach_cgroup(skel->progs.steer_sockops, impl->cgroup.get()));
    if (!impl->sockops_link)
        return unexpected(errno_text("attaching sockops to cgroup " + cgroup_path, errno));

    impl->ring.reset(
        ring_buffer__new(bpf_map__fd(skel->maps.events), &Impl::on_event, impl.get(), nullptr));
    if (!impl->ring) return unexpected(errno_text("opening the ring buffer", errno));

    std::unique_ptr<KernelSteering> ks(new KernelSteering(std::move(impl)));
    if (auto r = ks->set_routes({}); !r) return unexpected(r.error());
    return ks;
}

KernelSteering::RelayMaps KernelSteering::relay_maps() const {
    return {bpf_map__fd(impl_->skel->maps.sock_hash), bpf_map__fd(impl_->skel->maps.relay_peers)};
}

namespace {

// The listen map's key for a local address; nullopt for a family other than IPv4/IPv6.
std::optional<steer_listen_key> listen_key(const sockaddr_storage &local) {
    steer_listen_key key{};
    key.family = local.ss_family;
    if (local.ss_family == AF_INET) {
        const auto *a = reinterpret_cast<const sockaddr_in *>(&local);
        key.port = ntohs(a->sin_port);
        std::memcpy(&key.addr[0], &a->sin_addr, 4);
    } else if (local.ss_family == AF_INET6) {
        const auto *a = reinterpret_cast<const sockaddr_in6 *>(&local);
        key.port = ntohs(a->sin6_port);
        std::memcpy(key.addr, &a->sin6_addr, 16);
    } else {
        return std::nullopt;
    }
    return key;
}

}  // namespace

KernelSteering::Result<bool> KernelSteering::add_listener(uint32_t listener_id,
                                                          const sockaddr_storage &local,
                                                          uint32_t cap) {
    const auto key = listen_key(local);
    if (!key) return config::unexpected(std::string("listener address is neither IPv4 nor IPv6"));
    const steer_listen_val val{listener_id, cap};
    if (bpf_map_update_elem(bpf_map__fd(impl_->skel->maps.listen_addrs), &*key, &val, BPF_ANY) != 0)
        return config::unexpected(errno_text("adding a listener address to the BPF map", errno));
    return true;
}

KernelSteering::Result<bool> KernelSteering::remove_listener(const sockaddr_storage &local) {
    const auto key = listen_key(local);
    if (!key) return config::unexpected(std::string("listener address is neither IPv4 nor IPv6"));
    if (bpf_map_delete_elem(bpf_map__fd(impl_->skel->maps.listen_addrs), &*key) != 0 &&
        errno != ENOENT)
        return config::unexpected(
            errno_text("removing a listener address from the BPF map", errno));
    return true;
}

KernelSteering::Result<bool> KernelSteering::set_routes(const std::vector<SteeringRoute> &routes) {
    using config::unexpected;
    const uint32_t entries = routes.empty() ? 1 : static_cast<uint32_t>(routes.size());
    LIBBPF_OPTS(bpf_map_create_opts, opts);
    OwnedFd table(bpf_map_create(BPF_MAP_TYPE_HASH, "steer_routes", sizeof(steer_route_key),
                                 sizeof(uint32_t), entries, &opts));
    if (table.get() < 0) return unexpected(errno_text("creating a route table", errno));

    for (const auto &r : routes) {
        steer_route_key key{};
        key.listener_id = r.listener_id;
        std::string name = r.pattern;
        if (name.starts_with("*.")) {
            key.kind = STEER_KEY_WILDCARD;
            name = name.substr(2);
        } else {
            key.kind = STEER_KEY_EXACT;
        }
        if (name.empty() || name.size() >= sizeof(key.name))
            return unexpected("route pattern '" + r.pattern + "' does not fit the BPF route key");
        std::memcpy(key.name, name.data(), name.size());
        const uint32_t rid = r.route_id;
        if (r.route_id >= impl_->max_routes)
            return unexpected("route id " + std::to_string(r.route_id) +
                              " exceeds the BPF table size");
        if (bpf_map_update_elem(table.get(), &key, &rid, BPF_NOEXIST) != 0)
            return unexpected(errno_text("adding route pattern '" + r.pattern + "'", errno));
    }
    // One map update swaps the whole table: readers see the old inner map or the new one.
    const uint32_t zero = 0;
    const int fd = table.get();
    if (bpf_map_update_elem(bpf_map__fd(impl_->skel->maps.routes), &zero, &fd, BPF_ANY) != 0)
        return unexpected(errno_text("switching the route table", errno));
    return true;
}

void KernelSteering::kick(int fd) {
    rearm_data_ready(fd);
}

int KernelSteering::event_fd() const {
    return ring_buffer__epoll_fd(impl_->ring.get());
}

int KernelSteering::consume(const std::function<void(const KernelDecision &)> &fn) {
    impl_->sink = &fn;
    const int n = ring_buffer__consume(impl_->ring.get());
    impl_->sink = nullptr;
    return n;
}

uint64_t KernelSteering::release(uint64_t cookie) {
    bpf_map_delete_elem(bpf_map__fd(impl_->skel->maps.sock_hash), &cookie);
    // Out of the map first: the count read with the entry's removal is then final.
    steer_conn conn{};
    if (bpf_map_lookup_and_delete_elem(bpf_map__fd(impl_->skel->maps.conns), &cookie, &conn) != 0)
        return 0;
    return conn.framed;
}

bool KernelSteering::owns(uint64_t cookie) const {
    steer_conn conn{};
    return bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.conns), &cookie, &conn) == 0;
}

KernelSteering::DrainResult KernelSteering::drain(int fd, uint64_t cookie,
                                                  std::vector<uint8_t> &bytes) {
    // Bounded: more than a handoff can carry is refused by the daemon anyway.
    const bool open = recv_available(fd, bytes, handoff::kMaxHelloBytes).error == 0;
    // Let go only when the psock holds nothing that its removal could drop. When everything
    // TCP received has been read here (the usual case: the ClientHello and nothing after it),
    // that is certain without asking the map: every byte read came through the verdict.
    const uint64_t before = tcp_bytes_received(fd);
    steer_conn conn{};
    if (open && before != bytes.size() &&
        bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.conns), &cookie, &conn) == 0) {
        // framed counts what the verdict passed to the socket; it is set before the decision
        // is emitted and grows with every later buffer. Wait until everything TCP received was
        // passed and everything passed was read.
        if (conn.framed == 0 || bytes.size() < conn.framed) return {Drain::kWaiting, {}};
        if (before > conn.framed) return {Drain::kWaiting, {}};
    }
    // The verdict's final count: more than was read means bytes passed the verdict after the
    // read and the psock dropped them as it went. (TCP's own counters cannot tell: on 6.x
    // FIONREAD counts what the psock held.) A verdict still running on another CPU as the
    // socket leaves can drop bytes uncounted; see docs/troubleshooting.md, "Bytes sent right
    // after the ClientHello".
    const uint64_t framed = release(cookie);
    if (framed > bytes.size())
        return {Drain::kLost, std::to_string(framed - bytes.size()) +
                                  " bytes sent during the handoff were lost in the psock"};
    return {};
}

KernelSteering::DrainResult KernelSteering::read_and_keep(int fd, uint64_t cookie,
                                                          std::size_t hello_bytes,
                                                          std::vector<uint8_t> &bytes) {
    // Only the ClientHello's records: whatever follows them stays in the psock for the worker,
    // as the socket does not leave the map. The decision is emitted just before the verdict
    // queues the buffer, so the bytes may not be readable yet: then wait for them.
    // Closed or failed: the caller finds the hello short.
    if (recv_exactly(fd, bytes, hello_bytes) == RecvExactly::kWouldBlock)
        return {Drain::kWaiting, {}};
    bpf_map_delete_elem(bpf_map__fd(impl_->skel->maps.conns), &cookie);
    return {};
}

SteeringCounters KernelSteering::counters() const {
    SteeringCounters out;
    const int ncpus = libbpf_num_possible_cpus();
    if (ncpus <= 0) return out;
    std::vector<steer_counters> per_cpu(ncpus);
    const uint32_t zero = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.counters), &zero, per_cpu.data()) == 0) {
        for (const auto &c : per_cpu) {
            out.inserted += c.inserted;
            out.insert_failed += c.insert_failed;
            out.decisions += c.decisions;
            for (int i = 0; i < 5; i++) out.by_status[i] += c.by_status[i];
            out.routed += c.routed;
            out.ringbuf_full += c.ringbuf_full;
            out.nested_too_deep += c.nested_too_deep;
            out.parses += c.parses;
            out.verdict_msgs += c.verdict_msgs;
        }
    }
    out.by_route.assign(impl_->max_routes, 0);
    std::vector<uint64_t> per_cpu_route(ncpus);
    for (uint32_t r = 0; r < impl_->max_routes; r++) {
        if (bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.route_counters), &r,
                                per_cpu_route.data()) != 0)
            continue;
        for (uint64_t v : per_cpu_route) out.by_route[r] += v;
    }
    return out;
}

KernelSteering::Attachment KernelSteering::attachment() const {
    Attachment a;
    a.sockops_prog_id = prog_id(bpf_program__fd(impl_->skel->progs.steer_sockops));
    a.verdict_prog_id = prog_id(bpf_program__fd(impl_->skel->progs.steer_verdict));
    a.cgroup = impl_->cgroup_path;
    return a;
}

}  // namespace sni::loader
