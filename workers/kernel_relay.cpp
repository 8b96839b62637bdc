#include "workers/kernel_relay.hpp"

#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "common/socket_facts.hpp"

extern "C" {
#include "steer_types.h"
}

namespace sni::worker {

namespace {

long bpf_call(int cmd, bpf_attr &attr) {
    return ::syscall(SYS_bpf, cmd, &attr, sizeof attr);
}

int map_update(int map, const void *key, const void *value) {
    bpf_attr attr{};
    attr.map_fd = static_cast<__u32>(map);
    attr.key = reinterpret_cast<__u64>(key);
    attr.value = reinterpret_cast<__u64>(value);
    attr.flags = BPF_ANY;
    return bpf_call(BPF_MAP_UPDATE_ELEM, attr) == 0 ? 0 : errno;
}

void map_delete(int map, const void *key) {
    bpf_attr attr{};
    attr.map_fd = static_cast<__u32>(map);
    attr.key = reinterpret_cast<__u64>(key);
    bpf_call(BPF_MAP_DELETE_ELEM, attr);
}

bool map_lookup(int map, const void *key, void *value) {
    bpf_attr attr{};
    attr.map_fd = static_cast<__u32>(map);
    attr.key = reinterpret_cast<__u64>(key);
    attr.value = reinterpret_cast<__u64>(value);
    return bpf_call(BPF_MAP_LOOKUP_ELEM, attr) == 0;
}

bool parse_fd(const char *&p, int &fd) {
    char *end = nullptr;
    const long v = std::strtol(p, &end, 10);
    if (end == p || v < 0 || v > 1 << 20) return false;
    fd = static_cast<int>(v);
    p = end;
    return true;
}

}  // namespace

config::Result<std::unique_ptr<KernelRelay>, std::string> KernelRelay::from_env(const char *value) {
    if (value == nullptr || *value == '\0') return config::unexpected(std::string("not offered"));
    const char *p = value;
    int socks = -1, peers = -1;
    if (!parse_fd(p, socks) || *p++ != ',' || !parse_fd(p, peers) || *p != '\0')
        return config::unexpected("SNI_RELAY_FDS=\"" + std::string(value) +
                                  "\": expected two fd numbers, \"SOCKS,PEERS\"");
    for (int fd : {socks, peers})
        if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
            return config::unexpected("SNI_RELAY_FDS: fd " + std::to_string(fd) + ": " +
                                      std::strerror(errno));
    return std::make_unique<KernelRelay>(UniqueFd(socks), UniqueFd(peers));
}

config::Result<KernelRelay::Pair, KernelRelay::JoinError> KernelRelay::join(int client_fd,
                                                                            int backend_fd) {
    const auto c = socket_cookie(client_fd);
    const auto b = socket_cookie(backend_fd);
    if (!c || !b) return config::unexpected(JoinError{errno, "SO_COOKIE"});
    const Pair pair{*c, *b};
    const relay_peer to_backend{pair.backend, 0, 0};
    const relay_peer to_client{pair.client, 0, 0};
    const std::uint64_t cfd = static_cast<std::uint64_t>(client_fd);
    const std::uint64_t bfd = static_cast<std::uint64_t>(backend_fd);
    int err = map_update(peers_.get(), &pair.client, &to_backend);
    if (err == 0) err = map_update(peers_.get(), &pair.backend, &to_client);
    if (err != 0) {
        unpair(pair);
        return config::unexpected(JoinError{err, "relay peers update"});
    }
    if ((err = map_update(socks_.get(), &pair.client, &cfd)) != 0 ||
        (err = map_update(socks_.get(), &pair.backend, &bfd)) != 0) {
        unpair(pair);
        return config::unexpected(JoinError{err, "relay SOCKHASH insert"});
    }
    rearm_data_ready(backend_fd);
    rearm_data_ready(client_fd);
    return pair;
}

KernelRelay::Counts KernelRelay::counts(std::uint64_t cookie) const {
    relay_peer v{};
    if (!map_lookup(peers_.get(), &cookie, &v)) return {};
    return {v.bytes, v.held};
}

void KernelRelay::leave(const Pair &pair) {
    for (std::uint64_t k : {pair.client, pair.backend}) map_delete(peers_.get(), &k);
}

void KernelRelay::unpair(const Pair &pair) {
    for (std::uint64_t k : {pair.client, pair.backend}) {
        map_delete(socks_.get(), &k);
        map_delete(peers_.get(), &k);
    }
}

}  // namespace sni::worker
