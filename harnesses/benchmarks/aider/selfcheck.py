"""Check the polyglot verdicts without aider or a model: put given solution files (the
exercise's reference solution, its stub, or any text) into an exercise and judge them
exactly as a run's test step does — the same `testrun.py`, in a container of the polyglot
image under the run's confinement.

    python -m benchdock.harnesses.benchmarks.aider.selfcheck --languages cpp,go,python,rust --which reference
    python -m benchdock.harnesses.benchmarks.aider.selfcheck --languages python --which stub --limit 5

prints each exercise's verdict and reason, then per language: passed, failed, time. The
tests use `judge_files` for adversarial solutions; the command is how the reference and stub
figures in the README were measured on the real exercise tree (BENCHDOCK_POLYGLOT_DIR).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any

from benchdock.harnesses.benchmarks.aider.exercises import (
    LANGUAGES,
    Exercise,
    dataset_root,
    load_exercises,
)
from benchdock.harnesses.benchmarks.aider.session import COMMON_ENV, LIMITS, TEST_TIMEOUT_S
from benchdock.harnesses.config import Settings

# The program the container runs: testrun.py, then a main that judges one exercise.
MAIN = '''
def _selfcheck_main() -> None:
    import base64, json, sys
    cfg = json.loads(sys.stdin.readline())
    root = Path(cfg["workdir"]) / cfg["name"]
    root.mkdir(parents=True)
    files = {rel: base64.b64decode(b64) for rel, b64 in cfg["files"].items()}
    for rel, data in {**files, **{k: v.encode() for k, v in cfg["solution_files"].items()}}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    out = os.fdopen(os.dup(1), "w")
    os.set_inheritable(out.fileno(), False)
    os.dup2(2, 1)
    passed, output, report = run_tests(root, cfg, files)
    out.write(json.dumps({"passed": passed, "output": output[-4000:], "report": report}) + "\\n")
    out.flush()


_selfcheck_main()
'''


def program() -> str:
    source = resources.files("benchdock.harnesses.benchmarks.aider.drivers").joinpath("testrun.py").read_text()
    return source + MAIN


def config(ex: Exercise, solution_files: dict[str, str]) -> dict[str, Any]:
    lang = LANGUAGES[ex.language]
    return {"name": ex.name, "language": ex.language, "workdir": "/tmp/ex",
            "files": {k: base64.b64encode(v).decode() for k, v in ex.workspace_files().items()},
            "solution_files": solution_files, "solution": ex.solution, "tests": ex.tests,
            "test_command": lang.test_command, "report": lang.report, "test_env": lang.test_env,
            "expected_tests": ex.expected_tests(), "test_timeout_s": TEST_TIMEOUT_S}


def judge_files(ex: Exercise, solution_files: dict[str, str], image: str) -> dict[str, Any]:
    """One exercise with these solution files, judged in a fresh container: {"passed",
    "output", "report"} (the report summary a run's evidence holds), or {"error": ...}."""
    from benchdock.harnesses.sandbox.base import SandboxError
    from benchdock.harnesses.sandbox.docker_backend import open_container_channel

    channel = open_container_channel(image, ["python3", "-u", "-c", program()], {},
                                     dict(COMMON_ENV), **LIMITS)  # type: ignore[arg-type]
    try:
        channel.send((json.dumps(config(ex, solution_files)) + "\n").encode())
        return dict(channel.read(TEST_TIMEOUT_S + 120))
    except (SandboxError, TimeoutError, ValueError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        channel.close()


def stub_files(ex: Exercise) -> dict[str, str]:
    return {f: (ex.path / f).read_text() for f in ex.solution if (ex.path / f).is_file()}


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--languages", default="cpp,go,python,rust")
    ap.add_argument("--which", choices=("reference", "stub"), default="reference")
    ap.add_argument("--limit", type=int, default=0, help="exercises per language (0: all)")
    ap.add_argument("--image", default="benchdock-polyglot:1")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    exercises: list[Exercise] = []
    for lang in args.languages.split(","):
        found = load_exercises(dataset_root(Settings.from_env()), [lang])
        exercises += found[: args.limit] if args.limit else found

    def one(ex: Exercise) -> tuple[Exercise, dict[str, Any], float]:
        t0 = time.monotonic()
        files = ex.example_solution() if args.which == "reference" else stub_files(ex)
        return ex, judge_files(ex, files, args.image), time.monotonic() - t0

    tally: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for ex, r, secs in pool.map(one, exercises):
            rep = r.get("report", {})
            verdict = "error" if "error" in r else "pass" if r.get("passed") else "fail"
            t = tally[ex.language]
            t[{"pass": 0, "fail": 1, "error": 2}[verdict]] += 1
            t[3] += secs
            why = r.get("error") or rep.get("reason") or ""
            say(f"{ex.id:40s} {verdict:5s} {rep.get('passed', 0):>3}/{rep.get('expected', 0):<3} "
                f"{secs:6.1f}s {why}"[:300])
    say(f"\n{args.which} solutions, image {args.image}, exercises from {dataset_root(Settings.from_env())}")
    say(f"{'language':12s} {'passed':>7s} {'failed':>7s} {'errors':>7s} {'time':>8s}")
    for lang, (ok, bad, err, secs) in sorted(tally.items()):
        say(f"{lang:12s} {int(ok):>7d} {int(bad):>7d} {int(err):>7d} {secs:>7.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
