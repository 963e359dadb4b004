"""Python environments that benchdock creates and manages for reference harnesses whose
pins clash with ours (bfcl-eval, aider-chat): one venv each under BENCHDOCK_ENVS (default
BENCHDOCK_HOME/envs), built once, recorded by a marker file, and mounted read-only into the
sandbox with the host interpreter that built it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

log = logging.getLogger("benchdock.envs")

MARKER = "benchdock-env.json"


class EnvironmentMissing(RuntimeError):
    """A harness's environment is not installed; the message says how to install it."""


class ManagedEnv(BaseModel):
    """Where an environment is and what a container needs to run its interpreter."""

    root: Path
    python: Path
    base_prefix: Path
    site_packages: Path
    python_version: str


class EnvSpec(BaseModel):
    """What to install: pip steps in order (each a list of pip arguments), the environment
    variables pip runs with (the demo's CMAKE_ARGS), and how to tell the user to install it."""

    name: str  # directory name, e.g. bfcl-eval-2026.3.23
    steps: list[tuple[str, list[str]]]
    setup_hint: str  # e.g. "run `benchdock setup bfcl` once (about 5 minutes, 2 GB)"
    env: dict[str, str] = {}
    # the interpreter the venv is made from, when benchdock's own will not do (Harbor needs
    # Python >= 3.12); None: benchdock's
    python: str | None = None


def load(envs: Path, spec: EnvSpec) -> ManagedEnv:
    marker = envs / spec.name / MARKER
    if not marker.is_file():
        raise EnvironmentMissing(f"{spec.name} is not installed at {envs / spec.name}; "
                                 f"{spec.setup_hint}")
    return ManagedEnv.model_validate_json(marker.read_text())


def ensure(envs: Path, spec: EnvSpec, say: Callable[[str], None] = log.info) -> ManagedEnv:
    """Create the venv and run the install steps, once; safe to call concurrently."""
    root = envs / spec.name
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return load(envs, spec)
        except EnvironmentMissing:
            pass
        say(f"creating {spec.name} in {root}")
        subprocess.run([spec.python or sys.executable, "-m", "venv", "--clear", str(root)],
                       check=True)
        py = root / "bin" / "python"
        pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check"]
        for step, args in spec.steps:
            say(f"installing {step}: {' '.join(args)}")
            code, out = _pip(pip + args, {**os.environ, **spec.env}, step, say)
            if code != 0:
                raise EnvironmentMissing(f"installing {step} into {root} failed:\n{out[-2000:]}")
        probe = subprocess.run(
            [str(py), "-c", "import json, sys, sysconfig; print(json.dumps([sys.base_prefix, "
             "sysconfig.get_paths()['purelib'], sys.version.split()[0]]))"],
            capture_output=True, text=True, check=True)
        base_prefix, site, version = json.loads(probe.stdout)
        env = ManagedEnv(root=root, python=py, base_prefix=Path(base_prefix),
                         site_packages=Path(site), python_version=version)
        (root / MARKER).write_text(env.model_dump_json(indent=1))
        say(f"{spec.name} is ready ({version}, {root})")
        return env


def _pip(cmd: list[str], env: dict[str, str], step: str, say: Callable[[str], None],
         every_s: float = 60.0) -> tuple[int, str]:
    """Run one pip step, saying every `every_s` that it is still going (a source build is
    minutes of silence otherwise); returns its exit code and its output."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    while True:
        try:
            out, _ = proc.communicate(timeout=every_s)
            return proc.returncode, out
        except subprocess.TimeoutExpired:
            say(f"  ... still installing {step} ({time.monotonic() - t0:.0f} s)")


def container_mounts(env: ManagedEnv, python_at: str, env_at: str) -> tuple[dict[str, dict[str, str]], str]:
    """Read-only mounts of the host interpreter and the venv, and the venv's site-packages
    as the container sees it (to put on PYTHONPATH for `python -S`)."""
    volumes = {str(env.base_prefix): {"bind": python_at, "mode": "ro"},
               str(env.root): {"bind": env_at, "mode": "ro"}}
    return volumes, env_at + "/" + str(env.site_packages.relative_to(env.root))


def describe(envs: Sequence[ManagedEnv]) -> str:
    return ", ".join(f"{e.root.name} (Python {e.python_version})" for e in envs)
