#include "common/config_yaml.hpp"

#include <algorithm>

#include "common/config_suggest.hpp"

namespace sni::config {
namespace {

std::string quote(std::string_view text) {
    return "\"" + std::string(text) + "\"";
}

}  // namespace

SourceLocation location_of(const YAML::Node &node) {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null() || mark.line < 0) return {};
    return {mark.line + 1, mark.column + 1};
}

std::string_view describe_type(const YAML::Node &node) {
    switch (node.Type()) {
        case YAML::NodeType::Scalar:
            return "a string";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            break;
    }
    return "an empty value";
}

MapReader::MapReader(Diagnostics &d, const Field &map, std::initializer_list<std::string_view> keys)
    : d_(d), path_(map.path) {
    if (!map.node.IsMap()) {
        d_.error(path_, "expected a mapping (key: value pairs), got " +
                            std::string(describe_type(map.node)));
        ok_ = false;
        return;
    }
    const std::span<const std::string_view> known(keys.begin(), keys.size());
    for (const auto &kv : map.node) {
        const SourceLocation at = location_of(kv.first);
        if (!kv.first.IsScalar()) {
            d_.error_at(at, path_,
                        "keys must be plain strings, got " + std::string(describe_type(kv.first)));
            continue;
        }
        const std::string key = kv.first.Scalar();
        const std::string path = child_path(path_, key);
        if (std::find(known.begin(), known.end(), key) == known.end()) {
            d_.error_at(at, path, "unknown key " + quote(key) + did_you_mean(key, known));
            continue;
        }
        if (has(key)) {
            d_.error_at(at, path,
                        "duplicate key " + quote(key) + " (first set on line " +
                            std::to_string(d_.locate(path).line) + ")");
            continue;
        }
        d_.record(path, at);
        entries_.emplace_back(key, kv.second);
    }
}

bool MapReader::has(std::string_view key) const {
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const auto &e) { return e.first == key; });
}

std::optional<Field> MapReader::optional(std::string_view key) const {
    for (const auto &[name, node] : entries_)
        if (name == key) return Field{node, child_path(path_, key)};
    return std::nullopt;
}

std::optional<Field> MapReader::required(std::string_view key) const {
    auto field = optional(key);
    if (!field && ok_) {
        d_.error(path_, "missing required key " + quote(key));
        d_.mark_failed(child_path(path_, key));
    }
    return field;
}

std::vector<Field> read_list(Diagnostics &d, const Field &list, bool allow_empty) {
    std::vector<Field> items;
    if (!list.node.IsSequence()) {
        d.error(list.path, "expected a list, got " + std::string(describe_type(list.node)));
        return items;
    }
    if (list.node.size() == 0 && !allow_empty) {
        d.error(list.path, "the list is empty (at least one entry is required)");
        return items;
    }
    std::size_t i = 0;
    for (const auto &item : list.node) {
        std::string path = index_path(list.path, i++);
        const SourceLocation at = location_of(item);
        d.record(path, at.line > 0 ? at : d.locate(list.path));
        items.push_back(Field{item, std::move(path)});
    }
    return items;
}

std::optional<std::string> read_scalar(Diagnostics &d, const Field &f, std::string_view what) {
    if (!f.node.IsScalar()) {
        d.error(f.path,
                "expected " + std::string(what) + ", got " + std::string(describe_type(f.node)));
        return std::nullopt;
    }
    return f.node.Scalar();
}

bool read_string(Diagnostics &d, const Field &f, std::string &out) {
    auto text = read_scalar(d, f, "a string");
    if (!text) return false;
    if (text->empty()) {
        d.error(f.path, "must not be empty");
        return false;
    }
    out = std::move(*text);
    return true;
}

bool read_bool(Diagnostics &d, const Field &f, bool &out) {
    auto text = read_scalar(d, f, "true or false");
    if (!text) return false;
    if (*text == "true" || *text == "True" || *text == "TRUE") {
        out = true;
        return true;
    }
    if (*text == "false" || *text == "False" || *text == "FALSE") {
        out = false;
        return true;
    }
    d.error(f.path, quote(*text) + " is not a boolean (expected true or false)");
    return false;
}

bool read_uint(Diagnostics &d, const Field &f, std::uint32_t min, std::uint32_t max,
               std::uint32_t &out) {
    const std::string range = std::to_string(min) + ".." + std::to_string(max);
    auto text = read_scalar(d, f, "a whole number (" + range + ")");
    if (!text) return false;
    const bool digits =
        !text->empty() && text->size() <= 10 &&
        std::all_of(text->begin(), text->end(), [](char c) { return c >= '0' && c <= '9'; });
    const std::uint64_t value = digits ? std::stoull(*text) : 0;
    if (!digits || value < min || value > max) {
        d.error(f.path, quote(*text) + " is not a whole number in the range " + range);
        return false;
    }
    out = static_cast<std::uint32_t>(value);
    return true;
}

bool read_duration(Diagnostics &d, const Field &f, Duration &out) {
    Duration value{};
    if (!read_parsed(d, f, "a duration (e.g. \"5s\")", parse_duration, value)) return false;
    if (value.count() <= 0) {
        d.error(f.path, "must be greater than zero");
        return false;
    }
    out = value;
    return true;
}

bool read_size(Diagnostics &d, const Field &f, std::uint64_t min, std::uint64_t max,
               std::uint32_t &out) {
    std::uint64_t value = 0;
    if (!read_parsed(d, f, "a size (e.g. \"16KiB\")", parse_size, value)) return false;
    if (value < min || value > max) {
        d.error(f.path, quote(f.node.Scalar()) + " (" + std::to_string(value) +
                            " bytes) is out of range: it must be between " + std::to_string(min) +
                            " and " + std::to_string(max) + " bytes");
        return false;
    }
    out = static_cast<std::uint32_t>(value);
    return true;
}

std::string list_choices(std::span<const std::string_view> names) {
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
        out += quote(names[i]);
    }
    return out;
}

void report_bad_choice(Diagnostics &d, const Field &f, std::string_view value,
                       std::span<const std::string_view> names) {
    d.error(f.path,
            quote(value) + " is not one of " + list_choices(names) + did_you_mean(value, names));
}

}  // namespace sni::config
