"""Executing one run: generation and execution as one pipeline.

Generation is bounded by the endpoint's concurrency; each answer is committed as soon as it
exists and handed to the scorers, so execution overlaps with later generation. Answers
already in the store (a resumed run) go straight to scoring; answers to identical requests
come from the generation cache. A watcher beats the heartbeat and stops everything promptly
when the run is cancelled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import anyio
import httpx
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from sqlalchemy.engine import Engine

from benchdock.harnesses.base import Benchmark, BenchmarkBase, Task, Verdict
from benchdock.harnesses.choice.evidence import record as record_evidence
from benchdock.harnesses.config import EndpointConfig, Settings
from benchdock.harnesses.delegated import (
    DelegatedBenchmark,
    HarnessSession,
    SampleOutcome,
    SessionContext,
)
from benchdock.harnesses.llm import (
    ChatResult,
    EndpointError,
    SamplingParams,
    chat_with_retries,
    request_body,
)
from benchdock.harnesses.metrics import compute_metrics
from benchdock.harnesses.proxy import Exchange, RecordingProxy
from benchdock.harnesses.registry import get_benchmark
from benchdock.harnesses.sandbox import Sandbox, SandboxError, open_sandbox
from benchdock.store import queries as q
from benchdock.store.models import Generation, Run, Sample

log = logging.getLogger("benchdock.engine")


def cache_key(run: Run, body: dict[str, Any], sample_index: int) -> str:
    """Same model identity + same request (+ sample index when sampling) = same answer."""
    ident = {k: run.model_identity.get(k) for k in ("id", "endpoint", "file_size_bytes",
                                                    "quantization", "parameter_count")}
    req = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
    if body.get("temperature", 0) > 0:
        req["sample_index"] = sample_index
    blob = json.dumps({"model": ident, "request": req}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def first_leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups from task groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def no_code_reason(s: Sample) -> str:
    """Why an answer held no code, in the terms a user can act on."""
    if s.truncated:
        return ("no code: the answer was cut off by max_tokens before any code block closed; "
                "raise max_tokens (reasoning models need several thousand)")
    if not (s.completion or "").strip() and s.reasoning:
        return ("no code: the answer was empty and everything came as reasoning_content "
                "(thinking); raise max_tokens or disable thinking")
    return "no code found in the answer"


class RunExecutor:
    def __init__(self, settings: Settings, db: Engine, run: Run,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.transport = transport  # tests put an in-process fake endpoint here
        self.db = db
        self.run = run
        self.params = SamplingParams.model_validate(run.params)
        self.endpoint = self._endpoint()
        self.bench: BenchmarkBase = get_benchmark(run.benchmark)
        self.tasks: dict[str, Task] = {}
        self.sandbox: Sandbox | None = None
        self.session: HarnessSession | None = None
        self.extra_metrics: dict[str, Any] = {}
        self.cancelled = False

    @property
    def chat(self) -> Benchmark:
        """The benchmark, for the path where benchdock itself asks and scores."""
        assert isinstance(self.bench, Benchmark)
        return self.bench

    def _endpoint(self) -> EndpointConfig:
        for ep in self.settings.endpoints:
            if ep.url == self.run.endpoint_url:
                return ep
        return EndpointConfig(url=self.run.endpoint_url)

    async def execute(self) -> str:
        """Run to the end; returns the final status and records it in the store."""
        run = self.run
        try:
            all_tasks = await anyio.to_thread.run_sync(self.bench.tasks)
            wanted = set(run.task_ids)
            self.tasks = {t.id: t for t in all_tasks if t.id in wanted}
            total = q.ensure_samples(self.db, run.id, run.task_ids, run.n_samples)
            if isinstance(self.bench, DelegatedBenchmark):
                q.heartbeat(self.db, run.id, total=total)
                await self._delegated(self.bench)
                return self._finish("cancelled" if self.cancelled else "succeeded")
            # execution is short next to generation: a few runners keep up on any machine
            size = max(1, min(4, os.cpu_count() or 1))
            self.sandbox = await anyio.to_thread.run_sync(
                open_sandbox, self.settings.sandbox, self.settings.sandbox_image, size
            )
            q.heartbeat(self.db, run.id, total=total, sandbox_used=self.sandbox.kind,
                        isolation=self.sandbox.isolation)
            await anyio.to_thread.run_sync(self.chat.prepare, self.sandbox, list(self.tasks.values()))
            await self._pipeline()
        except Exception as exc:  # EndpointError, SandboxError, DatasetUnavailable, bugs
            if self.cancelled:
                return self._finish("cancelled")
            log.exception("run %s failed", run.id)
            root = first_leaf(exc)
            return self._finish("failed", f"{type(root).__name__}: {root}")
        finally:
            if self.sandbox is not None:
                self.sandbox.close()
            if self.session is not None:
                self.session.close()
        if self.cancelled:
            return self._finish("cancelled")
        return self._finish("succeeded")

    def _finish(self, status: str, error: str | None = None) -> str:
        samples = q.all_samples(self.db, self.run.id)
        metrics = {**compute_metrics(samples, self.run.n_samples), **self.extra_metrics}
        q.finish_run(self.db, self.run.id, status, error=error, metrics=metrics)
        finished = q.get_run(self.db, self.run.id)
        if status == "succeeded" and finished is not None:
            try:  # the comparison's evidence; if this fails it is made on first comparison
                record_evidence(self.db, finished, samples)
            except Exception:
                log.exception("run %s: could not record its dimension evidence", self.run.id)
        return status

    async def _pipeline(self) -> None:
        pending = q.unscored_samples(self.db, self.run.id)
        send, recv = anyio.create_memory_object_stream[Sample](max_buffer_size=math.inf)
        limiter = anyio.CapacityLimiter(max(1, self.run.concurrency))
        assert self.sandbox is not None
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._watch, tg.cancel_scope)
            async with httpx.AsyncClient(timeout=httpx.Timeout(
                    self.settings.request_timeout_s, connect=10.0), transport=self.transport) as client:
                scorers = anyio.create_task_group()
                async with scorers:
                    for _ in range(self.sandbox.size):
                        scorers.start_soon(self._score_loop, recv.clone())
                    recv.close()
                    async with anyio.create_task_group() as gens, send:
                        for s in pending:
                            if s.completion is not None:
                                await send.send(s)
                            else:
                                gens.start_soon(self._generate, client, limiter, s, send.clone())
            tg.cancel_scope.cancel()  # stop the watcher: all work is done

    async def _watch(self, scope: anyio.CancelScope) -> None:
        while True:
            await anyio.sleep(0.5)
            run = q.heartbeat(self.db, self.run.id)
            if run is None or run.cancel_requested:
                self.cancelled = True
                if self.sandbox is not None:
                    self.sandbox.close()  # kills running containers: execution stops now
                if self.session is not None:
                    self.session.close()  # the harness's container or process goes too
                scope.cancel()
                return

    async def _delegated(self, bench: DelegatedBenchmark) -> None:
        """The reference harness asks and judges; benchdock's proxy sits between it and the
        endpoint, and each outcome is committed as it arrives."""
        proxy = RecordingProxy(self.db, self.run, self.endpoint, self.params, cache_key,
                               self.settings.request_timeout_s, self.transport)
        sock_dir = Path(tempfile.mkdtemp(prefix="bdproxy-"))  # short: unix socket paths are
        sock_dir.chmod(0o755)                                   # limited to ~100 bytes
        pending = q.unscored_samples(self.db, self.run.id)
        limiter = anyio.CapacityLimiter(max(1, self.run.concurrency))
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._watch, tg.cancel_scope)
                await tg.start(proxy.serve, str(sock_dir / "proxy.sock"))
                ctx = SessionContext(settings=self.settings, run=self.run,
                                     proxy_socket=sock_dir / "proxy.sock",
                                     threads=max(1, self.run.concurrency))
                self.session = await anyio.to_thread.run_sync(bench.open_session, ctx)
                session = self.session
                q.heartbeat(self.db, self.run.id, sandbox_used=session.sandbox_kind,
                            isolation=session.isolation)
                async with anyio.create_task_group() as work:
                    for s in pending:
                        work.start_soon(self._solve_one, session, proxy, limiter, s)
                self.extra_metrics = await session.summarise(q.all_samples(self.db, self.run.id))
                tg.cancel_scope.cancel()  # stop the watcher and the proxy: all work is done
        finally:
            shutil.rmtree(sock_dir, ignore_errors=True)

    async def _solve_one(self, session: HarnessSession, proxy: RecordingProxy,
                         limiter: anyio.CapacityLimiter, s: Sample) -> None:
        tag = str(s.id)
        async with limiter:
            out = await session.solve(self.tasks[s.task_id], tag)
        exchanges, failure = proxy.take(tag)
        if failure is not None:  # the endpoint failed, not the model: fail the run, resumable
            raise EndpointError(f"sample {s.task_id}: {failure}")
        q.save_generation(self.db, s.id or 0, **generation_values(out, exchanges))
        q.save_verdict(self.db, s.id or 0, verdict=out.verdict, detail=out.detail, exec_s=0.0,
                       extra={**out.extra, "exchanges": [e.model_dump(exclude_defaults=True)
                                                         for e in exchanges]})

    async def _generate(self, client: httpx.AsyncClient, limiter: anyio.CapacityLimiter,
                        s: Sample, send: ObjectSendStream[Sample]) -> None:
        task = self.tasks[s.task_id]
        body = request_body(self.run.model, self.chat.messages(task), self.params)
        key = cache_key(self.run, body, s.sample_index)
        hit = q.cache_get(self.db, key)
        if hit is not None:
            res = ChatResult(content=hit.content, reasoning=hit.reasoning,
                             finish_reason=hit.finish_reason, completion_tokens=hit.completion_tokens,
                             latency_s=hit.latency_s or 0.0, ttft_s=hit.ttft_s)
            cached = True
        else:
            async with limiter:
                res = await self._ask(client, body)
            q.cache_put(self.db, Generation(
                key=key, model=self.run.model, content=res.content, reasoning=res.reasoning,
                finish_reason=res.finish_reason, prompt_tokens=res.prompt_tokens,
                completion_tokens=res.completion_tokens, latency_s=res.latency_s, ttft_s=res.ttft_s))
            cached = False
        code = await anyio.to_thread.run_sync(self.chat.extract, task, res.content)
        values = dict(
            generation_key=key, completion=res.content, reasoning=res.reasoning, code=code,
            finish_reason=res.finish_reason, truncated=res.finish_reason == "length",
            cached=cached, latency_s=res.latency_s, ttft_s=res.ttft_s,
            completion_tokens=res.completion_tokens,
        )
        q.save_generation(self.db, s.id or 0, **values)
        async with send:
            await send.send(s.model_copy(update=values))

    async def _ask(self, client: httpx.AsyncClient, body: dict[str, Any]) -> ChatResult:
        return await chat_with_retries(client, self.endpoint, body)

    async def _score_loop(self, recv: ObjectReceiveStream[Sample]) -> None:
        assert self.sandbox is not None
        async with recv:
            async for s in recv:
                task = self.tasks[s.task_id]
                if not (s.code or "").strip():
                    q.save_verdict(self.db, s.id or 0, verdict="error", detail=no_code_reason(s),
                                   exec_s=0.0)
                    continue
                try:
                    v = await anyio.to_thread.run_sync(
                        self.chat.score, task, s.code or "", self.sandbox, abandon_on_cancel=True)
                except SandboxError:
                    raise  # the sandbox is gone and could not be replaced: the run stops
                except Exception as exc:
                    # a scorer that trips over one answer must not stop the run (nor stop a
                    # resumed run again on the same answer): that sample is an error
                    log.exception("run %s: scoring %s failed", self.run.id, s.task_id)
                    v = Verdict(verdict="error", detail=(
                        f"benchdock could not score this answer ({type(exc).__name__}: {exc})"))
                q.save_verdict(self.db, s.id or 0, verdict=v.verdict, base_verdict=v.base,
                               plus_verdict=v.plus, detail=v.detail, exec_s=v.exec_s)


def generation_values(out: SampleOutcome, exchanges: list[Exchange]) -> dict[str, Any]:
    """A sample's answer and its timing summed over the exchanges it took."""
    ok = [e for e in exchanges if e.status == 200]
    last = ok[-1] if ok else None
    return dict(
        completion=out.completion, code=out.code,
        finish_reason=last.finish_reason if last else None,
        truncated=any(e.finish_reason == "length" for e in ok),
        cached=bool(ok) and all(e.cached for e in ok),
        latency_s=sum(e.latency_s for e in ok) if ok else None,
        ttft_s=ok[0].ttft_s if ok else None,
        completion_tokens=sum(e.completion_tokens or 0 for e in ok) if ok else None,
    )
