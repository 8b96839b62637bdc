"""Helpers shared by bench/peerbench's scripts (compare, hop-latency). Not executable, so the
harness, which runs every executable in --adapters-dir, does not take it for an adapter."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))


def find_peerbench(repo=REPO):
    """$PEERBENCH_DIR, else shared/peerbench beside the checkout or beside one of its parents
    (a git worktree may sit deeper than the main checkout)."""
    if os.environ.get("PEERBENCH_DIR"):
        return os.environ["PEERBENCH_DIR"]
    d = os.path.dirname(repo)
    while True:
        cand = os.path.join(d, "shared", "peerbench")
        if os.path.isfile(os.path.join(cand, "run.sh")) or os.path.dirname(d) == d:
            return cand
        d = os.path.dirname(d)
