// The handoff protocol between sni-splitterd and its workers.
//
// The daemon and each worker share one socketpair(AF_UNIX, SOCK_SEQPACKET); the worker's end
// is its fd 3 (env SNI_HANDOFF_FD=3). Every classified connection travels as ONE datagram:
//
//   [WireHeader: fixed size, host byte order][stream bytes: header.hello_size]
//   + ancillary SCM_RIGHTS carrying exactly one fd: the accepted TCP connection
//
// The stream bytes are the start of the client's stream that the daemon consumed: first the
// records carrying the ClientHello (facts.record_bytes of them), then, on the BPF path only,
// whatever the client sent right after them before the daemon took the socket out of the
// kernel's map (usually nothing). The worker must treat all of them as the first bytes of the
// stream; everything after them is still unread in the socket. Both ends run on the same host
// from the same build, so the header is a plain struct in host byte order; magic, version and
// header_size let the receiver reject anything else.
//
// The socket arrives non-blocking (accept4 with SOCK_NONBLOCK) and with TCP_NODELAY set (the
// daemon's listeners set it; accepted sockets inherit it), so a worker makes no system call to
// set either.
//
// The receiver drops (and reports) datagrams that were truncated (MSG_TRUNC/MSG_CTRUNC), that
// are malformed, or that do not carry exactly one fd; every fd that arrived with a dropped
// datagram is closed.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clienthello.hpp"
#include "common/config_result.hpp"
#include "common/fd.hpp"

namespace sni::handoff {

inline constexpr std::uint32_t kMagic = 0x48494e53;  // "SNIH" in memory on little-endian
inline constexpr std::uint16_t kVersion = 1;
// Stream bytes in one handoff: a ClientHello (<= CH_MAX_CAP) plus what followed it.
inline constexpr std::size_t kMaxHelloBytes = 4 * CH_MAX_CAP;
// Buffer size for both ends of a channel: room for many queued large handoffs.
inline constexpr int kChannelBufferBytes = 4 * 1024 * 1024;

// Why the daemon chose the route.
enum class Outcome : std::uint32_t {
    kRouted = 0,             // the SNI matched one of the route's server names
    kDefaultUnknownSni = 1,  // unknown SNI, sent to the listener's default route
    kDefaultNoSni = 2,       // no SNI, sent to the listener's default route
};
std::string_view outcome_name(Outcome outcome);

// Which classifier made the decision.
enum class Classifier : std::uint32_t { kUserspace = 0, kBpf = 1 };
std::string_view classifier_name(Classifier classifier);

// One connection's metadata (the header, decoded).
struct Handoff {
    std::uint64_t conn_id = 0;      // daemon-wide connection id, for logs
    std::uint64_t cookie = 0;       // SO_COOKIE of the socket
    std::uint64_t accepted_ns = 0;  // CLOCK_MONOTONIC when accept() returned it
    std::uint32_t route_id = 0;     // index in Config::routes
    std::uint32_t listener_id = 0;  // index in Config::listeners
    Outcome outcome = Outcome::kRouted;
    Classifier classifier = Classifier::kUserspace;
    sockaddr_storage client{};  // peer address (getpeername)
    socklen_t client_len = 0;
    sockaddr_storage local{};  // local address (getsockname)
    socklen_t local_len = 0;
    ch_info facts{};  // the parser's result: sni, alpn, versions, legacy_version, record_bytes...
    // The socket is still in the kernel classifier's SOCKHASH, kept there for the passthrough
    // relay (bytes after the ClientHello may wait in its psock): the worker pairs it there and
    // must not put it into the map again.
    bool in_relay_map = false;
    // The sender opened the socket O_NONBLOCK (the daemon accepts with SOCK_NONBLOCK): the
    // receiver need not ask (F_GETFL) before using it. A sender that does not say so gets its
    // socket checked and made non-blocking.
    bool nonblocking = false;
};

// WireHeader::flags
inline constexpr std::uint32_t kFlagInRelayMap = 1;   // Handoff::in_relay_map
inline constexpr std::uint32_t kFlagNonBlocking = 2;  // Handoff::nonblocking
inline constexpr std::uint32_t kKnownFlags = kFlagInRelayMap | kFlagNonBlocking;

// The header exactly as it travels.
struct WireHeader {
    std::uint32_t magic;
    std::uint16_t version;
    std::uint16_t header_size;  // sizeof(WireHeader)
    std::uint64_t conn_id;
    std::uint64_t cookie;
    std::uint64_t accepted_ns;
    std::uint32_t route_id;
    std::uint32_t listener_id;
    std::uint32_t outcome;
    std::uint32_t classifier;
    std::uint32_t hello_size;  // stream bytes after the header (>= facts.record_bytes)
    std::uint32_t client_len;
    std::uint32_t local_len;
    std::uint32_t flags;  // kFlag*
    sockaddr_storage client;
    sockaddr_storage local;
    ch_info facts;
};
static_assert(sizeof(WireHeader) == 936, "the handoff header layout changed: bump kVersion");

inline constexpr std::size_t kMaxMessageBytes = sizeof(WireHeader) + kMaxHelloBytes;

// Sets large send/receive buffers on a channel end (SO_*BUFFORCE when privileged).
void configure_channel(int fd);

// --- sending ------------------------------------------------------------------------------

enum class SendStatus : std::uint8_t {
    kSent,        // the datagram (and the fd) is in the worker's queue; close your copy
    kWouldBlock,  // channel full: keep everything and retry on EPOLLOUT
    kPeerGone,    // the worker's end is closed (EPIPE/ECONNRESET/ECONNREFUSED)
    kError,       // anything else (see err); also a hello that is empty or too big
};
struct SendResult {
    SendStatus status = SendStatus::kError;
    int err = 0;  // errno for kPeerGone/kError
};

// Never blocks, never raises SIGPIPE.
SendResult send_handoff(int channel, const Handoff &handoff, std::span<const std::uint8_t> hello,
                        int conn_fd);

// --- receiving ----------------------------------------------------------------------------

struct Received {
    Handoff handoff;
    std::vector<std::uint8_t> hello;
    UniqueFd conn;  // close-on-exec
};

enum class RecvError : std::uint8_t {
    kWouldBlock,  // nothing queued (non-blocking channel)
    kClosed,      // the daemon's end is closed
    kTruncated,   // MSG_TRUNC or MSG_CTRUNC: the datagram was dropped
    kBadMessage,  // wrong magic/version/size, or not exactly one fd
    kSystem,      // recvmsg failed (see err)
};
struct RecvFailure {
    RecvError kind = RecvError::kSystem;
    int err = 0;
    std::string detail;  // plain words for logs
};
using RecvResult = config::Result<Received, RecvFailure>;

std::string_view recv_error_name(RecvError error);

// One datagram from the channel: its bytes are the first `size` bytes of the caller's
// scratch buffer, the fds that came with it are owned here (closed if nobody takes them).
// The channel also carries other kinds of message (ticket keys): the caller looks at the
// magic in the bytes and parses with parse_handoff or that kind's decoder, so each datagram
// costs one recvmsg.
inline constexpr std::size_t kMaxFdsSeen = 4;  // room to see (and close) a few unexpected fds
struct Datagram {
    std::size_t size = 0;
    std::array<UniqueFd, kMaxFdsSeen> fds;  // the first fd_count are the ones that came
    std::size_t fd_count = 0;
};
using DatagramResult = config::Result<Datagram, RecvFailure>;

// `scratch` is reused across calls (grown to kMaxMessageBytes). kWouldBlock, kClosed,
// kTruncated and kSystem are the failures here; a datagram's content is not checked.
DatagramResult recv_datagram(int channel, std::vector<std::uint8_t> &scratch);

// The handoff in a datagram received into `scratch`; kBadMessage when it is not one. Fds of a
// rejected datagram are closed before returning.
RecvResult parse_handoff(Datagram datagram, const std::vector<std::uint8_t> &scratch);
// The same for recv_datagram's result as it is: a failed receive passes through unchanged.
RecvResult parse_handoff(DatagramResult received, const std::vector<std::uint8_t> &scratch);

// recv_datagram + parse_handoff, for a channel that carries handoffs only.
RecvResult recv_handoff(int channel, std::vector<std::uint8_t> &scratch);

}  // namespace sni::handoff
