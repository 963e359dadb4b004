"""Scores the real polyglot exercises through the whole harness path — aider itself in the
polyglot image, benchdock's recording proxy, the run engine and the store — with a fake model
that answers every exercise with its reference solution (or with its untouched stub), and
prints per language: passed, failed, errors with their reasons, and time.

Not a timed test and not collected by pytest: the proof that every reference solution passes
and every stub fails where it matters, through the same code a real run uses:

    BENCHDOCK_POLYGLOT_DIR=../shared/datasets/polyglot-benchmark BENCHDOCK_ENVS=.ci-work/envs \\
        python tests/scripts/polyglot_sweep.py --which reference [--languages java,rust] [--limit N]

The fake model answers in aider's `whole` format (each solution file's full new text), like
`tests/harnesses/benchmarks/aider/test_aider_fake_model.py`; an exercise is recognised by its instructions, which aider
sends in its first message. A stub answer re-sends the stub, so the attempt-2 turn (the test
output, then the same stub again) is exercised as well. Needs Docker, the polyglot image and
aider's venv (`benchdock setup aider`, `benchdock build-image --harness aider-polyglot`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchdock.harnesses.benchmarks.aider.exercises import LANGUAGES, Exercise, load_exercises  # noqa: E402
from benchdock.harnesses.config import Settings  # noqa: E402
from benchdock.harnesses.contract.registry import get_benchmark  # noqa: E402
from benchdock.harnesses.engine.executor import RunExecutor  # noqa: E402
from benchdock.store import queries as q  # noqa: E402
from benchdock.store.db import make_engine  # noqa: E402
from benchdock.store.tables import Run  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.harnesses.benchmarks.aider.test_aider_fake_model import whole_edit  # noqa: E402
from tests.harnesses.benchmarks.bfcl.test_bfcl_fake_model import fake_endpoint  # noqa: E402


def recogniser(exercises: list[Exercise]) -> Any:
    """The exercise a request is about, by its instructions (longest match first, so an
    exercise whose instructions contain another's is not mistaken for it)."""
    keyed = sorted(((ex.instructions().strip(), ex) for ex in exercises),
                   key=lambda pair: -len(pair[0]))

    def which(body: dict[str, Any]) -> Exercise:
        text = "\n".join(str(m.get("content")) for m in body["messages"])
        for instructions, ex in keyed:
            if instructions and instructions in text:
                return ex
        raise LookupError(f"a request about no known exercise: {text[:300]!r}")

    return which


def summarising(body: dict[str, Any]) -> bool:
    """aider's request to summarise a long chat (its history grows with long test output):
    about no exercise, answered with a plain summary."""
    first = str(body["messages"][0].get("content", "")) if body["messages"] else ""
    return "summarize this partial conversation" in first


def stub_files(ex: Exercise) -> dict[str, str]:
    return {rel: (ex.path / rel).read_text() for rel in ex.solution}


def sweep(settings: Settings, language: str, exercises: list[Exercise], which: str,
          concurrency: int) -> list[dict[str, Any]]:
    """One run of the language's exercises; each sample's verdict, reason and time."""
    known = recogniser(exercises)

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        if summarising(body):
            return {"content": "I was asked to edit the solution files; the tests then ran."}
        ex = known(body)
        files = ex.example_solution() if which == "reference" else stub_files(ex)
        return {"content": whole_edit(ex, files)}

    db = make_engine(settings.database_url)
    bench = get_benchmark("aider-polyglot", settings)
    ids = [ex.id for ex in exercises]
    run = Run(id=f"sweep-{which}-{language}", benchmark="aider-polyglot",
              benchmark_version=bench.version, dataset_hash="sweep", model="fake",
              endpoint_url="http://fake/v1", task_ids=ids, total=len(ids), status="running",
              concurrency=concurrency,
              params={"temperature": 0.0, "top_p": 1.0, "max_tokens": 4096,
                      "options": {"edit_format": "whole"}})
    q.add_run(db, run)
    status = anyio.run(RunExecutor(settings, db, run, fake_endpoint(answer)).execute)
    if status != "succeeded":
        done = q.get_run(db, run.id)
        print(f"  run {run.id} ended {status}: {done.error if done else '?'}", flush=True)
    out = []
    for s in q.all_samples(db, run.id):
        extra = s.extra or {}
        attempts = extra.get("attempts") or []
        last = attempts[-1]["report"] if attempts else {}
        out.append({"id": s.task_id, "verdict": s.verdict,
                    "passed_on": extra.get("passed_on"),
                    "reason": s.detail or last.get("reason") or extra.get("error"),
                    "seconds": s.latency_s})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--which", choices=["reference", "stub"], default="reference")
    ap.add_argument("--languages", default=",".join(LANGUAGES),
                    help=f"comma-separated, of {', '.join(LANGUAGES)}")
    ap.add_argument("--limit", type=int, default=None, help="exercises per language")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--sandbox", choices=["docker", "local"], default="docker")
    ap.add_argument("--json", type=Path, default=None, help="write every sample's row here")
    args = ap.parse_args()
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if unknown:
        ap.error(f"unknown language(s) {unknown}; choose from {', '.join(LANGUAGES)}")

    rows: dict[str, list[dict[str, Any]]] = {}
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="polyglot-sweep-") as home:
        settings = make_settings(Path(home), "http://fake/v1", sandbox=args.sandbox)
        tree = settings.var("BENCHDOCK_POLYGLOT_DIR")
        if not tree:
            ap.error("set BENCHDOCK_POLYGLOT_DIR to the real polyglot-benchmark tree")
        for lang in languages:
            exercises = load_exercises(Path(tree), [lang])[: args.limit]
            print(f"{lang}: {len(exercises)} exercises ({args.which})", flush=True)
            t0 = time.monotonic()
            rows[lang] = sweep(settings, lang, exercises, args.which, args.concurrency)
            times[lang] = time.monotonic() - t0
            for r in rows[lang]:
                if r["verdict"] != ("pass" if args.which == "reference" else "fail"):
                    print(f"  {r['id']}: {r['verdict']} — {str(r['reason'])[:300]}", flush=True)

    print(f"\n{'language':<11} {'n':>4} {'passed':>7} {'on 1st':>7} {'failed':>7} "
          f"{'errors':>7} {'minutes':>8}")
    total: Counter[str] = Counter()
    for lang, lrows in rows.items():
        c = Counter(r["verdict"] for r in lrows)
        first = sum(1 for r in lrows if r["passed_on"] == 1)
        total.update(c)
        total["n"] += len(lrows)
        total["first"] += first
        print(f"{lang:<11} {len(lrows):>4} {c['pass']:>7} {first:>7} {c['fail']:>7} "
              f"{c['error']:>7} {times[lang] / 60:>8.1f}")
    print(f"{'all':<11} {total['n']:>4} {total['pass']:>7} {total['first']:>7} "
          f"{total['fail']:>7} {total['error']:>7} {sum(times.values()) / 60:>8.1f}")
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for lang, lrows in rows.items():
        for r in lrows:
            if r["verdict"] == "error":
                reasons[lang][str(r["reason"])[:160]] += 1
    for lang, counter in reasons.items():
        for reason, n in counter.most_common():
            print(f"  {lang} error x{n}: {reason}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
