// Choosing the classifier: `userspace`, `bpf` (must work, or the daemon does not start), or
// `auto` (BPF when this machine can run it, else userspace, saying why).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/config_result.hpp"
#include "common/config_types.hpp"
#include "common/handoff.hpp"
#include "loader/bpf_classifier.hpp"
#include "loader/listeners.hpp"
#include "loader/route_table.hpp"

namespace sni::loader {

struct ClassifierChoice {
    handoff::Classifier kind = handoff::Classifier::kUserspace;
    std::unique_ptr<BpfClassifier> bpf;  // set for kBpf
    std::string why;                     // for the log: why this one runs
};

config::Result<ClassifierChoice, std::string> choose_classifier(
    config::Classifier wanted, const config::Config &config,
    const std::vector<ListenerSocket> &sockets, const RouteTable &routes);

}  // namespace sni::loader
