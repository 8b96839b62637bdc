// What happened to connections: one plain uint64 per outcome, so the daemon can log them now and
// export them as metrics later. Every closed connection is counted under exactly one reason.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "common/clienthello.hpp"
#include "common/log.hpp"
#include "loader/metrics_observations.hpp"

namespace sni::loader {

struct Counters {
    // accept()
    std::uint64_t accepted = 0;
    std::uint64_t accept_errors = 0;  // accept4 failed (other than EAGAIN/EMFILE/ENFILE)
    std::uint64_t accept_shed = 0;    // out of fds: accepted with the reserve fd and closed

    // Decisions that hand the connection to a worker.
    std::uint64_t routed = 0;               // SNI matched a route
    std::uint64_t default_unknown_sni = 0;  // unknown SNI -> default route
    std::uint64_t default_no_sni = 0;       // no SNI -> default route
    std::uint64_t handed_off = 0;           // datagram accepted by a worker's channel

    // Closes, by reason.
    std::uint64_t rejected_unknown_sni = 0;  // alert unrecognized_name
    std::uint64_t rejected_no_sni = 0;       // alert handshake_failure
    std::uint64_t not_tls = 0;               // no alert
    std::uint64_t malformed = 0;             // alert decode_error
    std::uint64_t too_big = 0;               // ClientHello over max_client_hello
    std::uint64_t timeout = 0;               // no complete ClientHello within client_hello_timeout
    std::uint64_t closed_early = 0;          // the peer closed before its ClientHello was complete
    std::uint64_t read_error = 0;            // recv failed (reset, ...)
    std::uint64_t handoff_overflow = 0;      // the worker's queue was full
    std::uint64_t handoff_error = 0;         // sendmsg failed for another reason
    std::uint64_t no_worker = 0;             // no worker of the pool is running
    // (bpf_handoff_loss below is a close reason too)
    std::uint64_t shutdown = 0;  // still open when the daemon stopped
    std::uint64_t drained = 0;   // its route or listener is drained (sni-ctl drain): alert

    // Reloads (SIGHUP / sni-ctl reload).
    std::uint64_t reloads = 0;         // applied
    std::uint64_t reloads_failed = 0;  // refused: the old configuration keeps serving

    // Workers.
    std::uint64_t worker_starts = 0;
    std::uint64_t worker_exits = 0;
    std::uint64_t worker_spawn_errors = 0;

    // BPF classifier.
    std::uint64_t bpf_decisions = 0;          // decisions read from the ring buffer
    std::uint64_t bpf_early_decisions = 0;    // arrived before accept() returned the socket
    std::uint64_t bpf_orphan_decisions = 0;   // never claimed by an accepted socket (expired)
    std::uint64_t bpf_listener_mismatch = 0;  // the kernel's listener id was not the socket's
    std::uint64_t bpf_not_owned = 0;          // sockets the kernel did not take (userspace)
    std::uint64_t bpf_handoff_loss = 0;       // closed: bytes were lost leaving the kernel's map
    std::uint64_t bpf_deferred =
        0;  // the kernel's first look saw a partial ClientHello: parsed here

    // Detail of not_tls and malformed.
    std::array<std::uint64_t, CH_R__COUNT> not_tls_by_reason{};
    std::array<std::uint64_t, CH_R__COUNT> malformed_by_reason{};

    // By listener/route, latencies, reloads: for the metrics endpoint.
    Observations obs;

    // Connections closed by the daemon, all reasons together.
    std::uint64_t closed() const;
};

// Every counter as a log field; of the reason arrays only the non-zero entries, each as
// not_tls_reason=<reason>:<n> or malformed_reason=<reason>:<n>.
std::vector<log::Field> counter_fields(const Counters &counters);

}  // namespace sni::loader
