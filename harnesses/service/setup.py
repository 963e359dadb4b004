"""Setting benchmarks up as a durable job: what it would install (before anything is
downloaded), the job that installs it in the worker, and how far it is.

A benchmark's declaration lists its set-up steps (`setups()`: managed venvs, datasets, the
images a benchmark cannot run without), each with its declared transfer, disk and minutes
and a check of whether it is installed already. `plan` adds up the steps still missing for
the benchmarks asked for, checks the disk where they go, and says whether the set-up is
large enough to need `confirm` (no agent pulls gigabytes by accident). `queue` starts the
job — or finds the one already queued or running for the same steps (asking twice is
safe) — and the worker runs `run_job`, step after step, each step idempotent, so a job
taken over after its worker died carries on. What a step cannot fix (a category that needs
the internet, Docker missing) is said apart.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine

from benchdock.harnesses.client.reach import unreachable
from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract.benchmark import BenchmarkBase, SetupStep
from benchdock.harnesses.contract.compact import Compact
from benchdock.harnesses.contract.registry import UnknownBenchmark, all_benchmarks, get_benchmark
from benchdock.harnesses.engine.jobs import JobContext
from benchdock.harnesses.engine.worker import spawn_worker, worker_running
from benchdock.harnesses.errors import BenchdockError
from benchdock.store import jobs
from benchdock.store.tables import FINAL_STATUSES, Job, utcnow

# a set-up larger than any of these needs confirm=true
CONFIRM_DOWNLOAD_MB = 1000.0
CONFIRM_DISK_MB = 2000.0
CONFIRM_MINUTES = 10.0
BASIS = ("declared by each benchmark: measured on a 2-core machine with a warm package "
         "index; downloads take longer on a slow connection")


class SetupItem(Compact):
    name: str = Field(description="The set-up step")
    benchmarks: list[str] = Field(description="Benchmarks asked for that need it")
    what: str
    installed: bool
    unreachable: str | None = Field(default=None, description=(
        "Its download source does not answer from here: it would fail"))
    download_mb: float | None = None
    disk_mb: float | None = None
    minutes: float | None = None


class SetupPlan(Compact):
    benchmarks: list[str]
    steps: list[SetupItem] = Field(description="What the set-up installs, in order")
    already: list[str] = Field(description="Steps installed already (skipped)")
    download_mb: float = Field(description="Transfer for the missing steps, MB")
    disk_mb: float = Field(description="Disk they take once installed, MB")
    minutes: float = Field(description="Estimated time to install them")
    free_disk_mb: float | None = Field(default=None, description=(
        "Free disk where benchdock keeps venvs and data"))
    basis: str
    confirm_needed: bool = Field(description="Pass confirm=true to start it")
    why_confirm: str | None = None
    not_fixed: dict[str, str] | None = Field(default=None, description=(
        "Benchmarks that set-up cannot make ready, and why"))
    notes: list[str] | None = None


class SetupJob(Compact):
    job_id: str | None = Field(default=None, description="Pass to setup_benchmark to follow it")
    status: str = Field(description=(
        "ready (nothing to install), cannot set up (see plan.not_fixed), needs confirm, "
        "queued, running, succeeded, failed or cancelled"))
    plan: SetupPlan
    done: float | None = Field(default=None, description="Steps finished")
    total: float | None = None
    message: str | None = Field(default=None, description="What it is doing now")
    elapsed_s: float | None = None
    eta_s: float | None = None
    ready: dict[str, str] | None = Field(default=None, description=(
        "Each benchmark asked for: 'ready', or why not yet"))
    error: str | None = None
    log: list[str] | None = Field(default=None, description="The last lines of its log")


def resolve(settings: Settings, ids: Sequence[str]) -> list[BenchmarkBase]:
    """The benchmarks named (`all`: every one with something to set up)."""
    if not ids:
        raise BenchdockError("name the benchmarks to set up (list_benchmarks), or 'all'")
    if "all" in ids:
        return [b for b in all_benchmarks(settings) if b.setups()]
    out: dict[str, BenchmarkBase] = {}
    for name in ids:
        try:
            bench = get_benchmark(name, settings)
        except UnknownBenchmark as exc:
            # a step's own name (`benchdock setup aider`) stands for the benchmark declaring it
            owner = next((b for b in all_benchmarks(settings)
                          if any(st.name == name for st in b.setups())), None)
            if owner is None:
                raise BenchdockError(f"{exc}; or 'all'") from None
            bench = owner
        out[bench.id] = bench
    return list(out.values())


def _steps(benches: Sequence[BenchmarkBase]) -> tuple[dict[str, SetupStep], dict[str, list[str]]]:
    steps: dict[str, SetupStep] = {}
    users: dict[str, list[str]] = {}
    for b in benches:
        for step in b.setups():
            steps.setdefault(step.name, step)
            users.setdefault(step.name, []).append(b.id)
    return steps, users


def _installed(step: SetupStep) -> bool:
    return bool(step.installed is not None and step.installed())


def plan(settings: Settings, benches: Sequence[BenchmarkBase]) -> SetupPlan:
    """What setting these benchmarks up would install, and what it would cost here."""
    steps, users = _steps(benches)
    items = [SetupItem(name=n, benchmarks=users[n], what=s.what, installed=_installed(s),
                       download_mb=s.download_mb, disk_mb=s.disk_mb, minutes=s.minutes)
             for n, s in steps.items()]
    for i in items:
        src = steps[i.name].source
        if not i.installed and src:
            i.unreachable = unreachable(src)
    # a step whose source does not answer would only fail: it is said in not_fixed
    todo = [i for i in items if not i.installed and not i.unreachable]
    cut_off = {i.name: i.unreachable for i in items if i.unreachable}
    down = sum(i.download_mb or 0 for i in todo)
    disk = sum(i.disk_mb or 0 for i in todo)
    minutes = sum(i.minutes or 0 for i in todo)
    free = _free_mb(settings)
    big = [f"{label} {value:,.0f} {unit} over {limit:,.0f}" for label, value, unit, limit in (
        ("download", down, "MB", CONFIRM_DOWNLOAD_MB), ("disk", disk, "MB", CONFIRM_DISK_MB),
        ("time", minutes, "min", CONFIRM_MINUTES)) if value > limit]
    unknown = [i.name for i in todo if i.disk_mb is None]
    notes = [f"{', '.join(unknown)}: size not declared"] if unknown else []
    missing = {i.name for i in todo}
    not_fixed: dict[str, str] = {}
    for b in benches:
        why = b.readiness()
        online = any(r.kind == "internet" and not r.optional for r in b.requirements())
        dead = [f"{_host(st.source)} does not answer ({st.name})" for st in b.setups()
                if st.name in cut_off]
        if why and dead:
            not_fixed[b.id] = f"offline: {'; '.join(dead)}; {why}"
        elif why and (online or not any(st.name in missing for st in b.setups())):
            not_fixed[b.id] = why
    for b in benches:
        fp = b.footprint()
        if fp is not None and fp.items > fp.present:
            notes.append(f"{b.id}: set-up pulls no image; a full run then pulls {fp.what} "
                         f"(~{fp.download_gb:.0f} GB, ~{fp.disk_gb:.0f} GB on disk)")
    return SetupPlan(
        benchmarks=[b.id for b in benches], steps=todo, already=[i.name for i in items
                                                               if i.installed],
        download_mb=round(down, 1), disk_mb=round(disk, 1), minutes=round(minutes, 1),
        free_disk_mb=free, basis=BASIS, confirm_needed=bool(big),
        why_confirm=("large: " + "; ".join(big)) if big else None,
        not_fixed=not_fixed or None, notes=notes or None)


def _host(url: str | None) -> str:
    return urlsplit(url).netloc if url else "its source"


def _free_mb(settings: Settings) -> float | None:
    where = settings.envs_dir
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        return round(shutil.disk_usage(where).free / 1e6, 1)
    except OSError:
        return None


def hint(bench: BenchmarkBase) -> str | None:
    """The set-up call that makes `bench` ready, with its cost; None when it is ready or
    when set-up cannot fix what is missing (`advice` says why)."""
    return advice(bench)[0]


def advice(bench: BenchmarkBase) -> tuple[str | None, str | None]:
    """(the set-up call that makes `bench` ready, with its cost; or why set-up cannot)."""
    if bench.readiness() is None:
        return None, None
    p = plan(bench.settings, [bench])
    blocked = (p.not_fixed or {}).get(bench.id)
    if blocked is not None or not p.steps:
        return None, blocked
    return f"setup_benchmark(['{bench.id}']): {cost(p)}", None


def size(mb: float) -> str:
    return f"{mb / 1000:.1f} GB" if mb >= 1000 else f"{mb:.0f} MB" if mb >= 10 else f"{mb:.1f} MB"


def cost(p: SetupPlan) -> str:
    return (f"~{p.minutes:g} min, {size(p.download_mb)} download, {size(p.disk_mb)} disk"
            + (", confirm=true" if p.confirm_needed else ""))


def key_of(p: SetupPlan) -> str:
    return "setup:" + ",".join(sorted(s.name for s in p.steps))


def request(settings: Settings, db: Engine, ids: Sequence[str], confirm: bool = False,
            cancel: bool = False) -> SetupJob:
    """Plan the set-up and start it (or find it, or cancel it); never waits."""
    benches = resolve(settings, ids)
    p = plan(settings, benches)
    if cancel:
        job = _job_for(db, p, benches)
        if job is None:
            raise BenchdockError(f"no set-up of {', '.join(p.benchmarks)} is queued or running")
        jobs.request_cancel(db, job.id)
        return view(settings, db, job.id, 0)
    if not p.steps:
        last = _job_for(db, p, benches)
        if last is not None and (last.status not in FINAL_STATUSES or last.status == "succeeded"):
            return view(settings, db, last.id, 0)  # the job that set them up: asked again
        ready = readiness(benches)
        status = "ready" if all(v == "ready" for v in ready.values()) else "cannot set up"
        return SetupJob(status=status, plan=p, ready=ready)
    if p.free_disk_mb is not None and p.disk_mb > p.free_disk_mb:
        raise BenchdockError(
            f"setting up {', '.join(p.benchmarks)} needs ~{p.disk_mb:,.0f} MB of disk and "
            f"{settings.envs_dir} has {p.free_disk_mb:,.0f} MB free; free some, or set "
            "BENCHDOCK_ENVS to a larger disk")
    existing = jobs.latest(db, "setup", key_of(p))
    if existing is not None and existing.status not in FINAL_STATUSES:
        return view(settings, db, existing.id, 0)
    if existing is not None and existing.status in ("failed", "cancelled") and not confirm:
        return view(settings, db, existing.id, 20)  # say why; confirm=true tries again
    if p.confirm_needed and not confirm:
        return SetupJob(status="needs confirm", plan=p, ready=readiness(benches))
    job = jobs.add(db, "setup", key_of(p), {"benchmarks": p.benchmarks,
                                            "steps": [s.name for s in p.steps]},
                   total=len(p.steps))
    spawn_worker(settings)
    return view(settings, db, job.id, 0, p)


def _job_for(db: Engine, p: SetupPlan, benches: Sequence[BenchmarkBase]) -> Job | None:
    """The newest set-up job covering these benchmarks (its steps may be done by now)."""
    want = set(p.benchmarks)
    for job in jobs.list_jobs(db, "setup", 50):
        if want <= set(job.params.get("benchmarks") or []):
            return job
    return None


def readiness(benches: Sequence[BenchmarkBase]) -> dict[str, str]:
    return {b.id: b.readiness() or "ready" for b in benches}


def view(settings: Settings, db: Engine, job_id: str, log_lines: int,
         p: SetupPlan | None = None) -> SetupJob:
    job = jobs.get(db, job_id)
    if job is None:
        recent = [j.id for j in jobs.list_jobs(db, "setup", 5)]
        raise BenchdockError(f"unknown set-up job {job_id!r}; recent: {', '.join(recent) or 'none'}")
    if job.status not in FINAL_STATUSES and not worker_running(settings) and \
            jobs.pending_here(db, ["setup"]):
        spawn_worker(settings)  # its worker died: another carries on
    benches = resolve(settings, job.params.get("benchmarks") or [])
    final = job.status in FINAL_STATUSES
    end = job.finished_at or utcnow()
    start = job.started_at
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=end.tzinfo)
    if end.tzinfo is None and start is not None:
        end = end.replace(tzinfo=start.tzinfo)
    lines = (job.log or "").splitlines()[-log_lines:] if log_lines else None
    return SetupJob(
        job_id=job.id, status=job.status, plan=p or plan(settings, benches),
        done=job.done, total=job.total, message=job.message,
        elapsed_s=round((end - start).total_seconds(), 1) if start else None,
        eta_s=None if final else job.eta_s, error=job.error,
        ready=readiness(benches) if final else None, log=lines or None)


async def wait(settings: Settings, db: Engine, job_id: str, timeout_s: float,
               log_lines: int = 0) -> SetupJob:
    import anyio

    deadline = anyio.current_time() + timeout_s
    while True:
        v = view(settings, db, job_id, log_lines)
        if v.status in FINAL_STATUSES or anyio.current_time() >= deadline:
            return v
        await anyio.sleep(0.5)


class StepOutcome(BaseModel):
    name: str
    outcome: str
    seconds: float


def run_job(ctx: JobContext) -> dict[str, Any]:
    """The worker's part: install each missing step in turn, saying progress; a step that
    fails does not stop the others (the job fails naming it)."""
    settings = ctx.settings
    benches = resolve(settings, ctx.params.get("benchmarks") or [])
    steps, _ = _steps(benches)
    names = [n for n in ctx.params.get("steps") or [] if n in steps]
    declared = {n: (steps[n].minutes or 1.0) * 60 for n in names}
    outcomes: list[StepOutcome] = []
    spent = planned = 0.0
    for i, name in enumerate(names):
        ctx.check()
        step = steps[name]
        rest = sum(declared[n] for n in names[i:])
        pace = spent / planned if planned else 1.0
        ctx.progress(done=i, total=len(names), message=f"{name}: {step.what}",
                     eta_s=rest * pace)
        t0 = time.monotonic()
        if _installed(step):
            ctx.say(f"{name}: installed already")
            outcomes.append(StepOutcome(name=name, outcome="installed already", seconds=0))
            continue
        ctx.say(f"{name}: installing {step.what}")
        try:
            where = step.run(ctx.say)
            outcome = f"installed: {where}"
        except Exception as exc:
            if ctx.stopping():
                raise
            outcome = f"failed: {type(exc).__name__}: {exc}"
        took = time.monotonic() - t0
        spent, planned = spent + took, planned + declared[name]
        ctx.say(f"{name}: {outcome} ({took:.0f} s)")
        outcomes.append(StepOutcome(name=name, outcome=outcome, seconds=round(took, 1)))
    ctx.progress(done=len(names), total=len(names), message="done", eta_s=0)
    result = {"steps": [o.model_dump() for o in outcomes], "ready": readiness(benches)}
    failed = [o for o in outcomes if o.outcome.startswith("failed")]
    if failed:
        raise SetupFailed("; ".join(f"{o.name} {o.outcome}" for o in failed), result)
    return result


class SetupFailed(RuntimeError):
    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result
