// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Kernel steering: classify each accepted connection by the SNI of its ClientHello.
 *
 *  sockops (cgroup, bpf_link): a passively established socket whose local address is one of our
 *      listeners goes into sock_hash, keyed by its cookie, with a steer_conn entry in conns;
 *      a reset of such a socket before its decision is reported on the ring buffer (the state
 *      callback), as the verdict reports a FIN.
 *  sk_skb verdict (BPF_SK_SKB_VERDICT, no strparser), one program for the one SOCKHASH:
 *    - the passthrough relay, looked at first: a socket the worker paired with its peer
 *      (relay_peers) has every buffer it receives redirected to the peer's egress: no wake-up,
 *      no copy, no syscall per message in userspace; bytes a retransmission carries again are
 *      cut off first, by TCP sequence number;
 *    - the classifier: parses the first buffer the socket receives with the shared parser
 *      (clienthello.h), looks the SNI up in the route table and emits one steer_event on the
 *      ring buffer (NEED_MORE: the daemon finishes the parse). Every buffer is passed to the
 *      socket and counted in steer_conn.framed; the daemon reads them while the socket is still
 *      in the map. Then it removes the socket (terminate, reencrypt), or leaves it there for the
 *      worker to pair (passthrough): a psock's queue is lost when its socket leaves the map, so
 *      a passthrough socket never leaves it while it is open.
 *
 * See docs/architecture.md for the kernel facts this relies on.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#define CH_SRC_T struct __sk_buff *
#define CH_LOAD(src, off, dst, len) bpf_skb_load_bytes((src), (off), (dst), (len))
#include "clienthello.h"
#include "steer_types.h"

#define AF_INET 2
#define AF_INET6 10
#define SK_PASS 1
#define SK_DROP 0

struct {
    __uint(type, BPF_MAP_TYPE_SOCKHASH);
    __uint(max_entries, STEER_MAX_SOCKS);
    __type(key, __u64);
    __type(value, __u64);
} sock_hash SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, RELAY_MAX_SOCKS);
    __type(key, __u64);
    __type(value, struct relay_peer);
} relay_peers SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, STEER_MAX_CONNS);
    __type(key, __u64);
    __type(value, struct steer_conn);
} conns SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, STEER_MAX_LISTEN_ADDRS);
    __type(key, struct steer_listen_key);
    __type(value, struct steer_listen_val);
} listen_addrs SEC(".maps");

/* The route table: one inner hash, replaced whole on reload (atomic for readers). */
struct route_table {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1); /* the loader creates inner maps of the right size */
    __type(key, struct steer_route_key);
    __type(value, __u32);
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(max_entries, 1);
    __type(key, __u32);
    __array(values, struct route_table);
} routes SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, STEER_RINGBUF_BYTES);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct steer_counters);
} counters SEC(".maps");

/* Decisions per route id; the loader sizes it to the route count. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} route_counters SEC(".maps");

/* Parser scratch: ~140 KiB, too big for a per-CPU map value (32 KiB), so an array of
 * nr_cpus * STEER_NEST_SLOTS entries indexed by CPU and nesting depth (set by the loader). */
struct steer_scratch {
    struct ch_state st;
    struct steer_event ev;
    struct steer_route_key key;
    __u32 dot;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct steer_scratch);
} scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} nesting SEC(".maps");

static __always_inline struct steer_counters *ctrs(void) {
    __u32 zero = 0;
    return bpf_map_lookup_elem(&counters, &zero);
}

/*
 * A NEED_MORE event built in the ring buffer itself, for when no scratch slot is free: the
 * daemon then parses the whole ClientHello from the bytes it reads.
 */
static __always_inline void emit_deferred(struct steer_conn *conn, __u64 cookie,
                                          struct steer_counters *c) {
    struct steer_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        if (c) __sync_fetch_and_add(&c->ringbuf_full, 1);
        return;
    }
    __builtin_memset(e, 0, sizeof(*e));
    e->cookie = cookie;
    e->ktime_ns = bpf_ktime_get_ns();
    e->listener_id = conn->listener_id;
    e->route_id = -1;
    e->facts.status = CH_NEED_MORE;
    bpf_ringbuf_submit(e, 0);
    if (c) {
        __sync_fetch_and_add(&c->decisions, 1);
        __sync_fetch_and_add(&c->by_status[CH_NEED_MORE], 1);
    }
}

/* ---- sockops ---------------------------------------------------------------------------- */

/*
 * A state change of a socket still being classified. A FIN reaches the verdict as an empty
 * buffer (a NEED_MORE decision), but a reset never does: the socket just closes. Report it the
 * same way, so that the daemon learns of every client that leaves before its ClientHello from
 * the ring buffer and need not watch the socket in epoll meanwhile. Once the socket is decided
 * (or not ours), later state changes are of no interest: the callback is switched off.
 */
static __always_inline int on_state_change(struct bpf_sock_ops *skops) {
    __u64 cookie = bpf_get_socket_cookie(skops);
    struct steer_conn *conn = bpf_map_lookup_elem(&conns, &cookie);

    if (!conn || conn->decided) {
        bpf_sock_ops_cb_flags_set(skops,
                                  skops->bpf_sock_ops_cb_flags & ~BPF_SOCK_OPS_STATE_CB_FLAG);
        return 1;
    }
    if (skops->args[1] != BPF_TCP_CLOSE) return 1;
    conn->decided = 1;
    emit_deferred(conn, cookie, ctrs());
    return 1;
}

SEC("sockops")
int steer_sockops(struct bpf_sock_ops *skops) {
    struct steer_listen_key key = {};
    struct steer_listen_val *l;
    struct steer_conn conn = {};
    struct steer_counters *c;
    __u64 cookie;

    if (skops->op == BPF_SOCK_OPS_STATE_CB) return on_state_change(skops);
    if (skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB) return 1;
    key.family = skops->family;
    key.port = skops->local_port;
    if (key.family == AF_INET) {
        key.addr[0] = skops->local_ip4;
    } else if (key.family == AF_INET6) {
        key.addr[0] = skops->local_ip6[0];
        key.addr[1] = skops->local_ip6[1];
        key.addr[2] = skops->local_ip6[2];
        key.addr[3] = skops->local_ip6[3];
    } else {
        return 1;
    }
    l = bpf_map_lookup_elem(&listen_addrs, &key);
    if (!l) {
        key.addr[0] = key.addr[1] = key.addr[2] = key.addr[3] = 0;
        l = bpf_map_lookup_elem(&listen_addrs, &key);
        if (!l) return 1;
    }

    c = ctrs();
    cookie = bpf_get_socket_cookie(skops);
    conn.listener_id = l->listener_id;
    conn.cap = l->cap;
    if (bpf_map_update_elem(&conns, &cookie, &conn, BPF_NOEXIST)) {
        if (c) __sync_fetch_and_add(&c->insert_failed, 1);
        return 1;
    }
    if (bpf_sock_hash_update(skops, &sock_hash, &cookie, BPF_NOEXIST)) {
        bpf_map_delete_elem(&conns, &cookie);
        if (c) __sync_fetch_and_add(&c->insert_failed, 1);
        return 1;
    }
    bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
    if (c) __sync_fetch_and_add(&c->inserted, 1);
    return 1;
}

/* ---- route lookup ------------------------------------------------------------------------ */

static long find_dot_cb(__u32 i, void *vctx) {
    struct steer_scratch *s = *(struct steer_scratch **)vctx;
    if (s->ev.facts.sni[i & (CH_SNI_BUF - 1)] == '.') {
        s->dot = i;
        return 1;
    }
    return 0;
}

static long copy_suffix_cb(__u32 i, void *vctx) {
    struct steer_scratch *s = *(struct steer_scratch **)vctx;
    __u32 from = (s->dot + 1 + i) & (CH_SNI_BUF - 1);
    s->key.name[i & (CH_SNI_BUF - 1)] = s->ev.facts.sni[from];
    return 0;
}

static __always_inline __s32 lookup_route(struct steer_scratch *s) {
    __u32 zero = 0, n;
    __u32 *rid;
    void *table = bpf_map_lookup_elem(&routes, &zero);
    struct steer_scratch *sp = s;

    if (!table || !(s->ev.facts.flags & CH_F_SNI)) return -1;
    __builtin_memset(&s->key, 0, sizeof(s->key));
    s->key.listener_id = s->ev.listener_id;
    s->key.kind = STEER_KEY_EXACT;
    __builtin_memcpy(s->key.name, s->ev.facts.sni, sizeof(s->key.name));
    rid = bpf_map_lookup_elem(table, &s->key);
    if (rid) return (__s32)*rid;

    /* "*.rest" is the only wildcard that can match "first.rest" */
    s->dot = CH_SNI_BUF;
    n = s->ev.facts.sni_len;
    bpf_loop(n & (CH_SNI_BUF - 1), find_dot_cb, &sp, 0);
    if (s->dot >= n) return -1;
    __builtin_memset(s->key.name, 0, sizeof(s->key.name));
    s->key.kind = STEER_KEY_WILDCARD;
    bpf_loop((n - s->dot - 1) & (CH_SNI_BUF - 1), copy_suffix_cb, &sp, 0);
    rid = bpf_map_lookup_elem(table, &s->key);
    return rid ? (__s32)*rid : -1;
}

/* ---- verdict ---------------------------------------------------------------------------- */

static __always_inline struct steer_scratch *scratch_enter(__u32 **depth_out) {
    __u32 zero = 0, slot;
    __u32 *depth = bpf_map_lookup_elem(&nesting, &zero);
    if (!depth) return 0;
    if (*depth >= STEER_NEST_SLOTS) return 0;
    slot = bpf_get_smp_processor_id() * STEER_NEST_SLOTS + *depth;
    *depth += 1;
    *depth_out = depth;
    struct steer_scratch *s = bpf_map_lookup_elem(&scratch, &slot);
    if (!s) *depth -= 1;
    return s;
}

/*
 * The TCP sequence number of a buffer's first byte, TCP_SKB_CB(skb)->seq: the context of an
 * sk_skb program is the kernel's own sk_buff, and its control block holds the TCP fields.
 * False when the kernel does not let it be read.
 */
static __always_inline bool tcp_seq_of(struct __sk_buff *skb, __u32 *seq) {
    const __u32 off =
        bpf_core_field_offset(struct sk_buff, cb) + bpf_core_field_offset(struct tcp_skb_cb, seq);
    return bpf_probe_read_kernel(seq, sizeof(*seq), (void *)skb + off) == 0;
}

/* bpf_skb_adjust_room takes at most a few KiB off an sk_skb buffer at a time (SKB_MAX_ALLOC). */
#define RELAY_CUT_STEP 4000u
#define RELAY_CUT_STEPS 256 /* up to 1,024,000 bytes: far more than a TCP buffer overlaps */

/* Takes the first `n` bytes off the buffer; false when the kernel refuses. */
static __always_inline bool cut_head(struct __sk_buff *skb, __u32 n) {
    for (int i = 0; i < RELAY_CUT_STEPS && n > 0; i++) {
        __u32 step = n < RELAY_CUT_STEP ? n : RELAY_CUT_STEP;
        if (bpf_skb_adjust_room(skb, -(__s32)step, 0, 0)) return false;
        n -= step;
    }
    return n == 0;
}

/*
 * A paired socket's buffer: to the peer's egress, or kept here (counted) while the peer is not
 * in the map yet.
 *
 * A buffer can begin before the next byte to send: TCP queues a retransmitted segment that
 * overlaps bytes it already has as it is (seq < rcv_nxt < end_seq), and tcp_read_skb hands
 * the whole of it to the verdict, overlap included. recvmsg skips such bytes by their sequence
 * number; here they are cut off by theirs, or the stream would carry them twice (measured on
 * 6.18: 4 or 5 loopback segments resent as one buffer, beginning two segments (130,966 bytes)
 * back, in about 1 of 1000 bulk connections under load; docs/architecture.md).
 */
static __always_inline int relay(struct __sk_buff *skb, struct relay_peer *p, __u32 skb_len) {
    __u32 seq, behind;

    /*
     * The FIN comes as a buffer of length 0: never redirect it (the kernel's redirect worker
     * takes a 0-byte send as a broken pipe and stops the peer's transmit). The worker carries
     * the FIN over itself, after the bytes before it.
     */
    if (skb_len == 0) return SK_DROP;
    if (tcp_seq_of(skb, &seq)) {
        behind = p->next_seq - seq;
        if (p->seq_known && (__s32)behind > 0) {
            if (behind >= skb_len) { /* all of it went already */
                __sync_fetch_and_add(&p->resent, skb_len);
                return SK_DROP;
            }
            if (!cut_head(skb, behind)) {
                /* Neither send it twice nor lose its new bytes: the worker resets the pair. */
                p->cut_failed = 1;
                return SK_DROP;
            }
            __sync_fetch_and_add(&p->resent, behind);
            seq += behind;
            skb_len -= behind;
        }
        p->next_seq = seq + skb_len;
        p->seq_known = 1;
    }
    if (bpf_sk_redirect_hash(skb, &sock_hash, &p->peer, 0) == SK_PASS) {
        __sync_fetch_and_add(&p->bytes, skb_len);
        return SK_PASS;
    }
    /* The peer is not in the map: keep the bytes on this socket (the worker sees `held`). */
    __sync_fetch_and_add(&p->held, skb_len);
    return SK_PASS;
}

SEC("sk_skb") /* attached as BPF_SK_SKB_VERDICT */
int steer_verdict(struct __sk_buff *skb) {
    __u64 cookie = bpf_get_socket_cookie(skb);
    __u32 skb_len = skb->len; /* read once: clang must not merge it with a map load */
    struct relay_peer *p = bpf_map_lookup_elem(&relay_peers, &cookie);
    struct steer_conn *conn;
    struct steer_counters *c;
    struct steer_scratch *s;
    __u32 *depth = 0;
    __u32 status;

    if (p) return relay(skb, p, skb_len);
    conn = bpf_map_lookup_elem(&conns, &cookie);
    c = ctrs();
    if (c) __sync_fetch_and_add(&c->verdict_msgs, 1);
    if (!conn) return SK_PASS;
    /* After the first look: every byte goes on to the socket, counted for the daemon. */
    if (conn->decided) {
        __sync_fetch_and_add(&conn->framed, skb_len);
        return SK_PASS;
    }

    s = scratch_enter(&depth);
    if (!s) {
        /* No scratch space: defer to the daemon (the bytes reach the socket all the same). */
        if (c) __sync_fetch_and_add(&c->nested_too_deep, 1);
        __sync_fetch_and_add(&conn->framed, skb_len);
        conn->decided = 1;
        emit_deferred(conn, cookie, c);
        return SK_PASS;
    }
    if (c) __sync_fetch_and_add(&c->parses, 1);
    conn->parses++;

    /*
     * The first buffer the socket receives is parsed whole: a ClientHello written in one go
     * is in it (GRO and loopback deliver it as one skb). A partial one is deferred: the event
     * says NEED_MORE, every byte is passed on, and the daemon finishes the parse on the bytes
     * it reads. No partial message is ever held in the kernel (see docs/architecture.md).
     */
    struct ch_ctx ctx = {.src = skb, .st = &s->st, .out = &s->ev.facts};
    status = ch_parse(&ctx, 0, skb_len, conn->cap);

    s->ev.cookie = cookie;
    s->ev.ktime_ns = bpf_ktime_get_ns();
    s->ev.listener_id = conn->listener_id;
    s->ev.route_id = status == CH_OK ? lookup_route(s) : -1;
    /* Before the event: userspace waits until it has read at least this much. */
    __sync_fetch_and_add(&conn->framed, skb_len);
    conn->decided = 1;

    if (bpf_ringbuf_output(&events, &s->ev, sizeof(s->ev), 0)) {
        if (c) __sync_fetch_and_add(&c->ringbuf_full, 1);
    } else if (c) {
        __sync_fetch_and_add(&c->decisions, 1);
        if (status <= CH_TOO_BIG) __sync_fetch_and_add(&c->by_status[status], 1);
        if (s->ev.route_id >= 0) {
            __u32 rid = (__u32)s->ev.route_id;
            __u64 *rc = bpf_map_lookup_elem(&route_counters, &rid);
            __sync_fetch_and_add(&c->routed, 1);
            if (rc) __sync_fetch_and_add(rc, 1);
        }
    }
    *depth -= 1;
    return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
