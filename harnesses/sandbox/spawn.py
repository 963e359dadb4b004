"""Starting processes that must die with benchdock, from a thread that lives as long as it.

Linux's parent-death signal (`PR_SET_PDEATHSIG`, which bubblewrap's `--die-with-parent` sets
on itself) fires when the *thread* that forked the process exits, not when the process
does. benchdock opens sandboxes from worker threads (anyio's pool retires a thread after
10 s idle; a `ThreadPoolExecutor` ends its threads when it shuts down), so a runner started
from one of them was SIGKILLed as soon as that thread retired: its next job met a dead
runner ("[Errno 32] Broken pipe") and was charged to the model. It happened whenever a
fresh runner waited more than 10 s for its first job — while a CPU-served model generated
a batch, under load, or during a long timing pass.

Every process started with `popen` here is forked by one daemon thread that lives until
the interpreter exits, so it dies with benchdock (as intended) and never with a worker
thread. A process that forks after this module started gets a spawner of its own.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

_Job = tuple[Callable[[], Any], "Future[Any]"]


class _Spawner:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.jobs: queue.Queue[_Job] = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="benchdock-spawner", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:  # blocks on the queue: no CPU while idle
            fn, fut = self.jobs.get()
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)

    def call(self, fn: Callable[[], Any]) -> Any:
        if threading.current_thread() is self.thread:
            return fn()
        fut: Future[Any] = Future()
        self.jobs.put((fn, fut))
        return fut.result()


_spawner: _Spawner | None = None
_lock = threading.Lock()


def spawner_thread() -> threading.Thread:
    """The thread that forks every process started here (started on first use)."""
    global _spawner
    with _lock:
        if _spawner is None or _spawner.pid != os.getpid() or not _spawner.thread.is_alive():
            _spawner = _Spawner()
        return _spawner.thread


def popen(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(argv, **kwargs)`, forked by the long-lived spawner thread."""
    spawner_thread()
    assert _spawner is not None
    proc: subprocess.Popen[bytes] = _spawner.call(lambda: subprocess.Popen(argv, **kwargs))
    return proc
