// RAII owners for libnl objects (sockets and caches), shared by the rtnetlink address code and
// the sock_diag listing.
#pragma once

#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <memory>

namespace sni::loader {

struct NlSockDeleter {
    void operator()(nl_sock *s) const { nl_socket_free(s); }
};
struct NlCacheDeleter {
    void operator()(nl_cache *c) const { nl_cache_free(c); }
};
using NlSock = std::unique_ptr<nl_sock, NlSockDeleter>;
using NlCache = std::unique_ptr<nl_cache, NlCacheDeleter>;

}  // namespace sni::loader
