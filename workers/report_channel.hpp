// The worker's side of the connection reports (common/conn_report.hpp): never blocks; a report
// that does not fit in the channel is dropped and counted, and the count travels with the
// next report that gets through.
#pragma once

#include <cstdint>

#include "common/conn_report.hpp"

namespace sni::worker {

class ReportChannel {
  public:
    explicit ReportChannel(int channel) : channel_(channel) {}

    void send(conn_report::Report report);
    std::uint64_t dropped() const { return dropped_; }

  private:
    int channel_;
    std::uint64_t dropped_ = 0;
};

}  // namespace sni::worker
