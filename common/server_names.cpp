#include "common/server_names.hpp"

#include <array>

namespace sni {
namespace {

// Large enough for any name that can be valid; longer inputs are rejected before copying.
using NameBuffer = std::array<char, kMaxServerNameLength + 1>;

char to_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

std::string_view strip_trailing_dot(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    return name;
}

// Validates an already lowercased name without a trailing dot.
ServerNameProblem check_lowered(std::string_view name) {
    if (name.empty()) return ServerNameProblem::kEmpty;
    if (name.size() > kMaxServerNameLength) return ServerNameProblem::kTooLong;
    std::size_t label = 0;
    for (char c : name) {
        if (c == '.') {
            if (label == 0) return ServerNameProblem::kEmptyLabel;
            label = 0;
            continue;
        }
        if (!is_name_char(c)) return ServerNameProblem::kBadCharacter;
        if (++label > kMaxServerNameLabelLength) return ServerNameProblem::kLabelTooLong;
    }
    return label == 0 ? ServerNameProblem::kEmptyLabel : ServerNameProblem::kOk;
}

// Lowercases `name` (trailing dot stripped) into `buf`; nullopt when it is not a valid name.
// Allocation-free, for the per-connection lookup path.
std::optional<std::string_view> normalize_into(std::string_view name, NameBuffer &buf) {
    name = strip_trailing_dot(name);
    if (name.size() > kMaxServerNameLength) return std::nullopt;
    for (std::size_t i = 0; i < name.size(); ++i) buf[i] = to_lower(name[i]);
    std::string_view lowered(buf.data(), name.size());
    if (check_lowered(lowered) != ServerNameProblem::kOk) return std::nullopt;
    return lowered;
}

}  // namespace

std::string_view describe(ServerNameProblem problem) {
    switch (problem) {
        case ServerNameProblem::kOk:
            return "valid";
        case ServerNameProblem::kEmpty:
            return "the name is empty";
        case ServerNameProblem::kBadCharacter:
            return "only letters, digits, '-', '_' and '.' are allowed";
        case ServerNameProblem::kEmptyLabel:
            return "the name has an empty label (two dots in a row, or a leading dot)";
        case ServerNameProblem::kLabelTooLong:
            return "a label (the part between two dots) is longer than 63 characters";
        case ServerNameProblem::kTooLong:
            return "the name is longer than 253 characters";
    }
    return "invalid";
}

ServerNameProblem check_server_name(std::string_view name) {
    name = strip_trailing_dot(name);
    if (name.size() > kMaxServerNameLength) return ServerNameProblem::kTooLong;
    NameBuffer buf;
    for (std::size_t i = 0; i < name.size(); ++i) buf[i] = to_lower(name[i]);
    return check_lowered(std::string_view(buf.data(), name.size()));
}

std::optional<std::string> normalize_server_name(std::string_view name) {
    NameBuffer buf;
    auto normalized = normalize_into(name, buf);
    if (!normalized) return std::nullopt;
    return std::string(*normalized);
}

bool is_wildcard_pattern(std::string_view pattern) {
    return pattern.find('*') != std::string_view::npos;
}

bool is_valid_wildcard(std::string_view pattern) {
    return normalize_wildcard(pattern).has_value();
}

std::optional<std::string> normalize_wildcard(std::string_view pattern) {
    if (!pattern.starts_with("*.")) return std::nullopt;
    auto suffix = normalize_server_name(pattern.substr(2));
    if (!suffix || suffix->size() + 2 > kMaxServerNameLength) return std::nullopt;
    return "*." + *suffix;
}

std::string_view wildcard_key(std::string_view name) {
    auto dot = name.find('.');
    if (dot == std::string_view::npos) return {};
    return name.substr(dot + 1);
}

ServerNameTable::AddResult ServerNameTable::add(std::string_view pattern, RouteId route) {
    Map *map = &exact_;
    std::string key;
    if (is_wildcard_pattern(pattern)) {
        auto wildcard = normalize_wildcard(pattern);
        if (!wildcard) return {AddStatus::kInvalidWildcard, 0};
        key = std::string(wildcard_key(*wildcard));
        map = &wildcards_;
    } else {
        auto name = normalize_server_name(pattern);
        if (!name) return {AddStatus::kInvalidName, 0};
        key = std::move(*name);
    }
    auto [it, inserted] = map->try_emplace(std::move(key), route);
    if (!inserted) return {AddStatus::kDuplicate, it->second};
    return {AddStatus::kOk, 0};
}

std::optional<RouteId> ServerNameTable::lookup(std::string_view server_name) const {
    NameBuffer buf;
    auto name = normalize_into(server_name, buf);
    if (!name) return std::nullopt;
    if (auto it = exact_.find(*name); it != exact_.end()) return it->second;
    auto key = wildcard_key(*name);
    if (key.empty()) return std::nullopt;
    if (auto it = wildcards_.find(key); it != wildcards_.end()) return it->second;
    return std::nullopt;
}

}  // namespace sni
