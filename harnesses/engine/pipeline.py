"""What a run's pipeline is, and what the two kinds share.

A pipeline gives a run's samples their answers and verdicts. There are two, one per shape of
benchmark, and the executor (`executor.py`) chooses which by the declaration's type:
`ChatPipeline` (`chat.py`) for a `Benchmark` — benchdock asks once per sample and scores in
the sandbox — and `HarnessPipeline` (`delegated.py`) for a `HarnessBenchmark` — its
reference harness asks and judges, through benchdock's recording proxy. The executor owns
what they share: loading the tasks, watching for cancellation, and finishing the run.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from benchdock.store.tables import Run, Sample

if TYPE_CHECKING:
    from benchdock.harnesses.engine.executor import RunExecutor


def cache_key(run: Run, body: dict[str, Any], sample_index: int) -> str:
    """Same model identity + same request (+ sample index when sampling) = same answer."""
    ident = {k: run.model_identity.get(k) for k in ("id", "endpoint", "file_size_bytes",
                                                    "quantization", "parameter_count")}
    req = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
    if body.get("temperature", 0) > 0:
        req["sample_index"] = sample_index
    blob = json.dumps({"model": ident, "request": req}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def no_code_reason(s: Sample) -> str:
    """Why an answer held no code, in the terms a user can act on."""
    if s.truncated:
        return ("no code: the answer was cut off by max_tokens before any code block closed; "
                "raise max_tokens (reasoning models need several thousand)")
    if not (s.completion or "").strip() and s.reasoning:
        return ("no code: the answer was empty and everything came as reasoning_content "
                "(thinking); raise max_tokens or disable thinking")
    return "no code found in the answer"


class Pipeline(ABC):
    """One run's work. `run` does it; `stop` ends it promptly (cancellation) from another
    task; `close` releases what it holds, however it ended."""

    sandbox_kind: str | None = None
    isolation: str | None = None

    def __init__(self, ex: RunExecutor) -> None:
        self.ex = ex
        self.extra_metrics: dict[str, Any] = {}

    @abstractmethod
    async def run(self) -> None: ...

    def retries(self) -> list[str]:
        """Why jobs or requests ran again because something of benchdock's broke under
        them (a sandbox runner, a judge, a harness process): counted in the run."""
        return []

    def stop(self) -> None:
        self.close()

    @abstractmethod
    def close(self) -> None: ...
