// Kernel steering: the BPF classifier. Loads bpf/steer.bpf.c (skeleton), attaches the sockops
// program to a cgroup v2 through a bpf_link and the sk_skb stream parser + verdict to the
// SOCKHASH, and delivers the kernel's classification of each ClientHello through a ring buffer.
//
// Life of one connection on this path (the daemon drives it):
//   1. the kernel's sockops program inserts the passively established socket into the SOCKHASH
//      (keyed by socket cookie) when its local address is one of ours (add_listener);
//   2. after accept(), the daemon calls kick(fd): SO_RCVLOWAT makes the kernel parse a
//      ClientHello that arrived before the insert;
//   3. the stream parser frames the whole ClientHello, the verdict parses it, looks the SNI up in
//      the route table, and emits a KernelDecision on the ring buffer (one wake-up, many events);
//   4. the daemon reads the ClientHello bytes with recv() WHILE the socket is still in the map
//      (data queued in the psock is lost when it leaves), then takes it out (drain), then
//      hands off fd + bytes. A passthrough connection whose worker relays in the kernel stays
//      in the map instead (read_and_keep): the worker pairs it with its backend there.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

#include "common/clienthello.hpp"
#include "common/config_result.hpp"

namespace sni::loader {

// One classification made in the kernel.
struct KernelDecision {
    uint64_t cookie = 0;
    uint32_t listener_id = 0;
    int32_t route_id = -1;  // -1: no route matched the SNI (or no SNI, or not a ClientHello)
    uint64_t ktime_ns = 0;  // when the verdict ran (CLOCK_MONOTONIC)
    ch_info facts{};        // the parser's full result
};

// A server-name pattern of a route, as the shared matcher normalizes it: "a.b" or "*.a.b".
struct SteeringRoute {
    uint32_t listener_id = 0;
    std::string pattern;
    uint32_t route_id = 0;
};

// Kernel-side counters, summed over CPUs.
struct SteeringCounters {
    uint64_t inserted = 0;           // sockets put into the SOCKHASH by sockops
    uint64_t insert_failed = 0;      // sockets sockops could not insert (the daemon classifies
                                     // them in userspace: see owns())
    uint64_t decisions = 0;          // decisions emitted on the ring buffer
    uint64_t by_status[5] = {};      // decisions by ch_status
    uint64_t routed = 0;             // decisions with a route
    uint64_t ringbuf_full = 0;       // decisions that could not be delivered (the daemon's
                                     // client_hello_timeout closes those connections)
    uint64_t nested_too_deep = 0;    // parser runs deferred: no free scratch slot on the CPU
    uint64_t parses = 0;             // stream parser runs that parsed (one per segment burst)
    uint64_t verdict_msgs = 0;       // messages the verdict passed to sockets
    std::vector<uint64_t> by_route;  // decisions per route id
};

class KernelSteering {
  public:
    using Error = std::string;
    template <typename T>
    using Result = config::Result<T, Error>;

    // Loads and attaches. cgroup_path: a cgroup v2 directory whose sockets we steer (the daemon
    // uses the root of the unified hierarchy). max_routes sizes the route table.
    static Result<std::unique_ptr<KernelSteering>> open(const std::string &cgroup_path,
                                                        uint32_t max_routes);
    ~KernelSteering();
    KernelSteering(const KernelSteering &) = delete;
    KernelSteering &operator=(const KernelSteering &) = delete;

    // Steer sockets accepted on this local address (IPv4 or IPv6; the any-address matches
    // every local address of that family and port). cap = the listener's max_client_hello.
    Result<bool> add_listener(uint32_t listener_id, const sockaddr_storage &local, uint32_t cap);
    // Stop steering sockets accepted on this address (its listening socket was closed because
    // the address left its interface). Connections the kernel already took are not affected.
    Result<bool> remove_listener(const sockaddr_storage &local);

    // Replaces the whole route table atomically: a ClientHello is classified against the old
    // table or the new one, never a mix.
    Result<bool> set_routes(const std::vector<SteeringRoute> &routes);

    // After accept(): re-arm the kernel's data-ready signal so a ClientHello that arrived before
    // the SOCKHASH insert is parsed now.
    static void kick(int fd);

    // The ring buffer's fd (poll for EPOLLIN), and the consumer: calls fn once per decision.
    int event_fd() const;
    int consume(const std::function<void(const KernelDecision &)> &fn);

    // True when the kernel took this socket (sockops inserted it). A socket it did not take
    // (table full, or accepted before the programs were attached) is classified in userspace.
    bool owns(uint64_t cookie) const;

    // Removes the socket from the SOCKHASH (after its ClientHello bytes were read) and forgets
    // its per-connection kernel state. Returns how many bytes the verdict passed to the socket
    // in all (0 for a cookie the kernel never saw, which is safe to pass).
    uint64_t release(uint64_t cookie);

    // The handoff step of the BPF path, non-blocking. Appends to `bytes` what is readable on fd
    // while the socket is still in the map. The decision is emitted just before the verdict
    // queues the bytes, so they may not be readable yet: kWaiting means "call again when fd is
    // readable". Once everything the verdict passed has been read, the socket leaves the map
    // (release) and the verdict's final count proves no byte was left behind in the psock:
    // kDone, or kLost (close the connection; `error` says how many).
    // A client that sends more in the moment between the last read and the removal loses those
    // bytes in the kernel (kLost; see docs/troubleshooting.md). Holding them in TCP's queue with
    // SO_RCVLOWAT was tried and does not work: TCP then refuses to read past the bytes the
    // psock took (the kernel warns "TCP recvmsg seq # bug") and the connection stalls.
    enum class Drain { kDone, kWaiting, kLost };
    struct DrainResult {
        Drain status = Drain::kDone;
        std::string error;
    };
    DrainResult drain(int fd, uint64_t cookie, std::vector<uint8_t> &bytes);

    // The handoff step for a socket that stays in the map (a passthrough route whose worker
    // pairs it there for the kernel relay): reads up to `hello_bytes` (the ClientHello's
    // records; kWaiting until they are all here), then forgets the classifier's state of the
    // connection. Bytes that follow the ClientHello stay in the psock for the worker: nothing
    // is dropped, because the psock is never dropped while the socket is open.
    DrainResult read_and_keep(int fd, uint64_t cookie, std::size_t hello_bytes,
                              std::vector<uint8_t> &bytes);

    SteeringCounters counters() const;

    // The passthrough relay's maps (bpf/steer.bpf.c), which workers inherit: the SOCKHASH (the
    // classifier's own: one psock per socket from accept to close) and the cookie -> peer
    // table. Owned by this object.
    struct RelayMaps {
        int socks = -1;
        int peers = -1;
    };
    RelayMaps relay_maps() const;

    // Proof that the BPF path is live: program ids and attach state, for status and tests.
    struct Attachment {
        uint32_t sockops_prog_id = 0, verdict_prog_id = 0;
        std::string cgroup;
    };
    Attachment attachment() const;

    struct Impl;

  private:
    explicit KernelSteering(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Why BPF steering cannot run here ("" when it can): no CAP_BPF, no cgroup v2, no BTF...
// `auto` uses this to fall back to the userspace classifier and says why in the log.
std::string kernel_steering_unavailable_reason(const std::string &cgroup_path);

// The unified (v2) cgroup mount point: /sys/fs/cgroup when it is cgroup2, else
// /sys/fs/cgroup/unified (hybrid layout), else "".
std::string find_cgroup2_root();

}  // namespace sni::loader
