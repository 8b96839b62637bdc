#include "metrics_scrape.hpp"

#include <cstdlib>
#include <sstream>
#include <thread>

#include "net_client.hpp"

namespace sni::itest {

HttpReply http_request(std::uint16_t port, const std::string &request) {
    HttpReply out;
    UniqueFd fd = connect_tcp("127.0.0.1", port);
    if (!fd) return out;
    if (!send_all(fd.get(),
                  {reinterpret_cast<const std::uint8_t *>(request.data()), request.size()}))
        return out;
    const ReadResult r = read_until_close(fd.get(), 5s);
    const std::string text(r.data.begin(), r.data.end());
    const auto end = text.find("\r\n\r\n");
    if (end == std::string::npos || text.rfind("HTTP/1.1 ", 0) != 0) return out;
    out.status = std::atoi(text.c_str() + 9);
    out.head = text.substr(0, end);
    out.body = text.substr(end + 4);
    return out;
}

HttpReply http_get(std::uint16_t port, const std::string &path) {
    return http_request(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
}

bool wait_http_status(std::uint16_t port, const std::string &path, int status,
                      std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (http_get(port, path).status == status) return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

std::map<std::string, double> parse_metrics(const std::string &text) {
    std::map<std::string, double> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        const auto sp = line.rfind(' ');
        if (sp == std::string::npos) continue;
        out[line.substr(0, sp)] = std::strtod(line.c_str() + sp + 1, nullptr);
    }
    return out;
}

double metric_delta(const std::map<std::string, double> &before,
                    const std::map<std::string, double> &after, const std::string &key) {
    const auto b = before.find(key);
    const auto a = after.find(key);
    return (a == after.end() ? 0 : a->second) - (b == before.end() ? 0 : b->second);
}

}  // namespace sni::itest
