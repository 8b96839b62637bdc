// Listeners may name an interface instead of an address (`bind: ["eth0:443"]`): the daemon
// asks the kernel for the interface's addresses over rtnetlink (libnl-route) and binds one
// socket per address, then follows address changes through an rtnetlink subscription.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/config_result.hpp"

namespace sni::loader {

struct InterfaceAddress {
    int family = AF_INET;  // AF_INET or AF_INET6
    std::string text;      // "10.0.0.1" or "fe80::1" (no brackets)
    int scope_id = 0;      // the interface index for IPv6 link-local addresses, else 0
};

// The addresses currently on interface `name`, IPv4 first, each family in kernel order.
// Tentative and deprecated IPv6 addresses are skipped (they cannot be bound or should not be).
// Errors: the interface does not exist, or netlink failed.
config::Result<std::vector<InterfaceAddress>, std::string> interface_addresses(
    std::string_view name);

// An rtnetlink subscription to address and link changes. fd() becomes readable when the
// kernel reports one; drain() reads every pending message and says whether any arrived.
class AddressMonitor {
  public:
    static config::Result<std::unique_ptr<AddressMonitor>, std::string> create();
    ~AddressMonitor();
    AddressMonitor(const AddressMonitor &) = delete;
    AddressMonitor &operator=(const AddressMonitor &) = delete;

    int fd() const;
    bool drain();

  private:
    struct Impl;
    explicit AddressMonitor(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace sni::loader
