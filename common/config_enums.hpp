// The spelling of every enum value in the YAML file: one table per enum, used both to parse
// and to print (logs, ctl output), so the two can never disagree.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string_view>

#include "common/config_types.hpp"

namespace sni::config {

template <typename E>
struct EnumName {
    std::string_view name;
    E value;
};

inline constexpr std::array<EnumName<TlsVersion>, 4> kTlsVersionNames{{
    {"1.0", TlsVersion::kTls1_0},
    {"1.1", TlsVersion::kTls1_1},
    {"1.2", TlsVersion::kTls1_2},
    {"1.3", TlsVersion::kTls1_3},
}};
inline constexpr std::array<EnumName<UnknownSni>, 2> kUnknownSniNames{{
    {"default", UnknownSni::kDefault},
    {"reject", UnknownSni::kReject},
}};
inline constexpr std::array<EnumName<RouteMode>, 3> kRouteModeNames{{
    {"reencrypt", RouteMode::kReencrypt},
    {"terminate", RouteMode::kTerminate},
    {"passthrough", RouteMode::kPassthrough},
}};
inline constexpr std::array<EnumName<Balance>, 2> kBalanceNames{{
    {"roundrobin", Balance::kRoundRobin},
    {"leastconn", Balance::kLeastConn},
}};
inline constexpr std::array<EnumName<ProxyProtocol>, 2> kProxyProtocolNames{{
    {"none", ProxyProtocol::kNone},
    {"v2", ProxyProtocol::kV2},
}};
inline constexpr std::array<EnumName<HealthCheckType>, 2> kHealthCheckTypeNames{{
    {"tcp", HealthCheckType::kTcp},
    {"tls", HealthCheckType::kTls},
}};
inline constexpr std::array<EnumName<Classifier>, 3> kClassifierNames{{
    {"auto", Classifier::kAuto},
    {"bpf", Classifier::kBpf},
    {"userspace", Classifier::kUserspace},
}};
inline constexpr std::array<EnumName<PassthroughRelay>, 3> kPassthroughRelayNames{{
    {"auto", PassthroughRelay::kAuto},
    {"sockmap", PassthroughRelay::kSockmap},
    {"splice", PassthroughRelay::kSplice},
}};

template <typename E>
std::optional<E> enum_from_name(std::span<const EnumName<E>> table, std::string_view name) {
    for (const auto &entry : table)
        if (entry.name == name) return entry.value;
    return std::nullopt;
}

template <typename E>
std::string_view enum_to_name(std::span<const EnumName<E>> table, E value) {
    for (const auto &entry : table)
        if (entry.value == value) return entry.name;
    return "?";
}

std::string_view to_string(TlsVersion v);
std::string_view to_string(UnknownSni v);
std::string_view to_string(RouteMode v);
std::string_view to_string(Balance v);
std::string_view to_string(ProxyProtocol v);
std::string_view to_string(HealthCheckType v);
std::string_view to_string(Classifier v);
std::string_view to_string(PassthroughRelay v);

}  // namespace sni::config
