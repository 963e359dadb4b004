"""The `swe` managed venv: mini-swe-agent (the agent), swebench (the official grading) and
swesmith (its LM-free procedural bug modifiers). Their litellm, datasets, docker and modal
dependencies are heavy and pinned differently from benchdock's, so they get a venv of their
own under BENCHDOCK_ENVS (see `envs`), like BFCL's and aider's. The agent process runs from
it on the host; the model's commands never do (they run in the instance's container).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from benchdock.harnesses.envs import managed as envs
from benchdock.harnesses.envs.managed import EnvironmentMissing, ManagedEnv

log = logging.getLogger("benchdock.swe")

MINI_SWE_AGENT_VERSION = "2.4.6"
SWEBENCH_VERSION = "5.0.2"
SWESMITH_VERSION = "0.0.9"
# swesmith declares no dependencies, yet importing its Python modifiers imports every
# language's adapter: tree-sitter and its grammars, astor (python-dotenv comes with swebench)
SWESMITH_IMPORTS = ["libcst==1.9.0", "astor==0.8.1", "tree-sitter==0.26.1", "tree-sitter-c==0.24.2",
                    "tree-sitter-c-sharp==0.23.5", "tree-sitter-cpp==0.23.4",
                    "tree-sitter-go==0.25.0", "tree-sitter-java==0.23.5",
                    "tree-sitter-javascript==0.25.0", "tree-sitter-php==0.25.1",
                    "tree-sitter-ruby==0.23.1", "tree-sitter-rust==0.24.2",
                    "tree-sitter-typescript==0.23.2"]
PACKAGES = [f"mini-swe-agent=={MINI_SWE_AGENT_VERSION}", f"swebench=={SWEBENCH_VERSION}",
            f"swesmith=={SWESMITH_VERSION}", *SWESMITH_IMPORTS]

__all__ = ["MINI_SWE_AGENT_VERSION", "SWEBENCH_VERSION", "SWESMITH_VERSION",
           "EnvironmentMissing", "ensure_env", "load_env"]

SPEC = envs.EnvSpec(
    name=f"swe-mini{MINI_SWE_AGENT_VERSION}-swebench{SWEBENCH_VERSION}",
    steps=[("mini-swe-agent, swebench, swesmith", PACKAGES)],
    setup_hint=("run `benchdock setup swe-local` once (a few minutes: mini-swe-agent, swebench and "
                "swesmith with litellm, datasets and docker in a venv of their own)"))


def load_env(root: Path) -> ManagedEnv:
    return envs.load(root, SPEC)


def ensure_env(root: Path, say: Callable[[str], None] = log.info) -> ManagedEnv:
    return envs.ensure(root, SPEC, say)
