"""The harness's side of the judge: install it in a sandbox, start it as a job, read its
verdict from the private channel (fd 3).

The verdict counts only when the channel holds exactly one JSON line carrying this job's
nonce (a random value sent on the judge's stdin, which the code under test cannot read).
No verdict, a second line, a wrong nonce, or a sandbox fault is an `error` with the reason,
never a pass: the job's exit status and output are not evidence.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import weakref
from dataclasses import dataclass
from importlib import resources
from typing import Any

from benchdock.harnesses.pyjudge import codec
from benchdock.harnesses.sandbox import Sandbox

MODULES = ("__init__.py", "codec.py", "frames.py", "worker.py", "rpc.py", "judge.py",
           "humaneval_judge.py", "evalplus_judge.py", "time_judge.py")
BOOT = ("import os,sys;sys.path[:0]=[p for p in os.environ.get('PYTHONPATH','').split(os.pathsep)"
        " if p];from pyjudge.judge import main;main(sys.argv[1])")
PAYLOAD_BUDGET = 1 << 34

log = logging.getLogger("benchdock.judge")
_installed: weakref.WeakKeyDictionary[Sandbox, set[str]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def judge_files() -> dict[str, bytes]:
    pkg = resources.files("benchdock.harnesses.pyjudge")
    return {f"pyjudge/{m}": pkg.joinpath(m).read_bytes() for m in MODULES}


# Compiles lib modules with the sandbox's own Python into unchecked-hash .pyc files (PEP 552),
# printed as JSON: the runner rewrites the lib before every job and bytecode is not written
# there, so without these every judge would compile its modules from source, every sample.
COMPILE = r"""
import base64, importlib.util, json, os, py_compile, sys, tempfile
lib = os.environ["PYTHONPATH"].split(os.pathsep)[0]
out = {}
for rel in json.load(sys.stdin):
    src = os.path.join(lib, rel)
    pyc = os.path.relpath(importlib.util.cache_from_source(src), lib)
    tmp = os.path.join(tempfile.mkdtemp(), "m.pyc")
    py_compile.compile(src, cfile=tmp, dfile=src, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    out[pyc] = base64.b64encode(open(tmp, "rb").read()).decode()
print(json.dumps(out))
"""


def ensure_lib(sandbox: Sandbox, name: str, files: dict[str, bytes]) -> None:
    """Install `files` (once per sandbox, under the label `name`) on its runners' path,
    with their bytecode compiled by the sandbox's Python (best effort: without it the
    modules still import, from source)."""
    with _lock:
        done = _installed.setdefault(sandbox, set())
        if name in done:
            return
        sandbox.install_lib(files)
        sources = sorted(f for f in files if f.endswith(".py"))
        res = sandbox.execute({}, ["python3", "-I", "-c", COMPILE], 120,
                              stdin=json.dumps(sources), max_output=16 << 20)
        try:
            compiled = json.loads(res.stdout)
            sandbox.install_lib({k: base64.b64decode(v) for k, v in compiled.items()})
        except (ValueError, TypeError, AttributeError):
            log.warning("could not precompile the judge's modules in the %s sandbox: %s",
                        sandbox.kind, res.stderr[-500:])
        done.add(name)


@dataclass
class JudgeReply:
    result: dict[str, Any] | None  # the judge's verdict (without the nonce), or None
    problem: str | None  # why there is no verdict: an error (or timeout) reason
    timed_out: bool
    exec_s: float


def run_judge(sandbox: Sandbox, mode: str, payload: dict[str, Any], timeout_s: float,
              mem_bytes: int | None = None, stdin_text: str | None = None) -> JudgeReply:
    """One job. `stdin_text` is the already-encoded payload without its nonce's closing
    (see `encode_payload`), for callers that cache the expensive part.

    A judge killed by a signal before its verdict (the kernel's OOM killer, a runner torn
    down from outside, or the code under test) is judged once more: the sample is charged
    only when that reproduces, and its reason then says so."""
    ensure_lib(sandbox, "pyjudge", judge_files())
    body = stdin_text if stdin_text is not None else codec.encode(payload, PAYLOAD_BUDGET)
    reply, killed = _judge_once(sandbox, mode, body, timeout_s, mem_bytes)
    if not killed:
        return reply
    log.warning("the judge was killed before its verdict (%s); judging once more", reply.problem)
    sandbox.note_retry(f"the judge was killed before its verdict: {reply.problem}")
    again, killed = _judge_once(sandbox, mode, body, timeout_s, mem_bytes)
    if killed and again.problem is not None:
        again.problem += "; reproduced on a second attempt"
    return again


def _judge_once(sandbox: Sandbox, mode: str, body: str, timeout_s: float,
                mem_bytes: int | None) -> tuple[JudgeReply, bool]:
    """One judge job: its reply, and whether a signal killed the judge before a verdict."""
    nonce = secrets.token_hex(16)
    stdin = with_nonce(body, nonce)
    res = sandbox.execute({}, ["python3", "-I", "-c", BOOT, mode], timeout_s, stdin=stdin,
                          mem_bytes=mem_bytes, max_output=4096, verdict_channel=True)
    fault = getattr(res, "fault", None)
    if fault:
        return JudgeReply(None, f"the sandbox failed during this sample: {fault}", False,
                          res.duration_s), False
    verdict = getattr(res, "verdict", None)
    if not verdict:
        tail = res.stderr.strip()[-600:]
        killed = not res.timed_out and res.exit_code is not None and res.exit_code < 0
        if res.timed_out:
            why = (f"the judge gave no verdict within {timeout_s:g} s (the code under test "
                   "may have stopped or starved it)")
        else:
            why = (f"the judge ended without a verdict (exit status {res.exit_code}; the code "
                   "under test may have killed it)")
        return JudgeReply(None, why + (f": {tail}" if tail else ""), res.timed_out,
                          res.duration_s), killed
    lines = verdict.splitlines()
    try:
        result = json.loads(lines[0]) if len(lines) == 1 else None
    except ValueError:
        result = None
    if not isinstance(result, dict):
        return JudgeReply(None, "the verdict channel held something other than one verdict "
                          "from the judge", False, res.duration_s), False
    if "error" in result:
        return JudgeReply(None, str(result["error"]), False, res.duration_s), False
    if result.pop("nonce", None) != nonce:
        return JudgeReply(None, "the verdict channel held a verdict without this job's nonce",
                          False, res.duration_s), False
    return JudgeReply(result, None, False, res.duration_s), False


def with_nonce(encoded_payload: str, nonce: str) -> str:
    """Add the nonce to an encoded payload dict (`{"d": [...]}`) without re-encoding it."""
    if not encoded_payload.startswith('{"d":[') or not encoded_payload.endswith("]}"):
        raise ValueError("the payload must be an encoded dict")
    inner = encoded_payload[len('{"d":['):-2]
    sep = "," if inner else ""
    return '{"d":[' + inner + sep + json.dumps(["nonce", nonce]) + "]}"
