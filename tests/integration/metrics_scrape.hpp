// HTTP requests to the daemon's metrics endpoint and parsing of its Prometheus text.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace sni::itest {

using namespace std::chrono_literals;

struct HttpReply {
    int status = 0;  // 0: no valid answer
    std::string head;
    std::string body;
};

// Sends `request` as is on a new connection to 127.0.0.1:port and reads until the close.
HttpReply http_request(std::uint16_t port, const std::string &request);
HttpReply http_get(std::uint16_t port, const std::string &path);
// Polls `path` until it answers `status`.
bool wait_http_status(std::uint16_t port, const std::string &path, int status,
                      std::chrono::milliseconds timeout);

// "name{labels}" -> value, for every sample line.
std::map<std::string, double> parse_metrics(const std::string &text);
// after[key] - before[key], a missing sample counting as 0.
double metric_delta(const std::map<std::string, double> &before,
                    const std::map<std::string, double> &after, const std::string &key);

}  // namespace sni::itest
