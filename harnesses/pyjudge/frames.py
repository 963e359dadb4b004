"""The pipes between the judge (J) and a worker (W): length-prefixed frames, and J's
handle on a worker it forked.

J's ends are non-blocking and every wait has a deadline, so a worker that stops reading,
stops answering, dies or floods cannot stall J: it only ends its own test. A worker is
forked *before* J reads its payload, so the worker's memory holds nothing secret, and the
child closes every descriptor but its two pipe ends and stdout/stderr before it waits for
work (J's stdin, where the payload arrives, and fd 3, where J's verdict leaves, included).
"""

from __future__ import annotations

import os
import select
import signal
import struct
import time
from collections.abc import Callable

HEADER = struct.Struct(">I")
CHUNK = 1 << 20
POLL_S = 0.05


class Closed(Exception):
    """The worker's end is gone (it exited or was killed)."""


class Late(Exception):
    """The deadline passed first."""


class TooLarge(Exception):
    """A frame announced more bytes than J accepts."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


def write_frame(fd: int, data: bytes, deadline: float | None = None,
                alive: Callable[[], bool] | None = None) -> None:
    view = memoryview(HEADER.pack(len(data)) + data)
    while view:
        try:
            n = os.write(fd, view[:CHUNK])
        except BlockingIOError:
            _wait(fd, deadline, alive, write=True)
            continue
        except (BrokenPipeError, ConnectionResetError):
            raise Closed from None
        view = view[n:]


def read_frame(fd: int, deadline: float | None = None, cap: int | None = None,
               alive: Callable[[], bool] | None = None) -> bytes:
    (size,) = HEADER.unpack(_read_exact(fd, HEADER.size, deadline, alive))
    if cap is not None and size > cap:
        raise TooLarge(size)
    return _read_exact(fd, size, deadline, alive)


def _read_exact(fd: int, n: int, deadline: float | None,
                alive: Callable[[], bool] | None) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        try:
            chunk = os.read(fd, min(CHUNK, n - len(buf)))
        except BlockingIOError:
            _wait(fd, deadline, alive, write=False)
            continue
        if not chunk:
            raise Closed
        buf += chunk
        if deadline is not None and len(buf) < n and time.monotonic() > deadline:
            raise Late  # a peer that trickles bytes does not stretch the deadline
    return bytes(buf)


def _wait(fd: int, deadline: float | None, alive: Callable[[], bool] | None,
          write: bool) -> None:
    """Until `fd` is ready; raises Late at the deadline and Closed when `alive` says the
    peer is gone (its pipe end may live on in a process it forked)."""
    while True:
        step = POLL_S
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Late
            step = min(step, left)
        r, w, _ = select.select([] if write else [fd], [fd] if write else [], [], step)
        if r or w:
            return
        if alive is not None and not alive():
            raise Closed


def close_all_but(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


class WorkerHandle:
    """J's side of one worker: its pid, the two pipe ends, how it ended."""

    def __init__(self, serve: Callable[[int, int], None]) -> None:
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            code = 70
            try:
                os.setpgid(0, 0)
                close_all_but({1, 2, to_r, from_w})
                null = os.open(os.devnull, os.O_RDONLY)  # fd 0 was closed: it lands there
                if null != 0:
                    os.dup2(null, 0)
                    os.close(null)
                serve(to_r, from_w)
                code = 0
            finally:
                os._exit(code)
        try:
            os.setpgid(pid, pid)
        except OSError:  # it did so itself already, or is gone
            pass
        os.close(to_r)
        os.close(from_w)
        os.set_blocking(to_w, False)
        os.set_blocking(from_r, False)
        self.pid, self.to_w, self.from_r = pid, to_w, from_r
        self.status: int | None = None

    def alive(self) -> bool:
        if self.status is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == self.pid:
                self.status = status
        return self.status is None

    def send(self, data: bytes, deadline: float | None) -> None:
        write_frame(self.to_w, data, deadline, self.alive)

    def recv(self, deadline: float | None, cap: int | None) -> bytes:
        return read_frame(self.from_r, deadline, cap, self.alive)

    def kill(self) -> None:
        for target in (-self.pid, self.pid):
            try:
                os.kill(target, signal.SIGKILL)
            except OSError:
                pass
        if self.status is None:
            try:
                _, self.status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
        for fd in (self.to_w, self.from_r):
            try:
                os.close(fd)
            except OSError:
                pass

    def how_it_ended(self, grace_s: float = 0.2) -> str:
        """'exited with status 0', 'was killed by signal 9 (SIGKILL)', ..."""
        end = time.monotonic() + grace_s
        while self.alive() and time.monotonic() < end:
            time.sleep(0.01)
        if self.status is None:
            return "stopped answering"
        if os.WIFEXITED(self.status):
            return f"exited with status {os.WEXITSTATUS(self.status)}"
        if os.WIFSIGNALED(self.status):
            sig = os.WTERMSIG(self.status)
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = "?"
            hint = " (the memory limit, or the process was killed)" if sig == 9 else ""
            return f"was killed by signal {sig} ({name}){hint}"
        return f"ended with wait status {self.status}"
