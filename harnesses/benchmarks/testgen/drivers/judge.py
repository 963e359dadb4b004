"""The test-generation judge (installed in the sandbox as `pyjudge/testgen_judge.py`).

Started like every pyjudge judge (`judge.main("testgen")`: not dumpable, lib sealed, payload
on stdin with a nonce, verdict on fd 3), it runs one pytest suite against each implementation
in the payload (the reference, or a task's mutants), one at a time, and says for each whether
the suite passed there. Per implementation ("run"):

- an implementation server (S), forked from the judge, executes the implementation under
  `coverage` (every run, so timing does not tell the reference apart) and answers calls by
  name with plain data over a socket; it is not dumpable, so the tests cannot read its code;
- the test process (T, `child.py`) is a fresh interpreter (`-I -B`, capabilities
  dropped) with the model's file in an empty directory, `--noconftest`, an empty ini;
- the suite passed only if T, by itself and within the deadline, reported a complete run with
  no failure (pytest's exit 0, or 5: no tests). A death, `os._exit`, a timeout, a garbled or
  missing report is "did not pass" (a kill on a mutant, an invalid suite on the reference).
  T's report can lie, but T cannot tell which implementation it faces except by calling it,
  so a lie only changes what its own suite says;
- afterwards every process T left is killed (the judge is their subreaper) and what it
  wrote under /tmp and /dev/shm is removed, so no run sees another's traces.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import shutil
import signal
import socket
import tempfile
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # (in the sandbox these are pyjudge's modules and testgen_spawn.py)
    from typing import Any

    from benchdock.harnesses.benchmarks.testgen.drivers import spawn as testgen_spawn
    from benchdock.harnesses.pyjudge import codec, frames, worker
else:
    from . import codec, frames, testgen_spawn, worker

_SOURCES: dict[str, str] = {}
_COVERAGE: Any = None
_ZYGOTE: Any = None
# What the sandbox owns alone, as the runner says (/tmp and /dev/shm in a container or under
# bubblewrap; only the runner's own directory when unisolated): never a host's shared /tmp.
SCRATCH = tuple(d for d in os.environ.get("BENCHDOCK_SCRATCH", "").split(os.pathsep) if d)
COVERAGE_WAIT_S = 15.0


def prepare() -> None:
    """Before the lib is sealed: the child's and the codec's sources, and coverage."""
    global _COVERAGE
    here = os.path.dirname(os.path.abspath(__file__))
    for key, name in (("src", "testgen_child.py"), ("codec", "codec.py")):
        with open(os.path.join(here, name), encoding="utf-8") as fh:
            _SOURCES[key] = fh.read()
    import importlib

    import coverage

    for mod in ("coverage.report", "coverage.jsonreport", "coverage.results"):
        try:  # loaded now, while only trusted files exist
            importlib.import_module(mod)
        except ImportError:
            pass

    _COVERAGE = coverage
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans of T come back to us
    global _ZYGOTE
    _ZYGOTE = testgen_spawn.Zygote(_SOURCES)  # before the payload is read: it holds no secret


def _children() -> list[int]:
    me, out = os.getpid(), []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat.rsplit(b")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == me:
            out.append(int(name))
    return out


def _kill_leftovers(keep: set[int]) -> None:
    for _ in range(200):
        pids = [p for p in _children() if p not in keep]
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        for p in pids:
            try:
                os.waitpid(p, 0)
            except ChildProcessError:
                pass


def _scratch_snapshot() -> dict[str, set[str]]:
    out = {}
    own = tempfile.gettempdir()  # the job's own directory (TMPDIR), private in every mode
    shared = own.rstrip("/") in ("/tmp", "/var/tmp", "/dev/shm") and own not in SCRATCH
    for d in {*SCRATCH, *(() if shared else (own,))}:
        try:
            out[d] = set(os.listdir(d))
        except OSError:
            pass
    return out


def _wipe(snapshot: dict[str, set[str]]) -> None:
    for d, before in snapshot.items():
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for n in names:
            if n in before:
                continue
            p = os.path.join(d, n)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    os.unlink(p)
                except OSError:
                    pass


def _serve(sock_fd: int, ctl_fd: int, out_fd: int, code: str, names: list[str],
           analyse: bool) -> None:
    """S: run the implementation under coverage, answer calls until told to stop; then (for
    the reference) report line and branch coverage of it."""
    keep = {sock_fd, ctl_fd, out_fd}
    frames.close_all_but(keep)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        if fd not in keep and fd != null:
            os.dup2(null, fd)
    tmp = tempfile.mkdtemp(prefix="tgref-")
    path = os.path.join(tmp, "solution.py")
    cov = _COVERAGE.Coverage(data_file=None, branch=True, include=[path],
                             config_file=False)
    cov.start()
    g: dict[str, Any] = {"__name__": "solution"}
    loaded = None
    try:
        exec(compile(code, path, "exec"), g)
    except BaseException as exc:
        loaded = f"{type(exc).__name__}: {exc}"
    fns = {n: g.get(n) for n in names}
    while True:
        r, _, _ = select.select([sock_fd, ctl_fd], [], [])
        if ctl_fd in r:
            break
        try:
            raw = frames.read_frame(sock_fd, cap=64 << 20)
        except (frames.Closed, frames.TooLarge, OSError):
            os.read(ctl_fd, 1)  # T is gone: wait for the judge's word
            break
        reply: list[Any]
        try:
            msg, _ = codec.decode(raw)
            fn = fns.get(msg[1]) if isinstance(msg, list) and len(msg) == 4 else None
            if loaded is not None:
                reply = ["raise", "ImportError", f"the implementation did not load: {loaded}"]
            elif not callable(fn):
                reply = ["raise", "AttributeError", "no such function in solution"]
            else:
                value = fn(*msg[2], **msg[3])
                reply = ["ok", value]
        except BaseException as exc:
            reply = ["raise", type(exc).__name__, str(exc)[:2000]]
        try:
            text = codec.encode(reply, worker.VALUE_CAP)
        except BaseException as exc:
            text = codec.encode(["unencodable", str(exc)[:500]], 1 << 20)
        try:
            frames.write_frame(sock_fd, text.encode("ascii"))
        except (frames.Closed, OSError):
            os.read(ctl_fd, 1)
            break
    cov.stop()
    result: dict[str, Any] = {}
    if analyse:
        with open(path, "w", encoding="utf-8") as fh:  # written now: T is dead
            fh.write(code)
        report = os.path.join(tmp, "cov.json")
        try:
            cov.json_report(outfile=report)
            with open(report, encoding="utf-8") as fh:
                files = json.load(fh).get("files", {})
            first: dict[str, Any] = next(iter(files.values()), {})
            summary = first.get("summary", {})
            result = {k: summary.get(k) for k in (
                "num_statements", "covered_lines", "num_branches", "covered_branches")}
        except BaseException as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
    os.write(out_fd, (json.dumps(result) + "\n").encode())


def _read_until(fd: int, proc: Any, deadline: float) -> tuple[bytes, bool]:
    """T's report, and whether T ended by itself before the deadline."""
    buf = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(buf), False
        r, _, _ = select.select([fd], [], [], min(left, 0.05))
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:  # every holder closed it: T (and what it forked) is done
                return bytes(buf), True
            if len(buf) < (1 << 20):
                buf += chunk
        if proc.poll() is not None:
            while True:
                r, _, _ = select.select([fd], [], [], 0)
                if not r:
                    break
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                buf += chunk[: max(0, (1 << 20) - len(buf))]
            return bytes(buf), True


def _outcome(raw: bytes, ended: bool, rc: int | None, timeout: float) -> dict[str, Any]:
    if not ended:
        return {"passed": False, "how": f"timeout: the suite did not finish within {timeout:g} s"}
    lines = raw.decode("utf-8", "replace").splitlines()
    try:
        rec = json.loads(lines[0]) if len(lines) == 1 else None
    except ValueError:
        rec = None
    if not isinstance(rec, dict) or not isinstance(rec.get("failed"), list):
        return {"passed": False, "how": f"no complete pytest report (the test process "
                f"ended with status {rc}; os._exit, a crash or a garbled report)"}
    tests = {"tests_passed": rec.get("passed"), "tests_skipped": rec.get("skipped"),
             "pytest_exit": rec.get("exit")}
    if rec["failed"]:
        first = rec["failed"][0]
        how = (f"{first[0]} failed ({first[1]}): {str(first[2])[-300:]}" if isinstance(
            first, list) and len(first) == 3 else "a test failed")
        return {"passed": False, "how": how, **tests}
    if rec.get("exit") not in (0, 5):
        return {"passed": False, "how": f"pytest exited with status {rec.get('exit')}", **tests}
    return {"passed": True, "how": "every test passed", **tests}


def _run_one(code: str, p: dict[str, Any], analyse: bool) -> dict[str, Any]:
    work = tempfile.mkdtemp(prefix="tgrun-")
    rundir = os.path.join(work, "run")
    os.mkdir(rundir)
    test_path, ini_path = os.path.join(rundir, "test_generated.py"), os.path.join(work, "x.ini")
    with open(test_path, "w", encoding="utf-8") as fh:
        fh.write(p["tests"])
    with open(ini_path, "w", encoding="utf-8") as fh:
        fh.write("[pytest]\n")
    a, b = socket.socketpair()
    ctl_r, ctl_w = os.pipe()
    out_r, out_w = os.pipe()
    rep_r, rep_w = os.pipe()
    spid = os.fork()
    if spid == 0:
        status = 70
        try:
            _serve(a.fileno(), ctl_r, out_w, code, p["names"], analyse)
            status = 0
        except BaseException as exc:  # S's own failure: the judge reports it
            try:
                os.write(out_w, (json.dumps({"error": f"S failed: {exc!r}"}) + "\n").encode())
            except OSError:
                pass
        finally:
            os._exit(status)
    a.close()
    os.close(ctl_r)
    os.close(out_w)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": rundir, "TMPDIR": rundir,
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    setup = {"names": p["names"], "test_path": test_path, "ini_path": ini_path,
             "rundir": rundir}
    t0 = time.monotonic()
    proc = _ZYGOTE.spawn(setup, env, (b.fileno(), rep_w)) if _ZYGOTE is not None else None
    if proc is None:  # no zygote (it died): a fresh interpreter, slower, same semantics
        proc = testgen_spawn.ExecProc({**setup, "src": _SOURCES["src"], "codec": _SOURCES[
            "codec"], "rpc_fd": b.fileno(), "report_fd": rep_w}, env, (b.fileno(), rep_w))
    b.close()
    os.close(rep_w)
    deadline = t0 + float(p["run_timeout"])
    raw, ended = _read_until(rep_r, proc, deadline)
    elapsed = time.monotonic() - t0
    os.close(rep_r)
    returncode = proc.finish()
    _kill_leftovers({spid} | ({_ZYGOTE.pid} if _ZYGOTE is not None and _ZYGOTE.alive else set()))
    out = _outcome(raw, ended, returncode, float(p["run_timeout"]))
    out["seconds"] = round(elapsed, 3)
    os.write(ctl_w, b"x")
    cov_raw = b""
    # only the analysed run's S has something to say; a mutant stuck in a loop is not waited for
    end = time.monotonic() + (COVERAGE_WAIT_S if analyse else 0.0)
    while time.monotonic() < end:
        r, _, _ = select.select([out_r], [], [], 0.1)
        if r:
            chunk = os.read(out_r, 65536)
            if not chunk:
                break
            cov_raw += chunk
            if cov_raw.endswith(b"\n"):
                break
    for fd in (ctl_w, out_r):
        os.close(fd)
    try:
        os.kill(spid, signal.SIGKILL)
    except OSError:
        pass
    os.waitpid(spid, 0)
    if analyse:
        try:
            out["coverage"] = json.loads(cov_raw.decode() or "{}")
        except ValueError:
            out["coverage"] = {"error": "the coverage report was unreadable"}
    return out


def run(payload: dict[str, Any], workers: list[Any]) -> dict[str, Any]:
    try:
        os.fstat(0)
    except OSError:  # the judge closed its stdin: keep the pipes we make off fd 0
        os.open(os.devnull, os.O_RDONLY)
    snapshot = _scratch_snapshot()
    order = list(range(len(payload["impls"])))
    import random

    random.SystemRandom().shuffle(order)
    results: dict[str, Any] = {}
    for i in order:
        impl_id, code = payload["impls"][i]
        results[impl_id] = _run_one(code, payload, impl_id == payload.get("analyse"))
        _wipe(snapshot)  # the run's own directory, and whatever T left in /tmp, /dev/shm
    if _ZYGOTE is not None:
        _ZYGOTE.kill()
    return {"runs": results}
