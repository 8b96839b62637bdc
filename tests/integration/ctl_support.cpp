#include "ctl_support.hpp"

namespace sni::itest {

ProcessResult run_ctl(const std::string &socket, const std::vector<std::string> &args) {
    std::vector<std::string> argv = {SNI_CTL_BIN, "--socket", socket};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, "", 30s);
}

nlohmann::json ctl_json(const std::string &socket, const std::vector<std::string> &args,
                        int *exit_code) {
    std::vector<std::string> a = args;
    a.push_back("--json");
    const ProcessResult r = run_ctl(socket, a);
    if (exit_code) *exit_code = r.exit_code;
    return nlohmann::json::parse(r.out, nullptr, false);
}

}  // namespace sni::itest
