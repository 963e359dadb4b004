"""Verdict-for-verdict agreement with bigcodebench 0.2.5's own checker (not collected by pytest).

    python tests/scripts/bigcodebench_parity.py [--image benchdock-bigcodebench:1]
        [--parallel 2] [--tasks ID ...] [--limit N] [--out DIR] [--network]

Every task's canonical solution, as a model would answer it (the complete prompt and the
canonical body in a ```python block), goes through benchdock's path — bigcodebench's
sanitiser (`prompt.sanitize`), upstream's calibration prefix, benchdock's judge in the
sandbox — and, as the same code string, through bigcodebench's own `untrusted_check`
(0.2.5, from the image's /opt/bigcodebench-reference, run in a job of the same sandbox, with
upstream's default limits). Both are run with the data in BIGCODEBENCH_OVERRIDE_PATH
(default: the shared v0.1.4 file). It prints the agreement (pass/non-pass, and upstream's
status against what benchdock's judge says upstream would say of its own run), every
disagreement with both reasons, the canonical pass rate on each side, the tasks that fail
on both sides with a network error (`--network` prints them as `network.py` holds them), and
the wall time. Results go to DIR/bigcodebench-parity.jsonl as they come (a rerun skips the
tasks already there).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("BENCHDOCK_DATASETS", ROOT.parent / "shared" / "datasets"))
DEFAULT_DATA = SHARED / "bigcodebench" / "BigCodeBench-v0.1.4.jsonl.gz"

# runs bigcodebench's untrusted_check in the sandbox on one sample (stdin: JSON); its last
# stdout line is the result (the code under test here is a canonical solution: trusted)
UPSTREAM = r"""
import json, os, shutil, sys, tempfile
if os.path.isdir("/opt/benchdock-mplconfig"):  # the same warm font cache the judge uses
    os.environ["MPLCONFIGDIR"] = os.path.join(tempfile.mkdtemp(), "matplotlib")
    shutil.copytree("/opt/benchdock-mplconfig", os.environ["MPLCONFIGDIR"])
sys.path.append("/opt/bigcodebench-reference")
job = json.loads(sys.stdin.read())
from bigcodebench.eval import untrusted_check
stat, details = untrusted_check(job["code"], job["test"], job["entry_point"],
                                job["max_as_limit"], job["max_data_limit"],
                                job["max_stack_limit"], job["min_time_limit"], job["gt_time_limit"])
print("\nBCB-RESULT " + json.dumps({"status": stat, "details": {k: str(v)[-1500:] for k, v in details.items()}}))
"""
NETWORK = re.compile(
    r"(Temporary failure in name resolution|Name or service not known|"
    r"Failed to establish a new connection|Max retries exceeded with url|"
    r"nodename nor servname|Network is unreachable|getaddrinfo failed|URLError|URL Error|"
    r"ConnectionError|gaierror|Please use the NLTK Downloader|\[nltk_data\] Error loading|"
    r"'dns\.google'|download_corpora|MissingCorpusError|TextBlob/issues)", re.I)  # the last: a reverse lookup of 8.8.8.8 the test expects


def upstream_check(sandbox: Any, code: str, task: Any, timeout_s: float) -> dict[str, Any]:
    from benchdock.harnesses.benchmarks.bigcodebench import judging

    job = {"code": code, "test": task.data["test"], "entry_point": task.entry_point,
           "max_as_limit": judging.MAX_AS_LIMIT, "max_data_limit": judging.MAX_DATA_LIMIT,
           "max_stack_limit": judging.MAX_STACK_LIMIT,
           "min_time_limit": judging.MIN_TIME_LIMIT, "gt_time_limit": judging.GT_FAILED_S}
    t0 = time.monotonic()
    res = sandbox.execute({}, ["python3", "-c", UPSTREAM], timeout_s, stdin=json.dumps(job),
                          max_output=1 << 20)
    took = time.monotonic() - t0
    for line in reversed(res.stdout.splitlines()):
        if line.startswith("BCB-RESULT "):
            out = json.loads(line[len("BCB-RESULT "):])
            out["wall_s"] = round(took, 2)
            return out
    return {"status": "no result", "details": {"ALL": (res.stderr or res.stdout)[-1500:]},
            "wall_s": round(took, 2), "timed_out": res.timed_out}


def one(bench: Any, sandbox: Any, task: Any) -> dict[str, Any]:
    from benchdock.harnesses.benchmarks.bigcodebench import judging
    from benchdock.harnesses.benchmarks.bigcodebench.prompt import calibrated_code

    answer = bench.reference(task)
    code = calibrated_code(task, bench.extract(task, answer))
    limit = judging.Limits().suite_timeout(None)
    t0 = time.monotonic()
    v = judging.verdict(*judging.judge(sandbox, code, task.data["test"], limit))
    ours = {"verdict": v.verdict, "detail": v.detail, "upstream_view": (v.extra or {}).get(
        "upstream"), "wall_s": round(time.monotonic() - t0, 2)}
    theirs = upstream_check(sandbox, code, task, limit + 1 + judging.JOB_SLACK_S)
    return {"task_id": task.id, "ours": ours, "upstream": theirs}


def network_reason(row: dict[str, Any]) -> str | None:
    """What the failing canonical solution reached for, in words, or None."""
    text = " ".join([str(row["ours"].get("detail") or "")]
                    + [str(v) for v in row["upstream"].get("details", {}).values()])
    m = NETWORK.search(text)
    if m is None:
        return None
    hit = m.group(1).lower()
    if "nltk" in hit:
        return "NLTK data, downloaded at run time (nltk.download)"
    if "corpora" in hit or "corpus" in hit or "textblob" in hit:
        return "TextBlob's corpora, downloaded at run time"
    if "dns.google" in hit:
        return "a reverse DNS lookup (the test expects 8.8.8.8 -> dns.google)"
    if "url" in hit or "connection" in hit or "retries" in hit or "unreachable" in hit:
        return f"a URL fetched ({m.group(1)})"
    return f"a host name resolved ({m.group(1)})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default="benchdock-bigcodebench:1")
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--tasks", nargs="*")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--out", default=str(ROOT / ".parity"))
    ap.add_argument("--network", action="store_true", help="print network.py's table")
    ap.add_argument("--report-only", action="store_true",
                    help="print the figures of the rows already in DIR, run nothing")
    args = ap.parse_args()
    os.environ.setdefault("BIGCODEBENCH_OVERRIDE_PATH", str(DEFAULT_DATA))
    sys.path.insert(0, str(ROOT))
    from benchdock.harnesses.contract.registry import get_benchmark
    from benchdock.harnesses.sandbox.docker_backend import DockerSandbox

    os.environ["BENCHDOCK_BIGCODEBENCH_NETWORK"] = "1"  # every task, network ones included
    bench = get_benchmark("bigcodebench-complete")
    tasks = bench.tasks()
    if args.tasks:
        tasks = [t for t in tasks if t.id in set(args.tasks)]
    if args.limit:
        tasks = tasks[:args.limit]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "bigcodebench-parity.jsonl"
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            done[row["task_id"]] = row
    todo = [] if args.report_only else [t for t in tasks if t.id not in done]
    print(f"{len(tasks)} tasks, {len(done)} already in {path}, {len(todo)} to run "
          f"({args.parallel} runners, image {args.image}, no network)", file=sys.stderr)
    t0 = time.monotonic()
    sandbox = DockerSandbox(args.image, args.parallel).start() if todo else None
    try:
        with ThreadPoolExecutor(args.parallel) as pool, path.open("a") as fh:
            for n, row in enumerate(pool.map(lambda t: one(bench, sandbox, t), todo), 1):
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                done[row["task_id"]] = row
                if n % 20 == 0 or n == len(todo):
                    print(f"  {n}/{len(todo)} ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
    finally:
        if sandbox is not None:
            sandbox.close()
    rows = [done[t.id] for t in tasks if t.id in done]
    if len(rows) < len(tasks):
        print(f"\nPARTIAL: {len(rows)} of the {len(tasks)} tasks have both verdicts", file=sys.stderr)
    report(rows, time.monotonic() - t0, args.network)
    return 0


def report(rows: list[dict[str, Any]], wall_s: float, network_table: bool) -> None:
    n = len(rows)
    ours_pass = sum(r["ours"]["verdict"] == "pass" for r in rows)
    up_pass = sum(r["upstream"]["status"] == "pass" for r in rows)
    agree = [r for r in rows if (r["ours"]["verdict"] == "pass") == (r["upstream"]["status"] == "pass")]
    status_agree = sum(r["ours"]["upstream_view"] == r["upstream"]["status"] for r in rows)
    print(f"\nBigCodeBench v0.1.4, {n} of 1140 canonical solutions, benchdock's judge vs bigcodebench "
          f"0.2.5's untrusted_check, same image, no network ({wall_s:.0f} s this run)")
    print(f"  canonical pass rate: benchdock {ours_pass}/{n} ({ours_pass / max(n, 1):.1%}), "
          f"upstream {up_pass}/{n} ({up_pass / max(n, 1):.1%})")
    print(f"  pass/non-pass agreement: {len(agree)}/{n} ({len(agree) / max(n, 1):.1%})")
    print(f"  upstream's status (pass/fail/timeout) vs the judge's view of it: "
          f"{status_agree}/{n}")
    table = Counter((r["ours"]["verdict"], r["upstream"]["status"]) for r in rows)
    print("  benchdock verdict x upstream status:")
    for (a, b), k in sorted(table.items()):
        print(f"    {a:<8} {b:<10} {k}")
    dis = [r for r in rows if r not in agree]
    print(f"\ndisagreements ({len(dis)}):")
    for r in dis:
        up = r["upstream"]
        why = "; ".join(f"{k}: {str(v).strip().splitlines()[-1] if str(v).strip() else ''}"
                        for k, v in list(up.get("details", {}).items())[:2])
        print(f"  {r['task_id']}: benchdock {r['ours']['verdict']} ({str(r['ours']['detail'])[:300]})"
              f" | upstream {up['status']} ({why[:300]})")
    failing = [r for r in rows if r["ours"]["verdict"] != "pass" or r["upstream"]["status"] != "pass"]
    net = {r["task_id"]: network_reason(r) for r in failing}
    net = {k: v for k, v in net.items() if v}
    print(f"\ncanonical solutions failing on either side ({len(failing)}), network-needing "
          f"({len(net)}):")
    for r in failing:
        tag = f"NETWORK ({net[r['task_id']]})" if r["task_id"] in net else "other"
        print(f"  {r['task_id']}: {tag}: benchdock {r['ours']['verdict']}: "
              f"{str(r['ours']['detail'])[:200]}")
    if network_table:
        print("\nNEEDS_NETWORK = {")
        for k in sorted(net, key=lambda x: int(x.split("/")[1])):
            print(f"    {k!r}: {net[k]!r},")
        print("}")
    ours_t = [r["ours"]["wall_s"] for r in rows]
    up_t = [r["upstream"]["wall_s"] for r in rows]
    print(f"\nmean wall time per canonical solution: benchdock {sum(ours_t) / max(n, 1):.2f} s, "
          f"upstream {sum(up_t) / max(n, 1):.2f} s")


if __name__ == "__main__":
    sys.exit(main())
