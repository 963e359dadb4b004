"""The judge (J): the trusted process that decides a sample's verdict.

Started by the harness as the sandbox job (`python3 -I -c BOOT MODE`), J

1. makes itself non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`): a process of the same user
   can then neither ptrace it nor open its /proc files (its stdin, its fd 3, its memory);
2. imports everything it will use while only trusted files exist, then drops the lib
   directory from `sys.path`, so nothing the code under test writes is ever imported;
3. forks its worker(s) (`worker`) *before* reading anything secret;
4. reads the payload (test code, inputs, expected outputs, a nonce) from stdin, which the
   workers closed;
5. runs the checks itself, asking a worker only to call the function, and compares what
   comes back in its own memory with its own code;
6. writes one JSON line with the nonce to fd 3, a pipe only J holds and the sandbox
   runner reads. Exit status and stdout mean nothing.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import sys

from . import codec, frames, worker

TYPE_CHECKING = False  # typing itself is slow to import, and the judge starts per sample
if TYPE_CHECKING:
    from typing import Any

VERDICT_FD = 3
WORKERS = {"humaneval": 1, "evalplus": 2, "time": 0, "testgen": 0, "bigcodebench": 0}


def _nondumpable() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def _write_verdict(result: dict[str, Any]) -> None:
    data = (json.dumps(result, ensure_ascii=True) + "\n").encode("ascii")
    view = memoryview(data)
    while view:
        view = view[os.write(VERDICT_FD, view):]
    os.close(VERDICT_FD)


def _read_stdin() -> bytes:
    chunks = []
    while True:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(0)
    return b"".join(chunks)


def _seal(lib: str) -> None:
    """From here on nothing is imported from the lib directory, which the code under test
    could write to: it leaves sys.path, and the packages loaded from it can load no more."""
    dirs = [d for d in lib.split(os.pathsep) if d]
    sys.path[:] = [p for p in sys.path if p and p not in dirs]
    for mod in list(sys.modules.values()):
        path = getattr(mod, "__path__", None)
        if path is not None and any(str(p).startswith(d) for p in path for d in dirs):
            mod.__path__ = []


def main(mode: str) -> None:
    try:
        os.fstat(VERDICT_FD)
    except OSError:
        sys.stderr.write("the judge needs its verdict pipe on fd 3\n")
        os._exit(2)
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"
    result: dict[str, Any]
    workers: list[Any] = []
    try:
        _nondumpable()
        if mode not in WORKERS:
            raise ValueError(f"unknown judge mode {mode!r}")
        impl = importlib.import_module(f"{__package__}.{mode}_judge")
        impl.prepare()
        _seal(os.environ.get("PYTHONPATH", ""))
        workers = [frames.WorkerHandle(worker.serve) for _ in range(WORKERS[mode])]
        payload, _ = codec.decode(_read_stdin(), sys.modules.get("numpy"))
        result = {"nonce": payload.pop("nonce")}
        result.update(impl.run(payload, workers))
    except BaseException as exc:  # J's own failure: an error verdict, never a pass
        import traceback

        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        result = {"error": f"the judge failed: {''.join(tb)[-1500:]}"}
    for w in workers:
        w.kill()
    try:
        _write_verdict(result)
    finally:
        os._exit(0)
