"""`benchdock setup ID [ID ...] | all` and `benchdock doctor`.

`setup` queues the same durable job as the `setup_benchmark` tool (the worker installs;
Ctrl-C cancels it) and follows its log; `setup demo` builds the demo model's llama.cpp as
before. `doctor` says what this machine has and lacks: the configuration, the endpoints and
their models, the sandbox, every benchmark family (ready, or why and the set-up that fixes
it) and the worker.
"""

from __future__ import annotations

import argparse
import sys

import anyio

from benchdock.harnesses.config import Settings
from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.service import operations as service
from benchdock.harnesses.service import setup
from benchdock.server import cli_demo
from benchdock.server.interrupt import ctrl_c_flag
from benchdock.server.text import table


def cmd_setup(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.ids == ["demo"]:
        try:
            return cli_demo.setup_demo(settings.envs_dir)
        except BenchdockError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    core = service.Core(settings)
    job = setup.request(settings, core.db, args.ids, confirm=args.yes)
    print_plan(job.plan)
    if job.status == "needs confirm":
        if not sys.stdin.isatty():
            print(f"{job.plan.why_confirm}: pass --yes to start it", file=sys.stderr)
            return 2
        if input("start it? [y/N] ").strip().lower() not in ("y", "yes"):
            return 1
        job = setup.request(settings, core.db, args.ids, confirm=True)
    if job.job_id is None:
        print_ready(job.ready or {})
        return 0 if job.status == "ready" else 1
    print(f"set-up job {job.job_id}: {job.status} (Ctrl-C cancels it)", file=sys.stderr)
    shown = 0
    with ctrl_c_flag() as ctrl_c:  # read between store calls, see interrupt.py
        while True:
            view = setup.view(settings, core.db, job.job_id, 200)
            lines = view.log or []
            for line in lines[shown:] if len(lines) > shown else []:
                print(f"  {line}", file=sys.stderr)
            shown = len(lines)
            if view.status in ("succeeded", "failed", "cancelled") or ctrl_c.wait(1):
                break
        if ctrl_c.is_set():
            setup.request(settings, core.db, args.ids, cancel=True)
            print("\ncancelling (the step under way stops at its next message) ...",
                  file=sys.stderr)
            return 130
    print_ready(view.ready or {})
    if view.error:
        print(f"failed: {view.error}", file=sys.stderr)
    return 0 if view.status == "succeeded" else 1


def print_plan(p: setup.SetupPlan) -> None:
    if p.already:
        print(f"installed already: {', '.join(p.already)}", file=sys.stderr)
    if p.steps:
        rows = [[s.name, ", ".join(s.benchmarks), _mb(s.download_mb), _mb(s.disk_mb),
                 f"{s.minutes:g}" if s.minutes is not None else "?", s.what[:60]]
                for s in p.steps]
        print(table(rows, ["step", "for", "download", "disk", "min", "what"]), file=sys.stderr)
        free = f"; {p.free_disk_mb:,.0f} MB free" if p.free_disk_mb is not None else ""
        print(f"total: download {p.download_mb:,.0f} MB, disk {p.disk_mb:,.0f} MB, "
              f"~{p.minutes:g} min{free} ({p.basis})", file=sys.stderr)
    for bid, why in (p.not_fixed or {}).items():
        print(f"set-up cannot make {bid} ready: {why}", file=sys.stderr)
    for note in p.notes or []:
        print(f"note: {note}", file=sys.stderr)


def _mb(v: float | None) -> str:
    return "?" if v is None else f"{v:,.0f} MB"


def print_ready(ready: dict[str, str]) -> None:
    for bid, state in ready.items():
        print(f"{bid}: {state}")


def cmd_doctor(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    print(f"home {settings.home}; store {settings.database_url.split('@')[-1]}; "
          f"venvs {settings.envs_dir}; sandbox {settings.sandbox}")
    statuses = anyio.run(service.list_models, settings, None)
    for st in statuses:
        state = (f"up ({st.server}{', swaps models: ' + st.swapping if st.swapping else ''}), "
                 f"{len(st.models)} model(s): {', '.join(m.id for m in st.models[:8])}"
                 if st.up else f"DOWN: {st.error}")
        print(f"endpoint {st.url}: {state}")
    from benchdock.harnesses.sandbox import docker_available

    ok, why = docker_available(settings.sandbox_image)
    print(f"docker sandbox ({settings.sandbox_image}): " + ("ok" if ok else f"no: {why}"))
    rows = []
    for b in service.list_benchmarks(settings):
        rows.append([b.id, "yes" if b.ready else "no", (b.setup or b.why_not or "")[:90]])
    print(table(rows, ["benchmark", "ready", "to fix"]))
    from benchdock.harnesses.engine.worker import worker_running

    print(f"worker: {'running' if worker_running(settings) else 'not running (started on demand)'}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    s = sub.add_parser("setup", help="set benchmarks up (venvs, datasets) as a background job; "
                       "'all' for every one; 'demo' builds the demo model's llama.cpp")
    s.add_argument("ids", nargs="+", metavar="ID",
                   help="benchmark ids (or a set-up step's name, e.g. aider), 'all', or 'demo'")
    s.add_argument("--yes", action="store_true", help="start a large set-up without asking")
    s.set_defaults(fn=cmd_setup)
    s = sub.add_parser("doctor", help="what this machine has and lacks: endpoints, sandbox, "
                       "each benchmark's readiness and the set-up that fixes it")
    s.set_defaults(fn=cmd_doctor)
