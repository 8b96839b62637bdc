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

// Both peer entries in one call (BPF_MAP_UPDATE_BATCH / BPF_MAP_DELETE_BATCH, hash maps since
// 5.6); a kernel without batch ops for the map (EINVAL, ENOTSUPP) gets one call per entry.
bool batch_unsupported(int err) {
    constexpr int kEnotsupp = 524;  // the kernel's ENOTSUPP, not in userspace headers
    return err == EINVAL || err == kEnotsupp || err == EOPNOTSUPP;
}

int map_update_two(int map, const std::uint64_t (&keys)[2], const relay_peer (&values)[2]) {
    bpf_attr attr{};
    attr.batch.map_fd = static_cast<__u32>(map);
    attr.batch.keys = reinterpret_cast<__u64>(keys);
    attr.batch.values = reinterpret_cast<__u64>(values);
    attr.batch.count = 2;
    attr.batch.elem_flags = BPF_ANY;
    if (bpf_call(BPF_MAP_UPDATE_BATCH, attr) == 0 && attr.batch.count == 2) return 0;
    if (!batch_unsupported(errno)) return errno;
    for (int i = 0; i < 2; ++i)
        if (const int err = map_update(map, &keys[i], &values[i]); err != 0) return err;
    return 0;
}

void map_delete_two(int map, const std::uint64_t (&keys)[2]) {
    bpf_attr attr{};
    attr.batch.map_fd = static_cast<__u32>(map);
    attr.batch.keys = reinterpret_cast<__u64>(keys);
    attr.batch.count = 2;
    if (bpf_call(BPF_MAP_DELETE_BATCH, attr) == 0 && attr.batch.count == 2) return;
    // ENOENT stops a batch at the first missing key: delete the rest one by one.
    for (const std::uint64_t &k : keys) map_delete(map, &k);
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

config::Result<KernelRelay::Pair, KernelRelay::JoinError> KernelRelay::join(
    int client_fd, std::uint64_t client_cookie, int backend_fd, bool client_in_map) {
    const auto c = client_cookie != 0 ? std::optional(client_cookie) : socket_cookie(client_fd);
    const auto b = socket_cookie(backend_fd);
    if (!c || !b) return config::unexpected(JoinError{errno, "SO_COOKIE"});
    const Pair pair{*c, *b};
    const std::uint64_t keys[2] = {pair.client, pair.backend};
    relay_peer peers[2]{};  // counts 0, sequence not known yet
    peers[0].peer = pair.backend;
    peers[1].peer = pair.client;
    const std::uint64_t cfd = static_cast<std::uint64_t>(client_fd);
    const std::uint64_t bfd = static_cast<std::uint64_t>(backend_fd);
    int err = map_update_two(peers_.get(), keys, peers);
    if (err != 0) {
        undo_join(pair, client_in_map);
        return config::unexpected(JoinError{err, "relay peers update"});
    }
    if ((!client_in_map && (err = map_update(socks_.get(), &pair.client, &cfd)) != 0) ||
        (err = map_update(socks_.get(), &pair.backend, &bfd)) != 0) {
        undo_join(pair, client_in_map);
        return config::unexpected(JoinError{err, "relay SOCKHASH insert"});
    }
    rearm_data_ready(backend_fd);
    if (!client_in_map) rearm_data_ready(client_fd);
    return pair;
}

KernelRelay::Counts KernelRelay::counts(std::uint64_t cookie) const {
    relay_peer v{};
    if (!map_lookup(peers_.get(), &cookie, &v)) return {};
    return {v.bytes, v.held, v.resent, v.cut_failed != 0};
}

void KernelRelay::leave(const Pair &pair) {
    map_delete_two(peers_.get(), {pair.client, pair.backend});
}

void KernelRelay::undo_join(const Pair &pair, bool client_in_map) {
    if (!client_in_map) map_delete(socks_.get(), &pair.client);
    map_delete(socks_.get(), &pair.backend);
    leave(pair);
}

}  // namespace sni::worker
