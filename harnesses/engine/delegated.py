"""`HarnessPipeline`: a reference harness asks and judges in its own process (a
`HarnessBenchmark`), through benchdock's recording proxy; each outcome is committed as it
arrives, with the exchanges it took as its evidence.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from benchdock.harnesses.client.llm import EndpointError
from benchdock.harnesses.contract.delegated import (
    HarnessBenchmark,
    HarnessSession,
    SampleOutcome,
    SessionContext,
)
from benchdock.harnesses.engine.pipeline import Pipeline, cache_key
from benchdock.harnesses.engine.proxy import Exchange, RecordingProxy
from benchdock.store import queries as q
from benchdock.store.tables import Sample

if TYPE_CHECKING:
    from benchdock.harnesses.engine.executor import RunExecutor


class HarnessPipeline(Pipeline):
    def __init__(self, ex: RunExecutor) -> None:
        super().__init__(ex)
        assert isinstance(ex.bench, HarnessBenchmark)
        self.bench: HarnessBenchmark = ex.bench
        self.session: HarnessSession | None = None
        self.sock_dir: Path | None = None

    async def run(self) -> None:
        ex = self.ex
        proxy = RecordingProxy(ex.db, ex.run, ex.endpoint, ex.params, cache_key,
                               ex.settings.request_timeout_s, ex.transport)
        # short: unix socket paths are limited to ~100 bytes
        self.sock_dir = Path(tempfile.mkdtemp(prefix="bdproxy-"))
        self.sock_dir.chmod(0o755)
        pending = q.unscored_samples(ex.db, ex.run.id)
        limiter = anyio.CapacityLimiter(max(1, ex.run.concurrency))
        async with anyio.create_task_group() as tg:
            await tg.start(proxy.serve, str(self.sock_dir / "proxy.sock"))
            ctx = SessionContext(settings=ex.settings, run=ex.run,
                                 proxy_socket=self.sock_dir / "proxy.sock",
                                 threads=max(1, ex.run.concurrency))
            self.session = await anyio.to_thread.run_sync(self.bench.open_session, ctx)
            session = self.session
            self.sandbox_kind, self.isolation = session.sandbox_kind, session.isolation
            ex.started(self)
            async with anyio.create_task_group() as work:
                for s in pending:
                    work.start_soon(self._solve_one, session, proxy, limiter, s)
            details = await session.summarise(q.all_samples(ex.db, ex.run.id))
            if self.bench.details_key and details:
                self.extra_metrics = {self.bench.details_key: details}
            tg.cancel_scope.cancel()  # stop the proxy: all work is done

    def retries(self) -> list[str]:
        return self.session.retries() if self.session is not None else []

    def close(self) -> None:
        if self.session is not None:
            self.session.close()  # the harness's container or process goes too
        if self.sock_dir is not None:
            shutil.rmtree(self.sock_dir, ignore_errors=True)

    async def _solve_one(self, session: HarnessSession, proxy: RecordingProxy,
                         limiter: anyio.CapacityLimiter, s: Sample) -> None:
        ex = self.ex
        tag = str(s.id)
        async with limiter:
            out = await session.solve(ex.tasks[s.task_id], tag)
        exchanges, failure = proxy.take(tag)
        if failure is not None:  # the endpoint failed, not the model: fail the run, resumable
            raise EndpointError(f"sample {s.task_id}: {failure}")
        q.save_generation(ex.db, s.id or 0, ex.holder, **generation_values(out, exchanges))
        q.save_verdict(ex.db, s.id or 0, ex.holder, verdict=out.verdict, detail=out.detail,
                       exec_s=0.0,
                       extra={**out.extra, "exchanges": [e.model_dump(exclude_defaults=True)
                                                         for e in exchanges]})


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
