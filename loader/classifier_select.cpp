#include "loader/classifier_select.hpp"

namespace sni::loader {

namespace {

// Loads, attaches and fills the BPF classifier; the error says which step failed.
config::Result<std::unique_ptr<BpfClassifier>, std::string> open_bpf(
    const config::Config &config, const std::vector<ListenerSocket> &sockets,
    const RouteTable &routes) {
    const std::string cgroup = find_cgroup2_root();
    if (const std::string reason = kernel_steering_unavailable_reason(cgroup); !reason.empty())
        return config::unexpected(reason);
    // Room for routes added by later reloads (a reload beyond it is refused and says why).
    auto opened = KernelSteering::open(
        cgroup, static_cast<std::uint32_t>(std::max<std::size_t>(2 * config.routes.size(), 1024)));
    if (!opened) return config::unexpected("loading the BPF classifier: " + opened.error());
    std::unique_ptr<KernelSteering> steering = std::move(opened).value();
    for (const auto &s : sockets) {
        const std::uint32_t cap = config.listeners[s.listener_id].max_client_hello;
        auto added = steering->add_listener(s.listener_id, s.local, cap);
        if (!added) return config::unexpected("steering " + s.address + ": " + added.error());
    }
    auto set = steering->set_routes(routes.steering_routes());
    if (!set) return config::unexpected("loading the BPF route table: " + set.error());
    return std::make_unique<BpfClassifier>(std::move(steering));
}

}  // namespace

config::Result<ClassifierChoice, std::string> choose_classifier(
    config::Classifier wanted, const config::Config &config,
    const std::vector<ListenerSocket> &sockets, const RouteTable &routes) {
    ClassifierChoice choice;
    if (wanted == config::Classifier::kUserspace) {
        choice.why = "classifier: userspace requested";
        return choice;
    }
    auto bpf = open_bpf(config, sockets, routes);
    if (bpf) {
        choice.kind = handoff::Classifier::kBpf;
        choice.bpf = std::move(bpf).value();
        choice.why = wanted == config::Classifier::kBpf ? "classifier: bpf requested"
                                                        : "classifier: auto, BPF is available";
        return choice;
    }
    if (wanted == config::Classifier::kBpf)
        return config::unexpected("classifier bpf requested but unavailable: " + bpf.error());
    choice.why = "classifier: auto, BPF unavailable (" + bpf.error() + "), using userspace";
    return choice;
}

}  // namespace sni::loader
