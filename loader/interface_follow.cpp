// Interface binds follow their interface at runtime. When a listener names an interface
// ("eth0:443"), an rtnetlink subscription (AddressMonitor) wakes the daemon on address and link
// changes; after a short quiet period (debounce) every interface bind is resolved again and the
// listening sockets are reconciled: a socket is bound for each new address, the socket of an
// address that left is closed (the connections accepted on it are untouched), the others stay.
// A closed socket leaves an empty slot in sockets_, so socket indices (epoll tokens) never move.
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "common/config_values.hpp"
#include "loader/daemon.hpp"

namespace sni::loader {

namespace {

// Address changes come in bursts (an interface going up brings several): wait this long after
// the last one before resolving again.
constexpr auto kDebounce = std::chrono::milliseconds(200);

bool has_interface_bind(const config::Config &config) {
    for (const auto &l : config.listeners)
        for (const auto &b : l.bind)
            if (b.kind == config::AddressKind::kInterface) return true;
    return false;
}

}  // namespace

config::Result<bool, std::string> Daemon::follow_interfaces() {
    if (!has_interface_bind(config_)) return true;
    auto monitor = AddressMonitor::create();
    if (!monitor) return config::unexpected("following interface addresses: " + monitor.error());
    address_monitor_ = std::move(monitor).value();
    address_debounce_fd_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!address_debounce_fd_)
        return config::unexpected(std::string("timerfd_create: ") + std::strerror(errno));
    if (const int err =
            loop_.add(address_monitor_->fd(), EPOLLIN, Token{TokenKind::kAddressWatch, 0});
        err != 0)
        return config::unexpected(std::string("epoll add rtnetlink: ") + std::strerror(err));
    if (const int err =
            loop_.add(address_debounce_fd_.get(), EPOLLIN, Token{TokenKind::kAddressWatch, 1});
        err != 0)
        return config::unexpected(std::string("epoll add timer: ") + std::strerror(err));
    return true;
}

void Daemon::on_address_watch(std::uint64_t which) {
    if (!address_monitor_) return;
    if (which == 0) {
        if (!address_monitor_->drain()) return;
        itimerspec spec{};  // one shot, re-armed by every change
        spec.it_value.tv_nsec = std::chrono::nanoseconds(kDebounce).count();
        ::timerfd_settime(address_debounce_fd_.get(), 0, &spec, nullptr);
        return;
    }
    std::uint64_t expirations;
    while (::read(address_debounce_fd_.get(), &expirations, sizeof expirations) < 0 &&
           errno == EINTR) {
    }
    if (!stopping_) reconcile_interface_binds();
}

void Daemon::reconcile_interface_binds() {
    for (std::uint32_t id = 0; id < config_.listeners.size(); ++id) {
        if (id < listener_drained_.size() && listener_drained_[id]) continue;  // sockets closed
        const auto &listener = config_.listeners[id];
        for (const auto &bind : listener.bind) {
            if (bind.kind != config::AddressKind::kInterface) continue;
            const std::string bind_text = config::to_string(bind);
            // resolve_bind fails when the interface is gone or has no usable address: then
            // every socket of this bind goes (and comes back with the addresses).
            auto resolved = resolve_bind(bind);
            std::vector<config::SocketAddress> wanted;
            if (resolved) wanted = std::move(resolved).value();
            std::set<std::string> have;
            for (std::size_t i = 0; i < sockets_.size(); ++i) {
                const ListenerSocket &s = sockets_[i];
                if (!s.fd || s.listener_id != id || s.interface_bind != bind_text) continue;
                const std::string local = sockaddr_to_string(s.local);
                bool still = false;
                for (const auto &w : wanted) still = still || config::to_string(w) == local;
                if (still)
                    have.insert(local);
                else
                    remove_interface_socket(i);
            }
            for (const auto &w : wanted)
                if (!have.contains(config::to_string(w))) add_interface_socket(id, bind, w);
        }
    }
}

void Daemon::add_interface_socket(std::uint32_t listener_id, const config::SocketAddress &bind,
                                  const config::SocketAddress &address) {
    const std::string &name = config_.listeners[listener_id].name;
    auto bound = bind_one(listener_id, address);
    if (!bound) {
        // E.g. an IPv6 address still in duplicate address detection: its next change retries.
        log_.warn("interface address not bound",
                  {log::kv("listener", name), log::kv("error", bound.error())});
        return;
    }
    label_interface_socket(*bound, bind);
    if (classifier_.bpf) {
        const std::uint32_t cap = config_.listeners[listener_id].max_client_hello;
        // Without the map entry the kernel does not take these sockets: userspace classifies
        // them (KernelSteering::owns), so the address still serves.
        if (auto r = classifier_.bpf->steering().add_listener(listener_id, bound->local, cap); !r)
            log_.warn("interface address not steered by the kernel",
                      {log::kv("addr", bound->address), log::kv("error", r.error())});
    }
    const std::size_t index = sockets_.size();
    if (const int err = loop_.add(bound->fd.get(), EPOLLIN, Token{TokenKind::kListener, index});
        err != 0) {
        log_.warn("interface address not bound",
                  {log::kv("addr", bound->address),
                   log::kv("error", std::string("epoll add: ") + std::strerror(err))});
        if (classifier_.bpf) (void)classifier_.bpf->steering().remove_listener(bound->local);
        return;
    }
    log_.info("interface address added: listening",
              {log::kv("listener", name), log::kv("bind", bound->interface_bind),
               log::kv("addr", sockaddr_to_string(bound->local))});
    sockets_.push_back(std::move(bound).value());
    socket_paused_.push_back(false);
}

void Daemon::remove_interface_socket(std::size_t socket_index) {
    ListenerSocket &s = sockets_[socket_index];
    loop_.remove(s.fd.get());
    if (classifier_.bpf)
        if (auto r = classifier_.bpf->steering().remove_listener(s.local); !r)
            log_.warn("interface address still in the kernel's listener map",
                      {log::kv("addr", s.address), log::kv("error", r.error())});
    log_.info("interface address removed: socket closed",
              {log::kv("listener", config_.listeners[s.listener_id].name),
               log::kv("bind", s.interface_bind), log::kv("addr", sockaddr_to_string(s.local))});
    s.fd.reset();  // the slot stays: socket indices are epoll tokens
    socket_paused_[socket_index] = false;
}

}  // namespace sni::loader
