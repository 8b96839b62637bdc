// common/log: escaping of peer bytes and the key=value line format.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/log.hpp"

namespace {

using sni::log::escape;
using sni::log::format_line;
using sni::log::kv;
using sni::log::Level;
using sni::log::render_value;

// The keys of a rendered line, reading it as a consumer would: key=value pairs separated by
// spaces, values either bare or double-quoted with backslash escapes.
std::vector<std::string> keys_of(const std::string &line) {
    std::vector<std::string> keys;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '\n') {
        const auto eq = line.find('=', i);
        if (eq == std::string::npos) break;
        keys.push_back(line.substr(i, eq - i));
        i = eq + 1;
        if (i < line.size() && line[i] == '"') {
            ++i;
            while (i < line.size() && line[i] != '"') i += line[i] == '\\' ? 2 : 1;
            ++i;
        } else {
            while (i < line.size() && line[i] != ' ' && line[i] != '\n') ++i;
        }
        if (i < line.size() && line[i] == ' ') ++i;
    }
    return keys;
}

TEST(LogEscape, PrintableAsciiPasses) {
    EXPECT_EQ(escape("www.example.com"), "www.example.com");
    EXPECT_EQ(escape("a b=c,d"), "a b=c,d");
    EXPECT_EQ(escape(""), "");
}

TEST(LogEscape, QuotesAndBackslashes) {
    EXPECT_EQ(escape("a\"b"), "a\\\"b");
    EXPECT_EQ(escape("a\\b"), "a\\\\b");
}

TEST(LogEscape, ControlCharacters) {
    EXPECT_EQ(escape("a\nb"), "a\\nb");
    EXPECT_EQ(escape("a\rb\tc"), "a\\rb\\tc");
    EXPECT_EQ(escape(std::string("a\0b", 3)), "a\\x00b");
    EXPECT_EQ(escape("\x1b[31m"), "\\x1b[31m");
    EXPECT_EQ(escape("\x7f"), "\\x7f");
}

TEST(LogEscape, NonAsciiBytesAreHex) {
    EXPECT_EQ(escape("caf\xc3\xa9"), "caf\\xc3\\xa9");
    EXPECT_EQ(escape("\xff\x80"), "\\xff\\x80");
}

TEST(LogEscape, OutputIsAlwaysPrintableAscii) {
    std::string all;
    for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
    for (const char c : escape(all)) {
        const auto u = static_cast<unsigned char>(c);
        EXPECT_TRUE(u >= 0x20 && u < 0x7f) << int(u);
    }
}

TEST(LogRender, BareOrQuoted) {
    EXPECT_EQ(render_value("127.0.0.1:443"), "127.0.0.1:443");
    EXPECT_EQ(render_value("[::1]:443"), "[::1]:443");
    EXPECT_EQ(render_value("h2,http/1.1"), "h2,http/1.1");
    EXPECT_EQ(render_value(""), "\"\"");
    EXPECT_EQ(render_value("two words"), "\"two words\"");
    EXPECT_EQ(render_value("k=v"), "\"k=v\"");
}

TEST(LogLine, OneLineAndNoForgedFields) {
    const std::string evil = "x\" level=error msg=\"forged\nts=0 level=error";
    const sni::log::Field fields[] = {kv("sni", evil), kv("n", 42)};
    const std::string line =
        format_line(std::chrono::system_clock::time_point{}, Level::kInfo, "test", "hello", fields);
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
    EXPECT_EQ(line.rfind("ts=", 0), 0u);
    EXPECT_NE(line.find(" level=info "), std::string::npos);
    EXPECT_EQ(keys_of(line), (std::vector<std::string>{"ts", "level", "comp", "msg", "sni", "n"}));
    EXPECT_NE(line.find("sni=\"x\\\" level=error msg=\\\"forged\\nts=0 level=error\""),
              std::string::npos)
        << line;
    EXPECT_NE(line.find(" n=42\n"), std::string::npos) << line;
    EXPECT_NE(line.find("msg=\"hello\""), std::string::npos);
    EXPECT_NE(line.find("ts=1970-01-01T00:00:00.000Z"), std::string::npos) << line;
}

TEST(LogLine, ValuesNeverSplitOnQuotes) {
    // Parse the rendered line back: every quoted value ends at an unescaped quote.
    const sni::log::Field fields[] = {kv("a", "\"\\\""), kv("b", "ok")};
    const std::string line =
        format_line(std::chrono::system_clock::now(), Level::kWarn, "t", "m", fields);
    const auto a = line.find(" a=\"");
    ASSERT_NE(a, std::string::npos);
    std::size_t i = a + 4;
    while (i < line.size() && line[i] != '"') i += line[i] == '\\' ? 2 : 1;
    EXPECT_EQ(line.substr(i, 6), "\" b=ok");
}

TEST(LogLevel, Names) {
    EXPECT_EQ(sni::log::parse_level("debug"), Level::kDebug);
    EXPECT_EQ(sni::log::parse_level("warn"), Level::kWarn);
    EXPECT_FALSE(sni::log::parse_level("loud").has_value());
    EXPECT_EQ(sni::log::level_name(Level::kError), "error");
}

TEST(LogRateLimiter, BurstThenSuppressThenNewWindow) {
    using Clock = sni::log::RateLimiter::Clock;
    sni::log::RateLimiter rl(std::chrono::seconds(1), 3);
    const auto t0 = Clock::time_point{} + std::chrono::hours(1);
    EXPECT_TRUE(rl.allow(t0));
    EXPECT_TRUE(rl.allow(t0));
    EXPECT_TRUE(rl.allow(t0));
    EXPECT_FALSE(rl.allow(t0));
    EXPECT_FALSE(rl.allow(t0 + std::chrono::milliseconds(500)));
    EXPECT_EQ(rl.take_suppressed(), 2u);
    EXPECT_EQ(rl.take_suppressed(), 0u);
    EXPECT_TRUE(rl.allow(t0 + std::chrono::milliseconds(1000)));
}

}  // namespace
