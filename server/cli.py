"""The `benchdock` command: `serve` (the MCP server), `worker`, and the same views for people
(`run`, `models`, `benchmarks`, `runs`, `results`; `compare`, `recommend`, `plan` and
`report` in `cli_choice`), plus `setup`, `build-image` and `demo-server` (`cli_demo`).

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

from benchdock.harnesses import service
from benchdock.harnesses.config import ConfigError, Settings
from benchdock.harnesses.demo import DemoServerDied
from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.views import Results, RunRequest
from benchdock.server import cli_demo
from benchdock.server.cli_choice import add_commands
from benchdock.server.text import table


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
    from benchdock.harnesses.worker import run_worker

    n = run_worker(_settings(), idle_exit_s=args.idle_exit)
    logging.getLogger("benchdock").info("worker done: %d run(s)", n)
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
    from benchdock.harnesses.registry import all_benchmarks

    rows = [[b.id, str(b.nominal_tasks), ",".join(b.dimensions), b.title] for b in all_benchmarks()]
    print(table(rows, ["id", "tasks", "dimensions", "title"]))
    return 0


def print_results(res: Results) -> None:
    r = res.run
    print(f"\nrun {r.run_id}: {r.model} on {r.benchmark} -> {r.status}"
          f" ({r.done}/{r.total} samples, sandbox: {r.sandbox})")
    if r.error:
        print(f"error: {r.error}")
    rows = []
    for key, label in (("scores_base", "base tests"), ("scores", "all tests")):
        for name, sc in (res.metrics.get(key) or {}).items():
            lo, hi = sc["ci95"]
            rows.append([f"{name} ({label})", f"{sc['value']:.3f}", f"[{lo:.3f}, {hi:.3f}]", str(sc["n"])])
    if rows:
        print(table(rows, ["metric", "value", "95% CI", "n"]))
    if res.metrics.get("bfcl"):
        print_bfcl(res.metrics["bfcl"], r.params)
    if res.metrics.get("aider"):
        print_aider(res.metrics["aider"])
    t = res.metrics.get("timing", {})

    def fmt(v: float | None, f: str) -> str:
        return "-" if v is None else format(v, f)

    print(f"wall {fmt(t.get('wall_s'), '.1f')} s, mean latency {fmt(t.get('mean_latency_s'), '.2f')} s, "
          f"ttft {fmt(t.get('mean_ttft_s'), '.3f')} s, {fmt(t.get('tokens_per_s'), '.1f')} tok/s, "
          f"{t.get('cached', 0)} cached; verdicts {res.metrics.get('verdicts')}")
    if res.samples:
        print(table([[s.task_id, s.status, _short(s.detail)] for s in res.samples],
                     ["task", "verdict", "detail"]))


def print_bfcl(bfcl: dict[str, Any], params: dict[str, Any]) -> None:
    """BFCL's per-category table and its own overall figures."""
    print(f"BFCL, {bfcl.get('mode')} mode ({params.get('bfcl_mode_reason', '')})")
    rows = [[cat, f"{v['accuracy']:.3f}", f"[{v['ci95'][0]:.3f}, {v['ci95'][1]:.3f}]",
             f"{v['correct']}/{v['n']}"] for cat, v in bfcl.get("per_category", {}).items()]
    print(table(rows, ["category", "accuracy", "95% CI", "correct"]))
    overall = bfcl.get("overall") or {}
    figures = [f"{k} {v:.3f}" for k, v in overall.items() if isinstance(v, float)]
    if figures:
        print("BFCL aggregate: " + ", ".join(figures))


def print_aider(aider: dict[str, Any]) -> None:
    """Aider's figures per language: pass rate after each attempt, well-formed edits."""
    print(f"Aider polyglot, edit format {aider.get('edit_format')}")

    def row(name: str, v: dict[str, Any]) -> list[str]:
        p1, p2 = v["pass_rate_1"], v["pass_rate_2"]
        wf = v.get("well_formed")
        return [name, f"{p1['rate']:.3f} [{p1['ci95'][0]:.2f}, {p1['ci95'][1]:.2f}]",
                f"{p2['rate']:.3f} [{p2['ci95'][0]:.2f}, {p2['ci95'][1]:.2f}]",
                "-" if wf is None else f"{wf:.0%}", str(v["errors"]), str(v["n"])]

    rows = [row(lang, v) for lang, v in (aider.get("per_language") or {}).items()]
    if aider.get("overall"):
        rows.append(row("all", aider["overall"]))
    print(table(rows, ["language", "pass after try 1 [95% CI]", "pass after try 2 [95% CI]",
                        "well-formed", "errors", "n"]))


def _short(detail: str | None) -> str:
    """One line of evidence: the failing assert and its exception when there are both."""
    if not detail:
        return ""
    lines = [ln.strip() for ln in detail.splitlines() if ln.strip()]
    if len(lines) > 1 and lines[-1].startswith("AssertionError") and lines[0].startswith("assert"):
        return f"{lines[0][:60]} -> {lines[-1][:30]}"
    return lines[-1][:90]


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings()
    demo = None
    if args.model is None:
        statuses = anyio.run(service.list_models, settings, None)
        models = [m for s in statuses for m in s.models]
        if models:
            args.model = models[0].id
        elif "BENCHDOCK_ENDPOINTS" in os.environ or "BENCHDOCK_CONFIG" in os.environ:
            print(f"no model answers on {[s.url for s in statuses]}: "
                  f"{[s.error for s in statuses]}", file=sys.stderr)
            return 2
        else:
            from benchdock.harnesses.demo import DEMO_ALIAS

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
        req = RunRequest(model=args.model, benchmark=args.benchmark, limit=args.limit,
                         n_samples=args.n_samples, temperature=args.temperature,
                         max_tokens=args.max_tokens, mode=args.mode)
        core = service.Core(settings)
        run = anyio.run(service.queue_run, settings, core.db, req)
        print(f"queued run {run.id}: {run.model} on {run.benchmark}, {run.total} samples, "
              f"concurrency {run.concurrency}; data in {settings.home}", file=sys.stderr)
        try:
            while True:
                if demo is not None and (died := demo.death()):
                    service.cancel_run(core.db, run.id)
                    print(file=sys.stderr)
                    raise DemoServerDied(f"{died}\nrun {run.id} is cancelled (resume it "
                                         "with resume_run once an endpoint serves the model)")
                st = service.run_status(settings, core.db, run.id)
                eta = f", ETA {st.eta_s:.0f}s" if st.eta_s else ""
                print(f"\r{st.status}: {st.done}/{st.total}{eta}   ", end="", file=sys.stderr, flush=True)
                if st.status in ("succeeded", "failed", "cancelled"):
                    break
                time.sleep(1)
        except KeyboardInterrupt:
            service.cancel_run(core.db, run.id)
            print("\ncancelling ...", file=sys.stderr)
            while service.run_status(settings, core.db, run.id).status not in ("failed", "cancelled", "succeeded"):
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


def cmd_runs(args: argparse.Namespace) -> int:
    core = service.Core(_settings())
    rows = [[r.run_id, r.status, r.model, r.benchmark, f"{r.done}/{r.total}", str(r.created_at)[:19]]
            for r in service.list_runs(core.db, args.limit)]
    print(table(rows, ["run", "status", "model", "benchmark", "done", "created"]))
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    from benchdock.harnesses.aider import environment as aider_env
    from benchdock.harnesses.bfcl import environment as bfcl_env
    from benchdock.harnesses.config import default_envs_dir
    from benchdock.harnesses.envs import EnvironmentMissing

    if args.harness == "demo":
        try:
            return cli_demo.setup_demo(default_envs_dir())
        except BenchdockError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    ensure = {"bfcl": bfcl_env.ensure_env, "aider": aider_env.ensure_env}[args.harness]
    try:
        env = ensure(default_envs_dir(), say=lambda m: print(m, file=sys.stderr))
    except EnvironmentMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.harness}: {env.root} (Python {env.python_version})")
    return 0


def cmd_build_image(args: argparse.Namespace) -> int:
    from benchdock.harnesses.sandbox.base import SandboxError
    from benchdock.harnesses.sandbox.image import build_image

    settings = _settings()
    if args.harness == "aider-polyglot":
        tag, package = args.tag or settings.polyglot_image, "benchdock.harnesses.aider"
    else:
        tag, package = args.tag or settings.sandbox_image, "benchdock.harnesses.sandbox"
    try:
        built = build_image(tag, base=args.base, package=package, allow_missing=args.allow_missing)
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
    s = sub.add_parser("worker", help="execute queued runs (started by the server on its own)")
    s.add_argument("--idle-exit", type=float, default=5.0, help="exit after N idle seconds")
    s.set_defaults(fn=cmd_worker)
    s = sub.add_parser("run", help="run a benchmark and print its results")
    s.add_argument("benchmark", nargs="?", default="humaneval")
    s.add_argument("--model", help="model id (default: the first one found, else the demo model)")
    s.add_argument("--limit", type=int, default=None)
    s.add_argument("--n-samples", type=int, default=1)
    s.add_argument("--temperature", type=float, default=0.0)
    s.add_argument("--max-tokens", type=int, default=768)
    s.add_argument("--show", type=int, default=10, help="samples to print")
    s.add_argument("--mode", default=None,
                   help="bfcl: how to ask for function calls (auto, native, prompting); "
                        "aider-polyglot: the edit format (auto, whole, diff, udiff, ...)")
    s.set_defaults(fn=cmd_run)
    sub.add_parser("models", help="list models on the configured endpoints").set_defaults(fn=cmd_models)
    sub.add_parser("benchmarks", help="list benchmarks").set_defaults(fn=cmd_benchmarks)
    s = sub.add_parser("runs", help="list recent runs")
    s.add_argument("--limit", type=int, default=20)
    s.set_defaults(fn=cmd_runs)
    s = sub.add_parser("results", help="show a run's results")
    s.add_argument("run_id")
    s.add_argument("--show", type=int, default=20)
    s.set_defaults(fn=cmd_results)
    add_commands(sub)
    s = sub.add_parser("setup", help="install a reference harness's own environment, or build "
                       "the demo model's llama.cpp")
    s.add_argument("harness", choices=["bfcl", "aider", "demo"])
    s.set_defaults(fn=cmd_setup)

    s = sub.add_parser("build-image", help="build a Docker image: the sandbox, or a harness's")
    s.add_argument("--harness", choices=["sandbox", "aider-polyglot"], default="sandbox",
                   help="sandbox (EvalPlus, BFCL) or aider-polyglot (the six toolchains)")
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
