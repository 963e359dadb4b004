"""The sandbox runner: a stdlib-only loop that executes jobs sent as JSON lines.

It runs inside the Docker container (passed as `python3 -c`, as the container's PID 1), under
bubblewrap for the local backend (PID 1 of its own PID namespace), or — where no isolation
is available — as a plain subprocess: one program, so every backend behaves alike.

The runner is the trusted side of the sandbox. For each job it:
- writes the job's files into a fresh directory and runs its command in its own session,
  with resource limits and a hard wall-clock limit;
- reads the job's stdout and stderr *while it runs*, keeping at most `max_output` bytes of
  each (the rest is drained and dropped, so a flood cannot grow the runner);
- optionally hands the job a private verdict pipe as fd 3 (`verdict_fd`): a trusted judge in
  the job reports there, and the runner returns what it wrote. The runner is not dumpable, so
  code under test (same uid) cannot open the runner's descriptors through /proc or ptrace it;
- when the job ends, kills every process it left (as PID 1: `kill(-1)`; elsewhere: as a child
  subreaper, every process reparented to it), wipes the writable areas and re-installs the
  lib files, so nothing of one job reaches the next. If it cannot make the sandbox clean it
  says so (`recycle`), and benchdock replaces the sandbox.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

BASE = os.environ.get("BENCHDOCK_RUNNER_DIR") or tempfile.gettempdir()
LIB = os.path.join(BASE, "bdlib")
# directories whose whole content belongs to the sandbox and is wiped after each job
WIPE = [d for d in os.environ.get("BENCHDOCK_RUNNER_WIPE", BASE).split(os.pathsep) if d]
VERDICT_FD = 3
VERDICT_CAP = 8 << 20
FSIZE_DEFAULT = 1 << 30
NPROC = int(os.environ.get("BENCHDOCK_RUNNER_NPROC") or 0)  # 0: leave RLIMIT_NPROC alone
LIB_FILES: dict[str, bytes] = {}
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> bool:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except Exception:  # no ctypes or no prctl: the caller records what it could not do
        return False


def _limits(mem_bytes: int | None, fsize: int, nice: int = 0) -> Callable[[], None]:
    def apply() -> None:
        # dispositions the runner ignores must not be inherited: a job is an ordinary process
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                    signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(sig, signal.SIG_DFL)
        if _VERDICT_W[0] >= 0:
            os.dup2(_VERDICT_W[0], VERDICT_FD)
        limits = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, fsize)]
        if mem_bytes:
            limits += [(resource.RLIMIT_AS, mem_bytes), (resource.RLIMIT_DATA, mem_bytes)]
        if NPROC:
            limits.append((resource.RLIMIT_NPROC, NPROC))
        for lim, value in limits:
            try:
                resource.setrlimit(lim, (value, value))
            except (ValueError, OSError):
                pass
        if nice > 0:  # a background job: the model generating beside it keeps the CPU
            try:
                os.nice(nice)
            except OSError:
                pass
        try:  # when memory runs out, the job goes first, never the runner
            with open("/proc/self/oom_score_adj", "w") as fh:
                fh.write("1000")
        except OSError:
            pass

    return apply


_VERDICT_W = [-1]  # the write end of the current job's verdict pipe (read by `_limits`)


def _write(root: str, files: dict[str, str]) -> None:
    for name, b64 in files.items():
        path = os.path.normpath(os.path.join(root, name))
        if not path.startswith(root + os.sep):
            raise ValueError("file name escapes the job directory: " + name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(b64))


def _install_lib() -> None:
    os.makedirs(LIB, exist_ok=True)
    for name, data in LIB_FILES.items():
        path = os.path.join(LIB, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)


class _Capture:
    """Bytes read from one pipe: the first `limit` kept, the rest counted and dropped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - max(room, 0))


class _Feed:
    """The job's stdin, written as the job reads it (a job that never reads it costs nothing)."""

    def __init__(self, data: bytes) -> None:
        self.view = memoryview(data)


def _pump(sel: selectors.BaseSelector, timeout: float) -> None:
    for key, _ in sel.select(timeout):
        if isinstance(key.data, _Feed):
            try:
                n = os.write(key.fd, key.data.view[:65536])
                key.data.view = key.data.view[n:]
                done = not key.data.view
            except BlockingIOError:
                continue
            except OSError:  # the job closed its stdin
                done = True
            if done:
                sel.unregister(key.fd)
                os.close(key.fd)
            continue
        try:
            chunk = os.read(key.fd, 65536)
        except BlockingIOError:
            continue
        except OSError:
            chunk = b""
        if chunk:
            key.data.add(chunk)
        else:
            sel.unregister(key.fd)
            os.close(key.fd)


def _drain(sel: selectors.BaseSelector) -> None:
    """Read what is left to its end (every writer is gone); stop feeding stdin."""
    for key in list(sel.get_map().values()):
        if isinstance(key.data, _Feed):
            sel.unregister(key.fd)
            os.close(key.fd)
    while sel.get_map():
        _pump(sel, 0.05)


def _children() -> list[int]:
    """Processes whose parent is this runner (as a subreaper, the orphans land here)."""
    me = str(os.getpid())
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[1].decode() == me:
            out.append(int(entry))
    return out


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_leftovers(deadline_s: float = 5.0) -> bool:
    """Kill every process but the runner; True when none is left."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if os.getpid() == 1:  # PID 1 of a namespace: everything else in it is the job's
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in _children():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.005)
        _reap()
        if not _children():
            return True
    return False


def _unlock(top: str) -> None:
    """Give back our permissions on every directory under `top` (a job may have taken them)."""
    stack = [top]
    while stack:
        d = stack.pop()
        try:
            os.chmod(d, stat.S_IRWXU)
            with os.scandir(d) as it:
                stack.extend(e.path for e in it if e.is_dir(follow_symlinks=False))
        except OSError:
            continue


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
        if os.path.lexists(path):
            _unlock(path)
            shutil.rmtree(path, ignore_errors=True)
    else:
        os.unlink(path)


def wipe() -> list[str]:
    """Empty the sandbox's writable areas and put the lib back; what could not be removed
    (the runner then asks to be replaced: a fresh sandbox is the last word on cleanliness)."""
    left = []
    for d in WIPE:
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for name in entries:
            p = os.path.join(d, name)
            try:
                _remove(p)
            except Exception:  # e.g. RecursionError on a very deep tree
                pass
            if os.path.lexists(p):
                left.append(p)
    try:
        _install_lib()
    except OSError as exc:
        left.append(f"lib: {exc}")
    return left


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    if job.get("op") == "lib":
        for name, b64 in job["files"].items():
            path = os.path.normpath(os.path.join(LIB, name))
            if not path.startswith(LIB + os.sep):
                raise ValueError("lib file name escapes the lib directory: " + name)
            LIB_FILES[os.path.relpath(path, LIB)] = base64.b64decode(b64)
        _install_lib()
        return {"id": job["id"], "exit_code": 0, "stdout": "", "stderr": "", "timed_out": False,
                "duration_s": 0.0, "truncated": False}
    root = tempfile.mkdtemp(prefix="job-", dir=BASE)
    _write(root, job.get("files", {}))
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": root,
           "TMPDIR": root, "PYTHONPATH": LIB, "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8",
           # the scratch areas that belong to the sandbox alone (a judge may clean them between
           # the runs of one job); unisolated, only the runner's own directory
           "BENCHDOCK_SCRATCH": os.pathsep.join(WIPE)}
    env.update(job.get("env") or {})
    limit = int(job.get("max_output", 65536))
    out, err, verdict = _Capture(limit), _Capture(limit), _Capture(VERDICT_CAP)
    sel = selectors.DefaultSelector()
    vr = vw = -1
    if job.get("verdict_fd"):
        vr, vw = os.pipe()
        env["BENCHDOCK_VERDICT_FD"] = str(VERDICT_FD)
    _VERDICT_W[0] = vw
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(
            job["argv"], cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True,
            pass_fds=(VERDICT_FD,) if vw >= 0 else (),
            preexec_fn=_limits(job.get("mem_bytes"), int(job.get("fsize_bytes") or FSIZE_DEFAULT),
                               max(0, min(19, int(job.get("nice") or 0)))),
        )
    except OSError as exc:
        for fd in (vr, vw):
            if fd >= 0:
                os.close(fd)
        _VERDICT_W[0] = -1
        shutil.rmtree(root, ignore_errors=True)
        return {"id": job["id"], "exit_code": 127, "stdout": "", "truncated": False,
                "stderr": f"could not start {job['argv'][:1]}: {exc}", "timed_out": False,
                "duration_s": 0.0}
    _VERDICT_W[0] = -1
    if vw >= 0:
        os.close(vw)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    for pipe, cap in ((proc.stdout, out), (proc.stderr, err)):
        os.set_blocking(pipe.fileno(), False)
        sel.register(os.dup(pipe.fileno()), selectors.EVENT_READ, cap)
        pipe.close()
    if vr >= 0:
        os.set_blocking(vr, False)
        sel.register(vr, selectors.EVENT_READ, verdict)
    data = (job.get("stdin") or "").encode()
    if data:
        fd = os.dup(proc.stdin.fileno())
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_WRITE, _Feed(data))
    proc.stdin.close()
    deadline = t0 + float(job["timeout"])
    timed_out = False
    while proc.poll() is None:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        if sel.get_map():
            _pump(sel, min(left, 0.05))
        else:  # every pipe is closed: wait for the process itself, not for a select
            try:
                proc.wait(timeout=min(left, 0.05))
            except subprocess.TimeoutExpired:
                pass
    dur = time.monotonic() - t0
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)  # its status first: kill_leftovers reaps whatever is left
    except subprocess.TimeoutExpired:
        pass
    clean = kill_leftovers()
    _drain(sel)
    sel.close()
    try:
        left_files = wipe()
    except Exception as exc:  # never the run's failure: the sandbox is replaced instead
        left_files = [f"wipe failed: {exc!r}"]
    reply = {"id": job["id"], "exit_code": None if timed_out else proc.returncode,
             "stdout": bytes(out.data).decode("utf-8", "replace"),
             "stderr": bytes(err.data).decode("utf-8", "replace"),
             "timed_out": timed_out, "duration_s": dur,
             "truncated": bool(out.dropped or err.dropped)}
    if vr >= 0:
        reply["verdict"] = (None if not verdict.data else
                            bytes(verdict.data).decode("utf-8", "replace"))
        if verdict.dropped:
            reply["verdict_truncated"] = True
    if not clean or left_files:
        reply["recycle"] = ("the job left processes that could not be killed" if not clean else
                            f"the job left files that could not be removed: {left_files[:3]}")
    return reply


def _setup() -> dict[str, Any]:
    """Make the runner itself hard to disturb; returns what it could and could not do."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    facts = {"dumpable": not _prctl(PR_SET_DUMPABLE, 0), "pid1": os.getpid() == 1}
    if not facts["pid1"]:
        facts["subreaper"] = _prctl(PR_SET_CHILD_SUBREAPER, 1)
    try:  # keep fd 3 taken, so that no pipe of ours is ever fd 3 (the jobs' verdict fd)
        os.fstat(VERDICT_FD)
    except OSError:
        fd = os.open(os.devnull, os.O_RDONLY)
        if fd != VERDICT_FD:
            os.dup2(fd, VERDICT_FD, inheritable=False)
            os.close(fd)
    return facts


def main() -> None:
    os.makedirs(BASE, exist_ok=True)
    facts = _setup()
    proto = sys.stdout
    sys.stdout.write(json.dumps({"ready": True, "python": sys.version.split()[0], **facts}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        try:
            res = run_job(job)
        except Exception as exc:
            res = {"id": job.get("id"), "runner_error": repr(exc)}
        proto.write(json.dumps(res) + "\n")
        proto.flush()


if __name__ == "__main__":
    main()
