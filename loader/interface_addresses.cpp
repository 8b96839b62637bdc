#include "loader/interface_addresses.hpp"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>

#include <algorithm>
#include <cstdlib>

#include "loader/netlink_ptr.hpp"

namespace sni::loader {

namespace {

std::string nl_error(const char *what, int err) {
    return std::string(what) + ": " + nl_geterror(err);
}

config::Result<NlSock, std::string> connect_route() {
    NlSock sock(nl_socket_alloc());
    if (!sock) return config::unexpected(std::string("nl_socket_alloc failed"));
    if (const int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0)
        return config::unexpected(nl_error("netlink connect", err));
    return sock;
}

struct Collect {
    int ifindex;
    std::vector<InterfaceAddress> *out;
};

void collect_one(nl_object *obj, void *arg) {
    auto *c = static_cast<Collect *>(arg);
    auto *addr = reinterpret_cast<rtnl_addr *>(obj);
    if (rtnl_addr_get_ifindex(addr) != c->ifindex) return;
    const unsigned flags = rtnl_addr_get_flags(addr);
    if (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED | IFA_F_DEPRECATED)) return;
    nl_addr *local = rtnl_addr_get_local(addr);
    if (!local) return;
    const int family = nl_addr_get_family(local);
    if (family != AF_INET && family != AF_INET6) return;
    char text[INET6_ADDRSTRLEN] = {};
    if (!::inet_ntop(family, nl_addr_get_binary_addr(local), text, sizeof text)) return;
    InterfaceAddress a{family, text, 0};
    if (family == AF_INET6 && rtnl_addr_get_scope(addr) == RT_SCOPE_LINK) a.scope_id = c->ifindex;
    c->out->push_back(std::move(a));
}

}  // namespace

config::Result<std::vector<InterfaceAddress>, std::string> interface_addresses(
    std::string_view name) {
    auto sock = connect_route();
    if (!sock) return config::unexpected(sock.error());
    nl_cache *raw = nullptr;
    if (const int err = rtnl_link_alloc_cache(sock->get(), AF_UNSPEC, &raw); err < 0)
        return config::unexpected(nl_error("listing links", err));
    NlCache links(raw);
    const std::string ifname(name);
    const int ifindex = rtnl_link_name2i(links.get(), ifname.c_str());
    if (ifindex <= 0) return config::unexpected("no interface named \"" + ifname + "\"");
    raw = nullptr;
    if (const int err = rtnl_addr_alloc_cache(sock->get(), &raw); err < 0)
        return config::unexpected(nl_error("listing addresses", err));
    NlCache addrs(raw);
    std::vector<InterfaceAddress> out;
    Collect c{ifindex, &out};
    nl_cache_foreach(addrs.get(), collect_one, &c);
    std::stable_sort(out.begin(), out.end(), [](const auto &a, const auto &b) {
        return a.family == AF_INET && b.family != AF_INET;
    });
    return out;
}

struct AddressMonitor::Impl {
    NlSock sock;
};

AddressMonitor::AddressMonitor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AddressMonitor::~AddressMonitor() = default;

config::Result<std::unique_ptr<AddressMonitor>, std::string> AddressMonitor::create() {
    NlSock sock(nl_socket_alloc());
    if (!sock) return config::unexpected(std::string("nl_socket_alloc failed"));
    nl_socket_disable_seq_check(sock.get());  // notifications carry no sequence of ours
    if (const int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0)
        return config::unexpected(nl_error("netlink connect", err));
    if (const int err = nl_socket_add_memberships(sock.get(), RTNLGRP_IPV4_IFADDR,
                                                  RTNLGRP_IPV6_IFADDR, RTNLGRP_LINK, 0);
        err < 0)
        return config::unexpected(nl_error("netlink subscribe", err));
    if (const int err = nl_socket_set_nonblocking(sock.get()); err < 0)
        return config::unexpected(nl_error("netlink nonblocking", err));
    auto impl = std::make_unique<Impl>();
    impl->sock = std::move(sock);
    return std::unique_ptr<AddressMonitor>(new AddressMonitor(std::move(impl)));
}

int AddressMonitor::fd() const {
    return nl_socket_get_fd(impl_->sock.get());
}

bool AddressMonitor::drain() {
    bool any = false;
    // The messages' content does not matter: any change re-resolves every interface bind.
    unsigned char *buf = nullptr;
    sockaddr_nl peer{};
    for (;;) {
        const int n = nl_recv(impl_->sock.get(), &peer, &buf, nullptr);
        std::free(buf);
        buf = nullptr;
        if (n == 0 || n == -NLE_AGAIN) break;
        any = true;  // a message, or an error such as an overrun: something changed
        if (n < 0) break;
    }
    return any;
}

}  // namespace sni::loader
