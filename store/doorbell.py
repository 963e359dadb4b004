"""Waking the worker when something happens, instead of having it poll the store.

PostgreSQL has LISTEN/NOTIFY (queue.CHANNEL). A SQLite store belongs to one machine, and its
one worker listens on a FIFO beside the database file (`benchdock.db.wake`): queuing a run,
cancelling or resuming one, and a run ending each write a byte there. The worker blocks on
it (select) between events, so an idle worker — and one whose runs are busy generating on a
model served by this machine's cores — costs no CPU and makes no wakeups; it still looks
at the store on its lease-renewal period, in case a byte was missed (a worker starting as a
client rang: the client's run is found by the worker's first claim anyway).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import stat
from pathlib import Path

from sqlalchemy.engine import Engine


def fifo_path(engine: Engine) -> Path | None:
    """The FIFO beside a SQLite database file (None for PostgreSQL or an in-memory SQLite)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).with_name(Path(database).name + ".wake")


def ring(engine: Engine) -> None:
    """Wake the SQLite store's worker, if one listens (never blocks, never fails)."""
    path = fifo_path(engine)
    if path is None:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # no FIFO yet (no worker ever), or no reader (ENXIO): nobody to wake
        return
    try:
        with contextlib.suppress(BlockingIOError):  # full: it is awake already
            os.write(fd, b"!")
    finally:
        os.close(fd)


class Doorbell:
    """The worker's end of the FIFO: `wait(timeout)` blocks until a byte arrives or the time
    is up, and says which."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            if not stat.S_ISFIFO(path.stat().st_mode):
                path.unlink()
        except FileNotFoundError:
            pass
        with contextlib.suppress(FileExistsError):
            os.mkfifo(path, 0o600)
        # read-write: the FIFO then never reports end-of-file when a writer closes
        self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)

    def wait(self, timeout: float) -> bool:
        readable, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not readable:
            return False
        while True:  # every byte rung so far: one wake-up for all of them
            try:
                if not os.read(self.fd, 4096):
                    break
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    break
                raise
        return True

    def close(self) -> None:
        os.close(self.fd)
