// The passthrough relay in the kernel: a worker pairs a client socket with its backend socket in
// the daemon's BPF maps (bpf/steer.bpf.c: sock_hash, relay_peers), and from then on every
// buffer one socket receives is redirected by the sk_skb verdict to the other socket's egress.
// A client socket the BPF classifier took is still in sock_hash when it arrives (the daemon
// leaves it there: Handoff::in_relay_map), so it keeps one psock from accept to close.
// No wake-up, no syscall and no copy in userspace per message; the worker only watches both
// sockets for their end (FIN, RST) and carries a FIN over once the bytes before it went out.
//
// The maps come from sni-splitterd as inherited fds (SNI_RELAY_FDS="SOCKS,PEERS"); using a map
// through its fd needs no privilege (measured on 6.1 and 6.18 with unprivileged BPF disabled).
// Where a kernel refuses (EPERM), the worker turns the relay off and splices instead.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/config_result.hpp"
#include "common/fd.hpp"

namespace sni::worker {

class KernelRelay {
  public:
    // From the value of SNI_RELAY_FDS ("4,5"); an error says why it cannot be used.
    static config::Result<std::unique_ptr<KernelRelay>, std::string> from_env(const char *value);
    KernelRelay(UniqueFd socks, UniqueFd peers)
        : socks_(std::move(socks)), peers_(std::move(peers)) {}

    struct Pair {
        std::uint64_t client = 0;  // socket cookies
        std::uint64_t backend = 0;
    };
    struct JoinError {
        int err = 0;  // errno of the failing call
        std::string what;
    };
    // Pairs two connected TCP sockets. The peer entries go in first, then the client socket
    // (unless `client_in_map`: the daemon left it there), then the backend's: a TLS client
    // sends nothing between its ClientHello and the backend's answer, so no byte should arrive
    // on it while its peer is not in the map yet (one that does is counted in `held`). Sockets
    // put in here are kicked (SO_RCVLOWAT) so bytes queued before the insert are redirected
    // too. On error nothing of the pair stays in the maps but a client that was in the map
    // before: it stays there (its psock may hold bytes), and is relayed in userspace.
    // `client_cookie`: the client socket's cookie as the daemon read it (0: ask the kernel).
    config::Result<Pair, JoinError> join(int client_fd, std::uint64_t client_cookie, int backend_fd,
                                         bool client_in_map);

    struct Counts {
        std::uint64_t bytes = 0;  // redirected to the peer
        std::uint64_t held = 0;   // kept on the socket because its peer was not in the map
        // Retransmitted bytes the kernel handed over again, cut off before the redirect
        // (bpf/steer.bpf.c relay()).
        std::uint64_t resent = 0;
        bool cut_failed = false;  // a buffer's resent head could not be cut: it was dropped
    };
    Counts counts(std::uint64_t cookie) const;

    // Forgets the pair, just before both fds are closed: closing a socket takes it out of the
    // SOCKHASH by itself, so only the peer entries are deleted (both in one call).
    void leave(const Pair &pair);

    // After an EPERM/EACCES from join: this process may not use the maps.
    bool disabled() const { return disabled_; }
    void disable() { disabled_ = true; }

  private:
    // A join that failed half-way: takes the pair out of both maps (the fds stay open), but a
    // client socket the daemon left in the SOCKHASH stays there.
    void undo_join(const Pair &pair, bool client_in_map);

    UniqueFd socks_;
    UniqueFd peers_;
    bool disabled_ = false;
};

}  // namespace sni::worker
