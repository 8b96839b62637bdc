#include "loader/http_endpoint.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "loader/listeners.hpp"

namespace sni::http {

Request parse_request(std::string_view buf) {
    Request r;
    const auto end = buf.find("\r\n\r\n");
    const auto end_lf = buf.find("\n\n");
    if (end == std::string_view::npos && end_lf == std::string_view::npos) return r;
    r.complete = true;
    const auto line_end = buf.find_first_of("\r\n");
    const std::string_view line = buf.substr(0, line_end);
    const auto sp1 = line.find(' ');
    const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || sp1 == 0) {
        r.bad = true;
        return r;
    }
    const std::string_view version = line.substr(sp2 + 1);
    if (version != "HTTP/1.1" && version != "HTTP/1.0") {
        r.bad = true;
        return r;
    }
    r.method = std::string(line.substr(0, sp1));
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (target.empty() || target.front() != '/') {
        r.bad = true;
        return r;
    }
    target = target.substr(0, target.find('?'));
    r.path = std::string(target);
    return r;
}

std::string_view status_text(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 400:
            return "Bad Request";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 431:
            return "Request Header Fields Too Large";
        case 503:
            return "Service Unavailable";
        default:
            return "Error";
    }
}

std::string render_response(const Response &response, bool head_only) {
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " +
                      std::string(status_text(response.status)) + "\r\n";
    out += "Content-Type: " + response.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    if (response.status == 405) out += "Allow: GET, HEAD\r\n";
    out += "Connection: close\r\n\r\n";
    if (!head_only) out += response.body;
    return out;
}

config::Result<std::unique_ptr<Endpoint>, std::string> Endpoint::create(
    const config::SocketAddress &address, loader::EventLoop &loop, Handler handler) {
    auto bound = loader::bind_one(0, address);
    if (!bound) return config::unexpected("metrics: " + bound.error());
    loader::ListenerSocket ls = std::move(bound).value();
    std::unique_ptr<Endpoint> e(new Endpoint(std::move(ls.fd), loader::sockaddr_to_string(ls.local),
                                             loop, std::move(handler)));
    if (const int err = loop.add(e->listen_.get(), EPOLLIN, {loader::TokenKind::kHttpListener});
        err != 0)
        return config::unexpected(std::string("metrics: epoll add: ") + std::strerror(err));
    return e;
}

Endpoint::~Endpoint() {
    for (auto &[id, c] : clients_) loop_->remove(c.fd.get());
    if (listen_) loop_->remove(listen_.get());
}

std::string Endpoint::local_address() const {
    return local_;
}

void Endpoint::on_listener() {
    for (int i = 0; i < 16; ++i) {
        UniqueFd fd(::accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) return;  // EAGAIN or an error: try again on the next event
        if (clients_.size() >= kMaxClients) continue;  // closed at once
        const std::uint64_t id = next_id_++;
        if (loop_->add(fd.get(), EPOLLIN | EPOLLRDHUP, {loader::TokenKind::kHttpClient, id}) != 0)
            continue;
        Client c;
        c.fd = std::move(fd);
        c.deadline = Clock::now() + kRequestTimeout;
        clients_.emplace(id, std::move(c));
    }
}

void Endpoint::on_client(std::uint64_t id, std::uint32_t events) {
    const auto it = clients_.find(id);
    if (it == clients_.end()) return;
    Client &c = it->second;
    if (c.answering) {
        if (events & (EPOLLERR | EPOLLHUP)) {
            close_client(id);
            return;
        }
        write_answer(id, c);
        return;
    }
    read_request(id, c);
}

void Endpoint::read_request(std::uint64_t id, Client &c) {
    char buf[2048];
    bool too_large = false;
    // Reads what is there (discarding past the bound, so the answer is not lost to a reset).
    for (std::size_t total = 0; total < 16 * kMaxRequest;) {
        const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            total += static_cast<std::size_t>(n);
            if (c.in.size() + static_cast<std::size_t>(n) > kMaxRequest)
                too_large = true;
            else
                c.in.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        close_client(id);  // EOF before a whole request, or an error
        return;
    }
    if (too_large) {
        answer(id, c, {431, "text/plain; charset=utf-8", "request too large\n"}, false);
        return;
    }
    const Request r = parse_request(c.in);
    if (!r.complete) return;
    if (r.bad) {
        answer(id, c, {400, "text/plain; charset=utf-8", "bad request\n"}, false);
        return;
    }
    const bool head = r.method == "HEAD";
    if (r.method != "GET" && !head) {
        answer(id, c, {405, "text/plain; charset=utf-8", "method not allowed\n"}, false);
        return;
    }
    answer(id, c, handler_(r.path), head);
}

void Endpoint::answer(std::uint64_t id, Client &c, const Response &r, bool head_only) {
    c.answering = true;
    c.out = render_response(r, head_only);
    c.in.clear();
    write_answer(id, c);
}

void Endpoint::write_answer(std::uint64_t id, Client &c) {
    while (c.sent < c.out.size()) {
        const ssize_t n =
            ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (n > 0) {
            c.sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            loop_->modify(c.fd.get(), EPOLLOUT, {loader::TokenKind::kHttpClient, id});
            return;
        }
        break;
    }
    ::shutdown(c.fd.get(), SHUT_WR);
    close_client(id);
}

void Endpoint::close_client(std::uint64_t id) {
    const auto it = clients_.find(id);
    if (it == clients_.end()) return;
    loop_->remove(it->second.fd.get());
    clients_.erase(it);
}

void Endpoint::expire(Clock::time_point now) {
    std::vector<std::uint64_t> late;
    for (const auto &[id, c] : clients_)
        if (now >= c.deadline) late.push_back(id);
    for (const auto id : late) close_client(id);
}

}  // namespace sni::http
