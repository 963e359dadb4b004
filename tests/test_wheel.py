"""The built wheel, installed into a clean venv, imports and runs from any directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_installs_and_runs_anywhere(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
                   check=True, timeout=300)
    wheel = next(dist.glob("benchdock-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=900,
                   capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run(
        [str(py), "-c", "import benchdock.server.app as a, benchdock.harnesses.sandbox.base as b; "
         "print(a.create_server.__name__, len(b.RUNNER_SOURCE) > 0, a.__file__)"],
        cwd=elsewhere, check=True, capture_output=True, text=True)
    assert out.stdout.startswith("create_server True") and str(venv) in out.stdout
    out = subprocess.run([str(venv / "bin" / "benchdock"), "benchmarks"], cwd=elsewhere,
                         check=True, capture_output=True, text=True)
    assert "humaneval-plus" in out.stdout and "bfcl-multi-turn-base" in out.stdout
    listing = subprocess.run([str(py), "-m", "zipfile", "-l", str(wheel)], check=True,
                             capture_output=True, text=True).stdout
    assert "benchdock/harnesses/sandbox/Dockerfile" in listing
    assert "benchdock/harnesses/sandbox/runner.py" in listing
    assert "benchdock/harnesses/benchmarks/bfcl/drivers/bridge.py" in listing  # read as source, run in BFCL's venv
    assert "benchdock/harnesses/benchmarks/aider/drivers/agent.py" in listing  # the same, in aider's venv
    assert "benchdock/harnesses/benchmarks/aider/Dockerfile" in listing
    assert "benchdock/harnesses/benchmarks/aider/image/benchdock-java-test" in listing  # its build context
    assert "benchdock/harnesses/benchmarks/aider/image/package-lock.json" in listing
    assert "benchdock/harnesses/report/templates/report.html.j2" in listing
    # the report from the installed wheel, on an empty store: the templates load, and with no
    # results there is nothing to rank, said plainly
    env = {"BENCHDOCK_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([str(venv / "bin" / "benchdock"), "report", "--out", "r"], cwd=elsewhere,
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "No model has evidence" in (elsewhere / "r" / "report.md").read_text()
