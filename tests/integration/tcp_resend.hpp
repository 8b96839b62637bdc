// A TCP retransmission that overlaps bytes the peer already has, made on demand: what a TCP
// stack sends when a segment it resends had partly arrived (the peer then holds a buffer that
// begins before its next expected byte). Used to test the kernel relay against it.
#pragma once

#include <string>

#include "hello_builder.hpp"

namespace sni::itest {

// On the connected IPv4 socket `fd` (everything it sent acknowledged), makes its peer receive
// one segment that carries `resent` (the last bytes `fd` sent, again) followed by `fresh`
// (new bytes), so that the peer's TCP queues it as is, beginning `resent.size()` bytes before
// its next expected byte. `fd` itself takes `fresh` as sent (TCP_REPAIR) and goes on normally.
// Needs CAP_NET_ADMIN (TCP_REPAIR) and CAP_NET_RAW (the segment goes out on a raw socket).
// Returns "" or what went wrong.
std::string send_overlapping_resend(int fd, const Bytes &resent, const Bytes &fresh);

}  // namespace sni::itest
