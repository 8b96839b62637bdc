// Helpers shared by the ClientHello corpus, oracle and edge tests: loading the corpus under
// tests/data/clienthello, TLS record (re)framing, and a small ClientHello builder.
//
// Header-only: tests/unit/*.cpp are globbed into the unit_tests binary.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

extern "C" {
#include "clienthello_types.h"
}

namespace chtest {

using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------------------------------------
// names (our own table, so the tests do not depend on status_name/reason_name being right)

inline std::optional<uint32_t> status_from_name(std::string_view n) {
    static constexpr std::pair<std::string_view, uint32_t> kStatuses[] = {
        {"ok", CH_OK},           {"need_more", CH_NEED_MORE},
        {"not_tls", CH_NOT_TLS}, {"malformed", CH_MALFORMED},
        {"too_big", CH_TOO_BIG},
    };
    for (const auto &[name, v] : kStatuses)
        if (name == n) return v;
    return std::nullopt;
}

inline std::optional<uint32_t> reason_from_name(std::string_view n) {
    static constexpr std::pair<std::string_view, uint32_t> kReasons[] = {
        {"none", CH_R_NONE},
        {"record_version", CH_R_RECORD_VERSION},
        {"record_type", CH_R_RECORD_TYPE},
        {"record_empty", CH_R_RECORD_EMPTY},
        {"record_too_long", CH_R_RECORD_TOO_LONG},
        {"not_client_hello", CH_R_NOT_CLIENT_HELLO},
        {"trailing_data", CH_R_TRAILING_DATA},
        {"short_hello", CH_R_SHORT_HELLO},
        {"session_id", CH_R_SESSION_ID},
        {"cipher_suites", CH_R_CIPHER_SUITES},
        {"compression", CH_R_COMPRESSION},
        {"extensions_length", CH_R_EXTENSIONS_LENGTH},
        {"extension_length", CH_R_EXTENSION_LENGTH},
        {"duplicate_extension", CH_R_DUPLICATE_EXTENSION},
        {"psk_not_last", CH_R_PSK_NOT_LAST},
        {"sni_list", CH_R_SNI_LIST},
        {"sni_empty", CH_R_SNI_EMPTY},
        {"sni_too_long", CH_R_SNI_TOO_LONG},
        {"sni_charset", CH_R_SNI_CHARSET},
        {"sni_label", CH_R_SNI_LABEL},
        {"sni_duplicate", CH_R_SNI_DUPLICATE},
        {"alpn", CH_R_ALPN},
        {"supported_versions", CH_R_SUPPORTED_VERSIONS},
        {"ech", CH_R_ECH},
    };
    static_assert(std::size(kReasons) == CH_R__COUNT, "a reason is missing from the table");
    for (const auto &[name, v] : kReasons)
        if (name == n) return v;
    return std::nullopt;
}

// The flags an OK result may carry, by their .expect names.
inline const std::vector<std::pair<std::string, uint32_t>> &flag_names() {
    static const std::vector<std::pair<std::string, uint32_t>> kFlags = {
        {"sni", CH_F_SNI},
        {"alpn", CH_F_ALPN},
        {"alpn_trunc", CH_F_ALPN_TRUNC},
        {"versions", CH_F_VERSIONS},
        {"versions_trunc", CH_F_VERSIONS_TRUNC},
        {"ech_outer", CH_F_ECH_OUTER},
        {"ech_inner", CH_F_ECH_INNER},
        {"need_exact", CH_F_NEED_EXACT},
        {"sni_other_types", CH_F_SNI_OTHER_TYPES},
    };
    return kFlags;
}

inline std::string flags_to_string(uint32_t flags) {
    std::string out;
    for (const auto &[name, bit] : flag_names()) {
        if (!(flags & bit)) continue;
        if (!out.empty()) out += ",";
        out += name;
        flags &= ~bit;
    }
    if (flags) out += (out.empty() ? "" : ",") + std::to_string(flags);
    return out.empty() ? "-" : out;
}

inline std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        size_t pos = s.find(sep, start);
        out.emplace_back(s.substr(start, pos == std::string_view::npos ? s.npos : pos - start));
        if (pos == std::string_view::npos) break;
        start = pos + 1;
    }
    return out;
}

inline std::string join(const std::vector<std::string> &v, std::string_view sep = ",") {
    std::string out;
    for (size_t i = 0; i < v.size(); i++) {
        if (i) out += sep;
        out += v[i];
    }
    return out;
}

inline std::optional<uint32_t> flags_from_string(std::string_view s) {
    if (s == "-" || s.empty()) return 0u;
    uint32_t flags = 0;
    for (const auto &part : split(s, ',')) {
        auto it = std::find_if(flag_names().begin(), flag_names().end(),
                               [&](const auto &f) { return f.first == part; });
        if (it == flag_names().end()) return std::nullopt;
        flags |= it->second;
    }
    return flags;
}

inline std::string hex16(uint32_t v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%04x", v & 0xffffu);
    return buf;
}

inline std::string versions_to_string(const std::vector<uint16_t> &v) {
    if (v.empty()) return "-";
    std::vector<std::string> parts;
    for (auto x : v) parts.push_back(hex16(x));
    return join(parts);
}

// ---------------------------------------------------------------------------------------------
// corpus files

inline std::filesystem::path data_dir() {
    return std::filesystem::path(SNI_TEST_DATA_DIR) / "clienthello";
}

inline Bytes read_file(const std::filesystem::path &p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// One thing to parse and what must come out of it. Real captures get the expectations of their
// manifest row; synthesized inputs those of their .expect file.
struct Entry {
    std::string name;                       // e.g. "real/curl-http11.bin", "synth/sni-empty"
    std::filesystem::path input;            // the .bin
    std::map<std::string, std::string> kv;  // expectations (.expect keys)
    bool real = false;

    bool has(const std::string &k) const { return kv.count(k) != 0; }
    const std::string &get(const std::string &k) const {
        auto it = kv.find(k);
        if (it == kv.end()) throw std::runtime_error(name + ": no key " + k);
        return it->second;
    }
    uint32_t num(const std::string &k) const { return std::stoul(get(k), nullptr, 0); }
    uint32_t cap() const { return has("cap") ? num("cap") : CH_DEFAULT_CAP; }
    uint32_t status() const {
        auto s = status_from_name(get("status"));
        if (!s) throw std::runtime_error(name + ": bad status " + get("status"));
        return *s;
    }
    std::optional<uint32_t> reason() const {
        if (!has("reason")) return std::nullopt;
        auto r = reason_from_name(get("reason"));
        if (!r) throw std::runtime_error(name + ": bad reason " + get("reason"));
        return r;
    }
    std::optional<uint32_t> total() const {
        return has("total") ? std::optional<uint32_t>(num("total")) : std::nullopt;
    }
};

// For gtest's messages: print an entry by its name, not as raw bytes.
inline void PrintTo(const Entry &e, std::ostream *os) {
    *os << e.name;
}

struct ManifestRow {
    std::string file;
    std::string sni;   // "-" for none
    std::string alpn;  // comma-separated, "-" for no ALPN extension
};

inline std::vector<ManifestRow> load_manifest() {
    std::vector<ManifestRow> rows;
    std::ifstream in(data_dir() / "real" / "manifest.tsv");
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        auto cols = split(line, '\t');
        if (cols.size() < 3) throw std::runtime_error("manifest.tsv: short line: " + line);
        rows.push_back({cols[0], cols[1], cols[2]});
    }
    return rows;
}

inline std::vector<std::string> list_files(const std::filesystem::path &dir, std::string_view ext) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto &de : std::filesystem::directory_iterator(dir, ec))
        if (de.path().extension() == ext) out.push_back(de.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

inline std::map<std::string, std::string> load_expect(const std::filesystem::path &p) {
    std::map<std::string, std::string> kv;
    std::ifstream in(p);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        auto eq = line.find('=');
        if (eq == std::string::npos) throw std::runtime_error(p.string() + ": bad line " + line);
        kv[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return kv;
}

inline std::vector<Entry> real_entries() {
    std::vector<Entry> out;
    for (const auto &row : load_manifest()) {
        Entry e;
        e.name = "real/" + row.file;
        e.input = data_dir() / "real" / row.file;
        e.real = true;
        e.kv["status"] = "ok";
        e.kv["sni"] = row.sni;
        e.kv["alpn"] = row.alpn;
        std::error_code ec;
        auto size = std::filesystem::file_size(e.input, ec);
        if (!ec) {
            e.kv["record_bytes"] = std::to_string(size);
            e.kv["total"] = std::to_string(size);
        }
        out.push_back(std::move(e));
    }
    return out;
}

inline std::vector<Entry> synth_entries() {
    std::vector<Entry> out;
    const auto dir = data_dir() / "synth";
    for (const auto &f : list_files(dir, ".expect")) {
        Entry e;
        const std::string stem = f.substr(0, f.size() - std::strlen(".expect"));
        e.name = "synth/" + stem;
        e.kv = load_expect(dir / f);
        e.input = dir / (e.kv.count("input") ? e.kv["input"] : stem + ".bin");
        out.push_back(std::move(e));
    }
    return out;
}

inline std::vector<Entry> all_entries() {
    auto out = real_entries();
    auto s = synth_entries();
    out.insert(out.end(), s.begin(), s.end());
    return out;
}

// A gtest-safe parameter name.
inline std::string param_name(const std::string &name) {
    std::string out;
    for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return out;
}

// ---------------------------------------------------------------------------------------------
// record framing

struct Framing {
    uint16_t first_version = 0;
    Bytes payload;   // concatenated bodies of the leading handshake records
    size_t end = 0;  // stream offset after those records
};

// Concatenates the bodies of the complete handshake (type 22) records at the start of `data`,
// stopping after `limit` stream bytes, at the first non-handshake record or incomplete record.
inline Framing unframe(const Bytes &data, size_t limit = SIZE_MAX) {
    Framing f;
    if (data.size() >= 3) f.first_version = static_cast<uint16_t>(data[1] << 8 | data[2]);
    size_t off = 0;
    while (off + 5 <= data.size() && off < limit && data[off] == 0x16) {
        size_t len = static_cast<size_t>(data[off + 3]) << 8 | data[off + 4];
        if (off + 5 + len > data.size()) break;
        f.payload.insert(f.payload.end(), data.begin() + off + 5, data.begin() + off + 5 + len);
        off += 5 + len;
    }
    f.end = off;
    return f;
}

// Frames `payload` into records of `size` bytes each (the last one may be shorter).
inline Bytes frame(const Bytes &payload, size_t size, uint16_t version = 0x0301,
                   uint8_t type = 0x16) {
    Bytes out;
    for (size_t off = 0; off < payload.size(); off += size) {
        size_t n = std::min(size, payload.size() - off);
        out.push_back(type);
        out.push_back(static_cast<uint8_t>(version >> 8));
        out.push_back(static_cast<uint8_t>(version));
        out.push_back(static_cast<uint8_t>(n >> 8));
        out.push_back(static_cast<uint8_t>(n));
        out.insert(out.end(), payload.begin() + off, payload.begin() + off + n);
    }
    return out;
}

// Frames `payload` into records of the given sizes, in order (sizes may be 0: empty records).
inline Bytes frame_sizes(const Bytes &payload, const std::vector<size_t> &sizes,
                         uint16_t version = 0x0301) {
    Bytes out;
    size_t off = 0;
    for (size_t n : sizes) {
        n = std::min(n, payload.size() - off);
        out.insert(out.end(),
                   {0x16, static_cast<uint8_t>(version >> 8), static_cast<uint8_t>(version),
                    static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)});
        out.insert(out.end(), payload.begin() + off, payload.begin() + off + n);
        off += n;
    }
    if (off != payload.size()) throw std::logic_error("frame_sizes: sizes do not cover payload");
    return out;
}

// ---------------------------------------------------------------------------------------------
// ClientHello builder

inline void put8(Bytes &b, uint32_t v) {
    b.push_back(static_cast<uint8_t>(v));
}
inline void put16(Bytes &b, uint32_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}
inline void put24(Bytes &b, uint32_t v) {
    b.push_back(static_cast<uint8_t>(v >> 16));
    put16(b, v);
}
inline void append(Bytes &b, const Bytes &x) {
    b.insert(b.end(), x.begin(), x.end());
}
inline void append(Bytes &b, std::string_view s) {
    b.insert(b.end(), s.begin(), s.end());
}

inline Bytes vec8(const Bytes &x) {
    Bytes b;
    put8(b, static_cast<uint32_t>(x.size()));
    append(b, x);
    return b;
}
inline Bytes vec16(const Bytes &x) {
    Bytes b;
    put16(b, static_cast<uint32_t>(x.size()));
    append(b, x);
    return b;
}
inline Bytes str(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

struct Ext {
    uint16_t type;
    Bytes body;
};

inline Ext ext_sni_entries(const std::vector<std::pair<uint8_t, Bytes>> &entries) {
    Bytes list;
    for (const auto &[t, name] : entries) {
        put8(list, t);
        append(list, vec16(name));
    }
    return {0, vec16(list)};
}
inline Ext ext_sni(std::string_view name) {
    return ext_sni_entries({{0, str(name)}});
}

inline Ext ext_alpn(const std::vector<std::string> &protocols) {
    Bytes list;
    for (const auto &p : protocols) append(list, vec8(str(p)));
    return {16, vec16(list)};
}

inline Ext ext_versions(const std::vector<uint16_t> &versions) {
    Bytes list;
    for (auto v : versions) put16(list, v);
    return {43, vec8(list)};
}

inline Ext ext_groups(const std::vector<uint16_t> &groups) {
    Bytes list;
    for (auto g : groups) put16(list, g);
    return {10, vec16(list)};
}

inline Ext ext_key_share_x25519() {
    Bytes share;
    put16(share, 0x001d);
    Bytes key(32);
    for (size_t i = 0; i < key.size(); i++) key[i] = static_cast<uint8_t>(i * 7 + 9);
    append(share, vec16(key));
    return {51, vec16(share)};
}

inline Ext ext_sigalgs() {
    Bytes list;
    for (uint16_t a : {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501}) put16(list, a);
    return {13, vec16(list)};
}

inline Ext ext_psk() {
    Bytes ids;
    Bytes identity(40, 0x5a);
    append(ids, vec16(identity));
    put16(ids, 0);
    put16(ids, 0);  // obfuscated_ticket_age (u32)
    Bytes binders = vec8(Bytes(32, 0xa5));
    Bytes body = vec16(ids);
    append(body, vec16(binders));
    return {41, body};
}

inline Ext ext_raw(uint16_t type, Bytes body = {}) {
    return {type, std::move(body)};
}

struct HelloBuilder {
    uint8_t msg_type = 1;
    uint16_t legacy_version = 0x0303;
    Bytes random = Bytes(32, 0x11);
    Bytes session_id = Bytes(32, 0x22);
    std::vector<uint16_t> ciphers = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0x009c};
    Bytes compression = {0};
    bool has_extensions = true;
    std::vector<Ext> extensions;
    std::optional<Bytes> raw_extensions;      // replaces the encoded block (length field included)
    std::optional<Bytes> raw_body;            // replaces the whole body
    std::optional<uint32_t> length_override;  // handshake header length field

    // A typical TLS 1.3 hello for `sni` ("" = no server_name extension).
    static HelloBuilder typical(std::string_view sni = "edge.example.test") {
        HelloBuilder b;
        if (!sni.empty()) b.extensions.push_back(ext_sni(sni));
        b.extensions.push_back(ext_groups({0x001d, 0x0017}));
        b.extensions.push_back(ext_sigalgs());
        b.extensions.push_back(ext_alpn({"h2", "http/1.1"}));
        b.extensions.push_back(ext_versions({0x0304, 0x0303}));
        b.extensions.push_back(ext_raw(45, {1, 1}));
        b.extensions.push_back(ext_key_share_x25519());
        return b;
    }

    Bytes body() const {
        if (raw_body) return *raw_body;
        Bytes b;
        put16(b, legacy_version);
        append(b, random);
        append(b, vec8(session_id));
        Bytes cs;
        for (auto c : ciphers) put16(cs, c);
        append(b, vec16(cs));
        append(b, vec8(compression));
        if (raw_extensions) {
            append(b, *raw_extensions);
        } else if (has_extensions) {
            Bytes block;
            for (const auto &e : extensions) {
                put16(block, e.type);
                append(block, vec16(e.body));
            }
            append(b, vec16(block));
        }
        return b;
    }

    // The handshake message, 4-byte header included.
    Bytes message() const {
        Bytes body_bytes = body();
        Bytes m;
        put8(m, msg_type);
        put24(m, length_override ? *length_override : static_cast<uint32_t>(body_bytes.size()));
        append(m, body_bytes);
        return m;
    }

    // The message in one record (or records of `record_size` bytes).
    Bytes records(size_t record_size = CH_MAX_RECORD, uint16_t version = 0x0301) const {
        return frame(message(), record_size, version);
    }
};

}  // namespace chtest
