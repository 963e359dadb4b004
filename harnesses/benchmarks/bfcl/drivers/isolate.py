"""One process per piece of work on a BFCL entry, so that no answer can reach the verdict's
channel or take the bridge down. Runs in BFCL's own process (see `bridge.py`); standard
library only, Linux.

The bridge keeps the protocol to itself: its replies go to a private copy of its stdout
(fd 1 then points at stderr), it is not dumpable (another process of its user cannot
ptrace it or open its /proc files, fds included), and it never evaluates an answer.
Everything that touches an answer — asking the model through BFCL's loop, which executes
the model's calls against BFCL's simulators, and judging, which executes them again — runs
in a child forked for that one job. The child closes the protocol and every other job's
pipe, has /dev/null as stdin, stdout and stderr, its own process group, limits on CPU time
and address space, the OOM killer's first pick, and dies with the bridge. Its only output
is a pipe the bridge reads, capped as it is read. A job succeeds only when that pipe
carried one complete JSON object and the child then exited with status 0; a child that
exits early, is killed, overruns its time or floods its pipe is that job's failure, with
the reason. The bridge itself is single-threaded, so forking it is safe.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import selectors
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
REAP_GRACE_S = 5.0  # after closing its pipe, a child has this long to exit


def prctl(option: int, arg: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, arg, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def private_stdout() -> int:
    """A private copy of fd 1 for the protocol; fd 1 itself then goes to stderr, so that
    whatever else writes to stdout cannot interleave with replies. Also makes this process
    undumpable."""
    proto = os.dup(1)  # not inherited across exec
    os.dup2(2, 1)
    prctl(PR_SET_DUMPABLE, 0)
    return proto


@dataclass
class Limits:
    wall_s: float
    cpu_s: float
    mem_bytes: int  # address space a child may add to what it inherits
    max_output: int  # bytes of its answer


@dataclass
class Outcome:
    """A job's end: `payload` when it answered and exited cleanly, else `why`."""

    payload: dict[str, Any] | None = None
    why: str | None = None
    timed_out: bool = False


@dataclass
class _Job:
    pid: int
    fd: int
    limits: Limits
    done: Callable[[Outcome], None]
    started: float = field(default_factory=time.monotonic)
    buf: bytearray = field(default_factory=bytearray)
    eof_at: float | None = None


class Supervisor:
    """The bridge's single-threaded loop: its own inputs (`watch`) and its jobs' pipes."""

    def __init__(self, private_fds: tuple[int, ...] = (), max_jobs: int = 64) -> None:
        self.sel = selectors.DefaultSelector()
        self.private = set(private_fds)  # closed in every child
        self.jobs: dict[int, _Job] = {}  # by pipe fd
        self.max_jobs = max(1, max_jobs)
        self.queued: deque[tuple[Callable[[], dict[str, Any]], Limits,
                                 Callable[[Outcome], None]]] = deque()
        self.stopped = False

    def watch(self, fd: int, on_readable: Callable[[], None]) -> None:
        self.private.add(fd)
        self.sel.register(fd, selectors.EVENT_READ, on_readable)

    def unwatch(self, fd: int) -> None:
        self.sel.unregister(fd)

    def spawn(self, work: Callable[[], dict[str, Any]], limits: Limits,
              done: Callable[[Outcome], None]) -> None:
        """Run `work()` in a child (once fewer than `max_jobs` run); `done` gets its
        outcome, later, in this loop. Its time limit counts from its start."""
        if len(self.jobs) >= self.max_jobs:
            self.queued.append((work, limits, done))
            return
        try:
            r, w = os.pipe()
        except OSError as exc:
            done(Outcome(why=f"could not be started ({exc})"))
            return
        try:
            pid = os.fork()
        except OSError as exc:  # out of PIDs or memory: this job's failure, not the bridge's
            os.close(r)
            os.close(w)
            done(Outcome(why=f"could not be started ({exc})"))
            return
        if pid == 0:  # the child: never returns
            os.close(r)
            _child(work, w, limits, [*self.private, *self.jobs, self.sel.fileno()])
        os.close(w)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # also done by the child; whichever comes first
        os.set_blocking(r, False)
        job = _Job(pid=pid, fd=r, limits=limits, done=done)
        self.jobs[r] = job
        self.sel.register(r, selectors.EVENT_READ, lambda: self._read(job))

    def run(self) -> None:
        while not self.stopped or self.jobs or self.queued:
            for key, _ in self.sel.select(self._next_wait()):
                key.data()
            self._check_jobs()

    def stop(self, kill: bool = False) -> None:
        self.stopped = True
        if kill:
            self.queued.clear()
            for job in list(self.jobs.values()):
                self._finish(job, Outcome(why="stopped: the bridge is closing"))

    def _next_wait(self) -> float:
        now, waits = time.monotonic(), [1.0]
        for job in self.jobs.values():
            if job.eof_at is not None:
                waits.append(0.01)
            else:
                waits.append(job.started + job.limits.wall_s - now)
        return max(0.0, min(waits))

    def _read(self, job: _Job) -> None:
        try:
            chunk = os.read(job.fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.sel.unregister(job.fd)
            job.eof_at = time.monotonic()
            self._check_jobs()
            return
        job.buf += chunk
        if len(job.buf) > job.limits.max_output:
            self._finish(job, Outcome(why=f"wrote more than {job.limits.max_output} bytes "
                                          "as its answer"))

    def _reap_strays(self) -> None:
        """Zombies that are not our jobs (a job's orphaned children, when this process is
        a container's PID 1): reaped, so they do not use up the container's PIDs."""
        known = {j.pid for j in self.jobs.values()}
        while True:
            try:
                res = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if res is None or res.si_pid in known:
                return
            with contextlib.suppress(ChildProcessError):
                os.waitpid(res.si_pid, 0)

    def _check_jobs(self) -> None:
        self._reap_strays()
        now = time.monotonic()
        for job in list(self.jobs.values()):
            if job.eof_at is None:
                if now - job.started > job.limits.wall_s:
                    self._finish(job, Outcome(why=f"ran past its {job.limits.wall_s:.0f}s limit",
                                              timed_out=True))
                continue
            status = _exited(job.pid)
            if status is None and now - job.eof_at < REAP_GRACE_S:
                continue
            if status is None:
                self._finish(job, Outcome(why=f"did not exit within {REAP_GRACE_S:.0f}s of "
                                              "closing its answer"))
            elif status != 0:
                self._finish(job, Outcome(why=_describe(status, job.limits),
                                          timed_out=status == -signal.SIGXCPU))
            else:
                self._finish(job, _parse(bytes(job.buf)))

    def _finish(self, job: _Job, outcome: Outcome) -> None:
        """Kill what is left of the job (its process group), reap it, report."""
        self.jobs.pop(job.fd, None)
        with contextlib.suppress(OSError):
            os.killpg(job.pid, signal.SIGKILL)  # the zombie leader still holds the group id
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(job.fd)
        os.close(job.fd)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(job.pid, 0)
        job.done(outcome)
        while self.queued and len(self.jobs) < self.max_jobs:
            self.spawn(*self.queued.popleft())


def _exited(pid: int) -> int | None:
    """The exit code (negative: the signal) of a child that has ended, without reaping it,
    so that its process group cannot be reused before it is killed; None while it runs."""
    try:
        res = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return -signal.SIGKILL
    if res is None:
        return None
    if res.si_code == os.CLD_EXITED:
        return int(res.si_status)
    return -int(res.si_status)


def _describe(status: int, limits: Limits) -> str:
    if status > 0:
        return f"exited with status {status} before it answered"
    try:
        name = signal.Signals(-status).name
    except ValueError:
        name = f"signal {-status}"
    hint = ""
    if -status == signal.SIGXCPU:
        hint = f" (it used more than its {limits.cpu_s:.0f}s of CPU time)"
    elif -status == signal.SIGKILL:
        hint = " (out of memory, or killed by another process)"
    return f"was killed by {name}{hint}"


def _parse(data: bytes) -> Outcome:
    try:
        payload = json.loads(data)
    except ValueError:
        return Outcome(why=f"answered something that is not one JSON object ({len(data)} bytes)")
    if not isinstance(payload, dict):
        return Outcome(why="answered something that is not one JSON object")
    return Outcome(payload=payload)


def _child(work: Callable[[], dict[str, Any]], w: int, limits: Limits,
           close: list[int]) -> None:
    """The forked child: confine, work, write the answer, exit. Never returns."""
    code = 0
    try:
        parent = os.getppid()
        os.setpgid(0, 0)
        for fd in close:
            with contextlib.suppress(OSError):
                os.close(fd)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(70)
        for sig in (signal.SIGTERM, signal.SIGINT):  # SIGPIPE stays ignored, as Python has it
            signal.signal(sig, signal.SIG_DFL)
        _confine(limits)
        try:
            out = work()
        except BaseException as exc:  # a failed job answers why
            out = {"job_error": f"{type(exc).__name__}: {exc}",
                   "traceback": traceback.format_exc(limit=8)}
        data = json.dumps(out, default=repr).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(w, view):]
    except BaseException:
        code = 71
    os._exit(code)


def _confine(limits: Limits) -> None:
    cpu = max(1, int(limits.cpu_s))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as fh:
            size = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
        cap = size + limits.mem_bytes
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as fh:
        fh.write("1000")
