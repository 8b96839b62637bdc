#include "common/control_protocol.hpp"

namespace sni::control {

std::string encode_request(const Request &request) {
    Json j = {{"command", request.command}, {"args", request.args}};
    return j.dump() + "\n";
}

std::string encode_ok(const Json &data) {
    Json j = {{"ok", true}, {"data", data}};
    // Peer bytes (SNIs in tables) may be anything: never fail on invalid UTF-8.
    return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::string encode_error(std::string_view code, std::string_view message) {
    Json j = {{"ok", false}, {"code", std::string(code)}, {"error", std::string(message)}};
    return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::optional<Request> parse_request(std::string_view line, std::string &error) {
    const Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        error = "the request is not a JSON object";
        return std::nullopt;
    }
    const auto cmd = j.find("command");
    if (cmd == j.end() || !cmd->is_string()) {
        error = "the request has no \"command\" string";
        return std::nullopt;
    }
    Request r;
    r.command = cmd->get<std::string>();
    if (const auto args = j.find("args"); args != j.end()) {
        if (!args->is_object()) {
            error = "\"args\" must be an object";
            return std::nullopt;
        }
        r.args = *args;
    }
    return r;
}

std::optional<Response> parse_response(std::string_view text) {
    const Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    const auto ok = j.find("ok");
    if (ok == j.end() || !ok->is_boolean()) return std::nullopt;
    Response r;
    r.ok = ok->get<bool>();
    if (r.ok) {
        r.data = j.value("data", Json::object());
    } else {
        r.error = j.value("error", std::string("(no error text)"));
        r.code = j.value("code", std::string("refused"));
    }
    return r;
}

}  // namespace sni::control
