// TCP sockets of the daemon's listener ports, from the kernel's sock_diag interface through
// libnl-idiag: what `sni-ctl conns` lists. Only established (and closing) connections whose
// local port is one of `ports` are returned; the listening sockets themselves are not.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/config_result.hpp"

namespace sni::loader {

struct DiagConn {
    std::string local;   // "127.0.0.1:443" / "[::1]:443"
    std::string client;  // the peer
    std::string state;   // "established", "close_wait", ...
    std::uint32_t inode = 0;
    std::uint32_t uid = 0;
    std::uint32_t recv_queue = 0;  // bytes not yet read by the owner
    std::uint32_t send_queue = 0;  // bytes not yet acknowledged by the peer
    std::uint32_t rtt_us = 0;      // tcp_info (0 when the kernel did not report it)
};

config::Result<std::vector<DiagConn>, std::string> list_tcp_connections(
    const std::set<std::uint16_t> &ports);

}  // namespace sni::loader
