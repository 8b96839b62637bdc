// Stand-in for loader/kernel_steering.cpp in builds without the BPF objects
// (-DSNI_BUILD_BPF=OFF, e.g. the fuzz flavour): the daemon builds and runs with the userspace
// classifier; `auto` falls back to it and `bpf` refuses to start. loader/CMakeLists.txt picks
// this file only when kernel_steering.cpp or its skeleton target (steer_skel) is missing.
#include "loader/kernel_steering.hpp"

namespace sni::loader {

struct KernelSteering::Impl {};

namespace {
const char kNotBuilt[] = "BPF classifier not built (configured with SNI_BUILD_BPF=OFF)";
}

KernelSteering::Result<std::unique_ptr<KernelSteering>> KernelSteering::open(const std::string &,
                                                                             uint32_t) {
    return config::unexpected(std::string(kNotBuilt));
}

KernelSteering::KernelSteering(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KernelSteering::~KernelSteering() = default;

KernelSteering::Result<bool> KernelSteering::add_listener(uint32_t, const sockaddr_storage &,
                                                          uint32_t) {
    return config::unexpected(std::string(kNotBuilt));
}

KernelSteering::Result<bool> KernelSteering::remove_listener(const sockaddr_storage &) {
    return config::unexpected(std::string(kNotBuilt));
}

KernelSteering::Result<bool> KernelSteering::set_routes(const std::vector<SteeringRoute> &) {
    return config::unexpected(std::string(kNotBuilt));
}

void KernelSteering::kick(int) {}
int KernelSteering::event_fd() const {
    return -1;
}
int KernelSteering::consume(const std::function<void(const KernelDecision &)> &) {
    return 0;
}
uint64_t KernelSteering::release(uint64_t) {
    return 0;
}
bool KernelSteering::owns(uint64_t) const {
    return false;
}
KernelSteering::DrainResult KernelSteering::drain(int, uint64_t, std::vector<uint8_t> &) {
    return {Drain::kLost, kNotBuilt};
}
KernelSteering::DrainResult KernelSteering::read_and_keep(int, uint64_t, std::size_t,
                                                          std::vector<uint8_t> &) {
    return {Drain::kLost, kNotBuilt};
}
KernelSteering::RelayMaps KernelSteering::relay_maps() const {
    return {};
}
SteeringCounters KernelSteering::counters() const {
    return {};
}
KernelSteering::Attachment KernelSteering::attachment() const {
    return {};
}

std::string kernel_steering_unavailable_reason(const std::string &) {
    return kNotBuilt;
}
std::string find_cgroup2_root() {
    return "";
}

}  // namespace sni::loader
