#include "loader/counters.hpp"

#include <string>

namespace sni::loader {

std::uint64_t Counters::closed() const {
    return rejected_unknown_sni + rejected_no_sni + not_tls + malformed + too_big + timeout +
           closed_early + read_error + handoff_overflow + handoff_error + no_worker + shutdown +
           drained + bpf_handoff_loss;
}

std::vector<log::Field> counter_fields(const Counters &c) {
    std::vector<log::Field> f = {
        log::kv("accepted", c.accepted),
        log::kv("accept_errors", c.accept_errors),
        log::kv("accept_shed", c.accept_shed),
        log::kv("routed", c.routed),
        log::kv("default_unknown_sni", c.default_unknown_sni),
        log::kv("default_no_sni", c.default_no_sni),
        log::kv("handed_off", c.handed_off),
        log::kv("rejected_unknown_sni", c.rejected_unknown_sni),
        log::kv("rejected_no_sni", c.rejected_no_sni),
        log::kv("not_tls", c.not_tls),
        log::kv("malformed", c.malformed),
        log::kv("too_big", c.too_big),
        log::kv("timeout", c.timeout),
        log::kv("closed_early", c.closed_early),
        log::kv("read_error", c.read_error),
        log::kv("handoff_overflow", c.handoff_overflow),
        log::kv("handoff_error", c.handoff_error),
        log::kv("no_worker", c.no_worker),
        log::kv("shutdown", c.shutdown),
        log::kv("drained", c.drained),
        log::kv("reloads", c.reloads),
        log::kv("reloads_failed", c.reloads_failed),
        log::kv("worker_starts", c.worker_starts),
        log::kv("worker_exits", c.worker_exits),
        log::kv("worker_spawn_errors", c.worker_spawn_errors),
        log::kv("bpf_decisions", c.bpf_decisions),
        log::kv("bpf_early_decisions", c.bpf_early_decisions),
        log::kv("bpf_orphan_decisions", c.bpf_orphan_decisions),
        log::kv("bpf_listener_mismatch", c.bpf_listener_mismatch),
        log::kv("bpf_not_owned", c.bpf_not_owned),
        log::kv("bpf_handoff_loss", c.bpf_handoff_loss),
        log::kv("bpf_deferred", c.bpf_deferred),
    };
    // Field keys are string_views: the reason keys need storage that outlives the vector, so
    // they are spelled out from the parser's static names.
    for (std::uint32_t r = 0; r < CH_R__COUNT; ++r) {
        if (c.not_tls_by_reason[r] != 0)
            f.push_back({"not_tls_reason", std::string(reason_name(r)) + ":" +
                                               std::to_string(c.not_tls_by_reason[r])});
        if (c.malformed_by_reason[r] != 0)
            f.push_back({"malformed_reason", std::string(reason_name(r)) + ":" +
                                                 std::to_string(c.malformed_by_reason[r])});
    }
    return f;
}

}  // namespace sni::loader
