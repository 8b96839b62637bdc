#include "common/config_enums.hpp"

namespace sni::config {

std::string_view to_string(TlsVersion v) {
    return enum_to_name<TlsVersion>(kTlsVersionNames, v);
}
std::string_view to_string(UnknownSni v) {
    return enum_to_name<UnknownSni>(kUnknownSniNames, v);
}
std::string_view to_string(RouteMode v) {
    return enum_to_name<RouteMode>(kRouteModeNames, v);
}
std::string_view to_string(Balance v) {
    return enum_to_name<Balance>(kBalanceNames, v);
}
std::string_view to_string(ProxyProtocol v) {
    return enum_to_name<ProxyProtocol>(kProxyProtocolNames, v);
}
std::string_view to_string(HealthCheckType v) {
    return enum_to_name<HealthCheckType>(kHealthCheckTypeNames, v);
}
std::string_view to_string(Classifier v) {
    return enum_to_name<Classifier>(kClassifierNames, v);
}
std::string_view to_string(PassthroughRelay v) {
    return enum_to_name<PassthroughRelay>(kPassthroughRelayNames, v);
}

}  // namespace sni::config
