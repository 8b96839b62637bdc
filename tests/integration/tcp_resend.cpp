#include "tcp_resend.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sockios.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/fd.hpp"

namespace sni::itest {

namespace {

constexpr int kRepairOffNoWindowProbe = -1;  // TCP_REPAIR_OFF_NO_WP (linux/tcp.h)

std::string sys_error(const std::string &what) {
    return what + ": " + std::strerror(errno);
}

bool set_int(int fd, int opt, int value) {
    return ::setsockopt(fd, IPPROTO_TCP, opt, &value, sizeof value) == 0;
}

bool get_u32(int fd, int opt, std::uint32_t &value) {
    socklen_t len = sizeof value;
    return ::getsockopt(fd, IPPROTO_TCP, opt, &value, &len) == 0;
}

// The one's complement sum of `n` bytes, folded into `sum` (RFC 1071).
std::uint32_t add_sum(std::uint32_t sum, const std::uint8_t *p, std::size_t n) {
    for (std::size_t i = 0; i + 1 < n; i += 2)
        sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
    if (n % 2 != 0) sum += static_cast<std::uint32_t>(p[n - 1] << 8);
    return sum;
}

std::uint16_t fold(std::uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return htons(static_cast<std::uint16_t>(~sum & 0xffff));
}

void put16(std::uint8_t *p, std::uint16_t v) {
    std::memcpy(p, &v, 2);
}
void put32(std::uint8_t *p, std::uint32_t v) {
    std::memcpy(p, &v, 4);
}

// Waits until the peer acknowledged all `fd` sent (SIOCOUTQ: bytes not acknowledged yet).
bool wait_all_acked(int fd) {
    for (int i = 0; i < 200; ++i) {
        int outq = 0;
        if (::ioctl(fd, SIOCOUTQ, &outq) != 0) return false;
        if (outq == 0) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

}  // namespace

std::string send_overlapping_resend(int fd, const Bytes &resent, const Bytes &fresh) {
    sockaddr_in self{}, peer{};
    socklen_t len = sizeof self;
    if (::getsockname(fd, reinterpret_cast<sockaddr *>(&self), &len) != 0 ||
        (len = sizeof peer, ::getpeername(fd, reinterpret_cast<sockaddr *>(&peer), &len)) != 0 ||
        self.sin_family != AF_INET)
        return "not a connected IPv4 socket";
    if (!wait_all_acked(fd)) return "the peer did not acknowledge what was sent";
    tcp_info info{};
    len = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return sys_error("TCP_INFO");
    const bool timestamps = (info.tcpi_options & TCPI_OPT_TIMESTAMPS) != 0;

    // The next sequence numbers each way, and the timestamp clock, in repair mode; then `fresh`
    // goes into the send queue as sent, without leaving the host.
    std::uint32_t snd_seq = 0, rcv_seq = 0, tsval = 0;
    if (!set_int(fd, TCP_REPAIR, 1)) return sys_error("TCP_REPAIR on (needs CAP_NET_ADMIN)");
    std::string err;
    if (!set_int(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE) || !get_u32(fd, TCP_QUEUE_SEQ, snd_seq) ||
        !set_int(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE) || !get_u32(fd, TCP_QUEUE_SEQ, rcv_seq) ||
        (timestamps && !get_u32(fd, TCP_TIMESTAMP, tsval)) ||
        !set_int(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE))
        err = sys_error("reading the sequence numbers");
    else if (::send(fd, fresh.data(), fresh.size(), MSG_DONTWAIT) !=
             static_cast<ssize_t>(fresh.size()))
        err = sys_error("queueing the new bytes as sent");
    if (!set_int(fd, TCP_REPAIR, kRepairOffNoWindowProbe) && err.empty())
        err = sys_error("TCP_REPAIR off");
    if (!err.empty()) return err;

    // IPv4 header, TCP header (with a timestamp option when the connection uses them), data.
    const std::size_t tcp_len = timestamps ? 32 : 20;
    const std::size_t data_len = resent.size() + fresh.size();
    Bytes pkt(20 + tcp_len + data_len, 0);
    std::uint8_t *ip = pkt.data();
    ip[0] = 0x45;
    put16(ip + 2, htons(static_cast<std::uint16_t>(pkt.size())));
    put16(ip + 6, htons(0x4000));  // don't fragment
    ip[8] = 64;
    ip[9] = IPPROTO_TCP;
    std::memcpy(ip + 12, &self.sin_addr, 4);
    std::memcpy(ip + 16, &peer.sin_addr, 4);
    put16(ip + 10, fold(add_sum(0, ip, 20)));

    std::uint8_t *tcp = ip + 20;
    std::memcpy(tcp, &self.sin_port, 2);
    std::memcpy(tcp + 2, &peer.sin_port, 2);
    put32(tcp + 4, htonl(snd_seq - static_cast<std::uint32_t>(resent.size())));
    put32(tcp + 8, htonl(rcv_seq));
    tcp[12] = static_cast<std::uint8_t>((tcp_len / 4) << 4);
    tcp[13] = 0x18;  // PSH, ACK
    put16(tcp + 14, htons(0xffff));
    if (timestamps) {
        tcp[20] = 1;  // NOP, NOP, timestamps (kind 8, length 10): TSval now, TSecr 0
        tcp[21] = 1;
        tcp[22] = 8;
        tcp[23] = 10;
        put32(tcp + 24, htonl(tsval));
    }
    std::memcpy(tcp + tcp_len, resent.data(), resent.size());
    std::memcpy(tcp + tcp_len + resent.size(), fresh.data(), fresh.size());
    std::uint8_t pseudo[12] = {};
    std::memcpy(pseudo, ip + 12, 8);
    pseudo[9] = IPPROTO_TCP;
    put16(pseudo + 10, htons(static_cast<std::uint16_t>(tcp_len + data_len)));
    put16(tcp + 16, fold(add_sum(add_sum(0, pseudo, sizeof pseudo), tcp, tcp_len + data_len)));

    UniqueFd raw(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
    if (!raw) return sys_error("raw socket (needs CAP_NET_RAW)");
    if (::sendto(raw.get(), pkt.data(), pkt.size(), 0, reinterpret_cast<const sockaddr *>(&peer),
                 sizeof peer) != static_cast<ssize_t>(pkt.size()))
        return sys_error("sending the segment");
    return "";
}

}  // namespace sni::itest
