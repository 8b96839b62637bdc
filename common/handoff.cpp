#include "common/handoff.hpp"

#include <sys/uio.h>

#include <cerrno>
#include <cstring>

namespace sni::handoff {

std::string_view outcome_name(Outcome outcome) {
    switch (outcome) {
        case Outcome::kRouted:
            return "routed";
        case Outcome::kDefaultUnknownSni:
            return "default_unknown_sni";
        case Outcome::kDefaultNoSni:
            return "default_no_sni";
    }
    return "unknown";
}

std::string_view classifier_name(Classifier classifier) {
    switch (classifier) {
        case Classifier::kUserspace:
            return "userspace";
        case Classifier::kBpf:
            return "bpf";
    }
    return "unknown";
}

std::string_view recv_error_name(RecvError error) {
    switch (error) {
        case RecvError::kWouldBlock:
            return "would_block";
        case RecvError::kClosed:
            return "closed";
        case RecvError::kTruncated:
            return "truncated";
        case RecvError::kBadMessage:
            return "bad_message";
        case RecvError::kSystem:
            return "system";
    }
    return "unknown";
}

void configure_channel(int fd) {
    const int size = kChannelBufferBytes;
    if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

SendResult send_handoff(int channel, const Handoff &h, std::span<const std::uint8_t> hello,
                        int conn_fd) {
    if (hello.empty() || hello.size() > kMaxHelloBytes || conn_fd < 0)
        return {SendStatus::kError, EINVAL};

    WireHeader w;
    std::memset(&w, 0, sizeof w);
    w.magic = kMagic;
    w.version = kVersion;
    w.header_size = sizeof(WireHeader);
    w.conn_id = h.conn_id;
    w.cookie = h.cookie;
    w.accepted_ns = h.accepted_ns;
    w.route_id = h.route_id;
    w.listener_id = h.listener_id;
    w.outcome = static_cast<std::uint32_t>(h.outcome);
    w.classifier = static_cast<std::uint32_t>(h.classifier);
    w.hello_size = static_cast<std::uint32_t>(hello.size());
    w.client_len = static_cast<std::uint32_t>(h.client_len);
    w.local_len = static_cast<std::uint32_t>(h.local_len);
    w.flags = (h.in_relay_map ? kFlagInRelayMap : 0) | (h.nonblocking ? kFlagNonBlocking : 0);
    std::memcpy(&w.client, &h.client, sizeof w.client);
    std::memcpy(&w.local, &h.local, sizeof w.local);
    std::memcpy(&w.facts, &h.facts, sizeof w.facts);

    iovec iov[2];
    iov[0].iov_base = &w;
    iov[0].iov_len = sizeof w;
    iov[1].iov_base = const_cast<std::uint8_t *>(hello.data());
    iov[1].iov_len = hello.size();

    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    std::memset(control, 0, sizeof control);
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cm), &conn_fd, sizeof(int));

    for (;;) {
        const ssize_t n = ::sendmsg(channel, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
            // SEQPACKET is all or nothing.
            if (static_cast<std::size_t>(n) == sizeof w + hello.size())
                return {SendStatus::kSent, 0};
            return {SendStatus::kError, EMSGSIZE};
        }
        switch (errno) {
            case EINTR:
                continue;
            case EAGAIN:
                return {SendStatus::kWouldBlock, EAGAIN};
            case EPIPE:
            case ECONNRESET:
            case ECONNREFUSED:
            case ENOTCONN:
                return {SendStatus::kPeerGone, errno};
            default:
                return {SendStatus::kError, errno};
        }
    }
}

namespace {

// Converts to a failed RecvResult or DatagramResult alike.
config::Unexpected<RecvFailure> fail(RecvError kind, int err, std::string detail) {
    return config::unexpected(RecvFailure{kind, err, std::move(detail)});
}

}  // namespace

DatagramResult recv_datagram(int channel, std::vector<std::uint8_t> &scratch) {
    if (scratch.size() != kMaxMessageBytes) scratch.resize(kMaxMessageBytes);

    iovec iov{scratch.data(), scratch.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsSeen)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;

    ssize_t n;
    do {
        n = ::recvmsg(channel, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN) return fail(RecvError::kWouldBlock, EAGAIN, "nothing queued");
        if (errno == ECONNRESET) return fail(RecvError::kClosed, errno, "channel reset");
        return fail(RecvError::kSystem, errno, std::string("recvmsg: ") + std::strerror(errno));
    }

    // Take ownership of every fd that arrived, whatever happens next.
    Datagram d;
    d.size = static_cast<std::size_t>(n);
    for (cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
            if (d.fd_count < d.fds.size())
                d.fds[d.fd_count++].reset(fd);
            else
                ::close(fd);  // more than the control buffer holds: cannot happen, but never leak
        }
    }

    if (n == 0 && d.fd_count == 0 && (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0)
        return fail(RecvError::kClosed, 0, "channel closed");
    if (msg.msg_flags & MSG_TRUNC)
        return fail(RecvError::kTruncated, EMSGSIZE, "datagram longer than the largest handoff");
    if (msg.msg_flags & MSG_CTRUNC)
        return fail(RecvError::kTruncated, EMSGSIZE, "ancillary data truncated");
    return d;
}

RecvResult recv_handoff(int channel, std::vector<std::uint8_t> &scratch) {
    return parse_handoff(recv_datagram(channel, scratch), scratch);
}

RecvResult parse_handoff(DatagramResult received, const std::vector<std::uint8_t> &scratch) {
    if (!received) return config::unexpected(std::move(received).error());
    return parse_handoff(std::move(received).value(), scratch);
}

RecvResult parse_handoff(Datagram datagram, const std::vector<std::uint8_t> &scratch) {
    const std::size_t size = datagram.size;
    if (size > scratch.size())
        return fail(RecvError::kBadMessage, EBADMSG, "datagram larger than the buffer");
    if (size < sizeof(WireHeader))
        return fail(RecvError::kBadMessage, EBADMSG,
                    "datagram of " + std::to_string(size) + " bytes is shorter than the header");
    WireHeader w;
    std::memcpy(&w, scratch.data(), sizeof w);
    if (w.magic != kMagic) return fail(RecvError::kBadMessage, EBADMSG, "bad magic");
    if (w.version != kVersion)
        return fail(RecvError::kBadMessage, EBADMSG,
                    "unsupported version " + std::to_string(w.version));
    if (w.header_size != sizeof(WireHeader))
        return fail(RecvError::kBadMessage, EBADMSG, "unexpected header size");
    if (w.hello_size == 0 || w.hello_size > kMaxHelloBytes ||
        sizeof(WireHeader) + w.hello_size != size)
        return fail(RecvError::kBadMessage, EBADMSG,
                    "ClientHello size does not match the datagram");
    if (w.client_len > sizeof(sockaddr_storage) || w.local_len > sizeof(sockaddr_storage))
        return fail(RecvError::kBadMessage, EBADMSG, "bad address length");
    if (w.outcome > static_cast<std::uint32_t>(Outcome::kDefaultNoSni) ||
        w.classifier > static_cast<std::uint32_t>(Classifier::kBpf))
        return fail(RecvError::kBadMessage, EBADMSG, "bad outcome or classifier");
    if ((w.flags & ~kKnownFlags) != 0)
        return fail(RecvError::kBadMessage, EBADMSG, "unknown flags");
    if (datagram.fd_count != 1)
        return fail(RecvError::kBadMessage, EBADMSG,
                    "expected one fd, got " + std::to_string(datagram.fd_count));

    Received r;
    Handoff &h = r.handoff;
    h.conn_id = w.conn_id;
    h.cookie = w.cookie;
    h.accepted_ns = w.accepted_ns;
    h.route_id = w.route_id;
    h.listener_id = w.listener_id;
    h.outcome = static_cast<Outcome>(w.outcome);
    h.classifier = static_cast<Classifier>(w.classifier);
    std::memcpy(&h.client, &w.client, sizeof h.client);
    h.client_len = static_cast<socklen_t>(w.client_len);
    std::memcpy(&h.local, &w.local, sizeof h.local);
    h.local_len = static_cast<socklen_t>(w.local_len);
    h.in_relay_map = (w.flags & kFlagInRelayMap) != 0;
    h.nonblocking = (w.flags & kFlagNonBlocking) != 0;
    std::memcpy(&h.facts, &w.facts, sizeof h.facts);
    // Never trust the peer's strings to be terminated.
    h.facts.sni[CH_SNI_BUF - 1] = '\0';
    if (h.facts.sni_len >= CH_SNI_BUF) h.facts.sni_len = 0;
    if (h.facts.alpn_len > CH_ALPN_BUF) h.facts.alpn_len = 0;
    if (h.facts.n_versions > CH_MAX_VERSIONS) h.facts.n_versions = 0;
    r.hello.assign(scratch.begin() + sizeof(WireHeader), scratch.begin() + static_cast<long>(size));
    r.conn = std::move(datagram.fds[0]);
    return r;
}

}  // namespace sni::handoff
