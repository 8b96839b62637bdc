// Collects configuration errors and knows where each key path sits in the source, so that
// later passes (validation) can report by key path alone.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "common/config_error.hpp"

namespace sni::config {

struct SourceLocation {
    int line = 0;  // 1-based; 0 = unknown
    int column = 0;
};

// Key paths: "routes", "routes[2]", "routes[2].backend.min_version".
std::string child_path(std::string_view parent, std::string_view key);
std::string index_path(std::string_view parent, std::size_t index);
// "routes[2].backend" -> "routes[2]" -> "routes" -> "".
std::string_view parent_path(std::string_view path);

class Diagnostics {
  public:
    explicit Diagnostics(std::string file) : file_(std::move(file)) {}

    const std::string &file() const { return file_; }

    // Remembers where the node at `path` is (the first record wins).
    void record(const std::string &path, SourceLocation at);
    // True when the key path was present in the file.
    bool present(std::string_view path) const;
    // Where `path` is, or else its closest recorded ancestor.
    SourceLocation locate(std::string_view path) const;

    // Reports an error at locate(path); the path is marked failed.
    void error(const std::string &path, std::string message);
    void error_at(SourceLocation at, const std::string &path, std::string message);

    // Marks a path whose value could not be read, so that later checks which depend on it can
    // stay quiet instead of piling up follow-on errors.
    void mark_failed(const std::string &path) { failed_.insert(path); }
    bool failed(std::string_view path) const { return failed_.find(path) != failed_.end(); }

    bool has_errors() const { return !errors_.empty(); }
    // All errors, ordered by position in the file (errors without a line first).
    ConfigErrors take_errors();

  private:
    std::string file_;
    std::map<std::string, SourceLocation, std::less<>> where_;
    std::set<std::string, std::less<>> failed_;
    ConfigErrors errors_;
};

}  // namespace sni::config
