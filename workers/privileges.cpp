#include "workers/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <vector>

namespace sni::worker {

config::Result<DropResult, std::string> drop_privileges(const std::string &user) {
    std::vector<char> buf(16384);
    passwd pw{};
    passwd *found = nullptr;
    const int rc = ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc != 0 || found == nullptr)
        return config::unexpected("unknown user \"" + user + "\"" +
                                  (rc != 0 ? std::string(": ") + std::strerror(rc) : ""));
    const DropResult out{pw.pw_uid, pw.pw_gid};
    if (::geteuid() != 0) {
        if (::geteuid() == pw.pw_uid) return out;  // already that user
        return config::unexpected("cannot become \"" + user + "\": not running as root");
    }
    const gid_t gid = pw.pw_gid;
    if (::setgroups(1, &gid) != 0)
        return config::unexpected(std::string("setgroups: ") + std::strerror(errno));
    if (::setgid(pw.pw_gid) != 0)
        return config::unexpected(std::string("setgid: ") + std::strerror(errno));
    if (::setuid(pw.pw_uid) != 0)
        return config::unexpected(std::string("setuid: ") + std::strerror(errno));
    if (pw.pw_uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0))
        return config::unexpected(std::string("root could be regained after setuid"));
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    return out;
}

}  // namespace sni::worker
