// The daemon's side of the BPF classifier: owns the KernelSteering, drains its ring buffer, and
// parks decisions that arrive before accept() has returned their socket (keyed by cookie)
// until the socket shows up or they expire.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "loader/kernel_steering.hpp"

namespace sni::loader {

class BpfClassifier {
  public:
    using Clock = std::chrono::steady_clock;
    // A parked decision whose socket was not accepted within this time is dropped (the client
    // gave up, or the socket was accepted by someone else).
    static constexpr Clock::duration kParkLimit = std::chrono::seconds(30);

    explicit BpfClassifier(std::unique_ptr<KernelSteering> steering)
        : steering_(std::move(steering)) {}

    int event_fd() const { return steering_->event_fd(); }
    static void kick(int fd) { KernelSteering::kick(fd); }
    void release(std::uint64_t cookie) { steering_->release(cookie); }

    // Every decision now in the ring buffer, in arrival order, into `out` (cleared first; a
    // vector kept by the caller, so that a drain allocates nothing once it has grown).
    void drain(std::vector<KernelDecision> &out);

    void park(const KernelDecision &decision, Clock::time_point now);
    std::optional<KernelDecision> claim(std::uint64_t cookie);
    // Drops (and releases) parked decisions older than kParkLimit; returns how many.
    std::size_t expire(Clock::time_point now);

    KernelSteering &steering() { return *steering_; }

  private:
    std::unique_ptr<KernelSteering> steering_;
    std::unordered_map<std::uint64_t, std::pair<KernelDecision, Clock::time_point>> parked_;
};

}  // namespace sni::loader
