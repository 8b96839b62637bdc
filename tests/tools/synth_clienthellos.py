#!/usr/bin/env python3
"""Synthesize edge-case TLS ClientHellos for the parser tests.

Writes tests/data/clienthello/synth/<name>.bin (the bytes at the start of a TCP stream) and
<name>.expect (key=value lines: what the parser must return). Deterministic: every "random" byte
comes from SHAKE-256 of a fixed label, so running the tool twice gives identical files.

Some cases re-frame real captures from tests/data/clienthello/real/ (run
tests/tools/capture_clienthellos first); the expectations of every OK case are computed by the
small reference decoder below (an implementation independent of the C parser).

This module is also imported by tests/tools/capture_clienthellos (record walking, decoding).

.expect keys (all optional except status):
  status          ok | need_more | not_tls | malformed | too_big
  reason          enum ch_reason name without CH_R_, lower case (e.g. sni_empty)
  cap             parser cap (default 16384)
  input           the .bin to parse, when several .expect files share one input
  total           bytes of the records carrying the whole ClientHello (the "real total" that an
                  exact `need` must equal; need must never exceed it)
  sni             expected host name, or - for none
  alpn            comma-separated protocol names, or - for no ALPN extension
  alpn_total      length of the wire-format protocol list
  alpn_count      protocols in the list
  versions        supported_versions entries in wire order (hex), or - for none
  legacy_version  ClientHello.legacy_version (hex)
  record_version  version of the first record header (hex)
  record_bytes    bytes of the records carrying the ClientHello
  hello_len       handshake message length including its 4-byte header
  n_extensions    extensions in the ClientHello
  flags           the CH_F_* flags set on an OK result, comma-separated, or - for none
                  (sni, alpn, alpn_trunc, versions, versions_trunc, ech_outer, ech_inner,
                  sni_other_types)
  openssl         ok (default) | rejects: OpenSSL's server rejects this hello while parsing its
                  extensions (the oracle test then expects the handshake to fail before the
                  servername callback) | rejects_record: OpenSSL rejects the record framing
                  before it sees the ClientHello at all
  note            free text
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "clienthello"

CH_MAX_RECORD = 16640
CH_DEFAULT_CAP = 16384

GREASE = [0x0A0A + 0x1010 * i for i in range(16)]

EXT_SERVER_NAME = 0
EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13
EXT_ALPN = 16
EXT_PADDING = 21
EXT_EXTENDED_MASTER_SECRET = 23
EXT_SESSION_TICKET = 35
EXT_PRE_SHARED_KEY = 41
EXT_SUPPORTED_VERSIONS = 43
EXT_PSK_KEX_MODES = 45
EXT_KEY_SHARE = 51
EXT_ECH = 0xFE0D
EXT_RENEGOTIATION_INFO = 0xFF01

GROUP_X25519 = 0x001D
GROUP_P256 = 0x0017
GROUP_P384 = 0x0018
GROUP_X25519MLKEM768 = 0x11EC


# --------------------------------------------------------------------------------------------
# encoding helpers


def det_bytes(label: str, n: int) -> bytes:
    """n deterministic pseudo-random bytes."""
    return hashlib.shake_256(label.encode()).digest(n)


def u8(n: int) -> bytes:
    return n.to_bytes(1, "big")


def u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


def u24(n: int) -> bytes:
    return n.to_bytes(3, "big")


def vec8(b: bytes) -> bytes:
    return u8(len(b)) + b


def vec16(b: bytes) -> bytes:
    return u16(len(b)) + b


def ext(etype: int, body: bytes) -> bytes:
    return u16(etype) + vec16(body)


def ext_sni_entries(entries: list[tuple[int, bytes]]) -> bytes:
    return ext(EXT_SERVER_NAME, vec16(b"".join(u8(t) + vec16(n) for t, n in entries)))


def ext_sni(name: str | bytes) -> bytes:
    if isinstance(name, str):
        name = name.encode()
    return ext_sni_entries([(0, name)])


def ext_alpn(protocols: list[bytes]) -> bytes:
    return ext(EXT_ALPN, vec16(b"".join(vec8(p) for p in protocols)))


def ext_versions(versions: list[int]) -> bytes:
    return ext(EXT_SUPPORTED_VERSIONS, vec8(b"".join(u16(v) for v in versions)))


def ext_groups(groups: list[int]) -> bytes:
    return ext(EXT_SUPPORTED_GROUPS, vec16(b"".join(u16(g) for g in groups)))


def ext_key_share(shares: list[tuple[int, bytes]]) -> bytes:
    return ext(EXT_KEY_SHARE, vec16(b"".join(u16(g) + vec16(k) for g, k in shares)))


def ext_sigalgs() -> bytes:
    algs = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0807]
    return ext(EXT_SIGNATURE_ALGORITHMS, vec16(b"".join(u16(a) for a in algs)))


def ext_psk(label: str) -> bytes:
    identity = det_bytes(label + "/identity", 48)
    identities = vec16(vec16(identity) + (0x01020304).to_bytes(4, "big"))
    binders = vec16(vec8(det_bytes(label + "/binder", 32)))
    return ext(EXT_PRE_SHARED_KEY, identities + binders)


def ext_ech_outer(label: str) -> bytes:
    # ECHClientHello: type(1)=outer(0), cipher_suite(kdf u16, aead u16), config_id(u8),
    # enc<0..2^16-1>, payload<1..2^16-1>
    body = (u8(0) + u16(0x0001) + u16(0x0001) + u8(0x42) + vec16(det_bytes(label + "/enc", 32))
            + vec16(det_bytes(label + "/payload", 208)))
    return ext(EXT_ECH, body)


def base_extensions(label: str, sni: str | bytes | None = "synth.example.test",
                    alpn: list[bytes] | None = None) -> list[bytes]:
    """A typical TLS 1.3 ClientHello extension list (in the order OpenSSL sends it)."""
    if alpn is None:
        alpn = [b"h2", b"http/1.1"]
    exts = []
    if sni is not None:
        exts.append(ext_sni(sni))
    exts += [
        ext(EXT_EC_POINT_FORMATS, vec8(b"\x00\x01\x02")),
        ext_groups([GROUP_X25519, GROUP_P256, GROUP_P384]),
        ext(EXT_SESSION_TICKET, b""),
    ]
    if alpn:
        exts.append(ext_alpn(alpn))
    exts += [
        ext(EXT_EXTENDED_MASTER_SECRET, b""),
        ext_sigalgs(),
        ext_versions([0x0304, 0x0303]),
        ext(EXT_PSK_KEX_MODES, vec8(b"\x01")),
        ext_key_share([(GROUP_X25519, det_bytes(label + "/x25519", 32))]),
    ]
    return exts


CIPHERS = [0x1302, 0x1303, 0x1301, 0xC02C, 0xC030, 0xC02B, 0xC02F, 0xCCA9, 0xCCA8, 0x009F,
           0x009E, 0xC024, 0xC028, 0x003D, 0x003C, 0x0035, 0x002F, 0x00FF]


def client_hello(label: str, exts: list[bytes] | None, *, legacy_version: int = 0x0303,
                 session_id: bytes | None = None, ciphers: list[int] | None = None,
                 compression: bytes = b"\x00", extensions_block: bytes | None = None,
                 msg_type: int = 1) -> bytes:
    """A ClientHello handshake message (4-byte header included).

    exts=None omits the extensions block entirely (a pre-TLS-1.0-style hello).
    extensions_block, when given, replaces the encoded block verbatim.
    """
    if session_id is None:
        session_id = det_bytes(label + "/session_id", 32)
    if ciphers is None:
        ciphers = CIPHERS
    body = (u16(legacy_version) + det_bytes(label + "/random", 32) + vec8(session_id)
            + vec16(b"".join(u16(c) for c in ciphers)) + vec8(compression))
    if extensions_block is not None:
        body += extensions_block
    elif exts is not None:
        body += vec16(b"".join(exts))
    return u8(msg_type) + u24(len(body)) + body


def records(payload: bytes, size: int | list[int] | None = None, *, rtype: int = 0x16,
            version: int = 0x0301) -> bytes:
    """Frames payload into records of `size` bytes (an int, or a list used cyclically)."""
    if size is None:
        size = max(len(payload), 1)
    sizes = [size] if isinstance(size, int) else size
    out = bytearray()
    off = 0
    i = 0
    while off < len(payload):
        n = sizes[i % len(sizes)]
        i += 1
        frag = payload[off:off + n]
        out += u8(rtype) + u16(version) + vec16(frag)
        off += n
    return bytes(out)


# --------------------------------------------------------------------------------------------
# reference decoder (OK path only: raises on anything the parser must not call OK)


class Incomplete(Exception):
    pass


class Invalid(Exception):
    pass


def record_end(data: bytes) -> int | None:
    """Offset just past the records that carry the first handshake message, or None if the
    data is still incomplete. Raises Invalid when the stream is not a handshake record stream."""
    off = 0
    have = 0
    total = None
    hdr = bytearray()
    while True:
        if len(data) < off + 5:
            return None
        rtype = data[off]
        length = int.from_bytes(data[off + 3:off + 5], "big")
        if rtype != 0x16:
            raise Invalid(f"record type {rtype:#x} at {off}")
        if length == 0 or length > CH_MAX_RECORD:
            raise Invalid(f"record length {length} at {off}")
        if len(data) < off + 5 + length:
            return None
        frag = data[off + 5:off + 5 + length]
        if total is None:
            need = 4 - len(hdr)
            hdr += frag[:need]
            if len(hdr) == 4:
                total = 4 + int.from_bytes(hdr[1:4], "big")
        have += length
        off += 5 + length
        if total is not None and have >= total:
            return off


@dataclass
class Hello:
    record_version: int = 0
    record_bytes: int = 0
    hello_len: int = 0
    legacy_version: int = 0
    extensions: list[tuple[int, bytes]] = field(default_factory=list)
    sni: str | None = None
    sni_other_types: bool = False
    alpn_list: bytes | None = None   # wire-format protocol list (without its u16 length)
    versions: list[int] | None = None
    ech_outer: bool = False
    ech_inner: bool = False

    def alpn_protocols(self) -> list[bytes]:
        out = []
        lst = self.alpn_list or b""
        i = 0
        while i < len(lst):
            n = lst[i]
            out.append(lst[i + 1:i + 1 + n])
            i += 1 + n
        return out


class Reader:
    def __init__(self, b: bytes):
        self.b = b
        self.i = 0

    def take(self, n: int) -> bytes:
        if self.i + n > len(self.b):
            raise Invalid("short")
        out = self.b[self.i:self.i + n]
        self.i += n
        return out

    def int(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def vec(self, n: int) -> bytes:
        return self.take(self.int(n))

    def left(self) -> int:
        return len(self.b) - self.i


def normalize_sni(name: bytes) -> str:
    s = name.decode("ascii").lower()
    return s[:-1] if s.endswith(".") else s


def decode(data: bytes) -> Hello:
    """Decodes the ClientHello at the start of data (per the parser's rules for OK results)."""
    end = record_end(data)
    if end is None:
        raise Incomplete()
    h = Hello(record_version=int.from_bytes(data[1:3], "big"), record_bytes=end)
    if data[1] != 3:
        raise Invalid("record version")
    payload = bytearray()
    off = 0
    while off < end:
        length = int.from_bytes(data[off + 3:off + 5], "big")
        payload += data[off + 5:off + 5 + length]
        off += 5 + length
    if payload[0] != 1:
        raise Invalid("not a ClientHello")
    h.hello_len = 4 + int.from_bytes(payload[1:4], "big")
    if len(payload) != h.hello_len:
        raise Invalid("trailing data")
    r = Reader(bytes(payload[4:]))
    h.legacy_version = r.int(2)
    r.take(32)
    if len(r.vec(1)) > 32:
        raise Invalid("session id")
    cs = r.vec(2)
    if not cs or len(cs) % 2:
        raise Invalid("cipher suites")
    if not r.vec(1):
        raise Invalid("compression")
    if r.left() == 0:
        return h
    block = Reader(r.vec(2))
    if r.left():
        raise Invalid("extensions length")
    seen = set()
    while block.left():
        t = block.int(2)
        body = block.vec(2)
        if t in seen:
            raise Invalid("duplicate extension")
        if EXT_PRE_SHARED_KEY in seen:
            raise Invalid("psk not last")
        seen.add(t)
        h.extensions.append((t, body))
        if t == EXT_SERVER_NAME:
            lst = Reader(body)
            entries = Reader(lst.vec(2))
            if lst.left():
                raise Invalid("sni list")
            while entries.left():
                nt = entries.int(1)
                name = entries.vec(2)
                if nt != 0:
                    h.sni_other_types = True
                    continue
                if h.sni is not None:
                    raise Invalid("sni duplicate")
                if not name:
                    raise Invalid("sni empty")
                h.sni = normalize_sni(name)
                if len(h.sni) > 253 or not h.sni:
                    raise Invalid("sni too long")
                if any(not (c.isascii() and (c.isalnum() or c in "-_.")) for c in h.sni):
                    raise Invalid("sni charset")
                if any(len(lab) == 0 or len(lab) > 63 for lab in h.sni.split(".")):
                    raise Invalid("sni label")
        elif t == EXT_ALPN:
            a = Reader(body)
            h.alpn_list = a.vec(2)
            if a.left() or not h.alpn_list:
                raise Invalid("alpn")
            p = Reader(h.alpn_list)
            while p.left():
                if not p.vec(1):
                    raise Invalid("alpn empty protocol")
        elif t == EXT_SUPPORTED_VERSIONS:
            v = Reader(body)
            lst = v.vec(1)
            if v.left() or not lst or len(lst) % 2:
                raise Invalid("supported_versions")
            h.versions = [int.from_bytes(lst[i:i + 2], "big") for i in range(0, len(lst), 2)]
        elif t == EXT_ECH:
            if not body:
                raise Invalid("ech")
            h.ech_outer = body[0] == 0
            h.ech_inner = body[0] == 1
    return h


def expect_ok(h: Hello, *, total: int | None = None) -> dict[str, str]:
    """The .expect lines of an OK result."""
    flags = []
    if h.sni is not None:
        flags.append("sni")
    if h.alpn_list is not None:
        flags.append("alpn")
        if len(h.alpn_list) > 256:
            flags.append("alpn_trunc")
    if h.versions is not None:
        flags.append("versions")
        if len(h.versions) > 32:
            flags.append("versions_trunc")
    if h.ech_outer:
        flags.append("ech_outer")
    if h.ech_inner:
        flags.append("ech_inner")
    if h.sni_other_types:
        flags.append("sni_other_types")
    e = {
        "status": "ok",
        "sni": h.sni if h.sni is not None else "-",
        "alpn": ",".join(p.decode() for p in h.alpn_protocols()) if h.alpn_list is not None
        else "-",
    }
    if h.alpn_list is not None:
        e["alpn_total"] = str(len(h.alpn_list))
        e["alpn_count"] = str(len(h.alpn_protocols()))
    e["versions"] = ",".join(f"{v:#06x}" for v in h.versions) if h.versions is not None else "-"
    e.update({
        "legacy_version": f"{h.legacy_version:#06x}",
        "record_version": f"{h.record_version:#06x}",
        "record_bytes": str(h.record_bytes),
        "hello_len": str(h.hello_len),
        "n_extensions": str(len(h.extensions)),
        "flags": ",".join(flags) if flags else "-",
        "total": str(total if total is not None else h.record_bytes),
    })
    return e


def payload_of(data: bytes) -> tuple[int, bytes]:
    """(first record version, concatenated handshake payload) of the hello records."""
    end = record_end(data)
    assert end is not None
    out = bytearray()
    off = 0
    while off < end:
        length = int.from_bytes(data[off + 3:off + 5], "big")
        out += data[off + 5:off + 5 + length]
        off += 5 + length
    return int.from_bytes(data[1:3], "big"), bytes(out)


# --------------------------------------------------------------------------------------------
# the cases


@dataclass
class Case:
    name: str
    data: bytes
    expect: dict[str, str]


def build_cases(real_dir: Path) -> list[Case]:
    cases: list[Case] = []

    def ok(name: str, data: bytes, note: str, **extra: str) -> None:
        e = expect_ok(decode(data))
        e.update(extra)
        e["note"] = note
        cases.append(Case(name, data, e))

    def bad(name: str, data: bytes, status: str, reason: str | None, note: str,
            **extra: str) -> None:
        e = {"status": status}
        if reason:
            e["reason"] = reason
        e.update(extra)
        e["note"] = note
        cases.append(Case(name, data, e))

    def hello_records(label: str, exts: list[bytes] | None, **kw) -> bytes:
        return records(client_hello(label, exts, **kw))

    # -- re-framed real hellos ----------------------------------------------------------------
    def real(name: str) -> bytes:
        p = real_dir / name
        if not p.exists():
            sys.exit(f"synth: {p} is missing: run tests/tools/capture_clienthellos first")
        return p.read_bytes()

    for src, sizes in (("openssl-tls13-x25519-alpn.bin", [1, 7, 100, 512]),
                       ("java17-tls13-alpn.bin", [1, 7, 100, 512]),
                       ("openssl-tls13-ffdhe8192.bin", [512])):
        rv, payload = payload_of(real(src))
        stem = src.removesuffix(".bin")
        for size in sizes:
            ok(f"reframe-{size}b-{stem}", records(payload, size, version=rv),
               f"real/{src} re-framed into {size}-byte TLS records")

    # -- post-quantum hybrid key share (X25519MLKEM768) before server_name, like Chrome 131+ ---
    label = "pq-mlkem"
    exts = [
        ext(EXT_EXTENDED_MASTER_SECRET, b""),
        ext_groups([GROUP_X25519MLKEM768, GROUP_X25519, GROUP_P256, GROUP_P384]),
        ext_key_share([(GROUP_X25519MLKEM768, det_bytes(label + "/mlkem", 1216)),
                       (GROUP_X25519, det_bytes(label + "/x25519", 32))]),
        ext_sni("pq.example.test"),
        ext_alpn([b"h2", b"http/1.1"]),
        ext_sigalgs(),
        ext_versions([0x0304, 0x0303]),
        ext(EXT_PSK_KEX_MODES, vec8(b"\x01")),
        ext(EXT_RENEGOTIATION_INFO, b"\x00"),
        ext(5, b"\x01\x00\x00\x00\x00"),                          # status_request
        ext(18, b""),                                             # signed_certificate_timestamp
        ext(27, vec8(u16(2))),                                    # compress_certificate
        ext(EXT_SESSION_TICKET, det_bytes(label + "/ticket", 288)),
    ]
    ok("pq-x25519mlkem768-keyshare-before-sni", hello_records(label, exts),
       "fake X25519MLKEM768 (0x11ec) key share of 1216 bytes placed before server_name; "
       "the hello is ~1.8 KB")

    # -- shuffled extension order (Chrome-like permutation, fixed) ---------------------------
    label = "shuffled"
    exts = base_extensions(label, "shuffled.example.test")
    exts.append(ext(EXT_RENEGOTIATION_INFO, b"\x00"))
    order = [7, 2, 10, 4, 0, 9, 1, 5, 3, 8, 6]
    assert sorted(order) == list(range(len(exts)))
    ok("shuffled-extensions", hello_records(label, [exts[i] for i in order]),
       "extensions in a fixed shuffled order, server_name in the middle")

    # -- GREASE --------------------------------------------------------------------------------
    label = "grease"
    exts = [
        ext(GREASE[2], b""),
        ext_sni("grease.example.test"),
        ext(EXT_EXTENDED_MASTER_SECRET, b""),
        ext(EXT_RENEGOTIATION_INFO, b"\x00"),
        ext_groups([GREASE[5], GROUP_X25519, GROUP_P256, GROUP_P384]),
        ext(EXT_EC_POINT_FORMATS, vec8(b"\x00")),
        ext(EXT_SESSION_TICKET, b""),
        ext_alpn([b"h2", b"http/1.1"]),
        ext_sigalgs(),
        ext_key_share([(GREASE[5], b"\x00"), (GROUP_X25519, det_bytes(label + "/x25519", 32))]),
        ext(EXT_PSK_KEX_MODES, vec8(b"\x01")),
        ext_versions([GREASE[11], 0x0304, 0x0303]),
        ext(GREASE[14], b"\x00"),
    ]
    ok("grease", hello_records(label, exts, ciphers=[GREASE[3]] + CIPHERS),
       "GREASE cipher, GREASE extensions first and last, GREASE version (kept in versions), "
       "GREASE group and key share")

    # -- unknown extensions --------------------------------------------------------------------
    label = "unknown"
    exts = base_extensions(label, "unknown-ext.example.test")
    exts.insert(0, ext(0x1234, b"unknown extension data"))
    exts.insert(3, ext(0xBEEF, b""))
    exts.insert(5, ext(28, u16(0x4001)))                        # record_size_limit
    exts.insert(6, ext(27, vec8(u16(2))))                       # compress_certificate (brotli)
    exts.insert(8, ext(17513, vec16(vec8(b"h2"))))              # application_settings
    exts.append(ext(0xFAFB, b"\xff" * 40))
    ok("unknown-extensions", hello_records(label, exts),
       "six extension types the parser does not interpret (0x1234, 0xbeef, 28, 27, 17513, "
       "0xfafb) around the known ones")

    # -- a duplicated extension ----------------------------------------------------------------
    label = "dup"
    exts = base_extensions(label, "dup.example.test")
    exts.insert(5, ext(EXT_EC_POINT_FORMATS, vec8(b"\x00")))
    data = hello_records(label, exts)
    bad("duplicate-extension", data, "malformed", "duplicate_extension",
        "ec_point_formats twice", total=str(len(data)))

    # -- server_name corner cases ------------------------------------------------------------
    label = "sni-empty"
    data = hello_records(label, base_extensions(label, b""))
    bad("sni-empty", data, "malformed", "sni_empty", "host_name of length 0",
        total=str(len(data)))

    label = "sni-other-type"
    exts = base_extensions(label, None)
    exts.insert(0, ext_sni_entries([(1, b"not-a-host-name"), (0, b"other-type.example.test")]))
    ok("sni-other-type-then-host-name", hello_records(label, exts),
       "server_name list: an entry of name type 1, then the host_name; OpenSSL 3.0 accepts "
       "only a single host_name entry and rejects this hello", openssl="rejects")

    label = "sni-two"
    exts = base_extensions(label, None)
    exts.insert(0, ext_sni_entries([(0, b"first.example.test"), (0, b"second.example.test")]))
    data = hello_records(label, exts)
    bad("sni-two-host-names", data, "malformed", "sni_duplicate", "two host_name entries",
        total=str(len(data)))

    label = "sni-case"
    ok("sni-uppercase-trailing-dot", hello_records(label, base_extensions(
        label, "WWW.Example.TEST.")),
       "host_name 'WWW.Example.TEST.' is reported lower-cased without the trailing dot")

    for suffix, name in (("space", b"bad name.example.test"), ("nul", b"bad\x00name.example.test"),
                         ("slash", b"bad/name.example.test"), ("high-bit", b"b\xe4d.example.test")):
        label = f"sni-char-{suffix}"
        data = hello_records(label, base_extensions(label, name))
        bad(f"sni-bad-char-{suffix}", data, "malformed", "sni_charset",
            f"host_name {name!r}", total=str(len(data)))

    label = "sni-label-63"
    ok("sni-label-63", hello_records(label, base_extensions(label, "a" * 63 + ".example.test")),
       "a 63-character label (the maximum)")
    label = "sni-label-64"
    data = hello_records(label, base_extensions(label, "a" * 64 + ".example.test"))
    bad("sni-label-64", data, "malformed", "sni_label", "a 64-character label",
        total=str(len(data)))

    name253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name253) == 253
    label = "sni-253"
    ok("sni-253", hello_records(label, base_extensions(label, name253)),
       "a 253-character host name (the maximum)")
    label = "sni-253-dot"
    ok("sni-253-trailing-dot", hello_records(label, base_extensions(label, name253 + ".")),
       "254 bytes on the wire: 253 characters plus the trailing dot")
    label = "sni-254"
    data = hello_records(label, base_extensions(label, name253 + "d"))
    bad("sni-254", data, "malformed", "sni_too_long", "a 254-character host name",
        total=str(len(data)))

    # -- not TLS ------------------------------------------------------------------------------
    # SSLv2-compatible ClientHello (RFC 5246 appendix E.2): 2-byte header with the high bit set.
    v2 = (u8(1) + u16(0x0301) + u16(3 * 4) + u16(0) + u16(16)
          + bytes.fromhex("00002f000035000005c02f00") + det_bytes("sslv2/challenge", 16))
    bad("sslv2-compatible-hello", u16(0x8000 | len(v2)) + v2, "not_tls", None,
        "SSLv2-compatible ClientHello (first byte 0x80)")
    bad("http-get", b"GET / HTTP/1.1\r\nHost: example.test\r\nUser-Agent: synth\r\n\r\n",
        "not_tls", None, "plain HTTP request")

    # -- record framing limits ----------------------------------------------------------------
    label = "record-16641"
    base = client_hello(label, base_extensions(label, "long-record.example.test"))
    pad_hello = client_hello(label, base_extensions(label, "long-record.example.test")
                             + [ext(EXT_PADDING, b"\x00" * (16641 - len(base) - 4))])
    assert len(pad_hello) == 16641
    data = records(pad_hello)
    bad("record-16641", data, "malformed", "record_too_long",
        "one record of 16641 bytes (2^14 + 256 + 1) holding a whole ClientHello",
        total=str(len(data)))
    bad("record-16641.cap65536", b"", "malformed", "record_too_long",
        "the same with cap 65536", input="record-16641.bin", cap="65536", total=str(len(data)))

    label = "record-16640"
    base = client_hello(label, base_extensions(label, "max-record.example.test"))
    pad_hello = client_hello(label, base_extensions(label, "max-record.example.test")
                             + [ext(EXT_PADDING, b"\x00" * (16640 - len(base) - 4))])
    assert len(pad_hello) == 16640
    data = records(pad_hello)
    ok("record-16640-cap65536", data,
       "one record of exactly 16640 bytes (the parser's maximum) parsed with cap 65536; "
       "OpenSSL enforces 2^14 on plaintext records and rejects it", cap="65536",
       openssl="rejects_record")

    label = "big"
    big_hello = client_hello(label, base_extensions(label, "big.example.test")
                             + [ext(0x7777, det_bytes(label + "/blob", 20000))])
    data = records(big_hello, 16384)
    assert len(data) > 16384 and len(big_hello) > 16384
    bad("big-hello-two-records", data, "too_big", None,
        f"a {len(big_hello)}-byte ClientHello in two records: too big at the default cap")
    e = expect_ok(decode(data))
    e.update(cap="65536", input="big-hello-two-records.bin",
             note="the same hello parsed with cap 65536")
    cases.append(Case("big-hello-two-records.cap65536", b"", e))

    # -- truncated prefixes ------------------------------------------------------------------
    label = "trunc"
    full = hello_records(label, base_extensions(label, "truncated.example.test"))
    for cut in (1, 3, 5, 7, 9, 50, len(full) // 2, len(full) - 1):
        bad(f"truncated-{cut:04d}-of-{len(full)}", full[:cut], "need_more", None,
            f"the first {cut} bytes of a {len(full)}-byte single-record hello",
            total=str(len(full)))
    multi = records(client_hello(label, base_extensions(label, "truncated.example.test")), 100)
    for cut in (105, 205, 206, len(multi) - 1):
        bad(f"truncated-multi-{cut:04d}-of-{len(multi)}", multi[:cut], "need_more", None,
            f"the first {cut} bytes of the same hello in 100-byte records ({len(multi)} bytes)",
            total=str(len(multi)))

    # -- trailing data in the last record ---------------------------------------------------
    label = "trailing"
    data = records(client_hello(label, base_extensions(label, "trailing.example.test"))
                   + b"\x17\x03\x03")
    bad("trailing-data-in-record", data, "malformed", "trailing_data",
        "three bytes after the ClientHello inside its record", total=str(len(data)))

    # -- pre_shared_key placement ---------------------------------------------------------------
    label = "psk-last"
    exts = base_extensions(label, "psk.example.test") + [ext_psk(label)]
    ok("psk-last", hello_records(label, exts), "pre_shared_key as the last extension")
    label = "psk-not-last"
    exts = base_extensions(label, "psk.example.test")
    exts.insert(len(exts) - 1, ext_psk(label))
    data = hello_records(label, exts)
    bad("psk-not-last", data, "malformed", "psk_not_last",
        "pre_shared_key followed by key_share", total=str(len(data)))

    # -- data after the hello's records -----------------------------------------------------
    label = "then-appdata"
    hello = hello_records(label, base_extensions(label, "then-appdata.example.test"))
    data = hello + records(det_bytes(label + "/appdata", 77), rtype=0x17, version=0x0303)
    ok("hello-then-application-data", data,
       "a ClientHello record followed by an application_data record: OK, record_bytes "
       f"= {len(hello)} excludes it")

    # -- no extensions at all ----------------------------------------------------------------
    label = "no-ext"
    ok("no-extensions", hello_records(label, None, ciphers=[0xC02F, 0x009C, 0x002F]),
       "TLS 1.2-style ClientHello without an extensions block: OK, no SNI")
    label = "empty-ext"
    ok("empty-extensions-block", hello_records(label, []),
       "extensions block of length 0: OK, no SNI, n_extensions 0")

    # -- ECH ------------------------------------------------------------------------------
    label = "ech"
    exts = base_extensions(label, "public.example.test")
    exts.insert(len(exts) - 1, ext_ech_outer(label))
    ok("ech-outer", hello_records(label, exts),
       "encrypted_client_hello (0xfe0d) outer variant: SNI is the public name")

    # -- legacy versions --------------------------------------------------------------------
    label = "tls10"
    exts = [ext_sni("legacy.example.test"), ext(EXT_RENEGOTIATION_INFO, b"\x00")]
    ok("tls10-legacy", records(client_hello(label, exts, legacy_version=0x0301,
                                            ciphers=[0xC014, 0x0035, 0x002F]),
                               version=0x0300),
       "TLS 1.0 ClientHello in a record with version 3.0 (0x0300)")
    return cases


def write_expect(path: Path, e: dict[str, str]) -> None:
    lines = [f"{k}={v}" for k, v in e.items()]
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DATA / "synth")
    ap.add_argument("--real", type=Path, default=DATA / "real")
    ap.add_argument("--list", action="store_true", help="print a markdown table of the cases")
    args = ap.parse_args()
    cases = build_cases(args.real)
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    if args.list:
        print("| expectation | status | sni | what |")
        print("|---|---|---|---|")
        for c in cases:
            e = c.expect
            st = e["status"] + (f" ({e['reason']})" if "reason" in e else "")
            if "cap" in e:
                st += f", cap {e['cap']}"
            sni = e.get("sni", "")
            if len(sni) > 40:
                sni = f"{sni[:12]}... ({len(sni)} characters)"
            print(f"| `{c.name}` | {st} | {sni} | {e['note']} |")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for old in list(args.out.glob("*.bin")) + list(args.out.glob("*.expect")):
        old.unlink()
    for c in cases:
        if c.data:
            (args.out / f"{c.name}.bin").write_bytes(c.data)
        write_expect(args.out / f"{c.name}.expect", c.expect)
    for c in cases:
        inp = c.expect.get("input", f"{c.name}.bin")
        assert (args.out / inp).exists(), inp
    print(f"synth: wrote {len(cases)} cases to {os.path.relpath(args.out, REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
