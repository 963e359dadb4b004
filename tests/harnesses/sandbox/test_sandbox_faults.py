"""Infrastructure faults are never the model's: a runner that dies under an innocent job is
replaced and the job runs again; only a failure that reproduces is charged, and a sandbox that
keeps failing ends the run with its cause.

The first test is the cause of the "runner died on its first job" reports: bubblewrap's
--die-with-parent follows the *thread* that forked it, and benchdock opens sandboxes from
worker threads that retire (anyio's after 10 s idle)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from benchdock.harnesses.pyjudge import host
from benchdock.harnesses.sandbox import Sandbox, SandboxError, open_sandbox
from benchdock.harnesses.sandbox.base import Channel, ExecResult
from benchdock.harnesses.sandbox.local import LocalSandbox, bwrap_status
from benchdock.harnesses.sandbox.spawn import popen, spawner_thread


def _need_bwrap() -> None:
    ok, why = bwrap_status()
    if not ok:
        if os.environ.get("BENCHDOCK_REQUIRE_BWRAP") == "1":
            pytest.fail(f"bubblewrap is required here: {why}")
        pytest.skip(f"no bubblewrap: {why}")


def test_a_process_started_by_a_thread_that_retires_keeps_running() -> None:
    """The spawner thread, not the calling thread, forks: a parent-death signal set by the
    child (as bubblewrap sets it) survives the caller's thread."""
    script = ("import ctypes, signal, time\n"
              "ctypes.CDLL(None).prctl(1, signal.SIGKILL)\n"  # PR_SET_PDEATHSIG, as bwrap does
              "time.sleep(30)\n")
    procs: list[subprocess.Popen[bytes]] = []
    t = threading.Thread(target=lambda: (procs.append(popen(["python3", "-c", script])),
                                         time.sleep(1.0)))
    t.start()
    t.join()
    time.sleep(0.5)
    try:
        assert procs[0].poll() is None, "the process died with the thread that asked for it"
        assert spawner_thread().is_alive() and spawner_thread() is not t
    finally:
        procs[0].kill()
        procs[0].wait()


def test_a_local_runner_opened_by_a_retired_thread_runs_its_first_job() -> None:
    """What HumanEval+ runs met under load: the sandbox opened in a worker thread that then
    retired; the first job of each runner found it dead ("[Errno 32] Broken pipe")."""
    _need_bwrap()
    boxes: list[Sandbox] = []

    def open_then_retire() -> None:
        boxes.append(LocalSandbox(2).start())
        time.sleep(1.0)  # bubblewrap has set its parent-death signal by now

    t = threading.Thread(target=open_then_retire)
    t.start()
    t.join()
    sb = boxes[0]
    try:
        time.sleep(0.5)
        for _ in range(2):
            res = sb.execute({"main.py": b"print('first')"}, ["python3", "main.py"], 10)
            assert res.fault is None and res.retried is None, res
            assert res.stdout == "first\n"
        assert sb.retries == []
    finally:
        sb.close()


@pytest.fixture(params=["local", "docker"])
def one_runner(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    if request.param == "local":
        _need_bwrap()
    image = request.getfixturevalue("docker_image") if request.param == "docker" else "unused"
    sb = open_sandbox(request.param, image, size=1)
    yield sb
    sb.close()


def _kill_runner(sb: Sandbox) -> None:
    """Kill the pool's only runner from outside (as an OOM killer or a crash would)."""
    (ch,) = sb._all
    if hasattr(ch, "proc"):
        ch.proc.kill()
    else:
        ch.container.kill()  # type: ignore[attr-defined]


def test_a_runner_killed_from_outside_during_an_innocent_job_scores_as_undisturbed(
        one_runner: Sandbox) -> None:
    killer = threading.Timer(1.0, _kill_runner, (one_runner,))
    killer.start()
    res = one_runner.execute({"main.py": b"import time\ntime.sleep(3)\nprint('done')"},
                             ["python3", "main.py"], 20)
    killer.join()
    assert res.fault is None and res.exit_code == 0 and res.stdout == "done\n", res
    assert res.retried and "died" in res.retried
    assert len(one_runner.retries) == 1
    assert one_runner.execute({"main.py": b"print('next')"}, ["python3", "main.py"],
                              10).stdout == "next\n"


class _ScriptedChannel(Channel):
    """An in-process runner that dies (EOF) on the jobs `dies` picks, else answers exit 0."""

    def __init__(self, dies: object) -> None:
        super().__init__()
        self.dies = dies
        self.lines.put(json.dumps({"ready": True}))

    def send(self, data: bytes) -> None:
        job = json.loads(data)
        if job.get("op") != "lib" and self.dies(job):  # type: ignore[operator]
            self.lines.put(None)
            return
        self.lines.put(json.dumps({"id": job["id"], "exit_code": 0, "stdout": "", "stderr": "",
                                   "timed_out": False, "duration_s": 0.0, "truncated": False}))

    def close(self) -> None:
        pass


class _ScriptedSandbox(Sandbox):
    kind = "scripted"

    def __init__(self, dies: object) -> None:
        super().__init__(1)
        self.dies = dies

    def _open_channel(self) -> Channel:
        return _ScriptedChannel(self.dies)


def test_a_job_that_kills_every_runner_is_charged_and_says_reproduced() -> None:
    sb = _ScriptedSandbox(lambda job: job["argv"] == ["python3", "kill.py"]).start()
    res = sb.execute({}, ["python3", "kill.py"], 5)
    assert res.fault and "reproduced on a fresh runner" in res.fault and res.retried
    assert sb.execute({}, ["python3", "ok.py"], 5).fault is None  # the pool goes on


def test_a_sandbox_that_keeps_failing_fails_the_run_with_its_cause() -> None:
    sb = _ScriptedSandbox(lambda job: True).start()
    with pytest.raises(SandboxError, match="keeps failing"):
        sb.execute({}, ["python3", "anything.py"], 5)


class _JudgeKilledOnce(Sandbox):
    """Answers judge jobs with a verdict, except that `kills` of them end by SIGKILL first."""

    kind = "fake"

    def __init__(self, kills: int) -> None:
        super().__init__(1)
        self.kills = kills
        self.jobs = 0

    def _open_channel(self) -> Channel:
        raise AssertionError("not used")

    def install_lib(self, files: dict[str, bytes]) -> None:
        pass

    def execute(self, files: dict[str, bytes], argv: list[str], timeout_s: float,
                **kw: object) -> ExecResult:
        self.jobs += 1
        if kw.get("verdict_channel") is not True:  # the judge's precompile step
            return ExecResult(exit_code=0, stdout="{}", stderr="", timed_out=False,
                              duration_s=0.0, truncated=False)
        if self.kills > 0:
            self.kills -= 1
            return ExecResult(exit_code=-signal.SIGKILL, stdout="", stderr="", timed_out=False,
                              duration_s=0.1, truncated=False)
        nonce = json.loads(str(kw["stdin"]))["d"][-1][1]
        return ExecResult(exit_code=0, stdout="", stderr="", timed_out=False, duration_s=0.1,
                          truncated=False, verdict=json.dumps({"nonce": nonce, "ok": True}))


def test_a_judge_killed_once_is_judged_again_and_one_killed_twice_is_charged() -> None:
    once = _JudgeKilledOnce(kills=1)
    reply = host.run_judge(once, "evalplus", {"x": 1}, 5.0)
    assert reply.result == {"ok": True} and reply.problem is None
    assert len(once.retries) == 1 and "judge was killed" in once.retries[0]
    twice = _JudgeKilledOnce(kills=2)
    reply = host.run_judge(twice, "evalplus", {"x": 1}, 5.0)
    assert reply.result is None and reply.problem is not None
    assert "reproduced on a second attempt" in reply.problem
