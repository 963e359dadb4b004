"""Figures for the Aider polyglot harness (printed, not asserted: this machine is noisy).

    python tests/scripts/perf_aider.py [--repeat 3]

1. Per-exercise container overhead: each fixture exercise, with its reference solution,
   tested (a) directly on the host and (b) in a fresh container of the polyglot image
   started the way the harness starts one (no network, read-only root, tmpfs, nobody,
   limits); the container's time to reach the test command is measured separately with a
   container that only prints a timestamp.
2. Total wall time of a run over the whole fixture set through the run engine, the proxy and
   aider itself, with a fake model that answers the reference solution at once (so the time
   is benchdock's and aider's, not a model's).

Needs Docker, the polyglot image and aider's venv (`benchdock setup aider`). Languages
whose toolchain the host lacks are shown as "-" on the host side.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchdock.harnesses.benchmarks.aider.exercises import LANGUAGES, Exercise, load_exercises  # noqa: E402
from benchdock.harnesses.benchmarks.aider.session import LIMITS  # noqa: E402
from tests.conftest import POLYGLOT_FIXTURES, POLYGLOT_IMAGE  # noqa: E402

HOST_ENV_LANGS = {"python", "rust", "cpp", "go"}


def solved_copy(ex: Exercise, dest: Path) -> Path:
    for rel, data in ex.workspace_files().items():
        p = dest / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    for rel, text in ex.example_solution().items():
        (dest / rel).write_text(text)
    dest.chmod(0o755)
    for p in dest.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dest


def command(ex: Exercise, scratch: str) -> list[str]:
    """The language's test command with its per-run slots filled (the harness's testrun
    gives each run fresh build and report directories, which the caller makes)."""
    slots = {"build": f"{scratch}/build", "report": f"{scratch}/report", "name": ex.name}
    return [a.format(**slots) for a in LANGUAGES[ex.language].test_command]


def host_time(ex: Exercise) -> float | None:
    if any(shutil.which(t) is None for t in LANGUAGES[ex.language].tools):
        return None
    with tempfile.TemporaryDirectory() as d:
        cmd = command(ex, f"{d}/run")
        for sub in ("build", "report"):
            Path(d, "run", sub).mkdir(parents=True)
        work = solved_copy(ex, Path(d) / ex.name)
        # the host's own toolchains as a developer has them (this venv's python3 has pytest)
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
               "GOCACHE": f"{d}/gocache", "GOFLAGS": "-mod=mod", "GOPROXY": "off",
               "CARGO_NET_OFFLINE": "true"}
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
        dt = time.perf_counter() - t
        if proc.returncode != 0:
            print(f"  host {ex.id} failed: {proc.stdout[-300:]}{proc.stderr[-300:]}")
            return None
        return dt


def docker_args(src: Path) -> list[str]:
    return ["docker", "run", "--rm", "--network", "none", "--read-only", "--user", "65534:65534",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--memory", str(LIMITS["memory"]), "--cpus", str(LIMITS["cpus"]),
            "--pids-limit", str(LIMITS["pids"]),
            "--tmpfs", f"/tmp:rw,exec,nosuid,size={LIMITS['tmpfs']}",
            "-e", "HOME=/tmp", "-e", "GOCACHE=/tmp/.cache/go-build", "-e", "GOPATH=/tmp/go",
            "-e", "GOPROXY=off", "-e", "GOFLAGS=-mod=mod", "-e", "CARGO_HOME=/tmp/.cargo",
            "-e", "CARGO_NET_OFFLINE=true", "-v", f"{src}:/src:ro", POLYGLOT_IMAGE]


def container_time(ex: Exercise) -> tuple[float, float]:
    """(start to the test command, start to the test's end) in a fresh container."""
    with tempfile.TemporaryDirectory() as d:
        src = solved_copy(ex, Path(d) / ex.name)
        cmd = f"mkdir -p /tmp/run/build /tmp/run/report && {shlex.join(command(ex, '/tmp/run'))}"
        Path(d).chmod(0o755)
        script = (f"date +%s.%N; cp -r /src /tmp/{ex.name} && cd /tmp/{ex.name} && {cmd} >/tmp/out 2>&1 "
                  "|| { cat /tmp/out; exit 1; }")
        t = time.time()
        proc = subprocess.run([*docker_args(src), "sh", "-c", script], capture_output=True, text=True)
        end = time.time()
        if proc.returncode != 0:
            raise RuntimeError(f"container {ex.id} failed: {proc.stdout[-500:]}{proc.stderr[-500:]}")
        first = float(proc.stdout.split()[0])
        return first - t, end - t


def fixture_run_wall() -> float:
    from benchdock.store import queries as q
    from tests.harnesses.benchmarks.aider.test_aider_fake_model import (
        exercises,
        run_fake,
        which_exercise,
        whole_edit,
    )
    from tests.harnesses.benchmarks.bfcl.test_bfcl_fake_model import fake_endpoint

    known = exercises(POLYGLOT_FIXTURES)

    def answer(body: dict[str, object]) -> dict[str, object]:
        ex = which_exercise(body, known)  # type: ignore[arg-type]
        return {"content": whole_edit(ex, ex.example_solution())}

    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        status, run, _db = run_fake(Path(d), sorted(known), fake_endpoint(answer))
        wall = time.perf_counter() - t
    print(f"  run status {status}; verdicts {run.metrics and run.metrics.get('verdicts')}")
    for smp in q.all_samples(_db, run.id):
        e = smp.extra or {}
        if e.get("status") == "done":
            print(f"  {smp.task_id:12} driver start -> aider ready {e['startup_s']:.2f}s, "
                  f"-> first test command {e['first_test_s']:.2f}s, exercise {e['duration']:.2f}s")
    return wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    os.environ["BENCHDOCK_POLYGLOT_DIR"] = str(POLYGLOT_FIXTURES)
    exs = [e for e in load_exercises(POLYGLOT_FIXTURES, list(LANGUAGES)) if e.language != "java"]
    print(f"image {POLYGLOT_IMAGE}; {args.repeat} repeats, medians; first container run "
          "per exercise discarded (cold caches)")
    print(f"{'exercise':14} {'host test':>10} {'container: to test cmd':>23} "
          f"{'to test end':>12} {'overhead':>9}")
    for ex in exs:
        container_time(ex)  # warm the page cache
        host = [h for h in (host_time(ex) for _ in range(args.repeat)) if h is not None]
        cont = [container_time(ex) for _ in range(args.repeat)]
        start = statistics.median(c[0] for c in cont)
        total = statistics.median(c[1] for c in cont)
        h = statistics.median(host) if host else None
        print(f"{ex.id:14} {'-' if h is None else f'{h:9.2f}s':>10} {start:22.2f}s {total:11.2f}s "
              f"{'-' if h is None else f'{total - h:8.2f}s':>9}")
    print("whole fixture set (5 exercises incl. Java's toolchain verdict) through the engine, "
          "proxy and aider, fake model, concurrency 2:")
    print(f"  wall {fixture_run_wall():.1f}s")


if __name__ == "__main__":
    main()
