// The configuration a generation runs, frozen: the daemon reads the file once, validates that
// text (the same checks as --check), and writes exactly that text to a snapshot that the
// generation's workers (and their restarts) read, so an edit of the file after the reload can
// not reach them. The snapshot sits beside the file (".<name>.sni-gen<N>", mode 0600) so that
// relative certificate paths resolve the same way; when that directory is not writable the
// workers read the file itself (logged).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "common/config_result.hpp"
#include "common/config_types.hpp"

namespace sni::loader {

class ConfigSnapshot {
  public:
    ConfigSnapshot() = default;
    ConfigSnapshot(std::string path, bool owned) : path_(std::move(path)), owned_(owned) {}
    ConfigSnapshot(ConfigSnapshot &&other) noexcept
        : path_(std::move(other.path_)), owned_(std::exchange(other.owned_, false)) {}
    ConfigSnapshot &operator=(ConfigSnapshot &&other) noexcept;
    ~ConfigSnapshot();

    const std::string &path() const { return path_; }
    bool frozen() const { return owned_; }

  private:
    std::string path_;
    bool owned_ = false;  // we wrote it: removed with this object
};

struct LoadedConfig {
    config::Config config;
    ConfigSnapshot snapshot;
    std::string snapshot_error;  // why the workers read the file itself ("" when frozen)
};

// Errors are the --check diagnostics (config::to_string of the errors).
config::Result<LoadedConfig, std::string> load_and_snapshot(const std::string &path,
                                                            std::uint64_t generation);

}  // namespace sni::loader
