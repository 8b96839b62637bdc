#!/usr/bin/env python3
"""PeerbenchProbes: peerbench's correctness probes against sni-splitter, both modes, and against
the passthrough floor in its two shapes (bench/passthrough_floor.cpp, the instrument the
passthrough row is measured against).

Runs ../shared/peerbench/run.sh --probes-only --only sni-splitter,passthrough-floor,
passthrough-floor-split with the adapters in bench/peerbench, on a copy of the scenario whose
listener and backend ports are four consecutive free ports below the ephemeral range (other
engineers and tests use the default ports at the same time), and fails unless every probe of the four rows (sni-splitter terminate = reencrypt and
passthrough, passthrough-floor and passthrough-floor-split passthrough) passed.

    probes.py REPO_ROOT BIN_DIR WORK_DIR
"""
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile


# The rows whose probes must all pass: (adapter, mode).
WANTED = [("sni-splitter", "terminate"), ("sni-splitter", "passthrough"),
          ("passthrough-floor", "passthrough"), ("passthrough-floor-split", "passthrough")]


def claim_ports(count):
    """`count` consecutive ports below the ephemeral range (no outgoing connection takes one
    while peerbench starts its servers), each free now and locked in the lock directory that
    the C++ integration harness uses, for as long as this process lives. Returns (first, locks)."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        high = int(f.read().split()[0])
    low = max(1024, high - 20000)
    lockdir = os.path.join(tempfile.gettempdir(), "sni-splitter-test-ports")  # as the harness
    os.makedirs(lockdir, exist_ok=True)
    span = high - low - count
    for tried in range(span):
        first = low + (os.getpid() * 131 + tried * 7919) % span
        locks = []
        for port in range(first, first + count):
            f = open(os.path.join(lockdir, str(port)), "a")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                break
            locks.append(f)
        if len(locks) == count and all(_bindable(p) for p in range(first, first + count)):
            return first, locks
        for f in locks:
            f.close()
    raise RuntimeError("no %d free consecutive ports below the ephemeral range" % count)


def _bindable(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    repo, bindir, work = (os.path.abspath(a) for a in argv[1:])
    sys.dont_write_bytecode = True  # no __pycache__ in the adapters directory
    sys.path.insert(0, os.path.join(repo, "bench", "peerbench"))
    from _bench_lib import find_peerbench  # the scripts' own lookup of the harness
    peerbench = find_peerbench(repo)
    run = os.path.join(peerbench, "run.sh")
    if not os.access(run, os.X_OK):
        print("FAIL: %s not found (set PEERBENCH_DIR)" % run)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)

    with open(os.path.join(peerbench, "scenario.json")) as f:
        scenario = json.load(f)
    base, _locks = claim_ports(4)
    scenario["listen"]["port"] = base
    for i, name in enumerate(sorted(scenario["backends"])):
        scenario["backends"][name]["port"] = base + 1 + i
    scen = os.path.join(work, "scenario.json")
    with open(scen, "w") as f:
        json.dump(scenario, f, indent=1)

    results = os.path.join(work, "results")
    env = dict(os.environ, SNI_SPLITTER_BIN=bindir)
    only = ",".join(dict.fromkeys(proxy for proxy, _ in WANTED))  # each adapter once, in order
    cmd = [run, "--probes-only", "--only", only, "--adapters-dir", os.path.join(repo, "bench", "peerbench"),
           "--scenario", scen, "--results", results]
    print("running: %s (ports %d..%d)" % (" ".join(cmd), base, base + 3), flush=True)
    rc = subprocess.run(cmd, env=env).returncode
    if rc != 0:
        print("FAIL: peerbench exited %d" % rc)
        return 1

    with open(os.path.join(results, "latest-probes.json")) as f:
        doc = json.load(f)
    rows = {(r["proxy"], r["mode"]): r for r in doc["rows"]}
    failed = 0
    for proxy, mode in WANTED:
        r = rows.get((proxy, mode))
        if r is None:
            print("FAIL: no %s %s row" % (proxy, mode))
            failed += 1
            continue
        if r.get("error") or r.get("skipped"):
            print("FAIL: %s %s: %s" % (proxy, mode, r.get("error") or r.get("skipped")))
            failed += 1
            continue
        total, ok = r.get("probes_total", 0), r.get("probes_ok", 0)
        print("%s %s: %d/%d probes passed" % (proxy, mode, ok, total))
        for p in r.get("probes", []):
            if not p["ok"]:
                print("  FAIL route %s sni=%s client %s: %s"
                      % (p["route"], p["sni"], p["client_tls"], "; ".join(p.get("errors", []))))
        if total == 0 or ok != total:
            failed += 1
    print("%d passed, %d failed" % (len(WANTED) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
