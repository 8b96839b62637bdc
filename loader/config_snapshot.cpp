#include "loader/config_snapshot.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/config.hpp"
#include "common/config_error.hpp"
#include "common/fd.hpp"

namespace sni::loader {

ConfigSnapshot &ConfigSnapshot::operator=(ConfigSnapshot &&other) noexcept {
    if (this != &other) {
        if (owned_) ::unlink(path_.c_str());
        path_ = std::move(other.path_);
        owned_ = std::exchange(other.owned_, false);
    }
    return *this;
}

ConfigSnapshot::~ConfigSnapshot() {
    if (owned_) ::unlink(path_.c_str());
}

config::Result<LoadedConfig, std::string> load_and_snapshot(const std::string &path,
                                                            std::uint64_t generation) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        // Let the loader word the error exactly as --check does.
        auto loaded = config::load_file(path);
        if (!loaded) return config::unexpected(config::to_string(loaded.error()));
        return config::unexpected(path + ": cannot be read");
    }
    std::stringstream text;
    text << in.rdbuf();
    const std::string body = text.str();
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(path, ec);
    if (ec) absolute = path;
    auto loaded = config::load_string(body, path, absolute.parent_path());
    if (!loaded) return config::unexpected(config::to_string(loaded.error()));

    LoadedConfig out{std::move(loaded).value(), ConfigSnapshot(path, false), {}};
    const std::string snap = (absolute.parent_path() / ("." + absolute.filename().string() +
                                                        ".sni-gen" + std::to_string(generation)))
                                 .string();
    ::unlink(snap.c_str());  // a leftover of a crashed daemon
    UniqueFd fd(::open(snap.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) {
        out.snapshot_error = snap + ": " + std::strerror(errno);
        return out;
    }
    std::size_t done = 0;
    while (done < body.size()) {
        const ssize_t n = ::write(fd.get(), body.data() + done, body.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            out.snapshot_error = snap + ": " + std::strerror(errno);
            ::unlink(snap.c_str());
            return out;
        }
        done += static_cast<std::size_t>(n);
    }
    out.snapshot = ConfigSnapshot(snap, true);
    return out;
}

}  // namespace sni::loader
