#!/usr/bin/env python3
"""Unit tests of bench/peerbench/compare's verdicts over several runs, on synthetic results
documents shaped like peerbench's JSON (no harness, no proxies, no root).

    tests/peerbench/compare_test.py SOURCE_DIR
"""
import contextlib
import importlib.machinery
import importlib.util
import io
import json
import os
import sys
import tempfile
import unittest

SOURCE_DIR = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else
                             os.path.join(os.path.dirname(__file__), "..", ".."))


def load_compare():
    path = os.path.join(SOURCE_DIR, "bench", "peerbench", "compare")
    loader = importlib.machinery.SourceFileLoader("compare", path)
    spec = importlib.util.spec_from_loader("compare", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


compare = load_compare()


def results_row(proxy, mode, per_round, probes=(7, 7)):
    """A results row whose rounds carry the given metrics; the row's own figures are the medians
    over rounds for scalars and (as the harness does) percentiles pooled over rounds, here the
    median too, which is enough for the verdict logic."""
    rounds = []
    for r in per_round:
        rounds.append({
            "conn": {"proxy_us_per_conn": r["conn"]},
            "bulk": {"proxy_s_per_gib": r["gib"], "proxy_core_s_per_gib": r["gib"], "mib_per_s": 300,
                     "elapsed_s": 4, "backend_gib": 1.0,
                     "meter": {"load_core": {"util": 0.5}, "proxy_core": {"util": 0.5}}},
            "lat_ka": {"us": {"p99": r["ka"], "p50": r["ka"]}},
            "lat_new": {"us": {"p50": r["new"]}},
        })

    def med(key):
        return compare.median([x[key] for x in per_round])

    tests = {
        "conn": {"proxy_us_per_conn": med("conn")},
        "bulk": dict(rounds[0]["bulk"], proxy_s_per_gib=med("gib")),
        "lat_ka": {"us": {"p99": med("ka"), "p50": med("ka")}},
        "lat_new": {"us": {"p50": med("new")}},
    }
    return {"proxy": proxy, "mode": mode, "variant": "ecdsa", "tests": tests, "rounds": rounds,
            "probes_ok": probes[0], "probes_total": probes[1]}


def flat(conn, gib=1.0, ka=100, new=1000, rounds=3):
    return [{"conn": conn, "gib": gib, "ka": ka, "new": new}] * rounds


def run_doc(our_terminate_conn, stamp="20261124-000000", mode="full", our_probes=(13, 13), drop=()):
    """One run: ours against HAProxy (1000 µs/conn terminate) and nginx-stream; ours costs the
    given µs per connection on terminate, everything else at parity or better."""
    rows = [
        results_row("sni-splitter", "terminate", flat(our_terminate_conn, gib=1.0, ka=90), our_probes),
        results_row("sni-splitter", "passthrough", flat(100, gib=0.01, ka=90)),
        results_row("haproxy-tcp", "terminate", flat(1000, gib=2.0, ka=100)),
        results_row("haproxy-tcp", "passthrough", flat(300, gib=1.2, ka=100)),
        results_row("nginx-stream", "passthrough", flat(200, gib=1.2, ka=100)),
    ]
    rows = [r for r in rows if (r["proxy"], r["mode"]) not in drop]
    return {"mode": mode, "rounds": 3, "timestamp": stamp, "rows": rows}


def verdict_of(results, name):
    for n, met in results:
        if n == name:
            return met
    raise KeyError(name)


REENCRYPT = "reencrypt CPU/conn vs haproxy-tcp terminate"


class VerdictOverRuns(unittest.TestCase):
    def test_the_median_of_the_runs_ratios_decides(self):
        lines, results = compare.verdicts([run_doc(400), run_doc(900), run_doc(450)])
        self.assertTrue(verdict_of(results, REENCRYPT))  # median 0.45x <= 0.5x
        line = next(x for x in lines if x.startswith("| " + REENCRYPT))
        self.assertIn("0.40x (0.40, 0.40, 0.40); 0.90x (0.90, 0.90, 0.90); 0.45x (0.45, 0.45, 0.45)", line)
        self.assertIn("| 0.45x |", line)

        _, results = compare.verdicts([run_doc(400), run_doc(900), run_doc(600)])
        self.assertFalse(verdict_of(results, REENCRYPT))  # median 0.60x > 0.5x, though one run met it

    def test_one_good_run_does_not_carry_the_others(self):
        _, results = compare.verdicts([run_doc(300), run_doc(700), run_doc(800)])
        self.assertFalse(verdict_of(results, REENCRYPT))

    def test_a_run_without_our_row_is_not_measured_and_not_met(self):
        runs = [run_doc(400), run_doc(400, drop=[("sni-splitter", "terminate")]), run_doc(400)]
        lines, results = compare.verdicts(runs)
        self.assertFalse(verdict_of(results, REENCRYPT))
        line = next(x for x in lines if x.startswith("| " + REENCRYPT))
        self.assertIn("not measured in run 2", line)

    def test_probes_must_pass_in_every_run(self):
        _, results = compare.verdicts([run_doc(400), run_doc(400, our_probes=(12, 13)), run_doc(400)])
        self.assertFalse(verdict_of(results, "terminate probes"))
        _, results = compare.verdicts([run_doc(400)] * 3)
        self.assertTrue(verdict_of(results, "terminate probes"))

    def test_latency_and_passthrough_targets(self):
        _, results = compare.verdicts([run_doc(400)] * 3)
        self.assertTrue(verdict_of(results, "terminate keep-alive p99 vs haproxy-tcp"))  # 0.90x
        self.assertTrue(verdict_of(results, "passthrough CPU/conn vs nginx-stream passthrough"))  # 0.50x
        self.assertTrue(verdict_of(results, "passthrough CPU/GiB vs haproxy-tcp passthrough"))


class KeepaliveCost(unittest.TestCase):
    def test_counts_the_rounds_where_ours_was_cheaper(self):
        runs = [run_doc(400), run_doc(400)]
        for d in runs:
            for r in d["rows"]:
                if r["mode"] != "terminate":
                    continue
                per = [30.0, 70.0, 40.0] if r["proxy"] == "sni-splitter" else [50.0, 50.0, 50.0]
                for rt, v in zip(r["rounds"], per):
                    rt["lat_ka"]["proxy_us_per_req"] = v
                r["tests"]["lat_ka"]["proxy_us_per_req"] = compare.median(per)
        lines = compare.keepalive_cost(runs)
        line = next(x for x in lines if x.startswith("| terminate vs haproxy-tcp"))
        self.assertEqual(line, "| terminate vs haproxy-tcp | 40.0 | 50.0 | 4 of 6 rounds | 90 vs 100 |")
        self.assertFalse(any(x.startswith("| passthrough") for x in lines))  # not measured there


class Section(unittest.TestCase):
    def test_fewer_than_three_full_runs_are_indicative_only(self):
        text, _ = compare.section([run_doc(400)], "# t\n", ["load average 1"], ["a.json"])
        self.assertIn("indicative only", text)
        text, _ = compare.section([run_doc(400, "s1"), run_doc(400, "s2"), run_doc(400, "s3")], "# t\n",
                                  ["l1", "l2", "l3"], ["a.json", "b.json", "c.json"])
        self.assertNotIn("indicative only", text)
        self.assertIn("3 full run(s) of 3 round(s): s1, s2, s3", text)
        self.assertIn("(run 3 of 3, s3)", text)

    def test_quick_runs_stay_indicative(self):
        text, _ = compare.section([run_doc(400, mode="quick")] * 3, "# t\n", ["l"] * 3, ["q.json"] * 3)
        self.assertIn("indicative only", text)


class FromSavedRuns(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.doc = os.path.join(self.dir.name, "performance.md")
        with open(self.doc, "w") as f:
            f.write("# Page\n\nabove\n\n%s\nold table\n%s\n\nbelow\n" % (compare.BEGIN, compare.END))
        self.old_doc, compare.DOC = compare.DOC, self.doc
        self.addCleanup(setattr, compare, "DOC", self.old_doc)

    def save(self, name, doc):
        path = os.path.join(self.dir.name, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f)
        with open(os.path.join(self.dir.name, name + ".md"), "w") as f:
            f.write("# harness\n\n## table of %s\n" % name)
        return path

    def main(self, *args):
        old = sys.argv
        sys.argv = ["compare"] + list(args)
        err = io.StringIO()
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                return compare.main(), err.getvalue()
        finally:
            sys.argv = old

    def test_rewrites_only_between_the_markers(self):
        paths = [self.save("r%d" % k, run_doc(c, "s%d" % k)) for k, c in enumerate((400, 450, 900))]
        rc, _ = self.main("--from", *paths, "--load", "load average 0.5")
        self.assertEqual(rc, 0)
        with open(self.doc) as f:
            page = f.read()
        self.assertTrue(page.startswith("# Page\n\nabove\n\n" + compare.BEGIN))
        self.assertTrue(page.endswith(compare.END + "\n\nbelow\n"))
        self.assertNotIn("old table", page)
        self.assertIn("load average 0.5; not recorded", page)
        self.assertIn("### table of r2", page)  # the harness's tables of the last run
        self.assertIn("| 0.45x | ≤ 0.50x | **met** |", page)

    def test_mixed_quick_and_full_runs_are_refused(self):
        paths = [self.save("f", run_doc(400)), self.save("q", run_doc(400, mode="quick"))]
        rc, err = self.main("--from", *paths)
        self.assertEqual(rc, 2)
        self.assertIn("mix quick and full", err)

    def test_an_unreadable_run_is_an_error(self):
        rc, err = self.main("--from", os.path.join(self.dir.name, "missing.json"))
        self.assertEqual(rc, 1)
        self.assertIn("cannot read", err)


if __name__ == "__main__":
    unittest.main()
