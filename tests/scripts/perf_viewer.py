"""Page timings of `benchdock view` on a large store, measured over HTTP (not a timed test).

    python tests/scripts/perf_viewer.py [--db PATH] [--models 100] [--benchmarks 10]
                                        [--samples 1000] [--calls 7]

Builds (or reuses) perf_compare.py's store — `models` x `benchmarks` succeeded runs of
`samples` scored samples each — summarises it for the comparison (what a store pays once),
gives the runs it times answers, code and test output of a realistic size (the builder
stores none, and search over empty texts would time nothing), serves the viewer with
uvicorn on a free loopback port, and prints for each page: the first request (cold:
nothing cached), then the median and the slowest of `calls` more, in milliseconds, and the
page's size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout, for tests.scripts

ANSWER = ("Here is the solution.\n```python\n" + "".join(
    f"def helper_{i}(xs):\n    total = 0\n    for x in xs:\n        total += x * {i}\n"
    f"    return total\n\n" for i in range(20)) + "```\n")
DETAIL = ("Traceback (most recent call last):\n" + "".join(
    f'  File "/sandbox/test_{i}.py", line {i}, in check\n    assert candidate([1, 2]) == {i}\n'
    for i in range(15)) + "AssertionError")


def give_texts(db: Any, run_ids: list[str]) -> None:
    """Answers (~2 kB), code and failing test output for these runs' samples."""
    from sqlalchemy import update
    from sqlmodel import col

    from benchdock.store.tables import Sample

    with db.begin() as conn:
        for rid in run_ids:
            conn.execute(update(Sample).where(col(Sample.run_id) == rid)
                         .values(completion=ANSWER, code=ANSWER[32:-4]))
            conn.execute(update(Sample).where(col(Sample.run_id) == rid)
                         .where(col(Sample.verdict) == "fail")
                         .values(detail=DETAIL))


def serve(app: Any) -> tuple[str, Any]:
    import socket

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--benchmarks", type=int, default=10)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--calls", type=int, default=7)
    ap.add_argument("--db", type=Path, default=None, help="reuse this store (made if missing)")
    args = ap.parse_args()

    import httpx
    from sqlalchemy import text

    from benchdock.harnesses.config import EndpointConfig, Settings
    from benchdock.harnesses.engine.evidence import ensure_evidence
    from benchdock.server.viewer.app import create_viewer
    from benchdock.store.db import make_engine
    from tests.scripts.perf_compare import build_store

    home = Path(tempfile.mkdtemp(prefix="benchdock-perf-viewer-"))
    path = args.db or home / "benchdock.db"
    figures: dict[str, Any] = {"store": str(path)}
    if not path.exists():
        t = time.perf_counter()
        build_store(path, args.models, args.benchmarks, args.samples)
        figures["build_store_s"] = round(time.perf_counter() - t, 1)
    url = f"sqlite:///{path}"
    db = make_engine(url)
    t = time.perf_counter()
    figures["runs_summarised"] = ensure_evidence(db)
    figures["summarise_s"] = round(time.perf_counter() - t, 1)
    with db.connect() as conn:
        figures["runs"] = conn.execute(text("SELECT count(*) FROM run")).scalar()
        figures["samples"] = conn.execute(text("SELECT count(*) FROM sample")).scalar()
        pick = dict(conn.execute(text(
            "SELECT benchmark, id FROM run WHERE model = 'model-050'")).all())
        other = dict(conn.execute(text(
            "SELECT benchmark, id FROM run WHERE model = 'model-051'")).all())
    first = sorted(pick)[0]
    run, run_b = pick[first], other[first]
    aider = next((rid for b, rid in pick.items() if b.startswith("aider-polyglot")), run)
    give_texts(db, [run, run_b])

    settings = Settings(endpoints=[EndpointConfig(url="http://127.0.0.1:9/v1")], home=home,
                        database_url=url, sandbox="local")
    base, server = serve(create_viewer(settings, db))
    two = f"models=model-050&models=model-051&benchmark={first}"
    pages = {
        "runs list": "/runs",
        "runs list, one model": "/runs?model=model-050",
        "runs list, page 10 of a benchmark": f"/runs?benchmark={first}&page=2",
        "run page (1,000 samples)": f"/runs/{run}",
        "run status fragment (polled)": f"/runs/{run}/status",
        "samples, first page": f"/runs/{run}/samples",
        "samples, failing only": f"/runs/{run}/samples?verdict=fail",
        "samples, search 'candidate([1, 2]) == 7'":
            f"/runs/{run}/samples?q=candidate%28%5B1%2C+2%5D%29+%3D%3D+7",
        "samples, slowest first, tokens <= 100": f"/runs/{run}/samples?sort=-latency&max_tokens=100",
        "samples, one part (aider language)": f"/runs/{aider}/samples?part=rust",
        "sample page": f"/runs/{run}/samples/{first}-task",
        "side by side: shared benchmarks": "/compare?models=model-050&models=model-051",
        "side by side: 2 models x 1,000 tasks": f"/compare?{two}",
        "side by side: one task, diff": f"/compare/task?{two}&task=TASK",
        "dimensions (20 of 100 models)": "/dimensions",
        "dimensions, page 5": "/dimensions?page=5",
        "radar chart (all models)": "/charts/radar.png",
        "quality/speed chart (all models)": "/charts/quality_speed.png",
        "decisions": "/decisions",
    }
    with db.connect() as conn:
        task = conn.execute(text("SELECT task_id FROM sample WHERE run_id = :r AND seq = 7"),
                            {"r": run}).scalar()
    pages["sample page"] = f"/runs/{run}/samples/{task}"
    pages["side by side: one task, diff"] = f"/compare/task?{two}&task={task}"
    timings: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=base, timeout=600) as client:
        for name, page in pages.items():
            t = time.perf_counter()
            r = client.get(page)
            cold = time.perf_counter() - t
            if r.status_code != 200:
                print(f"{name}: {page} answered {r.status_code}: {r.text[:300]}",
                      file=sys.stderr)
                return 1
            warm = []
            for _ in range(args.calls):
                t = time.perf_counter()
                client.get(page).raise_for_status()
                warm.append(time.perf_counter() - t)
            timings[name] = {"first_ms": round(cold * 1000, 1),
                             "median_ms": round(statistics.median(warm) * 1000, 1),
                             "max_ms": round(max(warm) * 1000, 1),
                             "kb": round(len(r.content) / 1024, 1)}
            print(f"{name:45s} first {cold * 1000:8.1f} ms  median "
                  f"{statistics.median(warm) * 1000:8.1f} ms  max {max(warm) * 1000:8.1f} ms"
                  f"  {len(r.content) / 1024:7.1f} kB  {page}", file=sys.stderr)
    server.should_exit = True
    figures["pages"] = timings
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
