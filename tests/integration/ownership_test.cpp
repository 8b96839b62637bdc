// A socket the kernel did not take (its SOCKHASH or conns table full, or its address not yet in
// listen_addrs) is classified by the daemon in userspace, on the BPF path too. The test makes the
// kernel refuse by emptying the daemon's own listen_addrs map (found through the daemon's fds:
// /proc/PID/fdinfo names each BPF map's id), then expects the connection to work all the same
// and the daemon to count it as not owned. Needs root and BPF.
#include <dirent.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "hello_builder.hpp"
#include "metrics_scrape.hpp"
#include "net_client.hpp"
#include "real_worker.hpp"

namespace sni::itest {
namespace {

using namespace std::chrono_literals;

long bpf_call(int cmd, bpf_attr &attr) {
    return ::syscall(SYS_bpf, cmd, &attr, sizeof attr);
}

// The ids of the BPF maps `pid` holds open.
std::vector<std::uint32_t> map_ids_of(pid_t pid) {
    std::vector<std::uint32_t> ids;
    const std::string dir = "/proc/" + std::to_string(pid) + "/fdinfo";
    DIR *d = ::opendir(dir.c_str());
    if (d == nullptr) return ids;
    while (const dirent *e = ::readdir(d)) {
        std::ifstream in(dir + "/" + e->d_name);
        std::string line;
        while (std::getline(in, line))
            if (line.rfind("map_id:", 0) == 0) ids.push_back(std::stoul(line.substr(7)));
    }
    ::closedir(d);
    return ids;
}

// An fd for the map of `pid` called `name`.
UniqueFd map_named(pid_t pid, const std::string &name) {
    for (const std::uint32_t id : map_ids_of(pid)) {
        bpf_attr attr{};
        attr.map_id = id;
        UniqueFd fd(static_cast<int>(bpf_call(BPF_MAP_GET_FD_BY_ID, attr)));
        if (!fd) continue;
        bpf_map_info info{};
        bpf_attr q{};
        q.info.bpf_fd = static_cast<__u32>(fd.get());
        q.info.info_len = sizeof info;
        q.info.info = reinterpret_cast<__u64>(&info);
        if (bpf_call(BPF_OBJ_GET_INFO_BY_FD, q) == 0 && name == info.name) return fd;
    }
    return UniqueFd();
}

// Deletes every entry of a map whose keys are `key_size` bytes; returns how many.
int empty_map(int fd, std::size_t key_size) {
    std::vector<std::uint8_t> key(key_size);
    int n = 0;
    for (;;) {
        bpf_attr attr{};
        attr.map_fd = static_cast<__u32>(fd);
        attr.key = 0;  // the first key
        attr.next_key = reinterpret_cast<__u64>(key.data());
        if (bpf_call(BPF_MAP_GET_NEXT_KEY, attr) != 0) return n;
        bpf_attr del{};
        del.map_fd = static_cast<__u32>(fd);
        del.key = reinterpret_cast<__u64>(key.data());
        if (bpf_call(BPF_MAP_DELETE_ELEM, del) != 0) return -1;
        ++n;
    }
}

double not_owned(std::uint16_t metrics_port) {
    const auto m = parse_metrics(http_get(metrics_port, "/metrics").body);
    const auto it = m.find("sni_bpf_events_total{event=\"not_owned\"}");
    return it == m.end() ? -1 : it->second;
}

// Hello + payload at once, the echo back, then both FINs.
void expect_echo_of(std::uint16_t port, std::uint32_t seed) {
    Bytes sent = build_client_hello({.sni = "own.test"});
    const Bytes payload = random_payload(3000, seed);
    sent.insert(sent.end(), payload.begin(), payload.end());
    UniqueFd fd = connect_tcp("127.0.0.1", port);
    ASSERT_TRUE(fd.valid());
    ASSERT_TRUE(send_all(fd.get(), sent));
    const ReadResult r = read_exactly(fd.get(), sent.size(), 5s);
    std::size_t same = 0;
    while (same < std::min(r.data.size(), sent.size()) && r.data[same] == sent[same]) ++same;
    EXPECT_TRUE(r.data == sent) << r.data.size() << " bytes came back of " << sent.size()
                                << ", the first " << same << " as sent";
    ::shutdown(fd.get(), SHUT_WR);
    EXPECT_TRUE(read_until_close(fd.get(), 5s).closed);
}

TEST(KernelOwnership, ASocketTheKernelDidNotTakeIsClassifiedInUserspace) {
    EchoBackend backend;
    RealWorkerDaemon d(
        "  - name: own\n    listener: main\n    server_names: [own.test]\n"
        "    mode: passthrough\n    backend: {servers: [\"127.0.0.1:" +
            std::to_string(backend.port()) + "\"]}\n",
        "bpf");
    ASSERT_TRUE(d.daemon->wait_ready()) << d.daemon->log();
    expect_echo_of(d.main_port, 1);
    EXPECT_EQ(not_owned(d.metrics_port), 0) << "the kernel took the first connection";

    UniqueFd listen_addrs = map_named(d.daemon->pid(), "listen_addrs");
    ASSERT_TRUE(listen_addrs.valid()) << "the daemon's listen_addrs map was not found";
    ASSERT_GE(empty_map(listen_addrs.get(), 24), 1);  // sizeof(steer_listen_key)

    expect_echo_of(d.main_port, 2);
    EXPECT_EQ(not_owned(d.metrics_port), 1);
    if (HasFailure()) ADD_FAILURE() << d.daemon->log() << "\naccess log:\n" << d.access_log();
    EXPECT_EQ(d.daemon->stop(), 0);
}

}  // namespace
}  // namespace sni::itest
