// What the daemon can tell about kernel TLS on this machine, for `sni-ctl status`: whether the
// "tls" upper-layer protocol is available to TCP sockets (the workers decide per connection).
#pragma once

#include <string>

namespace sni::loader {

struct KtlsSupport {
    bool available = false;
    std::string detail;  // why (the probe's result)
};

KtlsSupport probe_ktls();

}  // namespace sni::loader
