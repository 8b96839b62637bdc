#include "loader/event_loop.hpp"

#include <cerrno>
#include <cstring>

namespace sni::loader {

config::Result<EventLoop, std::string> EventLoop::create() {
    const int fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) return config::unexpected(std::string("epoll_create1: ") + std::strerror(errno));
    return EventLoop(UniqueFd(fd));
}

int EventLoop::add(int fd, std::uint32_t events, Token token) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = token.encode();
    return ::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : errno;
}

int EventLoop::modify(int fd, std::uint32_t events, Token token) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = token.encode();
    return ::epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : errno;
}

void EventLoop::remove(int fd) {
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

int EventLoop::wait(std::span<epoll_event> events, int timeout_ms) {
    const int n =
        ::epoll_wait(epfd_.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    return n;
}

}  // namespace sni::loader
