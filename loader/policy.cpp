#include "loader/policy.hpp"

namespace sni::loader {

std::string_view verdict_name(Verdict verdict) {
    switch (verdict) {
        case Verdict::kRouted:
            return "routed";
        case Verdict::kDefaultUnknownSni:
            return "default_unknown_sni";
        case Verdict::kDefaultNoSni:
            return "default_no_sni";
        case Verdict::kRejectUnknownSni:
            return "rejected_unknown_sni";
        case Verdict::kRejectNoSni:
            return "rejected_no_sni";
        case Verdict::kNotTls:
            return "not_tls";
        case Verdict::kMalformed:
            return "malformed";
        case Verdict::kTooBig:
            return "too_big";
    }
    return "unknown";
}

handoff::Outcome Decision::outcome() const {
    switch (verdict) {
        case Verdict::kDefaultUnknownSni:
            return handoff::Outcome::kDefaultUnknownSni;
        case Verdict::kDefaultNoSni:
            return handoff::Outcome::kDefaultNoSni;
        default:
            return handoff::Outcome::kRouted;
    }
}

Decision decide(const ListenerPolicy &policy, const ch_info &facts,
                std::optional<RouteId> matched) {
    switch (facts.status) {
        case CH_OK:
            break;
        case CH_NOT_TLS:
            return {Verdict::kNotTls, 0, std::nullopt};
        case CH_TOO_BIG:
            return {Verdict::kTooBig, 0, std::nullopt};
        case CH_MALFORMED:
        default:  // NEED_MORE is not final: treat a caller's mistake as malformed
            return {Verdict::kMalformed, 0, AlertDescription::kDecodeError};
    }

    const bool has_sni = (facts.flags & CH_F_SNI) != 0 && facts.sni_len > 0;
    if (has_sni) {
        if (matched) return {Verdict::kRouted, *matched, std::nullopt};
        if (policy.unknown_sni == config::UnknownSni::kDefault && policy.default_route)
            return {Verdict::kDefaultUnknownSni, *policy.default_route, std::nullopt};
        return {Verdict::kRejectUnknownSni, 0, AlertDescription::kUnrecognizedName};
    }
    if (!policy.require_sni && policy.default_route)
        return {Verdict::kDefaultNoSni, *policy.default_route, std::nullopt};
    return {Verdict::kRejectNoSni, 0, AlertDescription::kHandshakeFailure};
}

}  // namespace sni::loader
