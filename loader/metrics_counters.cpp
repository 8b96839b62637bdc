#include "loader/metrics_counters.hpp"

#include <array>

namespace sni::loader {

namespace {

constexpr std::array<CounterName, 14> kOutcomes = {{
    {&Counters::handed_off, "handed_off"},
    {&Counters::rejected_unknown_sni, "rejected_unknown_sni"},
    {&Counters::rejected_no_sni, "rejected_no_sni"},
    {&Counters::not_tls, "not_tls"},
    {&Counters::malformed, "malformed"},
    {&Counters::too_big, "too_big"},
    {&Counters::timeout, "timeout"},
    {&Counters::closed_early, "closed_early"},
    {&Counters::read_error, "read_error"},
    {&Counters::handoff_overflow, "handoff_overflow"},
    {&Counters::handoff_error, "handoff_error"},
    {&Counters::no_worker, "no_worker"},
    {&Counters::bpf_handoff_loss, "bpf_handoff_loss"},
    {&Counters::shutdown, "shutdown"},
}};

}  // namespace

std::span<const CounterName> outcome_counters() {
    return kOutcomes;
}

std::string_view outcome_name(std::uint64_t Counters::*member) {
    for (const auto &c : kOutcomes)
        if (c.member == member) return c.name;
    return "other";
}

}  // namespace sni::loader
