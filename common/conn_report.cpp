#include "common/conn_report.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace sni::conn_report {

namespace {

constexpr std::array<std::string_view, kCloseReasonCount> kReasonNames = {
    "none",
    "closed",
    "idle_timeout",
    "backend_unreachable",
    "backend_timeout",
    "backend_handshake",
    "backend_error",
    "client_handshake",
    "relay_error",
    "worker_shutdown",
    "internal",
};

}  // namespace

template <std::size_t N>
void FixedText<N>::set(std::string_view s) {
    std::memset(bytes, 0, N);
    std::memcpy(bytes, s.data(), std::min(s.size(), N - 1));
}

template <std::size_t N>
std::string_view FixedText<N>::view() const {
    return std::string_view(bytes, ::strnlen(bytes, N));
}

template struct FixedText<16>;
template struct FixedText<64>;

std::string_view close_reason_name(CloseReason reason) {
    const auto i = static_cast<std::size_t>(reason);
    return i < kReasonNames.size() ? kReasonNames[i] : "unknown";
}

std::string_view event_name(Event event) {
    switch (event) {
        case Event::kReady:
            return "ready";
        case Event::kOpened:
            return "opened";
        case Event::kClosed:
            return "closed";
        case Event::kHealth:
            return "health";
    }
    return "unknown";
}

bool send_report(int channel, const Report &report) {
    return send_reports(channel, {&report, 1});
}

bool send_reports(int channel, std::span<const Report> reports) {
    if (reports.empty() || reports.size() > kMaxBatch) return false;
    const std::size_t bytes = reports.size_bytes();
    for (;;) {
        const ssize_t n = ::send(channel, reports.data(), bytes, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n == static_cast<ssize_t>(bytes)) return true;
        if (n < 0 && errno == EINTR) continue;
        return false;
    }
}

std::uint32_t magic_of(std::span<const std::uint8_t> datagram) {
    std::uint32_t magic = 0;
    if (datagram.size() >= sizeof magic) std::memcpy(&magic, datagram.data(), sizeof magic);
    return magic;
}

std::optional<Report> decode(std::span<const std::uint8_t> datagram) {
    if (datagram.size() != sizeof(Report)) return std::nullopt;
    Report r;
    std::memcpy(&r, datagram.data(), sizeof r);
    if (r.magic != kMagic || r.version != kVersion || r.size != sizeof(Report)) return std::nullopt;
    if (r.event != Event::kReady && r.event != Event::kOpened && r.event != Event::kClosed &&
        r.event != Event::kHealth)
        return std::nullopt;
    if (static_cast<std::size_t>(r.reason) >= kCloseReasonCount) return std::nullopt;
    // Text fields are used as NUL-terminated strings downstream: force the terminator.
    for (auto *t : {&r.alpn, &r.client_addr, &r.backend_addr, &r.client.cipher, &r.backend.cipher,
                    &r.health_reason})
        t->bytes[sizeof t->bytes - 1] = 0;
    r.client.version.bytes[15] = 0;
    r.backend.version.bytes[15] = 0;
    return r;
}

std::optional<std::vector<Report>> decode_all(std::span<const std::uint8_t> datagram) {
    const std::size_t count = datagram.size() / sizeof(Report);
    if (count == 0 || count > kMaxBatch || datagram.size() % sizeof(Report) != 0)
        return std::nullopt;
    std::vector<Report> out;
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        auto r = decode(datagram.subspan(i * sizeof(Report), sizeof(Report)));
        if (!r) return std::nullopt;
        out.push_back(*r);
    }
    return out;
}

}  // namespace sni::conn_report
