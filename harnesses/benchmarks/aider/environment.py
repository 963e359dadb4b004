"""aider-chat's own environment. aider pins nearly every dependency (pydantic 2.12.5,
openai 2.20.0, starlette 0.52.1, ...) and needs Python < 3.13, so it never shares
benchdock's: it gets a managed venv (see `envs`) that is mounted read-only into the
polyglot image's containers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from benchdock.harnesses.envs import managed as envs
from benchdock.harnesses.envs.managed import EnvironmentMissing, ManagedEnv

log = logging.getLogger("benchdock.aider")

AIDER_VERSION = "0.86.2"

__all__ = ["AIDER_VERSION", "EnvironmentMissing", "ensure_env", "load_env"]

SPEC = envs.EnvSpec(
    name=f"aider-chat-{AIDER_VERSION}",
    steps=[("aider-chat", [f"aider-chat=={AIDER_VERSION}"])],
    setup_hint=("run `benchdock setup aider` once (about 2 minutes and 700 MB: aider-chat "
                "pins its own dependencies, so it gets a venv of its own)"))


def load_env(root: Path) -> ManagedEnv:
    return envs.load(root, SPEC)


def ensure_env(root: Path, say: Callable[[str], None] = log.info) -> ManagedEnv:
    return envs.ensure(root, SPEC, say)
