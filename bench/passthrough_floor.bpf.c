// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The passthrough floor's kernel half (bench/passthrough_floor.cpp): the least a sockmap
 * passthrough proxy has to load. A sockops program puts every socket accepted on the floor's
 * port into `socks`; the sk_skb verdict redirects a paired socket's buffers to its peer's
 * egress and counts them, and passes everything else on to the socket (the ClientHello).
 * No ClientHello parse in the kernel, no retransmission cut: a measuring instrument, not a
 * relay to run (see docs/performance.md, "Passthrough: the floor of the design").
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

struct floor_peer {
    __u64 peer;  /* the peer socket's cookie, its key in `socks` */
    __u64 bytes; /* redirected to the peer so far */
};

struct {
    __uint(type, BPF_MAP_TYPE_SOCKHASH);
    __uint(max_entries, 65536);
    __type(key, __u64);
    __type(value, __u64);
} socks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, __u64);
    __type(value, struct floor_peer);
} peers SEC(".maps");

const volatile __u32 listen_port = 0; /* host byte order, set before load */

SEC("sockops")
int floor_sockops(struct bpf_sock_ops *skops) {
    __u64 cookie;

    if (skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB) return 1;
    if (skops->local_port != listen_port) return 1;
    cookie = bpf_get_socket_cookie(skops);
    bpf_sock_hash_update(skops, &socks, &cookie, BPF_NOEXIST);
    return 1;
}

SEC("sk_skb")
int floor_verdict(struct __sk_buff *skb) {
    __u64 cookie = bpf_get_socket_cookie(skb);
    __u32 len = skb->len;
    struct floor_peer *p = bpf_map_lookup_elem(&peers, &cookie);

    if (!p) return SK_PASS;
    if (len == 0) return SK_DROP; /* the FIN: the floor carries it over itself */
    if (bpf_sk_redirect_hash(skb, &socks, &p->peer, 0) != SK_PASS) return SK_DROP;
    __sync_fetch_and_add(&p->bytes, len);
    return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
