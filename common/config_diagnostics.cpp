#include "common/config_diagnostics.hpp"

#include <algorithm>
#include <utility>

namespace sni::config {

std::string child_path(std::string_view parent, std::string_view key) {
    if (parent.empty()) return std::string(key);
    std::string out(parent);
    out += '.';
    out += key;
    return out;
}

std::string index_path(std::string_view parent, std::size_t index) {
    return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::string_view parent_path(std::string_view path) {
    if (path.ends_with(']')) {
        auto open = path.rfind('[');
        if (open != std::string_view::npos) return path.substr(0, open);
    }
    auto dot = path.rfind('.');
    if (dot == std::string_view::npos) return {};
    return path.substr(0, dot);
}

void Diagnostics::record(const std::string &path, SourceLocation at) {
    where_.emplace(path, at);
}

bool Diagnostics::present(std::string_view path) const {
    return where_.find(path) != where_.end();
}

SourceLocation Diagnostics::locate(std::string_view path) const {
    while (true) {
        if (auto it = where_.find(path); it != where_.end()) return it->second;
        if (path.empty()) return {};
        path = parent_path(path);
    }
}

void Diagnostics::error(const std::string &path, std::string message) {
    error_at(locate(path), path, std::move(message));
}

void Diagnostics::error_at(SourceLocation at, const std::string &path, std::string message) {
    mark_failed(path);
    errors_.push_back(ConfigError{file_, at.line, at.column, path, std::move(message)});
}

ConfigErrors Diagnostics::take_errors() {
    std::stable_sort(errors_.begin(), errors_.end(), [](const auto &a, const auto &b) {
        return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    return std::exchange(errors_, {});
}

}  // namespace sni::config
