"""`ChatPipeline`: benchdock asks the model once per sample and scores the extracted code
in the sandbox (a `Benchmark`).

Generation is bounded by the endpoint's concurrency; each answer is committed as soon as it
exists. With the endpoint on this machine, generation and scoring take turns, a batch of
answers at a time (`turns.py`: scoring beside a model on the same cores slows it more than
the scoring takes alone); otherwise each answer is handed to the scorers at once, so
execution overlaps with later generation at low CPU priority, and a timeout met then is
decided again at full priority once generation is over. Requests go unstreamed where the
server reports its own timings (`client/ttft.py`). Answers already in the store (a resumed
run) are scored first; answers to identical requests come from the generation cache.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import httpx
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from anyio.streams.memory import MemoryObjectSendStream

from benchdock.harnesses.client.llm import ChatResult, chat_with_retries, request_body
from benchdock.harnesses.client.ttft import LEMONADE_STATS, TtftPlan, lemonade_ttft, stream_every
from benchdock.harnesses.contract.benchmark import Benchmark, Verdict
from benchdock.harnesses.engine.pipeline import Pipeline, cache_key, no_code_reason
from benchdock.harnesses.engine.turns import ANSWERS_PER_RUNNER, Turns, scoring_mode
from benchdock.harnesses.sandbox import Sandbox, SandboxError, open_sandbox
from benchdock.store import queries as q
from benchdock.store.tables import Generation, Sample

if TYPE_CHECKING:
    from benchdock.harnesses.engine.executor import RunExecutor

log = logging.getLogger("benchdock.engine")


class ChatPipeline(Pipeline):
    def __init__(self, ex: RunExecutor) -> None:
        super().__init__(ex)
        assert isinstance(ex.bench, Benchmark)
        self.bench: Benchmark = ex.bench
        self.sandbox: Sandbox | None = None
        self.ttft = TtftPlan(ex.endpoint.url, ex.run.model)
        self._recheck: list[Sample] = []  # timeouts met while scoring yielded to generation
        # Lemonade keeps the last request's time to first token: ours, one at a time
        self.stats_ttft = ((ex.run.model_identity or {}).get("server") == "lemonade"
                           and ex.run.concurrency <= 1)

    async def run(self) -> None:
        ex = self.ex
        # execution is short next to generation: a few runners keep up on any machine
        size = max(1, min(4, os.cpu_count() or 1))
        settings = ex.settings
        self.ttft = TtftPlan(ex.endpoint.url, ex.run.model,
                             stream_every(settings.var("BENCHDOCK_TTFT_STREAM_EVERY")))
        async with anyio.create_task_group() as start:
            start.start_soon(self._warm_extract)  # beside the sandbox's start: mostly waiting
            self.sandbox = await anyio.to_thread.run_sync(
                open_sandbox, settings.sandbox, self.bench.sandbox_tag(), size,
                self.bench.sandbox_network())
        assert self.sandbox is not None  # opened above, or the task group raised
        self.sandbox_kind, self.isolation = self.sandbox.kind, self.sandbox.isolation
        ex.started(self)
        await anyio.to_thread.run_sync(self.bench.prepare, self.sandbox, list(ex.tasks.values()))
        pending = q.unscored_samples(ex.db, ex.run.id)
        to_ask = [s for s in pending if s.completion is None]
        limiter = anyio.CapacityLimiter(max(1, ex.run.concurrency))
        timeout = httpx.Timeout(settings.request_timeout_s, connect=10.0)
        mode, why = scoring_mode(settings.var("BENCHDOCK_SCORING"), ex.endpoint.url)
        log.info("run %s: scoring %s (%s)", ex.run.id,
                 "in turns with generation" if mode == "turns" else "beside generation", why)
        async with httpx.AsyncClient(timeout=timeout, transport=ex.transport) as client:
            if mode == "turns":
                turns = Turns(ANSWERS_PER_RUNNER * self.sandbox.size)
                await self._score_batch([s for s in pending if s.completion is not None])
                async with anyio.create_task_group() as gens:
                    for s in to_ask:
                        gens.start_soon(self._generate_in_turn, client, limiter, s, turns)
                await self._score_batch(turns.rest())
            else:
                # while the model generates, scoring yields the CPU to it as far as the
                # sandbox can; a timeout met meanwhile is provisional
                await anyio.to_thread.run_sync(self.sandbox.set_background, bool(to_ask))
                async with self._scorers() as send, anyio.create_task_group() as gens:
                    for s in pending:
                        if s.completion is not None:
                            await send.send(s)
                        else:
                            gens.start_soon(self._generate, client, limiter, s, send.clone())
        await anyio.to_thread.run_sync(self.sandbox.set_background, False)
        recheck, self._recheck = self._recheck, []
        if recheck:
            log.info("run %s: scoring %d timed-out answers again at full priority",
                     ex.run.id, len(recheck))
            async with self._scorers() as send:
                for s in recheck:
                    await send.send(s)
        details = self.bench.summarise(q.all_samples(ex.db, ex.run.id))
        if self.bench.details_key and details:
            self.extra_metrics = {self.bench.details_key: details}

    async def _warm_extract(self) -> None:
        """Extract from an empty answer once before the first request. The first `extract`
        imports what the benchmark's extractor needs, and EvalPlus's sanitiser pulls in
        Hugging Face `datasets` and pandas with it: ~1.4 s of CPU, which a run paid while the
        model generated its second answer (the worker's share while generating was ~0.6 s per
        run more than its steady cost, by py-spy). Here it overlaps the sandbox's start, when
        the model is idle. Only a warm-up: a failure here shows again, and is handled, on the
        first real answer."""
        task = next(iter(self.ex.tasks.values()), None)
        if task is None:
            return
        t0 = time.perf_counter()
        try:
            await anyio.to_thread.run_sync(self.bench.extract, task, "")
        except Exception as exc:  # a warm-up: the real extract reports it
            log.debug("run %s: warming %s's extract: %s", self.ex.run.id, self.bench.id, exc)
        log.debug("run %s: extract warmed in %.2f s", self.ex.run.id, time.perf_counter() - t0)

    @contextlib.asynccontextmanager
    async def _scorers(self) -> AsyncIterator[MemoryObjectSendStream[Sample]]:
        """A pool of scoring tasks fed through the stream it yields; leaving the block
        closes the stream and waits until every answer sent is scored."""
        assert self.sandbox is not None
        send, recv = anyio.create_memory_object_stream[Sample](max_buffer_size=math.inf)
        async with anyio.create_task_group() as scorers:
            for _ in range(self.sandbox.size):
                scorers.start_soon(self._score_loop, recv.clone())
            recv.close()
            async with send:
                yield send

    def retries(self) -> list[str]:
        return list(self.sandbox.retries) if self.sandbox is not None else []

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()  # kills running containers: execution stops now

    async def _generate(self, client: httpx.AsyncClient, limiter: anyio.CapacityLimiter,
                        s: Sample, send: ObjectSendStream[Sample]) -> None:
        answered = await self._answer(client, limiter, s, None)
        async with send:
            await send.send(answered)

    async def _generate_in_turn(self, client: httpx.AsyncClient, limiter: anyio.CapacityLimiter,
                                s: Sample, turns: Turns) -> None:
        turns.add(await self._answer(client, limiter, s, turns))

    async def _answer(self, client: httpx.AsyncClient, limiter: anyio.CapacityLimiter,
                      s: Sample, turns: Turns | None) -> Sample:
        """The sample with its answer (from the cache, or asked), committed."""
        ex = self.ex
        task = ex.tasks[s.task_id]
        body = request_body(ex.run.model, self.bench.messages(task), ex.params, stream=False)
        key = cache_key(ex.run, body, s.sample_index)  # the same whether streamed or not
        hit = q.cache_get(ex.db, key)
        if hit is not None:
            res = ChatResult(content=hit.content, reasoning=hit.reasoning,
                             finish_reason=hit.finish_reason,
                             completion_tokens=hit.completion_tokens,
                             latency_s=hit.latency_s or 0.0, ttft_s=hit.ttft_s)
            cached = True
        else:
            async with limiter, (turns.request(self._score_batch) if turns
                                 else contextlib.nullcontext()):
                stream = self.ttft.stream_next()
                if stream:
                    body = request_body(ex.run.model, self.bench.messages(task), ex.params)
                res = await chat_with_retries(client, ex.endpoint, body)
                if res.ttft_s is None and not stream and self.stats_ttft:
                    headers = ({"Authorization": f"Bearer {ex.endpoint.api_key}"}
                               if ex.endpoint.api_key else {})
                    took = await lemonade_ttft(client, ex.endpoint.url, headers)
                    if took is not None:
                        res.ttft_s, res.ttft_source = took, LEMONADE_STATS
                self.ttft.learn(stream, res.ttft_source)  # before the next request decides
            q.cache_put(ex.db, Generation(
                key=key, model=ex.run.model, content=res.content, reasoning=res.reasoning,
                finish_reason=res.finish_reason, prompt_tokens=res.prompt_tokens,
                completion_tokens=res.completion_tokens, latency_s=res.latency_s,
                ttft_s=res.ttft_s))
            cached = False
        code = await anyio.to_thread.run_sync(self.bench.extract, task, res.content)
        values: dict[str, Any] = dict(
            generation_key=key, completion=res.content, reasoning=res.reasoning, code=code,
            finish_reason=res.finish_reason, truncated=res.finish_reason == "length",
            cached=cached, latency_s=res.latency_s, ttft_s=res.ttft_s,
            completion_tokens=res.completion_tokens,
        )
        if not cached:  # where this sample's time to first token came from; retries
            values["extra"] = {"ttft_source": res.ttft_source}
            if res.retries:
                values["extra"].update(retries=res.retries, retry_lost_s=res.retry_lost_s)
        q.save_generation(ex.db, s.id or 0, ex.holder, **values)
        return s.model_copy(update=values)

    async def _score_loop(self, recv: ObjectReceiveStream[Sample]) -> None:
        async with recv:
            async for s in recv:
                await self._score(s)

    async def _score_batch(self, batch: list[Sample]) -> None:
        """Score `batch` with every runner of the sandbox, at full priority."""
        assert self.sandbox is not None
        if not batch:
            return
        runners = anyio.CapacityLimiter(self.sandbox.size)

        async def one(s: Sample) -> None:
            async with runners:
                await self._score(s)

        async with anyio.create_task_group() as tg:
            for s in batch:
                tg.start_soon(one, s)

    async def _score(self, s: Sample) -> None:
        assert self.sandbox is not None
        ex = self.ex
        task = ex.tasks[s.task_id]
        if not (s.code or "").strip():
            q.save_verdict(ex.db, s.id or 0, ex.holder, verdict="error",
                           detail=no_code_reason(s), exec_s=0.0)
            return
        yielded = self.sandbox.background
        try:
            v = await anyio.to_thread.run_sync(
                self.bench.score, task, s.code or "", self.sandbox, abandon_on_cancel=True)
        except SandboxError:
            raise  # the sandbox is gone and could not be replaced: the run stops
        except Exception as exc:
            # a scorer that trips over one answer must not stop the run (nor stop a resumed
            # run again on the same answer): that sample is an error
            log.exception("run %s: scoring %s failed", ex.run.id, s.task_id)
            v = Verdict(verdict="error", detail=(
                f"benchdock could not score this answer ({type(exc).__name__}: {exc})"))
        if v.verdict == "timeout" and yielded:
            # it ran at low priority beside the model: the time limits measured the model's
            # load, not the code; scored again when generation is over
            self._recheck.append(s)
            return
        more = {"extra": v.extra} if v.extra is not None else {}
        q.save_verdict(ex.db, s.id or 0, ex.holder, verdict=v.verdict, base_verdict=v.base,
                       plus_verdict=v.plus, detail=v.detail, exec_s=v.exec_s, **more)
