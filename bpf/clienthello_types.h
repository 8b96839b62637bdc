/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Types of the shared ClientHello parser (clienthello.h).
 *
 * This header is compiled into BPF programs (with vmlinux.h providing __u8 etc.) and into host
 * C and C++ code (with <linux/types.h>). It holds only plain data: the layout is identical in
 * both builds, so a result produced in the kernel can be compared with the host's byte for byte.
 */
#ifndef SNI_CLIENTHELLO_TYPES_H
#define SNI_CLIENTHELLO_TYPES_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Hard limits. The configured cap (max_client_hello) may be at most CH_MAX_CAP. */
#define CH_MAX_CAP 65536u         /* bytes of records carrying one ClientHello */
#define CH_DEFAULT_CAP 16384u     /* default max_client_hello */
#define CH_MAX_RECORD 16640u      /* 2^14 + 256: longer records are malformed */
#define CH_SNI_MAX 253u           /* host name length after trailing-dot removal */
#define CH_SNI_BUF 256u           /* sni[] size, NUL-terminated */
#define CH_ALPN_BUF 256u          /* alpn[]: the first bytes of the wire-format protocol list */
#define CH_MAX_VERSIONS 32u       /* supported_versions entries kept */
#define CH_HS_MASK (CH_MAX_CAP - 1u)
#define CH_HS_BUF (2u * CH_MAX_CAP) /* handshake reassembly buffer: offsets and lengths are masked */
#define CH_EXT_BITMAP_BYTES 8192u   /* one bit per extension type */

enum ch_status {
    CH_OK = 0,        /* a whole ClientHello was parsed */
    CH_NEED_MORE = 1, /* incomplete: see need / need_exact */
    CH_NOT_TLS = 2,   /* the stream does not start with a TLS handshake record (HTTP, SSLv2...) */
    CH_MALFORMED = 3, /* TLS, but broken: see reason */
    CH_TOO_BIG = 4,   /* the records carrying the ClientHello exceed the configured cap */
};

enum ch_reason {
    CH_R_NONE = 0,
    CH_R_RECORD_VERSION,          /* record header version is not 3.x */
    CH_R_RECORD_TYPE,             /* a non-handshake record inside the ClientHello */
    CH_R_RECORD_EMPTY,            /* zero-length handshake record (RFC 8446 5.1) */
    CH_R_RECORD_TOO_LONG,         /* record longer than 2^14 + 256 */
    CH_R_NOT_CLIENT_HELLO,        /* first handshake message is not a ClientHello */
    CH_R_TRAILING_DATA,           /* bytes after the ClientHello in its last record */
    CH_R_SHORT_HELLO,             /* body ends before the fixed fields do */
    CH_R_SESSION_ID,              /* session id longer than 32 */
    CH_R_CIPHER_SUITES,           /* empty or odd cipher_suites */
    CH_R_COMPRESSION,             /* empty compression_methods */
    CH_R_EXTENSIONS_LENGTH,       /* extensions block length does not match */
    CH_R_EXTENSION_LENGTH,        /* one extension overruns the block */
    CH_R_DUPLICATE_EXTENSION,     /* the same extension type twice */
    CH_R_PSK_NOT_LAST,            /* pre_shared_key is not the last extension */
    CH_R_SNI_LIST,                /* server_name list badly framed */
    CH_R_SNI_EMPTY,               /* host_name of length 0 */
    CH_R_SNI_TOO_LONG,            /* host_name longer than 253 (after trailing dot) */
    CH_R_SNI_CHARSET,             /* a byte outside [A-Za-z0-9-_.] */
    CH_R_SNI_LABEL,               /* empty or over-long (>63) label */
    CH_R_SNI_DUPLICATE,           /* two host_name entries */
    CH_R_ALPN,                    /* ALPN list badly framed or an empty protocol */
    CH_R_SUPPORTED_VERSIONS,      /* supported_versions badly framed */
    CH_R_ECH,                     /* encrypted_client_hello without a type byte */
    CH_R__COUNT
};

/* Flags in ch_info.flags */
#define CH_F_SNI 0x01u            /* a host_name was found (sni/sni_len valid) */
#define CH_F_ALPN 0x02u           /* an ALPN extension was found */
#define CH_F_ALPN_TRUNC 0x04u     /* alpn[] holds only the first CH_ALPN_BUF bytes */
#define CH_F_VERSIONS 0x08u       /* a supported_versions extension was found */
#define CH_F_VERSIONS_TRUNC 0x10u /* versions[] holds only the first CH_MAX_VERSIONS */
#define CH_F_ECH_OUTER 0x20u      /* encrypted_client_hello, outer variant */
#define CH_F_ECH_INNER 0x40u      /* encrypted_client_hello, inner variant (not expected on the wire) */
#define CH_F_NEED_EXACT 0x80u     /* NEED_MORE: need is the exact total, not a lower bound */
#define CH_F_SNI_OTHER_TYPES 0x100u /* server_name list had entries of other name types (skipped) */

/*
 * The result. Every field is written by every parse (zeroed first), so two results of the same
 * input compare equal with memcmp.
 */
struct ch_info {
    __u32 status;         /* enum ch_status */
    __u32 reason;         /* enum ch_reason, for NOT_TLS/MALFORMED; else CH_R_NONE */
    __u32 need;           /* NEED_MORE: bytes of stream needed (exact or lower bound) */
    __u32 record_bytes;   /* OK: total bytes of the records that carry the ClientHello */
    __u32 hello_len;      /* OK: ClientHello handshake message length, header included */
    __u32 flags;          /* CH_F_* */
    __u16 record_version; /* version field of the first record header */
    __u16 legacy_version; /* ClientHello.legacy_version */
    __u16 sni_len;        /* bytes in sni[], without the NUL */
    __u16 alpn_len;       /* bytes in alpn[] */
    __u16 alpn_total;     /* length of the whole wire-format ALPN list */
    __u16 alpn_count;     /* protocols in the whole list */
    __u16 n_versions;     /* entries in versions[] */
    __u16 n_extensions;   /* extensions in the ClientHello */
    __u16 versions[CH_MAX_VERSIONS]; /* supported_versions in wire order, GREASE kept */
    char sni[CH_SNI_BUF];            /* lowercased, trailing dot removed, NUL-terminated */
    __u8 alpn[CH_ALPN_BUF];          /* wire format: (len, bytes)* */
};

/*
 * Scratch memory for one parse: the reassembled handshake message and the duplicate-extension
 * bitmap, plus the loop state. In BPF it is a per-CPU map value; on the host, caller memory.
 * It must be zeroed once before the first use; every parse leaves the bitmap clear again.
 */
struct ch_state {
    /* framing */
    __u32 base;     /* stream offset where the ClientHello starts */
    __u32 avail;    /* stream bytes available after base */
    __u32 cap;      /* configured cap on record bytes */
    __u32 off;      /* offset (from base) of the next record header */
    __u32 have;     /* handshake bytes reassembled into hs[] */
    __u32 hs_total; /* 4 + handshake length, once known; 0 before */
    __u32 done;     /* set when the result is final */
    /* body parsing */
    __u32 pos;       /* cursor into hs[] */
    __u32 end;       /* end of the current region in hs[] */
    __u32 ext_start; /* first extension in hs[] */
    __u32 ext_end;   /* end of the extensions block in hs[] */
    __u32 seen;      /* CH_SEEN_* */
    __u32 psk_seen;  /* pre_shared_key seen (it must be the last extension) */
    __u32 sni_off, sni_len;   /* server_name extension body */
    __u32 alpn_off, alpn_len; /* ALPN extension body */
    __u32 sv_off, sv_len;     /* supported_versions extension body */
    __u32 name_pos, name_len; /* the host_name entry */
    __u32 label_len;          /* SNI label length so far */
    __u32 iterations;         /* host build only: loop iterations, checked by the fuzzer */
    __u8 ext_seen[CH_EXT_BITMAP_BYTES];
    __u8 hs[CH_HS_BUF];
};

#endif /* SNI_CLIENTHELLO_TYPES_H */
