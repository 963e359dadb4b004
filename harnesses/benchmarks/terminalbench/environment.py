"""The `harbor` managed venv: Harbor 0.25.0, Terminal-Bench 2.0's official harness, whose
Terminus-2 agent benchdock drives (drivers/terminus.py). Its pins (litellm, fastapi,
supabase, ...) are not benchdock's, and it needs Python >= 3.12 where benchdock runs on
3.11, so it gets a venv of its own under BENCHDOCK_ENVS made from a Python 3.12 or 3.13
found on this machine (BENCHDOCK_HARBOR_PYTHON names one; else python3.13/python3.12 on
PATH, else pyenv's). The agent process runs from it on the host; the model's commands never
do (they run in the task's container).
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from benchdock.harnesses.envs import managed as envs
from benchdock.harnesses.envs.managed import EnvironmentMissing, ManagedEnv

log = logging.getLogger("benchdock.tbench")

HARBOR_VERSION = "0.25.0"
NAME = f"harbor{HARBOR_VERSION}"
HINT = ("run `benchdock setup terminal-bench-local` once (about 5 minutes, ~430 MB: Harbor "
        f"{HARBOR_VERSION} with litellm in a venv of its own; needs Python 3.12 or 3.13)")

__all__ = ["HARBOR_VERSION", "EnvironmentMissing", "ensure_env", "find_python", "load_env"]


def _version_ok(python: str) -> bool:
    try:
        done = subprocess.run([python, "-c", "import sys, venv; print(sys.version_info >= "
                               "(3, 12))"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == "True"


def find_python(named: str | None = None) -> str:
    """A Python >= 3.12 with venv: `named` (BENCHDOCK_HARBOR_PYTHON), else python3.13 or
    python3.12 on PATH, else the newest of pyenv's 3.12/3.13."""
    if named:
        if not _version_ok(named):
            raise EnvironmentMissing(f"BENCHDOCK_HARBOR_PYTHON={named} is not a Python >= "
                                     "3.12 with venv")
        return named
    found = [p for p in (shutil.which("python3.13"), shutil.which("python3.12")) if p]
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found += sorted(glob.glob(str(root / "versions" / "3.1[23]*" / "bin" / "python3")),
                    reverse=True)
    for candidate in found:
        if _version_ok(candidate):
            return candidate
    raise EnvironmentMissing(
        f"Harbor {HARBOR_VERSION} needs Python >= 3.12 and none was found (python3.13, "
        f"python3.12 on PATH, {root}/versions/3.12*/bin/python3); install one (Debian 13: "
        "`apt-get install python3`, or pyenv) or name it in BENCHDOCK_HARBOR_PYTHON")


def spec(python: str | None = None) -> envs.EnvSpec:
    return envs.EnvSpec(name=NAME, steps=[(f"harbor {HARBOR_VERSION}",
                                           [f"harbor=={HARBOR_VERSION}"])],
                        setup_hint=HINT, python=python)


def load_env(root: Path) -> ManagedEnv:
    return envs.load(root, spec())


def ensure_env(root: Path, python: str | None = None,
               say: Callable[[str], None] = log.info) -> ManagedEnv:
    try:
        return envs.load(root, spec())
    except EnvironmentMissing:
        pass
    return envs.ensure(root, spec(find_python(python)), say)
