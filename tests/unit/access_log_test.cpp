// The access log's JSON lines: hostile SNI/ALPN bytes never break a line or forge a field, and
// every byte can be recovered from the parsed value.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/json_text.hpp"
#include "workers/access_log.hpp"

namespace sni {
namespace {

// The bytes a json::append_string value stood for: each decoded code point is one byte.
std::string bytes_of(const std::string &utf8) {
    std::string out;
    for (std::size_t i = 0; i < utf8.size();) {
        const auto c = static_cast<unsigned char>(utf8[i]);
        if (c < 0x80) {
            out += static_cast<char>(c);
            ++i;
        } else {  // two-byte UTF-8: U+0080..U+00FF
            EXPECT_EQ(c & 0xe0, 0xc0) << "code point above U+00FF";
            out += static_cast<char>(((c & 0x1f) << 6) | (utf8[i + 1] & 0x3f));
            i += 2;
        }
    }
    return out;
}

std::vector<std::string> hostile_values() {
    std::string all_bytes;
    for (int b = 0; b < 256; ++b) all_bytes += static_cast<char>(b);
    return {
        "plain.example",
        "quo\"te",
        "back\\slash",
        "new\nline",
        "carriage\rreturn",
        std::string("nul\0byte", 8),
        "\x7f\x80\xff",
        "line\xe2\x80\xa8separator\xe2\x80\xa9",  // U+2028 U+2029
        "\", \"route\": \"forged",
        "}\n{\"forged\": true}",
        std::string(70000, 'x') + "\"",
        all_bytes,
    };
}

TEST(JsonText, HostileBytesRoundTripAndStayPrintableAscii) {
    for (const std::string &v : hostile_values()) {
        const std::string q = json::quote(v);
        for (const char ch : q) {
            const auto c = static_cast<unsigned char>(ch);
            ASSERT_TRUE(c >= 0x20 && c < 0x7f) << "raw byte " << int(c) << " in output";
        }
        const auto parsed = nlohmann::json::parse(q);
        ASSERT_TRUE(parsed.is_string());
        EXPECT_EQ(bytes_of(parsed.get<std::string>()), v);
    }
}

TEST(JsonText, Escapes) {
    EXPECT_EQ(json::quote("a\"b\\c\n\t\x01\x7f\xe9"), "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\\u00e9\"");
}

worker::ConnStats sample_stats() {
    worker::ConnStats s;
    s.conn_id = 42;
    s.listener = "main";
    s.route = "web";
    s.mode = "reencrypt";
    s.client_addr = "127.0.0.1:5555";
    s.backend_addr = "127.0.0.1:8443";
    s.client.version = "TLSv1.3";
    s.client.cipher = "TLS_AES_128_GCM_SHA256";
    s.bytes_up = 100;
    s.bytes_down = 2000;
    s.duration_ms = 12;
    s.backend_connected_us = 1500;
    s.reason = "closed";
    s.close_reason = conn_report::CloseReason::kClosed;
    return s;
}

TEST(AccessLog, OneLineOfJsonWithEveryField) {
    const worker::ConnStats s = sample_stats();
    const std::string line = worker::access_json(
        s, std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123)));
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["time"], "2023-11-14T22:13:20.123Z");
    EXPECT_EQ(j["conn"], 42);
    EXPECT_EQ(j["listener"], "main");
    EXPECT_EQ(j["route"], "web");
    EXPECT_EQ(j["client"], "127.0.0.1:5555");
    EXPECT_EQ(j["backend"], "127.0.0.1:8443");
    EXPECT_TRUE(j["sni"].is_null());
    EXPECT_EQ(j["client_version"], "TLSv1.3");
    EXPECT_EQ(j["client_cipher"], "TLS_AES_128_GCM_SHA256");
    EXPECT_TRUE(j["backend_version"].is_null());
    EXPECT_EQ(j["ktls_client_tx"], false);
    EXPECT_EQ(j["kernel_relay"], false);
    EXPECT_EQ(j["bytes_up"], 100);
    EXPECT_EQ(j["bytes_down"], 2000);
    EXPECT_EQ(j["duration_ms"], 12);
    EXPECT_DOUBLE_EQ(j["time_to_backend_ms"].get<double>(), 1.5);
    EXPECT_TRUE(j["client_handshake_ms"].is_null());
    EXPECT_EQ(j["outcome"], "ok");
    EXPECT_EQ(j["close_reason"], "closed");
    EXPECT_EQ(j["reason"], "closed");
    EXPECT_EQ(j.size(), 34u);
}

TEST(AccessLog, HostileSniAndAlpnCannotBreakTheLineOrForgeAField) {
    for (const std::string &v : hostile_values()) {
        worker::ConnStats s = sample_stats();
        s.sni = v;
        s.offered_alpn = v + "," + v;
        s.client.alpn = v;
        const std::string line = worker::access_json(s, std::chrono::system_clock::now());
        ASSERT_EQ(line.find('\n'), line.size() - 1);
        ASSERT_EQ(line.find('\r'), std::string::npos);
        const auto j = nlohmann::json::parse(line);
        EXPECT_EQ(j.size(), 34u);
        EXPECT_EQ(j["route"], "web");
        EXPECT_FALSE(j.contains("forged"));
        if (!v.empty()) {
            EXPECT_EQ(bytes_of(j["sni"].get<std::string>()), v);
            EXPECT_EQ(bytes_of(j["alpn"].get<std::string>()), v);
            EXPECT_EQ(bytes_of(j["alpn_offered"].get<std::string>()), v + "," + v);
        }
    }
}

}  // namespace
}  // namespace sni
