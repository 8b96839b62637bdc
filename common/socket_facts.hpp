// Small facts about a socket that several parts ask the kernel for: its cookie (the key of the
// BPF socket maps), its pending error, TCP's byte counts, and the re-arm of its data-ready
// signal (how a socket put into a SOCKHASH gets bytes that were queued before the insert
// through the verdict program).
#pragma once

#include <cstdint>
#include <optional>

namespace sni {

// SO_COOKIE; nullopt (errno set) when the kernel cannot say.
std::optional<std::uint64_t> socket_cookie(int fd);

// SO_ERROR: the socket's pending error, or the errno of getsockopt itself; 0 when none.
int socket_error(int fd);

// TCP_INFO: the connection is in TCP_CLOSE (reset, or both FINs through and acknowledged).
bool tcp_closed(int fd);

// Where a non-blocking connect() that returned EINPROGRESS stands (TCP_INFO state). A backend
// on this host has usually answered before connect() returned: loopback processes the SYN-ACK
// inside the call. kFailed: refused or reset (SO_ERROR says why); kPending also when the kernel
// cannot say.
enum class ConnectProgress { kPending, kEstablished, kFailed };
ConnectProgress tcp_connect_progress(int fd);

// SO_RCVLOWAT 1: makes the kernel signal data-ready again for what is already queued.
void rearm_data_ready(int fd);

// The stream bytes TCP received so far (0 when unknown): TCP_INFO tcpi_bytes_received, less the
// one sequence number a received FIN takes (tcpi_bytes_received counts it). Exact while this
// side has not shut down: once both FINs are through (TCP_CLOSE) it cannot tell a FIN from a
// reset and may count one more.
std::uint64_t tcp_bytes_received(int fd);

// Bytes the socket has taken for sending so far: acknowledged (tcpi_bytes_acked) plus still
// queued (SIOCOUTQ). nullopt when the socket cannot say. On a socket that connect()ed this
// counts the SYN too (kSynInBytesAcked more than the bytes written); on an accepted socket it
// does not (its snd_una starts past the SYN-ACK). Checked by SocketFacts.* (unit).
std::optional<std::uint64_t> tcp_bytes_queued(int fd);
inline constexpr std::uint64_t kSynInBytesAcked = 1;

}  // namespace sni
