// Logging to stderr, one line per event, as key=value pairs:
//   ts=2025-01-02T03:04:05.678Z level=info comp=sni-splitterd msg="listening" addr=127.0.0.1:443
// Every value goes through escape(), so bytes that came from a peer (SNI, ALPN, ...) can never
// break a line or forge a field: control characters, quotes, backslashes and non-ASCII bytes
// are written as escapes. Each line is written with a single write(2).
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sni::log {

enum class Level : std::uint8_t { kDebug, kInfo, kWarn, kError };

std::string_view level_name(Level level);  // "debug", "info", "warn", "error"
std::optional<Level> parse_level(std::string_view name);

// Printable ASCII passes except '"' and '\\' (written \" and \\); \n \r \t are written as
// such; every other byte (controls, DEL, >= 0x80) as \xNN with lowercase hex digits.
std::string escape(std::string_view bytes);

// One key=value field. The key is trusted (it comes from code); the value is not.
struct Field {
    std::string_view key;
    std::string value;
};

inline Field kv(std::string_view key, std::string_view value) {
    return {key, std::string(value)};
}
inline Field kv(std::string_view key, const char *value) {
    return {key, std::string(value)};
}
inline Field kv(std::string_view key, const std::string &value) {
    return {key, value};
}
inline Field kv(std::string_view key, bool value) {
    return {key, value ? "true" : "false"};
}
template <std::integral T>
Field kv(std::string_view key, T value) {
    return {key, std::to_string(value)};
}

// A value as it appears in a line: bare when it is non-empty and made only of
// [A-Za-z0-9._:/@+,\[\]-], otherwise double-quoted with escape() applied.
std::string render_value(std::string_view value);

// Appends `now` as RFC 3339 UTC with milliseconds: 2025-01-02T03:04:05.678Z.
void append_timestamp(std::string &out, std::chrono::system_clock::time_point now);

// The whole line, ending with '\n'. `now` is printed as UTC with milliseconds.
std::string format_line(std::chrono::system_clock::time_point now, Level level,
                        std::string_view component, std::string_view msg,
                        std::span<const Field> fields);

class Logger {
  public:
    explicit Logger(std::string component, Level min_level = Level::kInfo, int fd = 2)
        : component_(std::move(component)), min_level_(min_level), fd_(fd) {}

    bool enabled(Level level) const { return level >= min_level_; }
    void set_min_level(Level level) { min_level_ = level; }
    Level min_level() const { return min_level_; }

    void log(Level level, std::string_view msg, std::span<const Field> fields) const;
    void log(Level level, std::string_view msg, std::initializer_list<Field> fields = {}) const {
        log(level, msg, std::span<const Field>(fields.begin(), fields.size()));
    }

    void debug(std::string_view msg, std::initializer_list<Field> fields = {}) const {
        log(Level::kDebug, msg, fields);
    }
    void info(std::string_view msg, std::initializer_list<Field> fields = {}) const {
        log(Level::kInfo, msg, fields);
    }
    void warn(std::string_view msg, std::initializer_list<Field> fields = {}) const {
        log(Level::kWarn, msg, fields);
    }
    void error(std::string_view msg, std::initializer_list<Field> fields = {}) const {
        log(Level::kError, msg, fields);
    }

  private:
    std::string component_;
    Level min_level_;
    int fd_;
};

// Lets at most `burst` events through per `interval` and counts the ones it held back, so a
// flood (accept errors, bad peers) costs a few lines, not one per event.
class RateLimiter {
  public:
    using Clock = std::chrono::steady_clock;

    RateLimiter(Clock::duration interval, std::uint32_t burst)
        : interval_(interval), burst_(burst) {}

    // True when this event may be logged.
    bool allow(Clock::time_point now);
    // Events held back since the last call; resets the count.
    std::uint64_t take_suppressed();

  private:
    Clock::duration interval_;
    std::uint32_t burst_;
    Clock::time_point window_start_{};
    std::uint32_t in_window_ = 0;
    std::uint64_t suppressed_ = 0;
};

}  // namespace sni::log
