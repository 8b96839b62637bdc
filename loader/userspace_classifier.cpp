#include "loader/userspace_classifier.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace sni::loader {

UserspaceClassifier::UserspaceClassifier(const config::Config &config) : buffer_(CH_MAX_CAP) {
    for (const auto &l : config.listeners)
        parsers_.push_back(std::make_unique<ClientHelloParser>(l.max_client_hello));
}

UserspaceClassifier::Result UserspaceClassifier::peek(int fd, std::uint32_t listener_id,
                                                      bool peer_hung_up) {
    ClientHelloParser &parser = *parsers_[listener_id];
    ssize_t n;
    do {
        n = ::recv(fd, buffer_.data(), parser.cap(), MSG_PEEK | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN)
            return {peer_hung_up ? Status::kPeerClosed : Status::kNeedMore, nullptr, 0, 0};
        return {Status::kError, nullptr, 0, errno};
    }
    if (n == 0) return {Status::kPeerClosed, nullptr, 0, 0};

    const ch_info &facts =
        parser.parse(std::span<const std::uint8_t>(buffer_.data(), static_cast<std::size_t>(n)));
    if (facts.status == CH_NEED_MORE) {
        if (peer_hung_up) return {Status::kPeerClosed, nullptr, 0, 0};
        return {Status::kNeedMore, nullptr, facts.need, 0};
    }
    return {Status::kFinal, &facts, 0, 0};
}

}  // namespace sni::loader
