// Micro benchmarks of the host parser and the route lookup.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/clienthello.hpp"
#include "common/server_names.hpp"

namespace {

using Bytes = std::vector<uint8_t>;

Bytes load(const std::string &name) {
    std::ifstream f(std::filesystem::path(SNI_TEST_DATA_DIR) / "clienthello" / name,
                    std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

Bytes reframe(const Bytes &hello, size_t chunk) {
    const Bytes body(hello.begin() + 5, hello.end());
    Bytes out;
    for (size_t i = 0; i < body.size(); i += chunk) {
        const size_t n = std::min(chunk, body.size() - i);
        out.insert(out.end(), {0x16, 0x03, 0x01, uint8_t(n >> 8), uint8_t(n)});
        out.insert(out.end(), body.begin() + i, body.begin() + i + n);
    }
    return out;
}

Bytes first_real() {
    for (const auto &e : std::filesystem::directory_iterator(
             std::filesystem::path(SNI_TEST_DATA_DIR) / "clienthello" / "real"))
        if (e.path().filename().string().starts_with("curl") && e.path().extension() == ".bin")
            return load("real/" + e.path().filename().string());
    return {};
}

void BM_ParseRealHello(benchmark::State &state) {
    const Bytes hello = first_real();
    sni::ClientHelloParser parser;
    for (auto _ : state) benchmark::DoNotOptimize(parser.parse(hello).status);
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(hello.size()));
}
BENCHMARK(BM_ParseRealHello);

void BM_ParseOneByteRecords(benchmark::State &state) {
    const Bytes hello = reframe(first_real(), 1);
    sni::ClientHelloParser parser(CH_MAX_CAP);
    for (auto _ : state) benchmark::DoNotOptimize(parser.parse(hello).status);
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(hello.size()));
}
BENCHMARK(BM_ParseOneByteRecords);

void BM_RouteLookup(benchmark::State &state) {
    sni::ServerNameTable table;
    for (int i = 0; i < state.range(0); i++) {
        (void)table.add("site" + std::to_string(i) + ".example.com", uint32_t(i));
        (void)table.add("*.w" + std::to_string(i) + ".example.com", uint32_t(i));
    }
    const std::string exact = "site" + std::to_string(state.range(0) / 2) + ".example.com";
    const std::string wild = "x.w" + std::to_string(state.range(0) / 2) + ".example.com";
    for (auto _ : state) {
        benchmark::DoNotOptimize(table.lookup(exact));
        benchmark::DoNotOptimize(table.lookup(wild));
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * 2);
}
BENCHMARK(BM_RouteLookup)->Arg(10)->Arg(10000);

}  // namespace
