// The connections the daemon holds between accept() and the handoff, by connection id (never
// reused) and by socket cookie (the BPF classifier's key).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "common/clienthello.hpp"
#include "common/fd.hpp"
#include "loader/policy.hpp"

namespace sni::loader {

enum class ConnState : std::uint8_t {
    kClassifying,  // waiting for a complete ClientHello (userspace) or the kernel's decision
    kReading,      // userspace: decided; reading the ClientHello's record_bytes
    kDraining,     // BPF: decided; reading what the kernel passed before it lets go
    kDeferred,     // BPF: the kernel saw a partial ClientHello; reading and parsing it here
};

struct Connection {
    std::uint64_t id = 0;
    UniqueFd fd;
    std::uint64_t cookie = 0;
    std::uint32_t listener_id = 0;
    std::uint64_t accepted_ns = 0;  // CLOCK_MONOTONIC
    sockaddr_storage client{};
    socklen_t client_len = 0;
    sockaddr_storage local{};
    socklen_t local_len = 0;

    ConnState state = ConnState::kClassifying;
    std::uint32_t rcvlowat = 1;  // current SO_RCVLOWAT (1 = the kernel default)
    bool in_steering = false;    // BPF path: the kernel holds it in its SOCKHASH and decides
    bool in_relay_map = false;   // decided, and left in the SOCKHASH for the passthrough relay
    std::uint32_t watching = 0;  // the epoll events asked for; 0: not in epoll (Daemon::watch)

    // Set once decided.
    Decision decision{};
    ch_info facts{};
    std::vector<std::uint8_t> hello;  // stream bytes consumed so far (the handoff's payload)
};

class ConnectionTable {
  public:
    Connection &insert(Connection conn);
    Connection *find(std::uint64_t id);
    Connection *find_by_cookie(std::uint64_t cookie);
    // Removes and returns it (the caller closes or hands off the fd).
    Connection take(std::uint64_t id);
    std::vector<std::uint64_t> ids() const;
    std::size_t size() const { return by_id_.size(); }

  private:
    std::unordered_map<std::uint64_t, Connection> by_id_;
    std::unordered_map<std::uint64_t, std::uint64_t> by_cookie_;
};

}  // namespace sni::loader
