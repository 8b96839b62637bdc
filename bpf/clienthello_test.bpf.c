// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test wrapper: runs the shared ClientHello parser inside the kernel through BPF_PROG_TEST_RUN,
 * so the host and kernel builds can be compared byte for byte on the same corpus.
 *
 * Input "packet": a 16-byte header (magic, cap, length, 0) followed by the stream bytes. XDP
 * with frags is used because its test run accepts inputs of up to ~64 KiB and
 * bpf_xdp_load_bytes reads across fragments like bpf_skb_load_bytes does in sk_skb.
 * The result is written to the ch_result array map.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define CH_SRC_T struct xdp_md *
#define CH_LOAD(src, off, dst, len) bpf_xdp_load_bytes((src), (off), (dst), (len))
#include "clienthello.h"

#define CH_TEST_MAGIC 0x43485431u /* "CHT1" */
#define CH_TEST_HDR 16u

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct ch_state);
} ch_test_scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct ch_info);
} ch_test_result SEC(".maps");

SEC("xdp.frags")
int ch_test_parse(struct xdp_md *xdp) {
    __u32 zero = 0;
    __u32 hdr[4];
    struct ch_state *st = bpf_map_lookup_elem(&ch_test_scratch, &zero);
    struct ch_info *out = bpf_map_lookup_elem(&ch_test_result, &zero);
    if (!st || !out) return XDP_ABORTED;
    if (bpf_xdp_load_bytes(xdp, 0, hdr, sizeof(hdr)) || hdr[0] != CH_TEST_MAGIC) return XDP_DROP;

    struct ch_ctx c = {.src = xdp, .st = st, .out = out};
    ch_parse(&c, CH_TEST_HDR, hdr[2], hdr[1]);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
