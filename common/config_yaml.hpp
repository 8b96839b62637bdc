// Schema-agnostic helpers that read typed values out of yaml-cpp nodes, recording where each
// key is and reporting wrong types, unknown keys and bad values to a Diagnostics.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config_diagnostics.hpp"
#include "common/config_enums.hpp"
#include "common/config_types.hpp"
#include "common/config_values.hpp"

namespace sni::config {

// A node and its key path.
struct Field {
    YAML::Node node;
    std::string path;
};

// 1-based position of a node; {} when yaml-cpp has none.
SourceLocation location_of(const YAML::Node &node);

// "a string", "a list", "a mapping", "an empty value".
std::string_view describe_type(const YAML::Node &node);

// Reads one mapping: reports (once) when it is not a mapping, and reports unknown keys (with a
// suggestion) and duplicate keys. Every known key present is recorded in the Diagnostics.
class MapReader {
  public:
    MapReader(Diagnostics &d, const Field &map, std::initializer_list<std::string_view> keys);

    bool ok() const { return ok_; }
    bool has(std::string_view key) const;
    std::optional<Field> optional(std::string_view key) const;
    // Like optional(), but reports a missing key (at the mapping) as an error.
    std::optional<Field> required(std::string_view key) const;

  private:
    Diagnostics &d_;
    std::string path_;
    bool ok_ = true;
    std::vector<std::pair<std::string, YAML::Node>> entries_;  // known keys only
};

// The items of a list, each with its path ("x[0]", "x[1]", ...). Reports a non-list, and an
// empty list unless `allow_empty`.
std::vector<Field> read_list(Diagnostics &d, const Field &list, bool allow_empty);

// The scalar text of a field, or nullopt after reporting "expected <what>, got <type>".
std::optional<std::string> read_scalar(Diagnostics &d, const Field &f, std::string_view what);

// Each returns true when `out` was set; otherwise an error was reported and `out` is unchanged.
bool read_string(Diagnostics &d, const Field &f, std::string &out);  // non-empty
bool read_bool(Diagnostics &d, const Field &f, bool &out);           // true | false
bool read_uint(Diagnostics &d, const Field &f, std::uint32_t min, std::uint32_t max,
               std::uint32_t &out);
bool read_duration(Diagnostics &d, const Field &f, Duration &out);  // > 0
bool read_size(Diagnostics &d, const Field &f, std::uint64_t min, std::uint64_t max,
               std::uint32_t &out);

// Applies a value parser (see config_values.hpp) to a scalar.
template <typename T, typename Parse>
bool read_parsed(Diagnostics &d, const Field &f, std::string_view what, Parse &&parse, T &out) {
    auto text = read_scalar(d, f, what);
    if (!text) return false;
    auto parsed = parse(*text);
    if (!parsed) {
        d.error(f.path, std::move(parsed).error());
        return false;
    }
    out = std::move(parsed).value();
    return true;
}

// "\"a\", \"b\" or \"c\"".
std::string list_choices(std::span<const std::string_view> names);

void report_bad_choice(Diagnostics &d, const Field &f, std::string_view value,
                       std::span<const std::string_view> names);

template <typename E, std::size_t N>
bool read_enum(Diagnostics &d, const Field &f, const std::array<EnumName<E>, N> &table, E &out) {
    std::array<std::string_view, N> names;
    for (std::size_t i = 0; i < N; ++i) names[i] = table[i].name;
    auto text = read_scalar(d, f, "one of " + list_choices(names));
    if (!text) return false;
    if (auto v = enum_from_name<E>(table, *text)) {
        out = *v;
        return true;
    }
    report_bad_choice(d, f, *text, names);
    return false;
}

}  // namespace sni::config
