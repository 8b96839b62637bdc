#include "loader/capabilities.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sni::loader {

namespace {

int last_cap() {
    // /proc/sys/kernel/cap_last_cap would say; probing the bounding set is the same answer.
    int n = CAP_LAST_CAP;
    while (::prctl(PR_CAPBSET_READ, n + 1, 0, 0, 0) >= 0) ++n;
    return n;
}

std::string err(const char *what) {
    return std::string(what) + ": " + std::strerror(errno);
}

}  // namespace

std::vector<int> capabilities_to_keep(bool bpf_classifier) {
    std::vector<int> keep = {CAP_DAC_READ_SEARCH, CAP_SETUID, CAP_SETGID, CAP_KILL,
                             CAP_NET_BIND_SERVICE};
#ifdef CAP_BPF
    if (bpf_classifier) keep.push_back(CAP_BPF);
#else
    if (bpf_classifier) keep.push_back(39);  // CAP_BPF on kernels >= 5.8
#endif
    std::sort(keep.begin(), keep.end());
    return keep;
}

config::Result<std::vector<int>, std::string> drop_capabilities(const std::vector<int> &wanted) {
    if (::geteuid() != 0) return std::vector<int>{};
    // Only what we still hold can be kept: under a reduced bounding set (systemd's
    // CapabilityBoundingSet, Kubernetes' capabilities.add) some of `wanted` may be absent.
    __user_cap_header_struct now_header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct now[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &now_header, now) != 0) return config::unexpected(err("capget"));
    std::vector<int> keep;
    for (const int cap : wanted)
        if (now[cap / 32].permitted & (1u << (cap % 32))) keep.push_back(cap);
    auto kept = [&](int cap) { return std::find(keep.begin(), keep.end(), cap) != keep.end(); };
    for (int cap = 0; cap <= last_cap(); ++cap) {
        if (kept(cap)) continue;
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            return config::unexpected(err("PR_CAPBSET_DROP"));
    }
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return config::unexpected(err("PR_CAP_AMBIENT_CLEAR_ALL"));

    __user_cap_header_struct header{};
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    for (const int cap : keep) {
        data[cap / 32].effective |= 1u << (cap % 32);
        data[cap / 32].permitted |= 1u << (cap % 32);
    }
    if (::syscall(SYS_capset, &header, data) != 0) return config::unexpected(err("capset"));
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return config::unexpected(err("PR_SET_NO_NEW_PRIVS"));
    return keep;
}

std::string capability_names(const std::vector<int> &caps) {
    std::string out;
    for (const int cap : caps) {
        if (!out.empty()) out += ',';
        switch (cap) {
            case CAP_DAC_READ_SEARCH:
                out += "cap_dac_read_search";
                break;
            case CAP_SETUID:
                out += "cap_setuid";
                break;
            case CAP_SETGID:
                out += "cap_setgid";
                break;
            case CAP_KILL:
                out += "cap_kill";
                break;
            case CAP_NET_BIND_SERVICE:
                out += "cap_net_bind_service";
                break;
            case 39:
                out += "cap_bpf";
                break;
            default:
                out += std::to_string(cap);
        }
    }
    return out;
}

}  // namespace sni::loader
