// The worker's side of the connection reports (common/conn_report.hpp): batched (up to
// kMaxBatch per datagram, none older than kMaxDelay), never blocks; reports that do not fit in the
// channel are dropped and counted, and the count travels with the next reports that get through.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/conn_report.hpp"

namespace sni::worker {

class ReportChannel {
  public:
    using Clock = std::chrono::steady_clock;
    // How long a report may wait for others to share its datagram: the daemon's metrics and
    // connection table lag by at most this much, and a busy worker sends one datagram per
    // this interval instead of one or two per connection.
    static constexpr auto kMaxDelay = std::chrono::milliseconds(10);

    explicit ReportChannel(int channel) : channel_(channel) {}
    ~ReportChannel() { flush(); }
    ReportChannel(const ReportChannel &) = delete;
    ReportChannel &operator=(const ReportChannel &) = delete;

    // Queues the report; it goes out with the next flush: at once when the batch is full.
    void send(conn_report::Report report);
    // Sends what is queued as one datagram.
    void flush();
    // Flushes when the oldest queued report has waited kMaxDelay; the worker's loop calls it
    // every turn and wakes up by next_flush().
    void flush_due(Clock::time_point now);
    std::optional<Clock::time_point> next_flush() const;
    std::uint64_t dropped() const { return dropped_; }

  private:
    int channel_;
    std::uint64_t dropped_ = 0;
    std::vector<conn_report::Report> pending_;
    Clock::time_point first_pending_{};
};

}  // namespace sni::worker
