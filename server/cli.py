"""The `benchdock` command: `serve` (the MCP server), `worker`, and the same views for people
(`run`, `models`, `benchmarks`, `runs`, `results`; `compare`, `recommend`, `plan` and
`report` in `cli_choice`; `view`, the web viewer, in `cli_view`), plus `setup` (`cli_setup`),
`build-image` and `demo-server` (`cli_demo`).

Over stdio, stdout is the MCP protocol: everything else here logs to stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any

import anyio

from benchdock.harnesses.client.demo import DemoServerDied
from benchdock.harnesses.config import ConfigError, Settings
from benchdock.harnesses.contract.benchmark import ImageSpec, SetupStep
from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.service import operations as service
from benchdock.server import cli_decide, cli_demo, cli_setup, cli_view
from benchdock.server.cli_choice import add_commands
from benchdock.server.cli_run import add_run_arguments, print_results, run_request
from benchdock.server.interrupt import ctrl_c_flag
from benchdock.server.text import table
from benchdock.store.tables import FINAL_STATUSES as FINAL


def _settings() -> Settings:
    return Settings.from_env()


def cmd_serve(args: argparse.Namespace) -> int:
    from benchdock.server import app

    if args.generate_token:
        print(app.new_token())
        return 0
    if args.transport != "http":
        if args.token_file or args.insecure_no_auth:
            raise ConfigError("--token-file and --insecure-no-auth apply to --transport http only")
        app.create_server(_settings()).run(transport="stdio", show_banner=False)
        return 0
    token, notes = app.http_token(args.token_file, dict(os.environ))
    notes += app.check_bind(args.host, args.port, token, args.insecure_no_auth)
    print("\n".join(notes), file=sys.stderr, flush=True)
    # Without a token, a browser page could still reach a loopback server through DNS
    # rebinding: fastmcp's Host/Origin guard ("auto") refuses requests not addressed to it.
    app.create_server(_settings(), http_token=token).run(
        transport="http", host=args.host, port=args.port, show_banner=False,
        host_origin_protection="auto" if token is None else None)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from benchdock.harnesses.choice.adaptive_job import run_job as decide_job
    from benchdock.harnesses.engine.worker import run_worker
    from benchdock.harnesses.service.setup import run_job as setup_job

    n = run_worker(_settings(), idle_exit_s=args.idle_exit,
                   handlers={"setup": setup_job, "decide": decide_job})
    logging.getLogger("benchdock").info("worker done: %d run(s)", n)
    return 0


def cmd_workers(args: argparse.Namespace) -> int:
    from benchdock.harnesses.engine.worker import list_workers

    listing = list_workers(service.Core(_settings()).db, args.all)
    rows = [[w.id, "alive" if w.alive else ("stopped" if w.stopped_at else "DEAD"),
             ",".join(w.runs) or "-", str(w.heartbeat_at)[:19], f"{w.lease_s:.0f}s",
             " ".join(w.endpoints)] for w in listing.workers]
    print(table(rows, ["worker", "state", "holds", "heartbeat", "lease", "endpoints"]))
    print(f"{listing.database}; runs waiting for a worker: {listing.unclaimed}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from benchdock.store.db import make_engine, migrate

    settings = _settings()
    db = make_engine(settings.database_url, migrate_schema=False)
    applied = migrate(db)  # what is missing, in order, each recorded by name
    where = db.url.render_as_string(hide_password=True)
    print(f"{db.dialect.name} store {where}: " + (
        f"applied {', '.join(applied)}" if applied else "already up to date"))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    statuses = anyio.run(service.list_models, _settings(), None)
    rows = []
    for st in statuses:
        if not st.up:
            rows.append(["-", st.url, "DOWN", st.error or "", "", ""])
        for m in st.models:
            rows.append([m.id, st.url, st.server or "", str(m.context_size or ""),
                         m.quantization or "", str(m.parallel_slots or "")])
    print(table(rows, ["model", "endpoint", "server", "context", "quant", "slots"]))
    return 0


def cmd_benchmarks(args: argparse.Namespace) -> int:
    settings = _settings()
    if args.benchmark:
        print(service.benchmark(settings, args.benchmark).info().model_dump_json(indent=2))
        return 0
    rows = []
    for b in service.list_benchmarks(settings):
        rows.append([b.id, str(b.tasks), ",".join(b.dimensions),
                     "yes" if b.ready else f"no: {(b.why_not or '')[:50]}", b.title])
        rows += [[f"  {v}", "", "", "", ""] for v in b.variants or []]
    print(table(rows, ["id", "tasks", "dimensions", "ready", "title"]))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings()
    demo = None
    if args.model is None:
        statuses = anyio.run(service.list_models, settings, None)
        models = [m for s in statuses for m in s.models]
        if not settings.endpoints_configured:  # say what the look at the usual ports found
            from benchdock.harnesses.service.discovery import endpoints

            note = anyio.run(endpoints, settings)[1]
            if note:
                print(f"note: {note}", file=sys.stderr)
        if models:
            args.model = models[0].id
        elif "BENCHDOCK_ENDPOINTS" in os.environ or "BENCHDOCK_CONFIG" in os.environ:
            print(f"no model answers on {[s.url for s in statuses]}: "
                  f"{[s.error for s in statuses]}", file=sys.stderr)
            return 2
        else:
            from benchdock.harnesses.client.demo import DEMO_ALIAS

            settings.home.mkdir(parents=True, exist_ok=True)
            demo = cli_demo.start_for_run(settings.home / "demo-server.log")
            settings = settings.model_copy(update={"endpoints": [
                settings.endpoints[0].model_copy(update={"url": demo.url})]})
            args.model = DEMO_ALIAS
    if settings.sandbox == "auto":
        from benchdock.harnesses.sandbox import docker_available

        ok, why = docker_available(settings.sandbox_image)
        if not ok:
            print(f"note: Docker sandbox unavailable ({why}); the model's code runs in the LESS "
                  "ISOLATED local sandbox. For Docker: `benchdock build-image`.", file=sys.stderr)
    try:
        req = run_request(args)
        core = service.Core(settings)
        with ctrl_c_flag() as ctrl_c:  # from here on Ctrl-C cancels the run (even one queued
            # while it was pressed); the flag is read between store calls, see interrupt.py
            run = anyio.run(service.queue_run, settings, core.db, req)
            print(f"queued run {run.id}: {run.model} on {run.benchmark}, {run.total} samples, "
                  f"concurrency {run.concurrency}; data in {settings.home}", file=sys.stderr)
            while not ctrl_c.is_set():
                if demo is not None and (died := demo.death()):
                    service.cancel_run(core.db, run.id)
                    print(file=sys.stderr)
                    raise DemoServerDied(f"{died}\nrun {run.id} is cancelled (resume it "
                                         "with resume_run once an endpoint serves the model)")
                st = service.run_status(settings, core.db, run.id)
                eta = f", ETA {st.eta_s:.0f}s" if st.eta_s else ""
                print(f"\r{st.status}: {st.done}/{st.total}{eta}   ", end="", file=sys.stderr,
                      flush=True)
                if st.status in FINAL:
                    break
                ctrl_c.wait(1)
            if ctrl_c.is_set():
                service.cancel_run(core.db, run.id)
                print("\ncancelling ... (Ctrl-C again quits without waiting)", file=sys.stderr)
                while service.run_status(settings, core.db, run.id).status not in FINAL:
                    time.sleep(0.5)
        print(file=sys.stderr)
        final = service.run_status(settings, core.db, run.id).status
        if final == "failed":
            cli_demo.raise_if_dead(demo)  # its connection errors are not the story
        print_results(service.results(core.db, run.id, limit=args.show))
        return 0 if final == "succeeded" else 1
    except DemoServerDied:
        raise
    except Exception:
        cli_demo.raise_if_dead(demo)  # an error caused by the demo's death: say the death
        raise
    finally:
        if demo is not None:
            demo.stop()


def cmd_results(args: argparse.Namespace) -> int:
    core = service.Core(_settings())
    print_results(service.results(core.db, args.run_id, limit=args.show))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    core = service.Core(_settings())
    st = service.cancel_run(core.db, args.run_id, args.reason)
    state = st.status + (" (cancel requested: its worker stops it)"
                         if st.cancel_requested and st.status == "running" else "")
    print(f"{st.run_id}: {state}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    core = service.Core(_settings())
    rows = [[r.run_id, r.status, r.model, r.benchmark, f"{r.done}/{r.total}", str(r.created_at)[:19]]
            for r in service.list_runs(core.db, args.limit)]
    print(table(rows, ["run", "status", "model", "benchmark", "done", "created"]))
    return 0


def declared_setups(settings: Settings) -> dict[str, SetupStep]:
    """What the benchmarks' declarations say `benchdock setup` can install."""
    from benchdock.harnesses.contract.registry import all_benchmarks

    return {step.name: step for b in all_benchmarks(settings) for step in b.setups()}


def declared_images(settings: Settings) -> dict[str, ImageSpec]:
    """The images the benchmarks' declarations say they run in."""
    from benchdock.harnesses.contract.registry import all_benchmarks

    return {img.name: img for b in all_benchmarks(settings) for img in b.images()}


def cmd_build_image(args: argparse.Namespace) -> int:
    from benchdock.harnesses.sandbox.base import SandboxError
    from benchdock.harnesses.sandbox.image import build_image

    settings = _settings()
    spec = declared_images(settings)[args.harness]
    tag = args.tag or spec.tag
    try:
        built = build_image(tag, base=args.base, package=spec.package,
                            allow_missing=args.allow_missing, expected=spec.expected)
    except SandboxError as exc:
        print(f"benchdock: {exc}", file=sys.stderr)
        return 1
    chains = (built.record or {}).get("toolchains") or {}
    for name, entry in chains.items():
        state = "ok" if entry.get("ok") else "MISSING"
        print(f"  {name:<12} {state:<8} {entry.get('version') or entry.get('error', '')}",
              file=sys.stderr)
    if built.missing:
        print(f"WARNING: {tag} was built without {', '.join(built.missing)} (--allow-missing): "
              "those languages' exercises will be 'toolchain missing' verdicts", file=sys.stderr)
    print(f"{tag} {built.image_id}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="benchdock", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    s.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    s.add_argument("--host", default="127.0.0.1",
                   help="http: address to listen on; anything but loopback needs a token")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--token-file", default=None,
                   help="http: require this file's bearer token (else BENCHDOCK_HTTP_TOKEN)")
    s.add_argument("--generate-token", action="store_true",
                   help="print a fresh random token and exit")
    s.add_argument("--insecure-no-auth", action="store_true",
                   help="http: serve a non-loopback address without a token (anyone reaching "
                        "it can run code)")
    s.set_defaults(fn=cmd_serve)
    s = sub.add_parser("worker", help="execute queued runs (started by the server on its own; "
                       "with PostgreSQL, start one on each machine that reaches an endpoint)")
    s.add_argument("--idle-exit", type=float, default=5.0,
                   help="exit after N idle seconds (0: never, for a standing worker)")
    s.set_defaults(fn=cmd_worker)
    s = sub.add_parser("workers", help="the workers on this store: alive, holdings, endpoints")
    s.add_argument("--all", action="store_true", help="also workers that stopped cleanly")
    s.set_defaults(fn=cmd_workers)
    s = sub.add_parser("migrate", help="bring the store's schema up to date (SQLite or "
                       "PostgreSQL: BENCHDOCK_DATABASE_URL)")
    s.set_defaults(fn=cmd_migrate)
    s = sub.add_parser("run", help="run a benchmark and print its results")
    add_run_arguments(s)
    s.add_argument("--show", type=int, default=10, help="samples to print (0: the summary only)")
    s.set_defaults(fn=cmd_run)
    sub.add_parser("models", help="list models on the configured endpoints").set_defaults(fn=cmd_models)
    s = sub.add_parser("benchmarks", help="list benchmarks (or describe one in full)")
    s.add_argument("benchmark", nargs="?", help="a benchmark id: its full declaration as JSON")
    s.set_defaults(fn=cmd_benchmarks)
    s = sub.add_parser("runs", help="list recent runs")
    s.add_argument("--limit", type=int, default=20)
    s.set_defaults(fn=cmd_runs)
    s = sub.add_parser("results", help="show a run's results")
    s.add_argument("run_id")
    s.add_argument("--show", type=int, default=20, help="samples to print (0: the summary only)")
    s.set_defaults(fn=cmd_results)
    s = sub.add_parser("cancel", help="cancel a run (queued: at once; running: its worker stops it)")
    s.add_argument("run_id")
    s.add_argument("--reason", default=None, help="kept in the run's params as cancel_reason")
    s.set_defaults(fn=cmd_cancel)
    add_commands(sub)
    cli_decide.add_commands(sub)
    cli_view.add_commands(sub)
    cli_setup.add_commands(sub)
    settings = Settings.from_env()

    s = sub.add_parser("build-image", help="build a Docker image: the sandbox, or a harness's")
    images = declared_images(settings)
    s.add_argument("--harness", choices=list(images), default="sandbox",
                   help="; ".join(f"{name}: {img.what}" for name, img in images.items()))
    s.add_argument("--base", default=None,
                   help="base image (default python:3.12-slim; aider-polyglot: debian:bookworm-slim)")
    s.add_argument("--tag", default=None)
    s.add_argument("--allow-missing", action="store_true",
                   help="keep a harness image even when a toolchain could not be installed "
                        "(a warning lists them); without it such a build fails")
    s.set_defaults(fn=cmd_build_image)
    cli_demo.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("BENCHDOCK_LOG_LEVEL", "INFO"), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = parser().parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except (BenchdockError, ConfigError) as exc:
        print(f"benchdock: {exc}", file=sys.stderr)
        return 2


def _entry() -> Any:
    sys.exit(main())


if __name__ == "__main__":
    _entry()
