"""Figures for the comparison on a large store, measured in one run (not a timed test).

    python tests/scripts/perf_compare.py [--models 100] [--benchmarks 10] [--samples 1000] [--calls 21]

Builds (or reuses) a SQLite store of `models` x `benchmarks` succeeded runs of `samples`
scored samples each, with outcomes drawn per model, then prints:
1. the one-off cost of summarising every run into dimension evidence (what a store made
   before the evidence tables pays once; new runs pay it when they end);
2. compare_dimensions through fastmcp's in-memory MCP client: median and p90 latency over
   `calls` calls of the default page (20 models; target: median <= 200 ms), the median of
   the whole matrix in one page (limit=200), and the core call alone for comparison;
3. recommend_model through the client, and `benchdock report`'s time (compare, recommend,
   charts, writing the HTML and Markdown) and output size for the whole store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.mcp_json import payload

BENCHMARKS: list[tuple[str, str]] = [  # (benchmark id, task id pattern)
    ("humaneval", "HumanEval/{}"), ("humaneval-plus", "HumanEval/{}"), ("mbpp-plus", "Mbpp/{}"),
    ("bfcl-simple", "simple_python_{}"), ("bfcl-multiple", "multiple_{}"),
    ("bfcl-multi-turn-base", "multi_turn_base_{}"),
    ("bfcl-multi-turn-long-context", "multi_turn_long_context_{}"),
    ("aider-polyglot-python", "python/ex{}"), ("aider-polyglot-rust", "rust/ex{}"),
    ("aider-polyglot-go", "go/ex{}"),
]


def build_store(path: Path, n_models: int, n_bench: int, n_samples: int,
                url: str | None = None) -> None:
    """The store at `path` (SQLite), or at `url` (any database: perf_queue.py's PostgreSQL)."""
    from sqlalchemy import insert

    from benchdock.store.db import make_engine
    from benchdock.store.tables import Run, Sample

    db = make_engine(url or f"sqlite:///{path}")
    rng = random.Random(7)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    for mi in range(n_models):
        model = f"model-{mi:03d}"
        skill, tps = rng.uniform(0.1, 0.9), rng.uniform(10, 120)
        runs, samples = [], []
        for bench, pattern in BENCHMARKS[:n_bench]:
            rid = uuid.uuid4().hex[:12]
            finished = t0 + timedelta(minutes=mi * n_bench + len(runs))
            tasks = [pattern.format(i) for i in range(n_samples)]
            runs.append(dict(
                id=rid, benchmark=bench, benchmark_version="perf", dataset_hash="perf",
                model=model, endpoint_url="http://127.0.0.1:9/v1",
                model_identity={"id": model, "context_size": 32768},
                params={"temperature": 0.0, "top_p": 0.95, "max_tokens": 768, "seed": None},
                task_ids=tasks, n_samples=1, concurrency=1, sandbox_requested="auto",
                sandbox_used="docker", status="succeeded", total=n_samples,
                cancel_requested=False, created_at=finished - timedelta(seconds=2 * n_samples),
                started_at=finished - timedelta(seconds=2 * n_samples), finished_at=finished))
            aider = bench.startswith("aider")
            for i, tid in enumerate(tasks):
                first = rng.random() < skill
                second = (not first) and rng.random() < skill / 2
                samples.append(dict(
                    run_id=rid, task_id=tid, sample_index=0, seq=i, generation_key=None,
                    verdict="pass" if first or second else "fail", truncated=False,
                    cached=False, latency_s=0.2 + 100 / tps, ttft_s=0.2, completion_tokens=100,
                    exec_s=0.1, generated_at=finished, scored_at=finished,
                    extra={"language": tid.split("/")[0], "status": "done",
                           "tests_outcomes": [first] if first else [first, second]}
                    if aider else None))
        with db.begin() as conn:
            conn.execute(insert(Run), runs)
            conn.execute(insert(Sample), samples)
        if mi % 10 == 9:
            print(f"  stored {mi + 1}/{n_models} models", file=sys.stderr)


async def time_calls(server: Any, tool: str, args: dict[str, Any], calls: int) -> list[float]:
    from fastmcp import Client

    out = []
    async with Client(server) as c:
        for _ in range(calls):
            t = time.perf_counter()
            res = await c.call_tool(tool, args)
            out.append(time.perf_counter() - t)
            assert payload(res)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--benchmarks", type=int, default=10)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--calls", type=int, default=21)
    ap.add_argument("--db", type=Path, default=None, help="reuse this store (made if missing)")
    args = ap.parse_args()

    from benchdock.harnesses.choice.compare import compare
    from benchdock.harnesses.config import EndpointConfig, Settings
    from benchdock.harnesses.engine.evidence import ensure_evidence
    from benchdock.harnesses.report.document import build, write
    from benchdock.server.app import create_server
    from benchdock.store.db import make_engine

    home = Path(tempfile.mkdtemp(prefix="benchdock-perf-"))
    path = args.db or home / "benchdock.db"
    figures: dict[str, Any] = {"store": str(path)}
    if not path.exists():
        t = time.perf_counter()
        build_store(path, args.models, args.benchmarks, args.samples)
        figures["build_store_s"] = round(time.perf_counter() - t, 1)
    db = make_engine(f"sqlite:///{path}")
    with db.connect() as conn:
        from sqlalchemy import text

        figures["runs"] = conn.execute(text("SELECT count(*) FROM run")).scalar()
        figures["samples"] = conn.execute(text("SELECT count(*) FROM sample")).scalar()
    t = time.perf_counter()
    figures["runs_summarised"] = ensure_evidence(db)
    figures["summarise_s"] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    cmp = compare(db, limit=None)
    figures["core_compare_all_first_ms"] = round((time.perf_counter() - t) * 1000, 1)
    core = []
    for _ in range(5):
        t = time.perf_counter()
        compare(db)
        core.append(time.perf_counter() - t)
    figures["core_compare_default_page_median_ms"] = round(statistics.median(core) * 1000, 1)
    figures["cells_all_models"] = sum(len(r.dimensions) for r in cmp.models)

    settings = Settings(endpoints=[EndpointConfig(url="http://127.0.0.1:9/v1")], home=home,
                        database_url=f"sqlite:///{path}", sandbox="local")
    server = create_server(settings)
    lat = asyncio.run(time_calls(server, "compare_dimensions", {}, args.calls))
    lat.sort()
    figures["mcp_compare_default_page_median_ms"] = round(statistics.median(lat) * 1000, 1)
    figures["mcp_compare_default_page_p90_ms"] = round(lat[int(0.9 * (len(lat) - 1))] * 1000, 1)
    figures["mcp_compare_target_ms"] = 200
    full = asyncio.run(time_calls(server, "compare_dimensions", {"limit": 200}, max(5, args.calls // 3)))
    figures["mcp_compare_all_models_median_ms"] = round(statistics.median(full) * 1000, 1)
    rec = asyncio.run(time_calls(server, "recommend_model", {}, 5))
    figures["mcp_recommend_median_ms"] = round(statistics.median(rec) * 1000, 1)

    t = time.perf_counter()
    report = build(db)
    files = write(report, home / "report")
    figures["report_s"] = round(time.perf_counter() - t, 2)
    figures["report_parts_s"] = {k: round(v, 3) for k, v in report.seconds.items()}
    figures["report_html_kb"] = round(files["html"].stat().st_size / 1024)
    figures["report_dir"] = str(home / "report")
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
