"""What a job handler gets from the worker: its settings, the store, and a way to say how far
it is, to log, and to learn that it should stop.

Jobs (store/jobs.py) are work that is not a run: setting benchmarks up, an adaptive
decision's loop. Their handlers live above the engine (the set-up in `service`, the decision
in `choice`), so the worker does not import them: `benchdock worker` hands it a table of
kind -> handler (`JobHandler`). A handler runs on a thread of its own and returns the job's
result (plain data), or raises: `JobStopped` when it was cancelled or lost its lease, any
other error to fail the job with that error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Engine

from benchdock.harnesses.config import Settings
from benchdock.store import jobs as store
from benchdock.store.tables import Job


class JobStopped(Exception):
    """The job was cancelled, or its lease was lost: stop here, write nothing more."""


class JobContext:
    """One running job, as its handler sees it. Thread-safe: a handler may report from
    several threads."""

    CHECK_S = 1.0  # how often `stopping` asks the store whether a cancel came

    def __init__(self, settings: Settings, db: Engine, job: Job, holder: str | None) -> None:
        self.settings, self.db, self.job, self.holder = settings, db, job, holder
        self.lost = threading.Event()  # set by the worker when its lease ran out
        self._checked = 0.0
        self._cancel = False
        self._lock = threading.Lock()

    @property
    def params(self) -> dict[str, Any]:
        """The job's settings as stored now (a decision's budget may grow while it runs)."""
        return dict(self.job.params or {})

    def refresh(self) -> Job:
        job = store.get(self.db, self.job.id)
        if job is not None:
            with self._lock:
                self.job = job
                self._cancel = job.cancel_requested
                self._checked = time.monotonic()
        return self.job

    def stopping(self) -> bool:
        """A cancel was asked for, or the lease is lost (checked at most once a second)."""
        if self.lost.is_set():
            return True
        if time.monotonic() - self._checked > self.CHECK_S:
            self.refresh()
        return self._cancel

    def check(self) -> None:
        """Raise `JobStopped` when the job should stop."""
        if self.stopping():
            raise JobStopped("cancelled" if self._cancel else "lease lost")

    def progress(self, done: float | None = None, total: float | None = None,
                 message: str | None = None, eta_s: float | None = None,
                 result: dict[str, Any] | None = None) -> None:
        values: dict[str, Any] = {}
        for key, value in (("done", done), ("total", total), ("message", message),
                           ("result", result)):
            if value is not None:
                values[key] = value
        if done is not None or eta_s is not None:
            values["eta_s"] = eta_s
        job = store.progress(self.db, self.job.id, self.holder, **values)
        if job is not None:
            with self._lock:
                self.job = job
                self._cancel = job.cancel_requested
                self._checked = time.monotonic()

    def log(self, line: str) -> None:
        store.append_log(self.db, self.job.id, line)

    def say(self, line: str) -> None:
        """Log a line, make it the current message, and stop if asked to: what set-up steps
        call to report (`SetupStep.run(say)`)."""
        self.log(line)
        self.progress(message=line[:300])
        self.check()


JobHandler = Callable[[JobContext], dict[str, Any] | None]
JobHandlers = Mapping[str, JobHandler]
