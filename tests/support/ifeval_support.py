"""What the IFEval tests share: the venv (skipped without it, failed when
BENCHDOCK_REQUIRE_IFEVAL=1) and a checker process in either sandbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from benchdock.harnesses.benchmarks.ifeval.environment import (
    EnvironmentMissing,
    IfevalEnv,
    load_env,
)
from benchdock.harnesses.benchmarks.ifeval.session import START_TIMEOUT_S, open_checker
from benchdock.harnesses.config import default_envs_dir
from benchdock.harnesses.sandbox.rpc import RpcChannel


def ifeval_env() -> IfevalEnv:
    try:
        return load_env(default_envs_dir())
    except EnvironmentMissing as exc:
        if os.environ.get("BENCHDOCK_REQUIRE_IFEVAL", "") in ("1", "true", "yes"):
            pytest.fail(f"BENCHDOCK_REQUIRE_IFEVAL=1 but {exc}")
        pytest.skip(str(exc))


@contextmanager
def checker(env: IfevalEnv, sandbox: str, image: str, nltk_data: Path | None = None
            ) -> Iterator[tuple[RpcChannel, str]]:
    """A live checker process: (its channel, what confines it)."""
    channel, _, isolation = open_checker(env, sandbox, image, nltk_data)
    rpc = RpcChannel(channel, {}, START_TIMEOUT_S)
    try:
        yield rpc, isolation
    finally:
        rpc.close()


def check(rpc: RpcChannel, iid: str, kwargs: dict[str, Any], response: str,
          prompt: str = "") -> dict[str, Any]:
    reply = rpc.call("check", 60.0, prompt=prompt, instruction_id_list=[iid], kwargs=[kwargs],
                     response=response)
    (one,) = reply["instructions"]
    return dict(one)
