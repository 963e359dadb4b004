"""Ctrl-C in the CLI's wait loops is a flag read between store calls (server/interrupt.py): a
SIGINT arriving mid-call lets the call finish, the second one quits, the old handler returns."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from benchdock.server.interrupt import ctrl_c_flag


def store_call(seconds: float) -> str:
    """Stands for a query in flight: a KeyboardInterrupt raised here would cut it."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.01)
    return "finished"


def test_a_first_ctrl_c_lets_the_call_in_flight_finish_and_sets_the_flag() -> None:
    before = signal.getsignal(signal.SIGINT)
    with ctrl_c_flag() as pressed:
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
        assert store_call(0.3) == "finished"
        assert pressed.is_set()
        assert pressed.wait(0)  # the loop's wait returns at once from now on
    assert signal.getsignal(signal.SIGINT) is before


def test_a_second_ctrl_c_quits() -> None:
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), ctrl_c_flag() as pressed:
        os.kill(os.getpid(), signal.SIGINT)
        assert pressed.wait(5)
        os.kill(os.getpid(), signal.SIGINT)
        store_call(5)
    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_nothing_changes() -> None:
    seen: list[object] = []

    def other() -> None:
        with ctrl_c_flag() as pressed:
            seen.append(pressed.is_set())
            seen.append(signal.getsignal(signal.SIGINT))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == [False, signal.getsignal(signal.SIGINT)]
