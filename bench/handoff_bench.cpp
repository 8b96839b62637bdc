// What the daemon-to-worker hop costs per connection, in parts:
//
//  - BM_HandoffCalls: one handoff as the daemon sends it (header + a 517-byte ClientHello + the
//    fd as SCM_RIGHTS, common/handoff) and as a worker receives it (recvmsg, parse, close the
//    fd), both in this thread: the system calls alone, no process switch.
//  - BM_SwitchPingPong/thread and /process: one byte there and back between two threads, or two
//    processes, pinned to the same CPU: two switches and four calls per round trip. The
//    difference between the rows is what a switch between address spaces adds (the daemon and
//    its workers are processes).
//  - BM_HandoffToProcess: the handoff to a process on the same CPU that waits for it (poll),
//    receives it, closes the fd and answers with one byte: the hop as the daemon and a worker
//    make it, plus the answer.
//
// Both sides run on one CPU, so the wall time per iteration is the CPU time of both (other
// load on that CPU counts too: run it on an idle machine). Not a test: run bench/run-micro.
#include <benchmark/benchmark.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "common/fd.hpp"
#include "common/handoff.hpp"

namespace {

using sni::UniqueFd;

struct Pair {
    UniqueFd a, b;
};

Pair seqpacket_pair() {
    int sv[2] = {-1, -1};
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return {};
    return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

// Pins the calling thread to `cpu`; false when the kernel refuses.
bool pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

int this_cpu() {
    const int cpu = ::sched_getcpu();
    return cpu >= 0 ? cpu : 0;
}

sni::handoff::Handoff sample_handoff() {
    sni::handoff::Handoff h;
    h.conn_id = 1;
    h.cookie = 42;
    h.facts.status = CH_OK;
    h.facts.record_bytes = 517;
    h.nonblocking = true;
    return h;
}

void BM_HandoffCalls(benchmark::State &state) {
    Pair channel = seqpacket_pair();
    Pair conn = seqpacket_pair();  // stands in for the client's socket
    if (!channel.a || !conn.a) {
        state.SkipWithError("socketpair failed");
        return;
    }
    sni::handoff::configure_channel(channel.a.get());
    sni::handoff::configure_channel(channel.b.get());
    const sni::handoff::Handoff h = sample_handoff();
    const std::vector<std::uint8_t> hello(517, 0x16);
    std::vector<std::uint8_t> scratch;
    for (auto _ : state) {
        const auto sent = sni::handoff::send_handoff(channel.a.get(), h, hello, conn.a.get());
        if (sent.status != sni::handoff::SendStatus::kSent) {
            state.SkipWithError("send_handoff failed");
            return;
        }
        auto got = sni::handoff::recv_handoff(channel.b.get(), scratch);
        if (!got) {
            state.SkipWithError("recv_handoff failed");
            return;
        }
        benchmark::DoNotOptimize(got.value().hello.data());
    }  // the received fd closes with `got`, as a worker's does at the end of a connection
}
BENCHMARK(BM_HandoffCalls)->Unit(benchmark::kMicrosecond);

// The answering side: echoes one byte per byte until the channel closes.
void echo_until_closed(int fd) {
    char c = 0;
    while (::read(fd, &c, 1) == 1)
        if (::write(fd, &c, 1) != 1) return;
}

void BM_SwitchPingPong(benchmark::State &state) {
    const bool process = state.range(0) == 1;
    Pair p = seqpacket_pair();
    const int cpu = this_cpu();
    if (!p.a || !pin(cpu)) {
        state.SkipWithError("socketpair or affinity failed");
        return;
    }
    std::thread thread;
    pid_t child = -1;
    if (process) {
        child = ::fork();
        if (child == 0) {
            p.a.reset();
            pin(cpu);
            echo_until_closed(p.b.get());
            ::_exit(0);
        }
    } else {
        thread = std::thread([&p, cpu] {
            pin(cpu);
            echo_until_closed(p.b.get());
        });
    }
    char c = 'x';
    for (auto _ : state) {
        if (::write(p.a.get(), &c, 1) != 1 || ::read(p.a.get(), &c, 1) != 1) {
            state.SkipWithError("ping-pong failed");
            break;
        }
    }
    ::shutdown(p.a.get(), SHUT_RDWR);
    if (process) {
        p.b.reset();
        ::waitpid(child, nullptr, 0);
    } else {
        thread.join();
    }
}
BENCHMARK(BM_SwitchPingPong)
    ->ArgName("process")
    ->Arg(0)
    ->Arg(1)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// The child, as a worker: waits (poll, where a worker has epoll_wait), receives the handoff,
// closes its fd, answers with one byte.
void receive_until_closed(int channel) {
    std::vector<std::uint8_t> scratch;
    for (;;) {
        pollfd pfd{channel, POLLIN, 0};
        if (::poll(&pfd, 1, -1) != 1) return;
        auto got = sni::handoff::recv_handoff(channel, scratch);
        if (!got) return;
        const char ack = 'k';
        if (::write(channel, &ack, 1) != 1) return;
    }
}

void BM_HandoffToProcess(benchmark::State &state) {
    Pair channel = seqpacket_pair();
    Pair conn = seqpacket_pair();
    const int cpu = this_cpu();
    if (!channel.a || !conn.a || !pin(cpu)) {
        state.SkipWithError("socketpair or affinity failed");
        return;
    }
    sni::handoff::configure_channel(channel.a.get());
    sni::handoff::configure_channel(channel.b.get());
    const pid_t child = ::fork();
    if (child == 0) {
        channel.a.reset();
        pin(cpu);
        receive_until_closed(channel.b.get());
        ::_exit(0);
    }
    channel.b.reset();
    const sni::handoff::Handoff h = sample_handoff();
    const std::vector<std::uint8_t> hello(517, 0x16);
    char ack = 0;
    for (auto _ : state) {
        if (sni::handoff::send_handoff(channel.a.get(), h, hello, conn.a.get()).status !=
                sni::handoff::SendStatus::kSent ||
            ::read(channel.a.get(), &ack, 1) != 1) {
            state.SkipWithError("handoff round trip failed");
            break;
        }
    }
    channel.a.reset();
    ::waitpid(child, nullptr, 0);
}
BENCHMARK(BM_HandoffToProcess)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
