// The kernel build of the ClientHello parser must agree with the host build byte for byte.
// Needs root: it loads an XDP program and runs it with BPF_PROG_TEST_RUN.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "clienthello_test.skel.h"
#include "common/clienthello.hpp"

namespace {

constexpr uint32_t kMagic = 0x43485431u;

struct SkelDeleter {
    void operator()(clienthello_test *s) const { clienthello_test__destroy(s); }
};
using Skel = std::unique_ptr<clienthello_test, SkelDeleter>;

std::vector<uint8_t> read_file(const std::filesystem::path &p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

std::vector<std::filesystem::path> corpus() {
    std::vector<std::filesystem::path> files;
    const std::filesystem::path root = std::filesystem::path(SNI_TEST_DATA_DIR) / "clienthello";
    if (!std::filesystem::exists(root)) return files;
    for (const auto &e : std::filesystem::recursive_directory_iterator(root))
        if (e.is_regular_file() && e.path().extension() == ".bin") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

class KernelParser {
  public:
    KernelParser() {
        libbpf_set_print(nullptr);
        skel_.reset(clienthello_test__open_and_load());
        if (!skel_) error_ = std::string("cannot load the BPF test program: ") + strerror(errno);
    }
    const std::string &error() const { return error_; }

    // Runs the kernel parser; returns false with a message on a test-run failure.
    bool parse(std::span<const uint8_t> stream, uint32_t cap, ch_info &out, std::string &err) {
        std::vector<uint8_t> pkt(16 + stream.size());
        const uint32_t hdr[4] = {kMagic, cap, static_cast<uint32_t>(stream.size()), 0};
        memcpy(pkt.data(), hdr, sizeof(hdr));
        if (!stream.empty()) memcpy(pkt.data() + 16, stream.data(), stream.size());
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt.data(),
                    .data_size_in = static_cast<uint32_t>(pkt.size()), .repeat = 1);
        const int prog = bpf_program__fd(skel_->progs.ch_test_parse);
        if (bpf_prog_test_run_opts(prog, &opts) != 0) {
            err = std::string("BPF_PROG_TEST_RUN: ") + strerror(errno);
            return false;
        }
        if (opts.retval != 2 /* XDP_PASS */) {
            err = "program returned " + std::to_string(opts.retval);
            return false;
        }
        const uint32_t zero = 0;
        if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.ch_test_result), &zero, &out) != 0) {
            err = std::string("reading the result map: ") + strerror(errno);
            return false;
        }
        return true;
    }

  private:
    Skel skel_;
    std::string error_;
};

std::string describe(const ch_info &i) {
    return std::string(sni::status_name(i.status)) + "/" + std::string(sni::reason_name(i.reason)) +
           " sni=" + std::string(sni::sni_of(i)) + " need=" + std::to_string(i.need) +
           " record_bytes=" + std::to_string(i.record_bytes) + " flags=" + std::to_string(i.flags);
}

void expect_agree(KernelParser &k, sni::ClientHelloParser &host, std::span<const uint8_t> bytes,
                  const std::string &what) {
    ch_info kernel{};
    std::string err;
    ASSERT_TRUE(k.parse(bytes, host.cap(), kernel, err)) << what << ": " << err;
    const ch_info &h = host.parse(bytes);
    EXPECT_EQ(0, memcmp(&kernel, &h, sizeof(ch_info)))
        << what << "\n kernel: " << describe(kernel) << "\n host:   " << describe(h);
}

class KernelHostAgreement : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(geteuid(), 0u) << "this test needs root (it loads BPF programs); run it as root";
        ASSERT_TRUE(kernel_.error().empty()) << kernel_.error();
    }
    KernelParser kernel_;
};

TEST_F(KernelHostAgreement, CorpusIsPresent) {
    EXPECT_GE(corpus().size(), 20u) << "tests/data/clienthello holds the corpus";
}

TEST_F(KernelHostAgreement, WholeCorpusDefaultCap) {
    sni::ClientHelloParser host(CH_DEFAULT_CAP);
    for (const auto &f : corpus()) expect_agree(kernel_, host, read_file(f), f.filename());
}

TEST_F(KernelHostAgreement, WholeCorpusMaxCap) {
    sni::ClientHelloParser host(CH_MAX_CAP);
    for (const auto &f : corpus()) expect_agree(kernel_, host, read_file(f), f.filename());
}

TEST_F(KernelHostAgreement, EveryPrefix) {
    sni::ClientHelloParser host(CH_DEFAULT_CAP);
    for (const auto &f : corpus()) {
        const auto bytes = read_file(f);
        // Every prefix of small files; a stride through large ones keeps the run short.
        const size_t stride = bytes.size() > 4096 ? 97 : 1;
        for (size_t n = 0; n < bytes.size(); n += stride)
            expect_agree(kernel_, host, std::span(bytes.data(), n),
                         f.filename().string() + " prefix " + std::to_string(n));
    }
}

TEST_F(KernelHostAgreement, SingleByteMutations) {
    // Flip each byte of a few hellos: the two builds must fail (or not) in the same way.
    sni::ClientHelloParser host(CH_DEFAULT_CAP);
    size_t done = 0;
    for (const auto &f : corpus()) {
        auto bytes = read_file(f);
        if (bytes.size() > 2048 || done++ >= 4) continue;
        for (size_t i = 0; i < bytes.size(); i++) {
            bytes[i] ^= 0xff;
            expect_agree(kernel_, host, bytes,
                         f.filename().string() + " flip " + std::to_string(i));
            bytes[i] ^= 0xff;
        }
    }
}

}  // namespace
