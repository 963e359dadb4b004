"""The operations the MCP tools and the CLI share. Each validates its input against the
live state (configured endpoints, known benchmarks, stored runs) and raises
`BenchdockError` with the bad value and the valid choices."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from benchdock.harnesses.client.endpoints import (
    EndpointStatus,
    ModelInfo,
    default_concurrency,
    discover,
)
from benchdock.harnesses.client.llm import SamplingParams
from benchdock.harnesses.config import EndpointConfig, Settings
from benchdock.harnesses.contract.benchmark import (
    DEFAULT_MAX_TOKENS,
    BenchmarkBase,
    BenchmarkBrief,
    BenchmarkInfo,
    DatasetUnavailable,
)
from benchdock.harnesses.contract.metrics import compute_metrics
from benchdock.harnesses.contract.registry import (
    UnknownBenchmark,
    all_benchmarks,
    get_benchmark,
    run_tables,
)
from benchdock.harnesses.engine.worker import needs_worker, spawn_worker, worker_running
from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.service import discovery, links, seen
from benchdock.harnesses.service.setup import advice
from benchdock.harnesses.service.views import Results, RunRequest, RunStatus, SampleView
from benchdock.store import queries as q
from benchdock.store.tables import FINAL_STATUSES, Run, Sample, utcnow

SLOW_PROBE_S = 30.0  # a second look at an endpoint that timed out before a model is "unknown"


async def list_models(settings: Settings, endpoint: str | None = None) -> list[EndpointStatus]:
    eps, _ = await discovery.endpoints(settings)
    if endpoint is not None and not any(endpoint in (e.url, e.name) for e in eps):
        valid = ", ".join(e.label for e in eps)
        raise BenchdockError(f"unknown endpoint {endpoint!r}; configured endpoints: {valid}")
    statuses = await discover(eps, endpoint)
    await anyio.to_thread.run_sync(seen.remember, settings.home, statuses)
    return statuses


def _remembered(settings: Settings, st: EndpointStatus) -> EndpointStatus:
    if st.up or "Timeout" not in (st.error or ""):
        return st
    got = seen.recall(settings.home, st.url)
    if got is None:
        return st
    last, at = got
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))
    return last.model_copy(update={"error": (
        f"busy: /v1/models did not answer in {SLOW_PROBE_S:.0f} s ({st.error}); its models "
        f"as it listed them at {when}")})


async def find_model(
    settings: Settings, model: str, endpoint: str | None
) -> tuple[EndpointConfig, EndpointStatus, ModelInfo]:
    statuses = await list_models(settings, endpoint)
    eps, _ = await discovery.endpoints(settings)
    slow = [st for st in statuses if not st.up and "Timeout" in (st.error or "")]
    if slow and not any(m.id == model for st in statuses for m in st.models):
        # a server busy generating (a CPU-served model beside scoring) may answer late
        again = await discover([e for e in eps if e.url in {st.url for st in slow}],
                               timeout=SLOW_PROBE_S)
        await anyio.to_thread.run_sync(seen.remember, settings.home, again)
        statuses = [st for st in statuses if st not in slow] + again
        # still busy: what it listed when it last answered (seen.py)
        statuses = [_remembered(settings, st) for st in statuses]
    for st in statuses:
        for m in st.models:
            if m.id == model:
                ep = next((e for e in eps if e.url == st.url), EndpointConfig(url=st.url))
                return ep, st, m
    known = sorted({m.id for st in statuses for m in st.models})
    down = [f"{st.url} ({st.error})" for st in statuses if not st.up]
    msg = f"unknown model {model!r}; models on the configured endpoints: {', '.join(known) or 'none'}"
    if down:
        msg += f". Endpoints down: {'; '.join(down)}"
    raise BenchdockError(msg + ". Call list_models to see them.")


def describe(settings: Settings, name: str) -> BenchmarkInfo:
    """One benchmark in full, with the set-up that makes it ready."""
    bench = benchmark(settings, name)
    info = bench.info()
    if not info.ready:
        info.setup, blocked = advice(bench)
        info.why_not = blocked or info.why_not
    return info


def benchmark(settings: Settings, name: str) -> BenchmarkBase:
    try:
        return get_benchmark(name, settings)
    except UnknownBenchmark as exc:
        raise BenchdockError(str(exc)) from None


def list_benchmarks(settings: Settings) -> list[BenchmarkBrief]:
    """One line per family: its whole-suite benchmark with the others as variants. A reason
    or a set-up is said once, on the family's line; a variant adds only what differs."""
    briefs: dict[str, BenchmarkBrief] = {}
    reasons: dict[str, str | None] = {}
    for bench in all_benchmarks(settings):
        head = briefs.get(bench.family)
        why = bench.readiness()
        if head is None:
            briefs[bench.family] = brief = bench.brief()
            reasons[bench.family] = why
            if why is not None:
                fix, blocked = advice(bench)
                if fix is not None:
                    brief.setup = fix
                    brief.why_not = "not set up (see setup)"
                elif blocked is not None:  # said as it is: no set-up command fixes it
                    brief.why_not = blocked if len(blocked) <= 120 else blocked[:119] + "…"
            continue
        variant = f"{bench.id} ({bench.nominal_tasks})" + (
            f", not here: {variant_reason(why)}" if why and why != reasons[bench.family]
            else "")
        head.variants = [*(head.variants or []), variant]
    return list(briefs.values())


def variant_reason(why: str) -> str:
    """A variant's reason in a few words: the set-up command where it names one, else its
    first clause (describe_benchmark gives the whole)."""
    command = re.search(r"`(benchdock [^`]+)`", why)
    if command:
        return f"run `{command.group(1)}`"
    return why.split(" (", 1)[0][:60]


def run_options(bench: BenchmarkBase, req: RunRequest) -> BaseModel:
    """The benchmark's options from `options` and the `mode` shorthand, validated."""
    raw = dict(req.options or {})
    if req.mode is not None:
        if bench.main_option is None:
            having = list(dict.fromkeys(b.family for b in all_benchmarks(bench.settings)
                                        if b.main_option))
            raise BenchdockError(
                f"mode={req.mode!r}: {bench.id} has no options to set; mode applies to "
                f"{', '.join(having) or 'no installed benchmark'}")
        raw[bench.main_option] = req.mode
    return bench.parse_options(raw)


async def queue_run(settings: Settings, db: Engine, req: RunRequest) -> Run:
    bench = benchmark(settings, req.benchmark)
    if req.n_samples > 1 and req.temperature == 0:
        raise BenchdockError(
            f"n_samples={req.n_samples} with temperature=0 would ask for {req.n_samples} identical "
            "greedy answers; set temperature > 0 (e.g. 0.8) for pass@k, or n_samples=1")
    options = run_options(bench, req)
    try:
        all_tasks = await anyio.to_thread.run_sync(bench.tasks)
    except DatasetUnavailable as exc:
        raise BenchdockError(str(exc)) from None
    ep, status, info = await find_model(settings, req.model, req.endpoint)
    ids = [t.id for t in all_tasks]
    if req.tasks:
        unknown = [t for t in req.tasks if t not in set(ids)]
        if unknown:
            raise BenchdockError(
                f"unknown task id(s) {unknown[:5]} for {bench.id}; valid ids look like "
                f"{ids[:3]} ({len(ids)} tasks)")
        chosen = [t for t in ids if t in set(req.tasks)]
    else:
        chosen = ids
    if req.limit is not None:
        chosen = bench.first(chosen, req.limit)
    max_tokens = req.max_tokens or int(bench.run_defaults.get("max_tokens", DEFAULT_MAX_TOKENS))
    params: dict[str, Any] = SamplingParams(temperature=req.temperature, top_p=req.top_p,
                                            max_tokens=max_tokens, seed=req.seed).model_dump()
    decided, why = await bench.configure(ep, req.model, options)
    params["options"] = decided
    if why:
        params["options_reason"] = why
    if status.swapping or ep.swaps:  # runs of another model wait (store/queue.py)
        params["swapping"] = status.swapping or "configured"
    run = Run(
        id=uuid.uuid4().hex[:12], benchmark=bench.id, benchmark_version=bench.version,
        dataset_hash=await anyio.to_thread.run_sync(bench.dataset_hash), model=req.model,
        endpoint_url=ep.url, model_identity=info.model_dump(), params=params,
        task_ids=chosen, n_samples=req.n_samples,
        concurrency=req.concurrency or default_concurrency(status, info, ep),
        sandbox_requested=settings.sandbox, total=len(chosen) * req.n_samples,
    )
    q.add_run(db, run)
    spawn_worker(settings)
    return run


def _get(db: Engine, run_id: str) -> Run:
    run = q.get_run(db, run_id)
    if run is None:
        recent = q.recent_run_ids(db, 5)
        hint = f"recent runs: {', '.join(recent)}" if recent else "there are no runs yet"
        raise BenchdockError(f"unknown run id {run_id!r}; {hint}. Call list_runs to see them.")
    return run


def viewer_base(db: Engine, home: Path | None) -> str | None:
    """The running viewer's base URL for this store (None: no viewer, or no home given)."""
    if home is None:
        return None
    return links.viewer_base(home, db.url.render_as_string(hide_password=False))


def _status(db: Engine, run: Run, viewer: str | None = None) -> RunStatus:
    done = q.count_scored(db, run.id)
    end = run.finished_at or utcnow()
    elapsed = (end - run.started_at).total_seconds() if run.started_at else None
    eta = None
    if run.status == "running" and elapsed and done:
        eta = elapsed / done * max(0, run.total - done)
    return RunStatus(
        run_id=run.id, status=run.status, model=run.model, benchmark=run.benchmark,
        endpoint=run.endpoint_url, done=done, total=run.total, elapsed_s=elapsed, eta_s=eta,
        error=run.error, sandbox=run.sandbox_used, isolation=run.isolation,
        cancel_requested=run.cancel_requested,
        created_at=run.created_at, finished_at=run.finished_at, params=run.params,
        view_url=links.link(viewer, links.run_path(run.id)),
    )


def run_status(settings: Settings, db: Engine, run_id: str) -> RunStatus:
    run = _get(db, run_id)
    if run.status not in FINAL_STATUSES and not worker_running(settings) and needs_worker(
            settings, db, run):
        spawn_worker(settings)  # the worker died or exited early: start another to carry on
    return _status(db, run, viewer_base(db, settings.home))


def peek_status(db: Engine, run_id: str) -> RunStatus:
    """A run's status as stored, without starting a worker for it (what a viewer shows:
    looking at a run never sets anything going)."""
    return _status(db, _get(db, run_id))


async def wait_for_run(
    settings: Settings, db: Engine, run_id: str, timeout_s: float,
    progress: object = None,
) -> RunStatus:
    """Poll until the run ends or `timeout_s` passes; `progress(done, total, message)` is
    awaited on every change."""
    deadline = anyio.current_time() + timeout_s
    last = -1
    while True:
        st = run_status(settings, db, run_id)
        if progress is not None and st.done != last:
            last = st.done
            await progress(st.done, st.total, f"{st.status}: {st.done}/{st.total} samples scored")  # type: ignore[operator]
        if st.status in FINAL_STATUSES or anyio.current_time() >= deadline:
            return st
        await anyio.sleep(1.0)  # progress by the second: a faster poll costs a local model CPU


def cancel_run(db: Engine, run_id: str, reason: str | None = None, *,
               home: Path | None = None) -> RunStatus:
    """Stop a run; `reason` (e.g. a decision reached) is recorded in its params. With
    `home`, the status links to a running viewer."""
    run = _get(db, run_id)
    if run.status in FINAL_STATUSES:
        return _status(db, run, viewer_base(db, home))
    q.request_cancel(db, run_id, reason)
    return _status(db, _get(db, run_id), viewer_base(db, home))


def resume_run(settings: Settings, db: Engine, run_id: str) -> RunStatus:
    run = _get(db, run_id)
    if run.status not in ("failed", "cancelled") or not q.requeue(db, run_id):
        status = _get(db, run_id).status  # another client resumed it first, perhaps
        raise BenchdockError(f"run {run_id} is {status}; only failed or cancelled runs resume")
    spawn_worker(settings)
    return _status(db, _get(db, run_id), viewer_base(db, settings.home))


def _view(s: Sample, raw: bool) -> SampleView:
    return SampleView(
        task_id=s.task_id, sample_index=s.sample_index, status=s.verdict or "pending",
        base_status=s.base_verdict, plus_status=s.plus_verdict, detail=s.detail, code=s.code,
        truncated=s.truncated, finish_reason=s.finish_reason, latency_s=s.latency_s,
        ttft_s=s.ttft_s, completion_tokens=s.completion_tokens, cached=s.cached,
        completion=s.completion if raw else None, reasoning=s.reasoning if raw else None,
        evidence=s.extra,
    )


VERDICT_FILTERS = ("pass", "fail", "error", "timeout")


def results(db: Engine, run_id: str, offset: int = 0, limit: int = 20,
            status: str | None = None, include_raw: bool = False, *,
            home: Path | None = None) -> Results:
    """A run's scores and one page of its samples. With `home`, the status links to a
    running viewer."""
    run = _get(db, run_id)
    if status is not None and status not in VERDICT_FILTERS:
        raise BenchdockError(f"unknown status filter {status!r}; valid: {', '.join(VERDICT_FILTERS)}")
    if offset < 0 or not 0 <= limit <= 500:
        raise BenchdockError(f"offset must be >= 0 and limit 0..500 (got offset={offset}, "
                             f"limit={limit}; 0 = the summary without samples)")
    metrics = run.metrics
    if metrics is None:  # still running: score what is there
        metrics = compute_metrics(q.all_samples(db, run_id), run.n_samples)
    metrics = dict(metrics)
    st = _status(db, run, viewer_base(db, home))
    metrics["timing"] = {**metrics.get("timing", {}), "wall_s": st.elapsed_s}
    infra = metrics.get("infrastructure") or {}
    if infra.get("retries"):  # samples run again on a fresh sandbox: time the model did not cost
        metrics["timing"]["infrastructure_retries"] = infra["retries"]
    rows, total = q.samples_page(db, run_id, offset, limit, status)
    nxt = offset + len(rows)
    return Results(run=st, metrics=metrics, tables=run_tables(run.benchmark, metrics, run.params),
                   samples=[_view(s, include_raw) for s in rows],
                   offset=offset, total_samples=total,
                   next_offset=nxt if limit and nxt < total else None)


def list_runs(db: Engine, limit: int = 20, status: str | None = None, *,
              home: Path | None = None) -> list[RunStatus]:
    viewer = viewer_base(db, home)
    return [_status(db, r, viewer) for r in q.list_runs(db, limit, status)]




class Core:
    """Settings plus the store engine (opened on first use), shared by the tools of one server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._db: Engine | None = None

    @property
    def db(self) -> Engine:
        if self._db is None:
            from benchdock.store.db import make_engine

            self._db = make_engine(self.settings.database_url)
        return self._db
