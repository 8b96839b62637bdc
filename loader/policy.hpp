// The decision policy shared by both classifiers: a parsed ClientHello (and the route its SNI
// matched, if any) -> hand off to a route, reject with a TLS alert, or just close.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/clienthello.hpp"
#include "common/config_types.hpp"
#include "common/handoff.hpp"
#include "common/server_names.hpp"
#include "common/tls_alert.hpp"

namespace sni::loader {

// The policy keys of one listener.
struct ListenerPolicy {
    bool require_sni = false;
    config::UnknownSni unknown_sni = config::UnknownSni::kReject;
    std::optional<RouteId> default_route;
};

enum class Verdict : std::uint8_t {
    kRouted,             // hand off: the SNI matched
    kDefaultUnknownSni,  // hand off: unknown SNI, default route
    kDefaultNoSni,       // hand off: no SNI, default route
    kRejectUnknownSni,   // alert unrecognized_name, close
    kRejectNoSni,        // alert handshake_failure, close
    kNotTls,             // close
    kMalformed,          // alert decode_error, close
    kTooBig,             // close
};
std::string_view verdict_name(Verdict verdict);

struct Decision {
    Verdict verdict = Verdict::kNotTls;
    RouteId route = 0;                      // for the hand-off verdicts
    std::optional<AlertDescription> alert;  // for rejects, sent before closing

    bool hands_off() const {
        return verdict == Verdict::kRouted || verdict == Verdict::kDefaultUnknownSni ||
               verdict == Verdict::kDefaultNoSni;
    }
    handoff::Outcome outcome() const;  // for the hand-off verdicts
};

// `facts` is a final parse (any status but NEED_MORE); `matched` is the route of its SNI on
// this listener (nullopt when there is no SNI or no route serves it).
Decision decide(const ListenerPolicy &policy, const ch_info &facts, std::optional<RouteId> matched);

}  // namespace sni::loader
