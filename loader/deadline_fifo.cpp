#include "loader/deadline_fifo.hpp"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sni::loader {

config::Result<DeadlineFifo, std::string> DeadlineFifo::create(Clock::duration timeout) {
    const int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0) return config::unexpected(std::string("timerfd_create: ") + std::strerror(errno));
    return DeadlineFifo(UniqueFd(fd), timeout);
}

void DeadlineFifo::push(std::uint64_t conn_id, Clock::time_point now) {
    fifo_.emplace_back(now + timeout_, conn_id);
    if (!armed_) arm();
}

void DeadlineFifo::arm() {
    itimerspec spec{};
    if (!fifo_.empty()) {
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            (fifo_.front().first + kSlack).time_since_epoch())
                            .count();
        spec.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
        spec.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
        if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
    }
    ::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
    armed_ = !fifo_.empty();
}

std::vector<std::uint64_t> DeadlineFifo::expire(Clock::time_point now) {
    std::uint64_t ticks;
    while (::read(timer_.get(), &ticks, sizeof ticks) < 0 && errno == EINTR) {
    }
    std::vector<std::uint64_t> out;
    while (!fifo_.empty() && fifo_.front().first <= now) {
        out.push_back(fifo_.front().second);
        fifo_.pop_front();
    }
    arm();
    return out;
}

}  // namespace sni::loader
