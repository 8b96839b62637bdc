#include "workers/report_channel.hpp"

namespace sni::worker {

void ReportChannel::send(conn_report::Report report) {
    if (channel_ < 0) return;
    if (pending_.empty()) first_pending_ = Clock::now();
    pending_.push_back(report);
    if (pending_.size() >= conn_report::kMaxBatch) flush();
}

void ReportChannel::flush() {
    if (pending_.empty()) return;
    for (auto &r : pending_) r.dropped_reports = dropped_;
    if (!conn_report::send_reports(channel_, pending_)) dropped_ += pending_.size();
    pending_.clear();
}

void ReportChannel::flush_due(Clock::time_point now) {
    if (!pending_.empty() && now >= first_pending_ + kMaxDelay) flush();
}

std::optional<ReportChannel::Clock::time_point> ReportChannel::next_flush() const {
    if (pending_.empty()) return std::nullopt;
    return first_pending_ + kMaxDelay;
}

}  // namespace sni::worker
