#include "workers/event_loop.hpp"

#include <cerrno>
#include <climits>
#include <cstring>

namespace sni::worker {

config::Result<Epoll, std::string> Epoll::create() {
    UniqueFd fd(::epoll_create1(EPOLL_CLOEXEC));
    if (!fd) return config::unexpected(std::string("epoll_create1: ") + std::strerror(errno));
    return Epoll(std::move(fd));
}

bool Epoll::add(int fd, std::uint32_t events, std::uint64_t token) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = token;
    return ::epoll_ctl(fd_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool Epoll::modify(int fd, std::uint32_t events, std::uint64_t token) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = token;
    return ::epoll_ctl(fd_.get(), EPOLL_CTL_MOD, fd, &ev) == 0;
}

void Epoll::remove(int fd) {
    ::epoll_ctl(fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

int Epoll::wait(std::span<epoll_event> out, int timeout_ms) {
    const int n = ::epoll_wait(fd_.get(), out.data(), static_cast<int>(out.size()), timeout_ms);
    return n < 0 ? 0 : n;
}

std::vector<std::pair<Clock::time_point, std::uint64_t>> TimerQueue::pop_due(
    Clock::time_point now) {
    std::vector<Entry> due;
    while (!heap_.empty() && heap_.top().first <= now) {
        due.push_back(heap_.top());
        heap_.pop();
    }
    return due;
}

std::optional<Clock::time_point> TimerQueue::next() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.top().first;
}

int timeout_until(std::optional<Clock::time_point> deadline, Clock::time_point now) {
    if (!deadline) return -1;
    if (*deadline <= now) return 0;
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(*deadline - now).count();
    const auto ms = (us + 999) / 1000;
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

}  // namespace sni::worker
