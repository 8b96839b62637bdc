#!/usr/bin/env python3
"""kaperf driver peers: a keep-alive TLS HTTP backend and a keep-alive TLS client.

backend PORT CERT KEY        serves /tiny (64 B) and /1m (1 MiB), HTTP/1.1 keep-alive, or one
                             response and a close when the request says "Connection: close"
client PORT CA SNI PATH N GO  warm-up, prints READY, waits for file GO, N requests, prints DONE
"""
import os
import socket
import ssl
import sys
import threading
import time

BODIES = {b"/tiny": b"x" * 64, b"/1m": b"y" * (1 << 20)}


def serve_conn(conn):
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                d = conn.recv(65536)
                if not d:
                    return
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            path = head.split(b" ")[1]
            body = BODIES.get(path, b"nope")
            close = b"\r\nconnection: close" in head.lower()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (
                len(body), b"Connection: close\r\n" if close else b"") + body)
            if close:
                return
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()


def backend(port, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    while True:
        c, _ = ls.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            t = ctx.wrap_socket(c, server_side=True)
        except (OSError, ssl.SSLError):
            c.close()
            continue
        threading.Thread(target=serve_conn, args=(t,), daemon=True).start()


def get(s, path, pending):
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = pending
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, rest = buf.split(b"\r\n\r\n", 1)
    n = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    while len(rest) < n:
        d = s.recv(1 << 20)
        if not d:
            raise SystemExit("closed early")
        rest += d
    return rest[n:]


def client(port, ca, sni, path, n, go):
    ctx = ssl.create_default_context(cafile=ca)
    c = socket.create_connection(("127.0.0.1", port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(c, server_hostname=sni)
    pending = b""
    for _ in range(20):
        pending = get(s, path.encode(), pending)
    print("READY", flush=True)
    while not os.path.exists(go):
        time.sleep(0.05)
    t0 = time.monotonic()
    for _ in range(n):
        pending = get(s, path.encode(), pending)
    dt = time.monotonic() - t0
    print("DONE %d requests %.3f s" % (n, dt), flush=True)
    time.sleep(1.0)
    s.close()


if __name__ == "__main__":
    if sys.argv[1] == "backend":
        backend(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        client(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7])
