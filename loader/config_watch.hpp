// Watches the configuration file and every file it names (certificates, keys, CA bundles, OCSP
// responses) and says when their contents changed, for `--watch`: Kubernetes updates a mounted
// ConfigMap or Secret by swapping a `..data` symlink in the directory, editors write a new
// file and rename it, cert-manager rewrites in place; all of them show up as inotify events on
// the *directory*, so the directories are watched, not the files.
//
// Events are debounced (a burst of writes is one change) and filtered by content: a change is
// reported only when the SHA-256 over every watched file's bytes differs from the last one
// reported, so touching a file or changing an unrelated file in the same directory does not
// trigger a reload.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/config_result.hpp"
#include "common/config_types.hpp"
#include "common/fd.hpp"

namespace sni::loader {

// Every file `config` reads besides itself: certificate, key, OCSP, CA and client cert files.
std::vector<std::filesystem::path> files_named_by(const config::Config &config);
// What --watch watches: the configuration file first, then files_named_by(config).
std::vector<std::filesystem::path> watched_files(const std::filesystem::path &config_path,
                                                 const config::Config &config);

// SHA-256 (hex) over the paths and contents of `files`; a missing file counts as "missing".
std::string fingerprint_files(const std::vector<std::filesystem::path> &files);

class ConfigWatch {
  public:
    static config::Result<ConfigWatch, std::string> create(std::vector<std::filesystem::path> files,
                                                           std::chrono::milliseconds debounce);

    int inotify_fd() const { return inotify_.get(); }
    int timer_fd() const { return timer_.get(); }

    // inotify_fd() is readable: reads the events, arms the debounce timer when one concerns a
    // watched directory.
    void on_inotify();
    // timer_fd() is readable: true when the watched contents differ from the last fingerprint
    // (which is then updated).
    bool on_timer();
    // After a reload: watch this set from now on (the current contents become the reference).
    config::Result<bool, std::string> rewatch(std::vector<std::filesystem::path> files);

  private:
    ConfigWatch(UniqueFd inotify, UniqueFd timer, std::chrono::milliseconds debounce)
        : inotify_(std::move(inotify)), timer_(std::move(timer)), debounce_(debounce) {}

    UniqueFd inotify_;
    UniqueFd timer_;
    std::chrono::milliseconds debounce_;
    std::vector<std::filesystem::path> files_;
    std::vector<int> watches_;
    std::string fingerprint_;
};

}  // namespace sni::loader
