"""Ctrl-C for the CLI's wait loops (`run`, `decide`, `setup`): a flag the loop reads between
store calls, never a KeyboardInterrupt raised wherever the main thread happens to be.

Python's default handler raises KeyboardInterrupt at any bytecode. In a loop that polls the store
it lands, more often than not, inside a store call: a PostgreSQL query, a connection pool's
check-in, a session's close. The connection it leaves behind may fail the very call that follows,
which is the cancel the user asked for. CI saw that: `benchdock run` interrupted on PostgreSQL
exited 1 while its run, never cancelled, went on and succeeded. With a flag, the store call in
flight finishes and the cancel runs on a healthy connection.

A second Ctrl-C raises KeyboardInterrupt as usual, so a user can still quit a wait that hangs.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def ctrl_c_flag() -> Iterator[threading.Event]:
    """Within the block, the first SIGINT sets the returned event (wait on it instead of
    sleeping, so the loop answers at once); a second one raises KeyboardInterrupt. Outside the
    main thread, where signal handlers cannot be set, the event is never set and SIGINT keeps
    its usual meaning."""
    pressed = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield pressed
        return

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if pressed.is_set():
            raise KeyboardInterrupt
        pressed.set()

    before = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, before)
