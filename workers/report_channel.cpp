#include "workers/report_channel.hpp"

namespace sni::worker {

void ReportChannel::send(conn_report::Report report) {
    if (channel_ < 0) return;
    report.dropped_reports = dropped_;
    if (!conn_report::send_report(channel_, report)) ++dropped_;
}

}  // namespace sni::worker
