// common/handoff (the daemon -> worker datagram with SCM_RIGHTS) and common/prefix_bio (replaying
// the handed-over ClientHello to OpenSSL).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/clienthello.hpp"
#include "common/fd.hpp"
#include "common/handoff.hpp"
#include "common/prefix_bio.hpp"

namespace {

using namespace sni;
using handoff::RecvError;
using handoff::SendStatus;

struct Channel {
    UniqueFd daemon, worker;
};

Channel make_channel() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    handoff::configure_channel(sv[0]);
    handoff::configure_channel(sv[1]);
    return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

struct Pipe {
    UniqueFd r, w;
};

Pipe make_pipe() {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    return {UniqueFd(p[0]), UniqueFd(p[1])};
}

// True when every copy of the pipe's write end is closed (a read sees EOF, not EAGAIN).
bool write_end_closed(const Pipe &p) {
    char c;
    return ::read(p.r.get(), &c, 1) == 0;
}

ino_t inode_of(int fd) {
    struct stat st {};
    EXPECT_EQ(::fstat(fd, &st), 0);
    return st.st_ino;
}

handoff::Handoff sample_handoff() {
    handoff::Handoff h;
    h.conn_id = 42;
    h.cookie = 0x1122334455667788ull;
    h.accepted_ns = 123456789;
    h.route_id = 3;
    h.listener_id = 1;
    h.outcome = handoff::Outcome::kDefaultUnknownSni;
    h.classifier = handoff::Classifier::kBpf;
    auto *c = reinterpret_cast<sockaddr_in6 *>(&h.client);
    c->sin6_family = AF_INET6;
    c->sin6_port = htons(50000);
    inet_pton(AF_INET6, "::1", &c->sin6_addr);
    h.client_len = sizeof(sockaddr_in6);
    auto *l = reinterpret_cast<sockaddr_in *>(&h.local);
    l->sin_family = AF_INET;
    l->sin_port = htons(443);
    inet_pton(AF_INET, "127.0.0.1", &l->sin_addr);
    h.local_len = sizeof(sockaddr_in);
    h.facts.status = CH_OK;
    h.facts.flags = CH_F_SNI | CH_F_ALPN;
    h.in_relay_map = true;
    h.nonblocking = true;
    std::strcpy(h.facts.sni, "www.example.com");
    h.facts.sni_len = 15;
    const uint8_t alpn[] = {2, 'h', '2'};
    std::memcpy(h.facts.alpn, alpn, sizeof alpn);
    h.facts.alpn_len = 3;
    h.facts.legacy_version = 0x0303;
    h.facts.versions[0] = 0x0304;
    h.facts.n_versions = 1;
    h.facts.record_bytes = 517;
    return h;
}

std::vector<uint8_t> random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> v(n);
    for (auto &b : v) b = static_cast<uint8_t>(rng());
    return v;
}

// Sends a raw datagram with `nfds` fds attached (each a dup of `fd`).
ssize_t send_raw(int channel, const void *data, std::size_t len, int fd, int nfds) {
    iovec iov{const_cast<void *>(data), len};
    std::vector<char> control(
        CMSG_SPACE(sizeof(int) * static_cast<std::size_t>(nfds > 0 ? nfds : 1)));
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds > 0) {
        msg.msg_control = control.data();
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * static_cast<std::size_t>(nfds));
        cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * static_cast<std::size_t>(nfds));
        for (int i = 0; i < nfds; ++i)
            std::memcpy(CMSG_DATA(cm) + i * sizeof(int), &fd, sizeof(int));
    }
    return ::sendmsg(channel, &msg, MSG_NOSIGNAL);
}

TEST(Handoff, HeaderLayoutIsFixed) {
    EXPECT_EQ(sizeof(handoff::WireHeader), 936u);
    EXPECT_EQ(handoff::kMaxMessageBytes, 936u + 4u * 65536u);
}

TEST(Handoff, RoundTripCarriesEverything) {
    auto ch = make_channel();
    auto p = make_pipe();
    const auto h = sample_handoff();
    const auto hello = random_bytes(517, 1);
    const auto sent = handoff::send_handoff(ch.daemon.get(), h, hello, p.w.get());
    ASSERT_EQ(sent.status, SendStatus::kSent) << std::strerror(sent.err);

    std::vector<uint8_t> scratch;
    auto r = handoff::recv_handoff(ch.worker.get(), scratch);
    ASSERT_TRUE(r.ok()) << r.error().detail;
    const auto &got = r.value().handoff;
    EXPECT_EQ(got.conn_id, h.conn_id);
    EXPECT_EQ(got.cookie, h.cookie);
    EXPECT_EQ(got.accepted_ns, h.accepted_ns);
    EXPECT_EQ(got.route_id, h.route_id);
    EXPECT_EQ(got.listener_id, h.listener_id);
    EXPECT_EQ(got.outcome, h.outcome);
    EXPECT_EQ(got.classifier, h.classifier);
    EXPECT_EQ(got.client_len, h.client_len);
    EXPECT_EQ(std::memcmp(&got.client, &h.client, sizeof h.client), 0);
    EXPECT_EQ(got.local_len, h.local_len);
    EXPECT_EQ(std::memcmp(&got.local, &h.local, sizeof h.local), 0);
    EXPECT_EQ(std::memcmp(&got.facts, &h.facts, sizeof h.facts), 0);
    EXPECT_EQ(sni_of(got.facts), "www.example.com");
    EXPECT_EQ(alpn_protocols(got.facts), std::vector<std::string>{"h2"});
    EXPECT_EQ(got.in_relay_map, h.in_relay_map);
    EXPECT_EQ(got.nonblocking, h.nonblocking);
    EXPECT_EQ(r.value().hello, hello);

    // The fd is the same open file, close-on-exec in the receiver.
    ASSERT_TRUE(r.value().conn.valid());
    EXPECT_EQ(inode_of(r.value().conn.get()), inode_of(p.w.get()));
    EXPECT_TRUE(::fcntl(r.value().conn.get(), F_GETFD) & FD_CLOEXEC);
}

TEST(Handoff, RoundTripOfTheLargestPayload) {
    auto ch = make_channel();
    auto p = make_pipe();
    const auto hello = random_bytes(handoff::kMaxHelloBytes, 2);
    ASSERT_EQ(handoff::send_handoff(ch.daemon.get(), sample_handoff(), hello, p.w.get()).status,
              SendStatus::kSent);
    std::vector<uint8_t> scratch;
    auto r = handoff::recv_handoff(ch.worker.get(), scratch);
    ASSERT_TRUE(r.ok()) << r.error().detail;
    EXPECT_EQ(r.value().hello, hello);
}

TEST(Handoff, SeveralMessagesKeepTheirBoundaries) {
    auto ch = make_channel();
    auto p = make_pipe();
    for (unsigned i = 1; i <= 5; ++i) {
        auto h = sample_handoff();
        h.conn_id = i;
        ASSERT_EQ(
            handoff::send_handoff(ch.daemon.get(), h, random_bytes(100 * i, i), p.w.get()).status,
            SendStatus::kSent);
    }
    std::vector<uint8_t> scratch;
    for (unsigned i = 1; i <= 5; ++i) {
        auto r = handoff::recv_handoff(ch.worker.get(), scratch);
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r.value().handoff.conn_id, i);
        EXPECT_EQ(r.value().hello, random_bytes(100 * i, i));
    }
    auto none = handoff::recv_handoff(ch.worker.get(), scratch);
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().kind, RecvError::kWouldBlock);
}

TEST(Handoff, RejectsEmptyOrOversizedHello) {
    auto ch = make_channel();
    auto p = make_pipe();
    EXPECT_EQ(handoff::send_handoff(ch.daemon.get(), sample_handoff(), {}, p.w.get()).status,
              SendStatus::kError);
    const auto big = random_bytes(handoff::kMaxHelloBytes + 1, 3);
    EXPECT_EQ(handoff::send_handoff(ch.daemon.get(), sample_handoff(), big, p.w.get()).status,
              SendStatus::kError);
}

TEST(Handoff, TruncatedDatagramIsDroppedAndItsFdClosed) {
    auto ch = make_channel();
    auto p = make_pipe();
    // A valid header claiming the largest payload, but the datagram is longer than any handoff.
    std::vector<uint8_t> msg(handoff::kMaxMessageBytes + 100, 0xab);
    handoff::WireHeader w{};
    w.magic = handoff::kMagic;
    w.version = handoff::kVersion;
    w.header_size = sizeof w;
    w.hello_size = handoff::kMaxHelloBytes;
    std::memcpy(msg.data(), &w, sizeof w);
    ASSERT_EQ(send_raw(ch.daemon.get(), msg.data(), msg.size(), p.w.get(), 1),
              static_cast<ssize_t>(msg.size()));
    p.w.reset();

    std::vector<uint8_t> scratch;
    auto r = handoff::recv_handoff(ch.worker.get(), scratch);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, RecvError::kTruncated);
    EXPECT_TRUE(write_end_closed(p)) << "the fd of a dropped datagram must be closed";
}

TEST(Handoff, TooManyFdsIsControlTruncationAndAllAreClosed) {
    auto ch = make_channel();
    auto p = make_pipe();
    std::vector<uint8_t> msg(sizeof(handoff::WireHeader) + 10, 0);
    handoff::WireHeader w{};
    w.magic = handoff::kMagic;
    w.version = handoff::kVersion;
    w.header_size = sizeof w;
    w.hello_size = 10;
    std::memcpy(msg.data(), &w, sizeof w);
    ASSERT_GT(send_raw(ch.daemon.get(), msg.data(), msg.size(), p.w.get(), 16), 0);
    p.w.reset();
    std::vector<uint8_t> scratch;
    auto r = handoff::recv_handoff(ch.worker.get(), scratch);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, RecvError::kTruncated);
    EXPECT_TRUE(write_end_closed(p));
}

TEST(Handoff, UnexpectedFdCountsAreRejectedAndClosed) {
    auto ch = make_channel();
    std::vector<uint8_t> msg(sizeof(handoff::WireHeader) + 10, 0);
    handoff::WireHeader w{};
    w.magic = handoff::kMagic;
    w.version = handoff::kVersion;
    w.header_size = sizeof w;
    w.hello_size = 10;
    std::memcpy(msg.data(), &w, sizeof w);
    std::vector<uint8_t> scratch;

    // `nfds` copies of a pipe's write end: refused as `kind`, and none of them left open.
    auto refused_with = [&](int nfds, RecvError kind) {
        auto p = make_pipe();
        ASSERT_GT(send_raw(ch.daemon.get(), msg.data(), msg.size(), p.w.get(), nfds), 0);
        p.w.reset();
        auto r = handoff::recv_handoff(ch.worker.get(), scratch);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().kind, kind);
        EXPECT_TRUE(write_end_closed(p));
    };
    const int seen = static_cast<int>(handoff::kMaxFdsSeen);
    refused_with(2, RecvError::kBadMessage);
    // As many as a datagram is looked at with: all taken, all closed.
    refused_with(seen, RecvError::kBadMessage);
    // More than that: the kernel truncates the control data, nothing stays open.
    refused_with(seen + 2, RecvError::kTruncated);
    {  // none
        ASSERT_GT(send_raw(ch.daemon.get(), msg.data(), msg.size(), -1, 0), 0);
        auto r = handoff::recv_handoff(ch.worker.get(), scratch);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().kind, RecvError::kBadMessage);
    }
}

TEST(Handoff, MalformedHeadersAreRejectedAndTheirFdClosed) {
    auto ch = make_channel();
    std::vector<uint8_t> scratch;
    auto try_header = [&](handoff::WireHeader w, std::size_t hello_len) {
        auto p = make_pipe();
        std::vector<uint8_t> msg(sizeof w + hello_len, 0x16);
        std::memcpy(msg.data(), &w, sizeof w);
        EXPECT_GT(send_raw(ch.daemon.get(), msg.data(), msg.size(), p.w.get(), 1), 0);
        p.w.reset();
        auto r = handoff::recv_handoff(ch.worker.get(), scratch);
        EXPECT_FALSE(r.ok());
        if (!r.ok()) {
            EXPECT_EQ(r.error().kind, RecvError::kBadMessage);
        }
        EXPECT_TRUE(write_end_closed(p));
    };
    handoff::WireHeader good{};
    good.magic = handoff::kMagic;
    good.version = handoff::kVersion;
    good.header_size = sizeof good;
    good.hello_size = 10;

    auto w = good;
    w.magic = 0x12345678;
    try_header(w, 10);
    w = good;
    w.version = 99;
    try_header(w, 10);
    w = good;
    w.header_size = 100;
    try_header(w, 10);
    w = good;
    w.hello_size = 11;  // does not match the datagram
    try_header(w, 10);
    w = good;
    w.hello_size = 0;
    try_header(w, 0);
    w = good;
    w.client_len = 4096;
    try_header(w, 10);
    w = good;
    w.outcome = 77;
    try_header(w, 10);
    w = good;
    w.flags = 4;  // a flag this build does not know
    try_header(w, 10);

    // Shorter than the header.
    auto p = make_pipe();
    ASSERT_GT(send_raw(ch.daemon.get(), "SNIH", 4, p.w.get(), 1), 0);
    p.w.reset();
    auto r = handoff::recv_handoff(ch.worker.get(), scratch);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, RecvError::kBadMessage);
    EXPECT_TRUE(write_end_closed(p));
}

TEST(Handoff, ClosedChannel) {
    auto ch = make_channel();
    ch.daemon.reset();
    std::vector<uint8_t> scratch;
    auto r = handoff::recv_handoff(ch.worker.get(), scratch);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, RecvError::kClosed);
}

TEST(Handoff, SendToGoneWorkerAndToFullChannel) {
    auto p = make_pipe();
    {
        auto ch = make_channel();
        ch.worker.reset();
        const auto s = handoff::send_handoff(ch.daemon.get(), sample_handoff(),
                                             random_bytes(100, 4), p.w.get());
        EXPECT_EQ(s.status, SendStatus::kPeerGone);
    }
    {
        int sv[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        UniqueFd a(sv[0]), b(sv[1]);
        const int small = 4096;
        ::setsockopt(a.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        const auto hello = random_bytes(2000, 5);
        SendStatus last = SendStatus::kSent;
        for (int i = 0; i < 10000 && last == SendStatus::kSent; ++i)
            last = handoff::send_handoff(a.get(), sample_handoff(), hello, p.w.get()).status;
        EXPECT_EQ(last, SendStatus::kWouldBlock);
    }
}

// --- prefix BIO ---------------------------------------------------------------------------

TEST(PrefixBio, ReturnsThePrefixThenTheSocket) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    UniqueFd a(sv[0]), b(sv[1]);
    ASSERT_EQ(::write(b.get(), "world", 5), 5);
    b.reset();

    PrefixBioMethod method;
    ASSERT_TRUE(method.ok());
    const std::string prefix = "hello ";
    BioPtr bio = make_prefixed_socket_bio(
        method, {reinterpret_cast<const uint8_t *>(prefix.data()), prefix.size()}, a.get());
    ASSERT_TRUE(bio);
    EXPECT_EQ(method.remaining(bio.get()), 6u);
    EXPECT_GE(BIO_ctrl_pending(bio.get()), 6u);
    EXPECT_EQ(BIO_eof(bio.get()), 0);

    std::string got;
    char buf[4];
    for (;;) {
        const int n = BIO_read(bio.get(), buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
    }
    EXPECT_EQ(got, "hello world");
    EXPECT_EQ(method.remaining(bio.get()), 0u);
    // ctrl is forwarded: the socket BIO below knows its fd.
    EXPECT_EQ(BIO_get_fd(bio.get(), nullptr), a.get());
}

struct KeyAndCert {
    EVP_PKEY *key = nullptr;
    X509 *cert = nullptr;
    ~KeyAndCert() {
        EVP_PKEY_free(key);
        X509_free(cert);
    }
};

void make_self_signed(KeyAndCert &kc) {
    kc.key = EVP_EC_gen("P-256");
    ASSERT_NE(kc.key, nullptr);
    kc.cert = X509_new();
    X509_set_version(kc.cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(kc.cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(kc.cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(kc.cert), 3600);
    X509_NAME *name = X509_get_subject_name(kc.cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char *>("bio.test"), -1, -1, 0);
    X509_set_issuer_name(kc.cert, name);
    X509_set_pubkey(kc.cert, kc.key);
    ASSERT_GT(X509_sign(kc.cert, kc.key, EVP_sha256()), 0);
}

// The server side reads the ClientHello records off the socket itself (as the daemon does),
// then hands them to OpenSSL through the prefix BIO: the handshake must complete and data flow.
TEST(PrefixBio, TlsHandshakeWithAReplayedClientHello) {
    KeyAndCert kc;
    make_self_signed(kc);

    SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    ASSERT_TRUE(sctx && cctx);
    ASSERT_EQ(SSL_CTX_use_certificate(sctx, kc.cert), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey(sctx, kc.key), 1);

    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    UniqueFd cfd(sv[0]), sfd(sv[1]);

    SSL *client = SSL_new(cctx);
    SSL_set_fd(client, cfd.get());
    SSL_set_tlsext_host_name(client, "bio.test");
    SSL_set_connect_state(client);
    ASSERT_EQ(SSL_do_handshake(client), -1);  // sends the ClientHello, wants to read

    // Read exactly the records carrying the ClientHello.
    std::vector<uint8_t> stream(CH_MAX_CAP);
    const ssize_t n = ::recv(sfd.get(), stream.data(), stream.size(), MSG_PEEK);
    ASSERT_GT(n, 0);
    ClientHelloParser parser;
    const ch_info &info = parser.parse({stream.data(), static_cast<std::size_t>(n)});
    ASSERT_EQ(info.status, CH_OK);
    EXPECT_EQ(sni_of(info), "bio.test");
    std::vector<uint8_t> hello(info.record_bytes);
    ASSERT_EQ(::recv(sfd.get(), hello.data(), hello.size(), 0), static_cast<ssize_t>(hello.size()));

    PrefixBioMethod method;
    SSL *server = SSL_new(sctx);
    BioPtr bio = make_prefixed_socket_bio(method, hello, sfd.get());
    BIO *raw = bio.release();
    SSL_set_bio(server, raw, raw);
    SSL_set_accept_state(server);

    bool cdone = false, sdone = false;
    for (int i = 0; i < 100 && !(cdone && sdone); ++i) {
        if (!cdone) cdone = SSL_do_handshake(client) == 1;
        if (!sdone) sdone = SSL_do_handshake(server) == 1;
    }
    ASSERT_TRUE(cdone && sdone) << ERR_error_string(ERR_get_error(), nullptr);
    EXPECT_EQ(method.remaining(raw), 0u);

    ASSERT_EQ(SSL_write(client, "ping", 4), 4);
    char buf[8] = {};
    int got = -1;
    for (int i = 0; i < 100 && got <= 0; ++i) got = SSL_read(server, buf, sizeof buf);
    ASSERT_EQ(got, 4);
    EXPECT_EQ(std::string(buf, 4), "ping");

    SSL_free(client);
    SSL_free(server);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
}

}  // namespace
