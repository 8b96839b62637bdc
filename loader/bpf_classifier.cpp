#include "loader/bpf_classifier.hpp"

namespace sni::loader {

void BpfClassifier::drain(std::vector<KernelDecision> &out) {
    out.clear();
    steering_->consume([&](const KernelDecision &d) { out.push_back(d); });
}

void BpfClassifier::park(const KernelDecision &decision, Clock::time_point now) {
    parked_[decision.cookie] = {decision, now};
}

std::optional<KernelDecision> BpfClassifier::claim(std::uint64_t cookie) {
    const auto it = parked_.find(cookie);
    if (it == parked_.end()) return std::nullopt;
    KernelDecision d = it->second.first;
    parked_.erase(it);
    return d;
}

std::size_t BpfClassifier::expire(Clock::time_point now) {
    std::size_t n = 0;
    for (auto it = parked_.begin(); it != parked_.end();) {
        if (now - it->second.second >= kParkLimit) {
            steering_->release(it->first);
            it = parked_.erase(it);
            ++n;
        } else {
            ++it;
        }
    }
    return n;
}

}  // namespace sni::loader
