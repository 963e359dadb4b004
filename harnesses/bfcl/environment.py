"""BFCL's own Python environment, which benchdock creates and manages.

bfcl-eval cannot share an environment with evalplus (tree-sitter 0.21 vs >= 0.22, numpy 1.26
vs 2.x), so it gets a venv of its own under BENCHDOCK_ENVS (default BENCHDOCK_HOME/envs).
Installed plainly it would pull a CUDA build of torch (several GB) through
sentence-transformers; installing the CPU build first avoids that. Its import also needs
`soundfile`, which it does not declare.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

log = logging.getLogger("benchdock.bfcl")

BFCL_VERSION = "2026.3.23"
TORCH = "torch==2.13.0"
PACKAGES = [f"bfcl-eval=={BFCL_VERSION}", "soundfile==0.14.0"]
MARKER = "benchdock-env.json"


class EnvironmentMissing(RuntimeError):
    """BFCL's environment is not installed; the message says how to install it."""


class BfclEnv(BaseModel):
    """Where the environment is and what a container needs to run its interpreter."""

    root: Path
    python: Path
    base_prefix: Path
    site_packages: Path
    python_version: str

    @property
    def data_dir(self) -> Path:
        return self.site_packages / "bfcl_eval" / "data"


def env_dir(envs: Path) -> Path:
    return envs / f"bfcl-eval-{BFCL_VERSION}"


def load_env(envs: Path) -> BfclEnv:
    marker = env_dir(envs) / MARKER
    if not marker.is_file():
        raise EnvironmentMissing(
            f"BFCL's environment is not installed at {env_dir(envs)}; run `benchdock setup bfcl` "
            "once (about 5 minutes and 2 GB: bfcl-eval and its dependencies in a venv of their "
            "own, because they clash with evalplus)")
    return BfclEnv.model_validate_json(marker.read_text())


def ensure_env(envs: Path, say: Callable[[str], None] = log.info) -> BfclEnv:
    """Create the venv and install bfcl-eval into it, once; safe to call concurrently."""
    root = env_dir(envs)
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return load_env(envs)
        except EnvironmentMissing:
            pass
        say(f"creating BFCL's environment in {root}")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(root)], check=True)
        py = root / "bin" / "python"
        pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check"]
        torch_index = os.environ.get("BENCHDOCK_TORCH_INDEX")
        extra = ["--index-url", torch_index] if torch_index else []
        for step, args in (("CPU torch", [*extra, TORCH]), ("bfcl-eval", PACKAGES)):
            say(f"installing {step}: {' '.join(args)}")
            proc = subprocess.run([*pip, *args], capture_output=True, text=True)
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout)[-2000:]
                raise EnvironmentMissing(f"installing {step} into {root} failed:\n{tail}")
        probe = subprocess.run(
            [str(py), "-c", "import json, sys, sysconfig; print(json.dumps([sys.base_prefix, "
             "sysconfig.get_paths()['purelib'], sys.version.split()[0]]))"],
            capture_output=True, text=True, check=True)
        base_prefix, site, version = json.loads(probe.stdout)
        env = BfclEnv(root=root, python=py, base_prefix=Path(base_prefix),
                      site_packages=Path(site), python_version=version)
        (root / MARKER).write_text(env.model_dump_json(indent=1))
        say(f"BFCL's environment is ready ({version}, {root})")
        return env
