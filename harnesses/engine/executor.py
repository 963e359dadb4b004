"""Executing one run: what every benchmark's run shares, around its pipeline.

The executor loads the run's tasks and samples, starts the pipeline for the benchmark's
kind (`chat.py`, or `delegated.py` for a reference harness's session), beats the heartbeat,
stops everything promptly when the run is cancelled, and finishes the run with its status,
error and metrics. What happens after a run (the comparison's evidence) is the worker's
next step, not the executor's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter

import anyio
import httpx
from sqlalchemy.engine import Engine

from benchdock.harnesses.client.llm import SamplingParams
from benchdock.harnesses.config import EndpointConfig, Settings
from benchdock.harnesses.contract.benchmark import Benchmark, BenchmarkBase, Task
from benchdock.harnesses.contract.delegated import HarnessBenchmark
from benchdock.harnesses.contract.metrics import compute_metrics
from benchdock.harnesses.contract.registry import get_benchmark, host_mount_refusal
from benchdock.harnesses.engine.chat import ChatPipeline
from benchdock.harnesses.engine.delegated import HarnessPipeline, generation_values
from benchdock.harnesses.engine.pipeline import Pipeline, cache_key, no_code_reason
from benchdock.harnesses.sandbox.base import SandboxError
from benchdock.store import queries as q
from benchdock.store.tables import Run

__all__ = ["RunExecutor", "cache_key", "first_leaf", "generation_values", "no_code_reason"]

log = logging.getLogger("benchdock.engine")
HEARTBEAT_S = 5.0  # a running run's heartbeat, at most this often (claims go stale at 30 s)


def first_leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups from task groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def pipeline_for(bench: BenchmarkBase) -> type[Pipeline]:
    """How a run of `bench` executes: the engine chooses by the declaration's kind (the
    declaration itself knows nothing of the engine)."""
    if isinstance(bench, Benchmark):
        return ChatPipeline
    if isinstance(bench, HarnessBenchmark):
        return HarnessPipeline
    raise TypeError(f"{bench.id}: {type(bench).__name__} is neither a Benchmark (benchdock "
                    "asks and scores) nor a HarnessBenchmark (a reference harness does)")


class RunExecutor:
    def __init__(self, settings: Settings, db: Engine, run: Run,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.transport = transport  # tests put an in-process fake endpoint here
        self.db = db
        self.run = run
        self.params = SamplingParams.model_validate(run.params)
        self.endpoint = self._endpoint()
        self.bench: BenchmarkBase = get_benchmark(run.benchmark, settings)
        self.tasks: dict[str, Task] = {}
        self.pipe: Pipeline | None = None
        self.cancelled = False
        # the claim this executor writes under (store/queries.py fences every write by it)
        self.holder: str | None = run.worker_id
        # set by the worker when its lease on the run ran out and another worker may hold it,
        # or by the watcher when another worker holds it now: the run stops here and is left,
        # not finished (its new holder finishes it)
        self.lost = threading.Event()
        # how often the watcher looks at the store unwoken: often when nothing wakes it (an
        # executor on its own), rarely under a worker, which `poke`s it on every event (a
        # cancel, a lost lease); the heartbeat is written every HEARTBEAT_S at most
        self.look_every_s = 0.5
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poked: anyio.Event | None = None

    def _endpoint(self) -> EndpointConfig:
        for ep in self.settings.endpoints:
            if ep.url == self.run.endpoint_url:
                return ep
        return EndpointConfig(url=self.run.endpoint_url)

    def poke(self) -> None:
        """Make the watcher look at the store now. Thread-safe and never blocks the caller
        (the worker's main loop, which must renew its leases in time)."""
        loop, poked = self._loop, self._poked
        if loop is None or poked is None:
            return
        with contextlib.suppress(RuntimeError):  # the run's loop has ended: nothing to wake
            loop.call_soon_threadsafe(poked.set)

    def started(self, pipe: Pipeline) -> None:
        """The pipeline's sandbox is up: record which one and what confines it."""
        q.heartbeat(self.db, self.run.id, self.holder, sandbox_used=pipe.sandbox_kind,
                    isolation=pipe.isolation)

    async def execute(self) -> str:
        """Run to the end; returns the final status and records it in the store."""
        run = self.run
        self._loop = asyncio.get_running_loop()  # the worker runs executors on asyncio
        if run.cancel_requested:  # cancelled while its last worker died: end it, run nothing
            return self._finish("cancelled")
        try:
            refused = host_mount_refusal(self.bench)  # before anything starts or is asked
            if refused is not None:
                raise SandboxError(refused)
            all_tasks = await anyio.to_thread.run_sync(self.bench.tasks)
            wanted = set(run.task_ids)
            self.tasks = {t.id: t for t in all_tasks if t.id in wanted}
            total = q.ensure_samples(self.db, run.id, run.task_ids, run.n_samples)
            q.heartbeat(self.db, run.id, self.holder, total=total)
            self.pipe = pipeline_for(self.bench)(self)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._watch, tg.cancel_scope)
                await self.pipe.run()
                tg.cancel_scope.cancel()  # stop the watcher: all work is done
        except Exception as exc:  # EndpointError, SandboxError, DatasetUnavailable, bugs
            if self.lost.is_set():
                return "lost"
            if self.cancelled:
                return self._finish("cancelled")
            log.exception("run %s failed", run.id)
            root = first_leaf(exc)
            return self._finish("failed", f"{type(root).__name__}: {root}")
        finally:
            if self.pipe is not None:
                self.pipe.close()
        if self.lost.is_set():
            return "lost"
        return self._finish("cancelled" if self.cancelled else "succeeded")

    def _finish(self, status: str, error: str | None = None) -> str:
        samples = q.all_samples(self.db, self.run.id)
        extra = self.pipe.extra_metrics if self.pipe is not None else {}
        metrics = {**compute_metrics(samples, self.run.n_samples), **extra}
        retries = self.pipe.retries() if self.pipe is not None else []
        if retries:  # infrastructure faults, never charged to the model unless they reproduced
            metrics["infrastructure"] = {
                "retries": len(retries),
                "reasons": [f"{n} x {why}" for why, n in Counter(retries).most_common(5)]}
        recorded = q.finish_run(self.db, self.run.id, status, error=error, metrics=metrics,
                                holder=self.holder)
        if recorded is None:  # another worker holds the run now: it finishes it
            self.lost.set()
            return "lost"
        return recorded

    async def _watch(self, scope: anyio.CancelScope) -> None:
        """Stop the run when it is cancelled or lost; beat its heartbeat. It sleeps until
        poked or `look_every_s` passes: a watcher that polled the store every half second
        cost a model generating on this machine's cores its wakeups and SQLite writes."""
        beat = time.monotonic()
        poked = self._poked = anyio.Event()
        while True:
            with anyio.move_on_after(self.look_every_s):
                await poked.wait()
            # a poke from now on wakes the next wait: what caused it is in the store already
            poked = self._poked = anyio.Event()
            if self.lost.is_set():
                run = None
            elif time.monotonic() - beat >= HEARTBEAT_S:
                run, beat = q.heartbeat(self.db, self.run.id, self.holder), time.monotonic()
            else:
                run = q.get_run(self.db, self.run.id)
            if run is not None and self.holder is not None and run.worker_id != self.holder:
                log.warning("run %s: now held by %s; stopping here", run.id, run.worker_id)
                self.lost.set()
            if run is None or run.cancel_requested or self.lost.is_set():
                self.cancelled = True
                if self.pipe is not None:
                    self.pipe.stop()  # kills containers and harness processes: stops now
                scope.cancel()
                return
