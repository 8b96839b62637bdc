/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The shared ClientHello parser: compiled into BPF programs and into host code (C and C++).
 *
 * Input: the bytes at the start of a TCP stream, possibly incomplete, read through CH_LOAD.
 * Output: struct ch_info (see clienthello_types.h).
 *
 * Rules that keep one source valid in both worlds:
 *  - no allocation; all scratch memory is a struct ch_state the caller provides (a per-CPU map
 *    value in BPF);
 *  - every loop is CH_LOOP(n, callback, ctx): bpf_loop() in BPF, a plain for loop on the host, so
 *    the verifier checks each callback body once and the loop bound is explicit;
 *  - loop state lives in struct ch_state, never on the stack: in BPF its values are loaded from
 *    map memory and are therefore imprecise, so callback verification converges on every kernel;
 *  - every index into ch_state.hs[] is masked with CH_HS_MASK (the buffer is twice the mask),
 *    so memory safety never depends on the verifier's range tracking of the logic's checks.
 *
 * The includer provides, before including this file:
 *  - CH_SRC_T: the type of the stream source handle;
 *  - CH_LOAD(src, off, dst, len): copy len bytes at stream offset off into dst, 0 on success;
 * and, in BPF only, includes vmlinux.h and bpf_helpers.h first. The host defaults below read a
 * struct ch_mem_src.
 */
#ifndef SNI_CLIENTHELLO_H
#define SNI_CLIENTHELLO_H

#include "clienthello_types.h"

#ifdef __bpf__
#define CH_LOOP(n, cb, ctx) bpf_loop((n), (void *)(cb), (ctx), 0)
#define CH_CAST(type, p) ((type)(p))
/*
 * Hides what clang knows about v's range, so a mask that is redundant by the C types is still
 * emitted. Older verifiers (Debian's 6.1) lose the bounds of an OR of two loaded bytes and
 * reject the unmasked index; the explicit AND bounds it on every kernel.
 */
#define CH_OPAQUE(v) asm volatile("" : "+r"(v))
#else /* host */
#include <string.h>
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
struct ch_mem_src {
    const unsigned char *data;
    __u32 len;
};
#ifndef CH_SRC_T
#define CH_SRC_T const struct ch_mem_src *
static inline int ch_mem_load(const struct ch_mem_src *s, __u32 off, void *dst, __u32 len) {
    if (off > s->len || len > s->len - off) {
#ifdef CH_ON_OUT_OF_BOUNDS
        CH_ON_OUT_OF_BOUNDS();
#endif
        return -1;
    }
    memcpy(dst, s->data + off, len);
    return 0;
}
#define CH_LOAD(src, off, dst, len) ch_mem_load((src), (off), (dst), (len))
#endif
/* Host loop: the same bound as bpf_loop, and a counter the fuzzer checks. */
#define CH_LOOP(n, cb, ctx)                                                 \
    do {                                                                    \
        __u32 ch_i_, ch_n_ = (n);                                           \
        for (ch_i_ = 0; ch_i_ < ch_n_; ch_i_++) {                           \
            (ctx)->st->iterations++;                                        \
            if ((cb)(ch_i_, (ctx))) break;                                  \
        }                                                                   \
    } while (0)
#define CH_CAST(type, p) ((type)(p))
#define CH_OPAQUE(v) ((void)0)
#endif

#ifndef CH_LOAD
#error "define CH_SRC_T and CH_LOAD before including clienthello.h"
#endif

/* What every loop callback gets: lives on the caller's stack, holds only pointers. */
struct ch_ctx {
    CH_SRC_T src;
    struct ch_state *st;
    struct ch_info *out;
};

#define CH_HS_RECORD 22u
#define CH_HANDSHAKE_CLIENT_HELLO 1u
#define CH_EXT_SERVER_NAME 0u
#define CH_EXT_ALPN 16u
#define CH_EXT_PRE_SHARED_KEY 41u
#define CH_EXT_SUPPORTED_VERSIONS 43u
#define CH_EXT_ECH 0xfe0du

/* Which extensions were seen, in ch_state.seen */
#define CH_SEEN_SNI 1u
#define CH_SEEN_ALPN 2u
#define CH_SEEN_SV 4u
#define CH_SEEN_HOST 8u

static __always_inline __u32 ch_b(const struct ch_state *st, __u32 i) {
    return st->hs[i & CH_HS_MASK];
}

static __always_inline __u32 ch_u16(const struct ch_state *st, __u32 i) {
    return (ch_b(st, i) << 8) | ch_b(st, i + 1);
}

/* Final results. They return 1 so that a callback can `return ch_fail(...)` to stop its loop. */
static __always_inline long ch_finish(struct ch_ctx *c, __u32 status, __u32 reason) {
    c->out->status = status;
    c->out->reason = reason;
    c->st->done = 1;
    return 1;
}

static __always_inline long ch_need(struct ch_ctx *c, __u32 need, int exact) {
    c->out->need = need;
    if (exact) c->out->flags |= CH_F_NEED_EXACT;
    return ch_finish(c, CH_NEED_MORE, CH_R_NONE);
}

static __always_inline long ch_malformed(struct ch_ctx *c, __u32 reason) {
    return ch_finish(c, CH_MALFORMED, reason);
}

/* ---- framing: walk the records, reassemble the handshake message into hs[] ---------------- */

static long ch_frame_cb(__u32 index, void *vctx) {
    struct ch_ctx *c = CH_CAST(struct ch_ctx *, vctx);
    struct ch_state *st = c->st;
    __u8 h[5];
    __u32 off = st->off;
    __u32 len, rec_end, total;
    (void)index;

    if (off + 5 > st->avail) {
        /* records are never empty: the next one needs at least 6 more bytes */
        if (off + 6 > st->cap) return ch_finish(c, CH_TOO_BIG, CH_R_NONE);
        return ch_need(c, off + 6, 0);
    }
    if (CH_LOAD(c->src, st->base + off, h, 5)) return ch_need(c, off + 6, 0);

    if (h[0] != CH_HS_RECORD) {
        if (off == 0) return ch_finish(c, CH_NOT_TLS, CH_R_RECORD_TYPE);
        return ch_malformed(c, CH_R_RECORD_TYPE);
    }
    if (h[1] != 3) {
        if (off == 0) return ch_finish(c, CH_NOT_TLS, CH_R_RECORD_VERSION);
        return ch_malformed(c, CH_R_RECORD_VERSION);
    }
    if (off == 0) c->out->record_version = ((__u16)h[1] << 8) | h[2];
    len = ((__u32)h[3] << 8) | h[4];
    if (len == 0) return ch_malformed(c, CH_R_RECORD_EMPTY);
    if (len > CH_MAX_RECORD) return ch_malformed(c, CH_R_RECORD_TOO_LONG);
    rec_end = off + 5 + len;
    if (rec_end > st->cap) return ch_finish(c, CH_TOO_BIG, CH_R_NONE);
    if (st->hs_total && st->have + len > st->hs_total) return ch_malformed(c, CH_R_TRAILING_DATA);
    if (rec_end > st->avail) {
        /* The handshake type is decisive as soon as its byte is here. */
        if (st->have == 0 && off + 6 <= st->avail) {
            __u8 t;
            if (CH_LOAD(c->src, st->base + off + 5, &t, 1) == 0 && t != CH_HANDSHAKE_CLIENT_HELLO)
                return ch_malformed(c, CH_R_NOT_CLIENT_HELLO);
        }
        return ch_need(c, rec_end, st->hs_total && st->have + len == st->hs_total);
    }

    /* have + len < cap <= CH_MAX_CAP, so both masks below are no-ops for correct logic. */
    if (CH_LOAD(c->src, st->base + off + 5, &st->hs[st->have & CH_HS_MASK],
                ((len - 1) & CH_HS_MASK) + 1))
        return ch_need(c, rec_end, 0);
    st->have += len;
    st->off = rec_end;

    if (!st->hs_total) {
        if (ch_b(st, 0) != CH_HANDSHAKE_CLIENT_HELLO) return ch_malformed(c, CH_R_NOT_CLIENT_HELLO);
        if (st->have < 4) return 0;
        total = 4 + ((ch_b(st, 1) << 16) | (ch_b(st, 2) << 8) | ch_b(st, 3));
        /* At least one 5-byte record header carries it. */
        if (total + 5 > st->cap) return ch_finish(c, CH_TOO_BIG, CH_R_NONE);
        if (st->have > total) return ch_malformed(c, CH_R_TRAILING_DATA);
        st->hs_total = total;
    }
    if (st->have == st->hs_total) {
        c->out->record_bytes = st->off;
        return 1; /* complete: not done, the body is parsed next */
    }
    return 0;
}

/* ---- extensions ---------------------------------------------------------------------------- */

static long ch_ext_cb(__u32 index, void *vctx) {
    struct ch_ctx *c = CH_CAST(struct ch_ctx *, vctx);
    struct ch_state *st = c->st;
    __u32 pos = st->pos, type, len, body;
    __u8 *bits;
    __u8 mask;
    (void)index;

    if (pos >= st->ext_end) return 1;
    if (pos + 4 > st->ext_end) return ch_malformed(c, CH_R_EXTENSION_LENGTH);
    type = ch_u16(st, pos);
    len = ch_u16(st, pos + 2);
    body = pos + 4;
    if (body + len > st->ext_end) return ch_malformed(c, CH_R_EXTENSION_LENGTH);
    if (st->psk_seen) return ch_malformed(c, CH_R_PSK_NOT_LAST);
    CH_OPAQUE(type);
    bits = &st->ext_seen[(type >> 3) & (CH_EXT_BITMAP_BYTES - 1)];
    mask = (__u8)(1u << (type & 7));
    if (*bits & mask) return ch_malformed(c, CH_R_DUPLICATE_EXTENSION);

    if (type == CH_EXT_SERVER_NAME) {
        st->seen |= CH_SEEN_SNI;
        st->sni_off = body;
        st->sni_len = len;
    } else if (type == CH_EXT_ALPN) {
        st->seen |= CH_SEEN_ALPN;
        st->alpn_off = body;
        st->alpn_len = len;
    } else if (type == CH_EXT_SUPPORTED_VERSIONS) {
        st->seen |= CH_SEEN_SV;
        st->sv_off = body;
        st->sv_len = len;
    } else if (type == CH_EXT_PRE_SHARED_KEY) {
        st->psk_seen = 1;
    } else if (type == CH_EXT_ECH) {
        if (len < 1) return ch_malformed(c, CH_R_ECH);
        /* ECHClientHelloType: outer(0), inner(1); other values are only noted as present */
        if (ch_b(st, body) == 0)
            c->out->flags |= CH_F_ECH_OUTER;
        else if (ch_b(st, body) == 1)
            c->out->flags |= CH_F_ECH_INNER;
    }
    *bits |= mask; /* set last: a failing extension leaves no bit behind */
    c->out->n_extensions++;
    st->pos = body + len;
    return 0;
}

/* Clears the bits the extension walk set, from ext_start up to where it stopped. */
static long ch_ext_clear_cb(__u32 index, void *vctx) {
    struct ch_ctx *c = CH_CAST(struct ch_ctx *, vctx);
    struct ch_state *st = c->st;
    __u32 type;
    (void)index;

    if (st->pos >= st->end) return 1;
    type = ch_u16(st, st->pos);
    CH_OPAQUE(type);
    st->ext_seen[(type >> 3) & (CH_EXT_BITMAP_BYTES - 1)] &= (__u8)~(1u << (type & 7));
    st->pos += 4 + ch_u16(st, st->pos + 2);
    return 0;
}

/* ---- server_name ---------------------------------------------------------------------------- */

static long ch_sni_entry_cb(__u32 index, void *vctx) {
    struct ch_ctx *c = CH_CAST(struct ch_ctx *, vctx);
    struct ch_state *st = c->st;
    __u32 pos = st->pos, type, len;
    (void)index;

    if (pos >= st->end) return 1;
    if (pos + 3 > st->end) return ch_malformed(c, CH_R_SNI_LIST);
    type = ch_b(st, pos);
    len = ch_u16(st, pos + 1);
    if (pos + 3 + len > st->end) return ch_malformed(c, CH_R_SNI_LIST);
    if (type == 0) {
        if (st->seen & CH_SEEN_HOST) return ch_malformed(c, CH_R_SNI_DUPLICATE);
        st->seen |= CH_SEEN_HOST;
        st->name_pos = pos + 3;
        st->name_len = len;
    } else {
        c->out->flags |= CH_F_SNI_OTHER_TYPES;
    }
    st->pos = pos + 3 + len;
    return 0;
}

static long ch_sni_char_cb(__u32 index, void *vctx) {
    struct ch_ctx *c = CH_CAST(struct ch_ctx *, vctx);
    struct ch_state *st = c->st;
    __u32 i = index & (CH_SNI_BUF - 1);
    __u32 ch = ch_b(st, st->name_pos + i);

    if (ch >= 'A' && ch <= 'Z') ch += 'a' - 'A';
    if (ch == '.') {
        if (st->label_len == 0) return ch_malformed(c, CH_R_SNI_LABEL);
        st->label_len = 0;
    } else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_') {
        if (++st->label_len > 63) return ch_malformed(c, CH_R_SNI_LABEL);
    } else {
        return ch_malformed(c, CH_R_SNI_CHARSET);
    }
    c->out->sni[i] = (char)ch;
    return 0;
}

static __always_inline void ch_parse_sni(struct ch_ctx *c) {
    struct ch_state *st = c->st;
    __u32 len = st->sni_len;

    if (len < 2 || ch_u16(st, st->sni_off) + 2 != len || len == 2) {
        ch_malformed(c, CH_R_SNI_LIST);
        return;
    }
    st->pos = st->sni_off + 2;
    st->end = st->sni_off + len;
    CH_LOOP(len / 3 + 1, ch_sni_entry_cb, c);
    if (st->done || !(st->seen & CH_SEEN_HOST)) return;

    len = st->name_len;
    if (len > 0 && ch_b(st, st->name_pos + len - 1) == '.') len--; /* one trailing dot */
    if (len == 0) {
        ch_malformed(c, CH_R_SNI_EMPTY);
        return;
    }
    if (len > CH_SNI_MAX) {
        ch_malformed(c, CH_R_SNI_TOO_LONG);
        return;
    }
    st->label_len = 0;
    CH_LOOP(len, ch_sni_char_cb, c);
    if (st->done) return;
    if (st->label_len == 0) { /* the name ended with an empty label ("a..") */
        ch_malformed(c, CH_R_SNI_LABEL);
        return;
    }
    c->out->sni_len = (__u16)len;
    c->out->flags |= CH_F_SNI;
}

/* ---- ALPN ----------------------------------------------------------------------------------- */

static long ch_alpn_entry_cb(__u32 index, void *vctx) {
    struct ch_ctx *c = CH_CAST(struct ch_ctx *, vctx);
    struct ch_state *st = c->st;
    __u32 pos = st->pos, len;
    (void)index;

    if (pos >= st->end) return 1;
    len = ch_b(st, pos);
    if (len == 0 || pos + 1 + len > st->end) return ch_malformed(c, CH_R_ALPN);
    c->out->alpn_count++;
    st->pos = pos + 1 + len;
    return 0;
}

static long ch_alpn_copy_cb(__u32 index, void *vctx) {
    struct ch_ctx *c = CH_CAST(struct ch_ctx *, vctx);
    __u32 i = index & (CH_ALPN_BUF - 1);
    c->out->alpn[i] = (__u8)ch_b(c->st, c->st->alpn_off + 2 + i);
    return 0;
}

static __always_inline void ch_parse_alpn(struct ch_ctx *c) {
    struct ch_state *st = c->st;
    __u32 len = st->alpn_len, total, n;

    if (len < 2) {
        ch_malformed(c, CH_R_ALPN);
        return;
    }
    total = ch_u16(st, st->alpn_off);
    if (total == 0 || total + 2 != len) {
        ch_malformed(c, CH_R_ALPN);
        return;
    }
    st->pos = st->alpn_off + 2;
    st->end = st->alpn_off + len;
    CH_LOOP(total / 2 + 1, ch_alpn_entry_cb, c);
    if (st->done) return;
    n = total;
    if (n > CH_ALPN_BUF) {
        n = CH_ALPN_BUF;
        c->out->flags |= CH_F_ALPN_TRUNC;
    }
    CH_LOOP(n, ch_alpn_copy_cb, c);
    c->out->alpn_total = (__u16)total;
    c->out->alpn_len = (__u16)n;
    c->out->flags |= CH_F_ALPN;
}

/* ---- supported_versions ----------------------------------------------------------------------- */

static long ch_versions_cb(__u32 index, void *vctx) {
    struct ch_ctx *c = CH_CAST(struct ch_ctx *, vctx);
    __u32 i = index & (CH_MAX_VERSIONS - 1);
    c->out->versions[i] = (__u16)ch_u16(c->st, c->st->sv_off + 1 + 2 * i);
    return 0;
}

static __always_inline void ch_parse_versions(struct ch_ctx *c) {
    struct ch_state *st = c->st;
    __u32 len = st->sv_len, n;

    if (len < 1) {
        ch_malformed(c, CH_R_SUPPORTED_VERSIONS);
        return;
    }
    n = ch_b(st, st->sv_off);
    if (n < 2 || (n & 1) || n + 1 != len) {
        ch_malformed(c, CH_R_SUPPORTED_VERSIONS);
        return;
    }
    n /= 2;
    if (n > CH_MAX_VERSIONS) {
        n = CH_MAX_VERSIONS;
        c->out->flags |= CH_F_VERSIONS_TRUNC;
    }
    CH_LOOP(n, ch_versions_cb, c);
    c->out->n_versions = (__u16)n;
    c->out->flags |= CH_F_VERSIONS;
}

/* ---- the ClientHello body ---------------------------------------------------------------------- */

static __always_inline void ch_parse_body(struct ch_ctx *c) {
    struct ch_state *st = c->st;
    __u32 p = 4, end = st->hs_total, n;

    if (p + 35 > end) {
        ch_malformed(c, CH_R_SHORT_HELLO);
        return;
    }
    c->out->legacy_version = (__u16)ch_u16(st, p);
    p += 34;
    n = ch_b(st, p++);
    if (n > 32) {
        ch_malformed(c, CH_R_SESSION_ID);
        return;
    }
    p += n;
    if (p + 2 > end) {
        ch_malformed(c, CH_R_SHORT_HELLO);
        return;
    }
    n = ch_u16(st, p);
    p += 2;
    if (n == 0 || (n & 1)) {
        ch_malformed(c, CH_R_CIPHER_SUITES);
        return;
    }
    p += n;
    if (p + 1 > end) {
        ch_malformed(c, CH_R_SHORT_HELLO);
        return;
    }
    n = ch_b(st, p++);
    if (n == 0) {
        ch_malformed(c, CH_R_COMPRESSION);
        return;
    }
    p += n;
    if (p > end) {
        ch_malformed(c, CH_R_SHORT_HELLO);
        return;
    }
    if (p == end) return; /* no extensions at all: valid, no SNI */
    if (p + 2 > end || p + 2 + ch_u16(st, p) != end) {
        ch_malformed(c, CH_R_EXTENSIONS_LENGTH);
        return;
    }
    st->ext_start = p + 2;
    st->ext_end = end;
    st->pos = st->ext_start;
    CH_LOOP((end - st->ext_start) / 4 + 1, ch_ext_cb, c);

    /* Leave the duplicate bitmap clear for the next parse, whatever happened. */
    st->end = st->pos;
    st->pos = st->ext_start;
    CH_LOOP((st->end - st->ext_start) / 4 + 1, ch_ext_clear_cb, c);
    if (st->done) return;

    if (st->seen & CH_SEEN_SNI) ch_parse_sni(c);
    if (st->done) return;
    if (st->seen & CH_SEEN_ALPN) ch_parse_alpn(c);
    if (st->done) return;
    if (st->seen & CH_SEEN_SV) ch_parse_versions(c);
}

/*
 * Parses the stream bytes [base, base + avail) of c->src into c->out, with the configured cap
 * (clamped to CH_MAX_CAP). Returns the status (also in c->out->status).
 */
static __always_inline __u32 ch_parse(struct ch_ctx *c, __u32 base, __u32 avail, __u32 cap) {
    struct ch_state *st = c->st;
    struct ch_info *out = c->out;
    __u8 first[2];

    __builtin_memset(out, 0, sizeof(*out));
    st->base = base;
    st->avail = avail;
    st->cap = cap > CH_MAX_CAP || cap == 0 ? CH_MAX_CAP : cap;
    st->off = 0;
    st->have = 0;
    st->hs_total = 0;
    st->done = 0;
    st->seen = 0;
    st->psk_seen = 0;

    /* Decide NOT_TLS from the first bytes, before a whole record header is here. */
    if (avail >= 1 && avail < 5) {
        if (CH_LOAD(c->src, base, first, 1) == 0 && first[0] != CH_HS_RECORD) {
            ch_finish(c, CH_NOT_TLS, CH_R_RECORD_TYPE);
            return out->status;
        }
        if (avail >= 2 && CH_LOAD(c->src, base + 1, first + 1, 1) == 0 && first[1] != 3) {
            ch_finish(c, CH_NOT_TLS, CH_R_RECORD_VERSION);
            return out->status;
        }
    }

    CH_LOOP(CH_MAX_CAP / 6 + 2, ch_frame_cb, c);
    if (st->done) return out->status;
    if (!st->hs_total || st->have != st->hs_total) { /* cannot happen: the bound covers the cap */
        ch_finish(c, CH_TOO_BIG, CH_R_NONE);
        return out->status;
    }
    out->hello_len = st->hs_total;
    ch_parse_body(c);
    if (st->done) {
        /* A malformed body: keep no half-filled facts. */
        __u32 status = out->status, reason = out->reason;
        __builtin_memset(out, 0, sizeof(*out));
        out->status = status;
        out->reason = reason;
        return status;
    }
    out->status = CH_OK;
    return CH_OK;
}

#endif /* SNI_CLIENTHELLO_H */
