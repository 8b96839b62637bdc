#include "loader/ktls_probe.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/fd.hpp"

namespace sni::loader {

KtlsSupport probe_ktls() {
    std::ifstream ulp("/proc/sys/net/ipv4/tcp_available_ulp");
    std::stringstream text;
    text << ulp.rdbuf();
    std::string word;
    while (text >> word)
        if (word == "tls") return {true, "tls is in tcp_available_ulp"};
    // Not loaded yet: the kernel loads the module on the first TCP_ULP "tls" request. On an
    // unconnected socket that request fails with ENOTCONN when the module exists.
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return {false, std::string("socket: ") + std::strerror(errno)};
    if (::setsockopt(fd.get(), IPPROTO_TCP, TCP_ULP, "tls", 3) == 0 || errno == ENOTCONN)
        return {true, "TCP_ULP tls accepted"};
    return {false, std::string("TCP_ULP tls: ") + std::strerror(errno)};
}

}  // namespace sni::loader
