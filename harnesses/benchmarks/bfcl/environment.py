"""BFCL's own Python environment, which benchdock creates and manages.

bfcl-eval cannot share an environment with evalplus (tree-sitter 0.21 vs >= 0.22, numpy 1.26
vs 2.x), so it gets a venv of its own under BENCHDOCK_ENVS (see `envs`). Installed plainly
it would pull a CUDA build of torch (several GB) through sentence-transformers; installing
the CPU build first avoids that. Its import also needs `soundfile`, which it does not declare.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from benchdock.harnesses.envs import managed as envs
from benchdock.harnesses.envs.managed import EnvironmentMissing, ManagedEnv

log = logging.getLogger("benchdock.bfcl")

BFCL_VERSION = "2026.3.23"
TORCH = "torch==2.13.0"
PACKAGES = [f"bfcl-eval=={BFCL_VERSION}", "soundfile==0.14.0"]

__all__ = ["BFCL_VERSION", "BfclEnv", "EnvironmentMissing", "ensure_env", "load_env"]


class BfclEnv(ManagedEnv):
    @property
    def data_dir(self) -> Path:
        return self.site_packages / "bfcl_eval" / "data"


def spec(torch_index: str | None = None) -> envs.EnvSpec:
    extra = ["--index-url", torch_index] if torch_index else []
    return envs.EnvSpec(
        name=f"bfcl-eval-{BFCL_VERSION}",
        steps=[("CPU torch", [*extra, TORCH]), ("bfcl-eval", PACKAGES)],
        setup_hint=("run `benchdock setup bfcl` once (about 5 minutes and 2 GB: bfcl-eval and "
                    "its dependencies in a venv of their own, because they clash with evalplus)"))


def load_env(root: Path) -> BfclEnv:
    return BfclEnv.model_validate(envs.load(root, spec()).model_dump())


def ensure_env(root: Path, say: Callable[[str], None] = log.info,
               torch_index: str | None = None) -> BfclEnv:
    """`torch_index`: the pip index for torch (BENCHDOCK_TORCH_INDEX)."""
    return BfclEnv.model_validate(envs.ensure(root, spec(torch_index), say).model_dump())
