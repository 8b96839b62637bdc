#include "common/log.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>

namespace sni::log {

std::string_view level_name(Level level) {
    switch (level) {
        case Level::kDebug:
            return "debug";
        case Level::kInfo:
            return "info";
        case Level::kWarn:
            return "warn";
        case Level::kError:
            return "error";
    }
    return "?";
}

std::optional<Level> parse_level(std::string_view name) {
    for (auto level : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError})
        if (level_name(level) == name) return level;
    return std::nullopt;
}

std::string escape(std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size());
    for (const char c : bytes) {
        const auto b = static_cast<unsigned char>(c);
        switch (b) {
            case '"':
                out += "\\\"";
                continue;
            case '\\':
                out += "\\\\";
                continue;
            case '\n':
                out += "\\n";
                continue;
            case '\r':
                out += "\\r";
                continue;
            case '\t':
                out += "\\t";
                continue;
            default:
                break;
        }
        if (b >= 0x20 && b < 0x7f) {
            out += c;
        } else {
            out += "\\x";
            out += kHex[b >> 4];
            out += kHex[b & 0xf];
        }
    }
    return out;
}

namespace {

bool is_bare(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '/' || c == '@' || c == '+' || c == ',' || c == '[' ||
           c == ']' || c == '-';
}

}  // namespace

void append_timestamp(std::string &out, std::chrono::system_clock::time_point now) {
    const auto since_epoch = now.time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - secs);
    const std::time_t t = static_cast<std::time_t>(secs.count());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    out.append(buf, n);
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms.count()));
    out += frac;
}

std::string render_value(std::string_view value) {
    bool bare = !value.empty();
    for (const char c : value) {
        if (!is_bare(c)) {
            bare = false;
            break;
        }
    }
    if (bare) return std::string(value);
    std::string out = "\"";
    out += escape(value);
    out += '"';
    return out;
}

std::string format_line(std::chrono::system_clock::time_point now, Level level,
                        std::string_view component, std::string_view msg,
                        std::span<const Field> fields) {
    std::string line = "ts=";
    append_timestamp(line, now);
    line += " level=";
    line += level_name(level);
    line += " comp=";
    line += render_value(component);
    line += " msg=\"";
    line += escape(msg);
    line += '"';
    for (const auto &f : fields) {
        line += ' ';
        // Keys come from code, but keep them well-formed anyway.
        for (const char c : f.key) line += is_bare(c) && c != '[' && c != ']' ? c : '_';
        line += '=';
        line += render_value(f.value);
    }
    line += '\n';
    return line;
}

void Logger::log(Level level, std::string_view msg, std::span<const Field> fields) const {
    if (!enabled(level)) return;
    const std::string line =
        format_line(std::chrono::system_clock::now(), level, component_, msg, fields);
    size_t off = 0;
    while (off < line.size()) {
        const ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // nowhere to report a failing log
        }
        off += static_cast<size_t>(n);
    }
}

bool RateLimiter::allow(Clock::time_point now) {
    if (in_window_ == 0 || now - window_start_ >= interval_) {
        window_start_ = now;
        in_window_ = 0;
    }
    if (in_window_ < burst_) {
        ++in_window_;
        return true;
    }
    ++suppressed_;
    return false;
}

std::uint64_t RateLimiter::take_suppressed() {
    const auto n = suppressed_;
    suppressed_ = 0;
    return n;
}

}  // namespace sni::log
