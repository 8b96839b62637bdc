// Server-name (SNI) normalisation and route matching: the rules shared by the userspace
// classifier, the config validator and the BPF route map.
//
// Rules:
//   * names are compared lowercased, with one trailing dot removed;
//   * a name is [a-z0-9_-] labels of 1..63 bytes, 1..253 bytes in total;
//   * a wildcard pattern is "*.suffix" where suffix is a valid name; "*" may only be the whole
//     first label ("a.*.com", "*foo.com", "*" and "*.*.com" are invalid);
//   * "*.a.b" matches exactly ONE extra label, as in certificate matching: "x.a.b" yes,
//     "y.x.a.b" no, "a.b" no;
//   * an exact name beats a wildcard; among wildcards the longest suffix wins.
//
// Because a wildcard covers exactly one label, the only wildcard that can match "x.rest" is
// "*.rest". A lookup is therefore two exact-key probes: the full name in the exact table, then
// wildcard_key(name) == "rest" in the wildcard table. "Longest suffix wins" holds automatically:
// there is never more than one candidate wildcard. The BPF route map stores the same two key
// spaces (exact names, and wildcard_key() of each wildcard pattern).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sni {

inline constexpr std::size_t kMaxServerNameLength = 253;
inline constexpr std::size_t kMaxServerNameLabelLength = 63;

// Why a name is not a valid server name (after lowercasing and trailing-dot removal).
enum class ServerNameProblem : std::uint8_t {
    kOk,
    kEmpty,         // "" or "."
    kBadCharacter,  // outside [a-z0-9_-] and '.', e.g. a space, '*' or a non-ASCII byte
    kEmptyLabel,    // "a..b", ".a", "a.." (only one trailing dot is stripped)
    kLabelTooLong,  // a label of more than 63 bytes
    kTooLong,       // more than 253 bytes
};

// Plain-words explanation, e.g. "a label is longer than 63 characters".
std::string_view describe(ServerNameProblem problem);

// Checks `name` as it would be matched: case-insensitively, with one trailing dot ignored.
ServerNameProblem check_server_name(std::string_view name);

// Lowercases, strips one trailing dot and validates. nullopt when invalid.
std::optional<std::string> normalize_server_name(std::string_view name);

// True when `pattern` contains a '*' at all (i.e. the caller meant a wildcard).
bool is_wildcard_pattern(std::string_view pattern);

// True for "*.suffix" with a valid suffix (case-insensitive, one trailing dot allowed).
bool is_valid_wildcard(std::string_view pattern);

// "*.Shop.Example.COM." -> "*.shop.example.com"; nullopt when not a valid wildcard.
std::optional<std::string> normalize_wildcard(std::string_view pattern);

// The name without its first label: "x.a.b" -> "a.b", "*.a.b" -> "a.b", "com" -> "".
// For a normalized name this is the key under which the one wildcard that could match it is
// stored; for a normalized wildcard pattern it is that pattern's key.
std::string_view wildcard_key(std::string_view name);

// Route ids are small integers (the index of the route in the config), as in the BPF map.
using RouteId = std::uint32_t;

// Exact and wildcard server names -> route id. Plain value type; copyable.
class ServerNameTable {
  public:
    using Map = std::map<std::string, RouteId, std::less<>>;

    enum class AddStatus : std::uint8_t {
        kOk,
        kInvalidName,      // not a valid server name (see check_server_name)
        kInvalidWildcard,  // contains '*' but is not "*.valid-suffix"
        kDuplicate,        // the same (normalized) pattern was already added
    };
    struct AddResult {
        AddStatus status = AddStatus::kOk;
        RouteId existing = 0;  // the route that already owns the pattern, for kDuplicate
    };

    // Adds an exact name ("a.b") or a wildcard ("*.a.b"). The table is unchanged on error.
    AddResult add(std::string_view pattern, RouteId route);

    // The route for a ClientHello's server name. The name is normalized first; an invalid name
    // matches nothing.
    std::optional<RouteId> lookup(std::string_view server_name) const;

    // Normalized exact names, and wildcards keyed by wildcard_key() (i.e. without the "*.").
    const Map &exact_names() const { return exact_; }
    const Map &wildcard_suffixes() const { return wildcards_; }

    std::size_t size() const { return exact_.size() + wildcards_.size(); }
    bool empty() const { return size() == 0; }

    bool operator==(const ServerNameTable &) const = default;

  private:
    Map exact_;
    Map wildcards_;
};

}  // namespace sni
