"""Benchmarks whose reference harness does the asking and the judging itself (BFCL's own
handler and checker, aider and its benchmark's protocol), while benchdock keeps the run: the
store, caching, resumption, cancellation and progress.

The harness runs in a process of its own (its own environment, in the sandbox), talks to
the model only through benchdock's recording proxy, and answers one sample at a time with a
`SampleOutcome`. This is the declaration's side; the engine's is `engine/delegated.py`, and
what a session uses to talk to its process (`RpcChannel`, `SupervisedRpc`) is
`sandbox/rpc.py`.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract.benchmark import BenchmarkBase, Task, VerdictName
from benchdock.store.tables import Run, Sample

__all__ = ["DelegatedBenchmark", "HarnessBenchmark", "HarnessSession", "SampleOutcome",
           "SessionContext"]


class SampleOutcome(BaseModel):
    completion: str = Field(description="The model's raw output, as the harness kept it")
    code: str | None = Field(default=None, description="What was decoded from it (calls, edits)")
    verdict: VerdictName
    detail: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class SessionContext(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    settings: Settings
    run: Run
    proxy_socket: Path
    threads: int


class HarnessSession:
    """The reference harness, live for one run."""

    sandbox_kind: str = "local"
    isolation: str | None = None  # what confines the harness's process (recorded in the run)

    @abstractmethod
    async def solve(self, task: Task, tag: str) -> SampleOutcome: ...

    async def summarise(self, samples: list[Sample]) -> dict[str, Any]:
        """The benchmark's own figures beyond pass@1 (per category, the harness's own
        aggregate), stored under the benchmark's `details_key`."""
        return {}

    def retries(self) -> list[str]:
        """Why the harness's process was restarted during the run (each restart reran the
        requests it had in flight): counted in the run."""
        return []

    @abstractmethod
    def close(self) -> None: ...


class HarnessBenchmark(BenchmarkBase):
    """A benchmark whose reference harness asks the model (through benchdock's proxy) and
    judges the answers, in a session of its own for the run."""

    @abstractmethod
    def open_session(self, ctx: SessionContext) -> HarnessSession:
        """Start the harness (blocking; called in a thread)."""


DelegatedBenchmark = HarnessBenchmark  # the name it had before
