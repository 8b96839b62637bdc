// The control protocol between sni-ctl and sni-splitterd, over a Unix SOCK_STREAM socket
// (config `control.socket`, mode 0600, root only).
//
// One exchange per connection: the client writes ONE JSON object followed by "\n"
//   {"command": "status" | "routes" | "conns" | "metrics" | "reload" | "drain",
//    "args": {...}}                       (drain: {"route": R} or {"listener": L})
// and the daemon answers with ONE JSON object followed by "\n", then closes:
//   {"ok": true,  "data": {...}}          or
//   {"ok": false, "error": "text", "code": "refused" | "bad_request" | "forbidden"}
// Requests are at most kMaxRequestBytes; a longer one is answered with bad_request.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sni::control {

using Json = nlohmann::json;

inline constexpr std::size_t kMaxRequestBytes = 64 * 1024;

struct Request {
    std::string command;
    Json args = Json::object();
};

// "\n"-terminated wire text.
std::string encode_request(const Request &request);
std::string encode_ok(const Json &data);
std::string encode_error(std::string_view code, std::string_view message);

// Parses one request line (without its "\n"); nullopt + `error` when it is not a request.
std::optional<Request> parse_request(std::string_view line, std::string &error);

struct Response {
    bool ok = false;
    Json data;          // ok
    std::string error;  // !ok
    std::string code;   // !ok: refused, bad_request, forbidden
};

// Parses the daemon's answer; nullopt when it is not valid protocol.
std::optional<Response> parse_response(std::string_view text);

}  // namespace sni::control
