/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Types shared by bpf/steer.bpf.c and its loader (loader/kernel_steering.cpp). */
#ifndef SNI_STEER_TYPES_H
#define SNI_STEER_TYPES_H

#include "clienthello_types.h"

#define STEER_MAX_CONNS 65536u
#define STEER_MAX_LISTEN_ADDRS 256u
#define STEER_NEST_SLOTS 4u /* scratch slots per CPU: a softirq may preempt a verdict run */
#define STEER_MAX_CPUS 1024u
#define STEER_RINGBUF_BYTES (4u << 20)

/* listen_addrs key: a local address we steer. addr all-zero = any address of the family. */
struct steer_listen_key {
    __u32 family;  /* AF_INET or AF_INET6 */
    __u32 port;    /* host byte order */
    __u32 addr[4]; /* network byte order; IPv4 in addr[0] */
};

struct steer_listen_val {
    __u32 listener_id;
    __u32 cap; /* max_client_hello */
};

/* Per-connection state, keyed by socket cookie; created by sockops, deleted by the loader. */
struct steer_conn {
    __u32 listener_id;
    __u32 cap;
    __u32 decided; /* the ClientHello was framed and its decision emitted */
    __u32 parses;  /* parses before the decision (0 or 1) */
    __u64 framed;  /* bytes the verdict passed to the socket (set before the event) */
};

/* Route table key (inner hash of the routes array-of-maps). */
#define STEER_KEY_EXACT 0u
#define STEER_KEY_WILDCARD 1u /* name = the pattern without its "*." */
struct steer_route_key {
    __u32 listener_id;
    __u32 kind;
    char name[CH_SNI_BUF]; /* NUL-padded */
};

/* One decision on the ring buffer. */
struct steer_event {
    __u64 cookie;
    __u64 ktime_ns;
    __u32 listener_id;
    __s32 route_id; /* -1: no route */
    struct ch_info facts;
};

/*
 * Kernel relay of passthrough connections (steer_verdict, relay first): both sockets of a relayed
 * pair sit in sock_hash keyed by cookie (the client since accept, when the daemon kept it there;
 * the backend from the pairing on); relay_peers maps each cookie to its peer's. The worker adds
 * a pair after it wrote the ClientHello to the backend, and removes it once both FINs went
 * through. Closing a socket takes it out of sock_hash.
 */
#define RELAY_MAX_SOCKS (2u * STEER_MAX_CONNS)
#define STEER_MAX_SOCKS (STEER_MAX_CONNS + RELAY_MAX_SOCKS) /* sock_hash: classifying + relayed */
struct relay_peer {
    __u64 peer;      /* the other socket's cookie */
    __u64 bytes;     /* bytes redirected to the peer */
    __u64 held;      /* bytes kept on this socket: the peer was not in sock_hash (yet) */
    __u64 resent;    /* bytes cut from buffers that began before next_seq (already redirected) */
    __u32 next_seq;  /* TCP sequence number of the next byte to redirect, once seq_known */
    __u8 seq_known;  /* 0 until the first buffer is redirected */
    __u8 cut_failed; /* 1: a buffer's resent head could not be cut off; it was dropped */
    __u8 pad[2];
};

/* counters (per-CPU array, one entry) */
struct steer_counters {
    __u64 inserted;
    __u64 insert_failed;
    __u64 decisions;
    __u64 by_status[5];
    __u64 routed;
    __u64 ringbuf_full;
    __u64 nested_too_deep;
    __u64 parses;
    __u64 verdict_msgs;
};

#endif /* SNI_STEER_TYPES_H */
