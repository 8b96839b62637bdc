#include "loader/sock_diag.hpp"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

extern "C" {
#include <netlink/cache.h>
#include <netlink/idiag/idiagnl.h>
#include <netlink/idiag/msg.h>
#include <netlink/netlink.h>
}

#include <memory>

#include "loader/netlink_ptr.hpp"

namespace sni::loader {

namespace {

std::string address(const nl_addr *a, std::uint16_t port) {
    if (a == nullptr) return "?";
    char host[INET6_ADDRSTRLEN] = {};
    const int family = nl_addr_get_family(a);
    ::inet_ntop(family, nl_addr_get_binary_addr(a), host, sizeof host);
    if (family == AF_INET6) return "[" + std::string(host) + "]:" + std::to_string(port);
    return std::string(host) + ":" + std::to_string(port);
}

const char *state_name(std::uint8_t s) {
    switch (s) {
        case TCP_ESTABLISHED:
            return "established";
        case TCP_SYN_RECV:
            return "syn_recv";
        case TCP_FIN_WAIT1:
            return "fin_wait1";
        case TCP_FIN_WAIT2:
            return "fin_wait2";
        case TCP_CLOSE_WAIT:
            return "close_wait";
        case TCP_LAST_ACK:
            return "last_ack";
        case TCP_CLOSING:
            return "closing";
        case TCP_TIME_WAIT:
            return "time_wait";
        default:
            return "other";
    }
}

struct Walk {
    const std::set<std::uint16_t> *ports;
    std::vector<DiagConn> *out;
};

void visit(nl_object *obj, void *arg) {
    auto *walk = static_cast<Walk *>(arg);
    auto *msg = reinterpret_cast<idiagnl_msg *>(obj);
    // libnl-idiag 3.7 hands the ports over in network byte order.
    const std::uint16_t sport = ntohs(idiagnl_msg_get_sport(msg));
    if (walk->ports->count(sport) == 0) return;
    const std::uint8_t state = idiagnl_msg_get_state(msg);
    if (state == TCP_LISTEN) return;
    DiagConn c;
    c.local = address(idiagnl_msg_get_src(msg), sport);
    c.client = address(idiagnl_msg_get_dst(msg), ntohs(idiagnl_msg_get_dport(msg)));
    c.state = state_name(state);
    c.inode = idiagnl_msg_get_inode(msg);
    c.uid = idiagnl_msg_get_uid(msg);
    const tcp_info ti = idiagnl_msg_get_tcpinfo(msg);
    c.recv_queue = idiagnl_msg_get_rqueue(msg);
    c.send_queue = idiagnl_msg_get_wqueue(msg);
    c.rtt_us = ti.tcpi_rtt;
    walk->out->push_back(std::move(c));
}

}  // namespace

config::Result<std::vector<DiagConn>, std::string> list_tcp_connections(
    const std::set<std::uint16_t> &ports) {
    NlSock sk(nl_socket_alloc());
    if (!sk) return config::unexpected(std::string("nl_socket_alloc failed"));
    if (const int e = idiagnl_connect(sk.get()); e < 0)
        return config::unexpected(std::string("sock_diag: ") + nl_geterror(e));
    std::vector<DiagConn> out;
    for (const int family : {AF_INET, AF_INET6}) {
        nl_cache *raw = nullptr;
        const int states = IDIAGNL_SS_ALL & ~(1 << TCP_LISTEN);
        if (const int e = idiagnl_msg_alloc_cache(sk.get(), family, states, &raw); e < 0)
            return config::unexpected(std::string("sock_diag dump: ") + nl_geterror(e));
        NlCache cache(raw);
        Walk walk{&ports, &out};
        nl_cache_foreach(cache.get(), visit, &walk);
    }
    return out;
}

}  // namespace sni::loader
