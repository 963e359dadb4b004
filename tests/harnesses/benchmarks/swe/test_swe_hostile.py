"""swe-local against a hostile agent, through real mini-swe-agent, the recording proxy and real
Docker: a fake model plays an agent whose commands probe the network and the container's
walls, forge the grading while leaving the bug unfixed, and abuse processes, disk, memory
and output. The bug stays "not resolved" whatever the patch does to the test run, the run
goes on, and nothing is left behind (containers, agent processes, files on the host)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from benchdock.harnesses.benchmarks.swe.construct import Instance
from benchdock.store import queries as q
from tests.harnesses.benchmarks.bfcl.test_bfcl_fake_model import fake_endpoint
from tests.server.test_e2e import owned_containers
from tests.support.swe_support import run_swe, scripted, swe_settings

SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && cat /tmp/patch.txt"
FORCE_PASS_HOOK = """import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    out = yield
    rep = out.get_result()
    rep.outcome = "passed"
    rep.longrepr = None
"""


def instances(settings: Any) -> list[Instance]:
    from benchdock.harnesses.contract.registry import get_benchmark

    return get_benchmark("swe-local", settings).instances()  # type: ignore[attr-defined, no-any-return]


def write(path: str, text: str, append: bool = False) -> str:
    return f"cat {'>>' if append else '>'} {path} <<'HOSTILE_EOF'\n{text}HOSTILE_EOF\n"


def as_patch(*cmds: str) -> str:
    """The commands, then every change (new files too) as the submitted diff."""
    return "".join(cmds) + "git add -A && git diff --cached > /tmp/patch.txt"


def fake_passes(inst: Instance) -> str:
    """Python: the pytest summary lines that would make `inst` resolved, as one string."""
    ids = inst.FAIL_TO_PASS + inst.PASS_TO_PASS
    return f'"\\n".join("PASS" + "ED " + t for t in {ids!r}) + "\\n"'


# each forges the verdict a different way and leaves the bug in place
def conftest_forces_passes(inst: Instance) -> str:
    return as_patch(write("conftest.py", FORCE_PASS_HOOK), "cp conftest.py toolz/conftest.py\n")


def edits_the_tests(inst: Instance) -> str:
    # every test function of the test folder returns at once; a conftest joins them
    return as_patch(r"sed -i 's/^def \(test_[A-Za-z0-9_]*\)(.*$/def \1(*a, **k):\n    return\n"
                    r"def _was_\1(*a, **k):/' toolz/tests/test_*.py" + "\n",
                    write("toolz/tests/conftest.py", FORCE_PASS_HOOK))


def pytest_shadowed(inst: Instance) -> str:
    fake = (f"import sys\n\n\ndef main(args=None, plugins=None):\n"
            f"    sys.stdout.write({fake_passes(inst)})\n    return 0\n")
    return as_patch(write("pytest.py", fake))


def plugin_in_pyproject(inst: Instance) -> str:
    return as_patch(write("forcepass.py", FORCE_PASS_HOOK),
                    "sed -i 's/^  \"-ra\",.*$/  \"-ra\", \"-p\", \"forcepass\",/' pyproject.toml\n")


def prints_after_pytest(inst: Instance) -> str:
    # no word the runner_reach scan knows: only the os._exit after pytest stops it
    code = (f'_ae = __import__("at" + "exit")\n'
            f'_ae.register(lambda: print({fake_passes(inst)}, flush=True))\n')
    return as_patch(write("toolz/__init__.py", code, append=True))


def patches_pytest_in_process(inst: Instance) -> str:
    code = """try:
    import _pytest.reports as _r
    _orig = _r.TestReport.from_item_and_call

    def _forced(cls, item, call):
        rep = _orig(item, call)
        rep.outcome = "passed"
        rep.longrepr = None
        return rep

    _r.TestReport.from_item_and_call = classmethod(_forced)
except ImportError:
    pass
"""
    return as_patch(write("toolz/__init__.py", code, append=True))


def child_writes_later(inst: Instance) -> str:
    # a forked child that outlives pytest and appends passes to the log and every descriptor
    code = f"""_o = __import__("o" + "s")
if not _o.environ.get("_TZ_FORKED"):
    _o.environ["_TZ_FORKED"] = "1"
    _pp = _o.getpid()
    if getattr(_o, "fo" + "rk")() == 0:
        import time as _t
        while _o.getppid() == _pp:
            _t.sleep(0.01)
        _t.sleep(1.0)
        _txt = ({fake_passes(inst)}).encode()
        for _fd in range(1, 20):
            try:
                getattr(_o, "wr" + "ite")(_fd, _txt)
            except OSError:
                pass
        with open("/tmp/." + "py" + "test.out", "ab") as _f:
            _f.write(_txt)
        getattr(_o, "_ex" + "it")(0)
"""
    return as_patch(write("toolz/__init__.py", code, append=True))


ATTACKS = [conftest_forces_passes, edits_the_tests, pytest_shadowed, plugin_in_pyproject,
           prints_after_pytest, patches_pytest_in_process]


def run_plans(tmp_path: Path, plans: dict[str, list[str]], ids: list[str], run_id: str,
              options: dict[str, Any]) -> dict[str, Any]:
    settings = swe_settings(tmp_path, "http://fake/v1")

    def steps(n: int, task: str) -> str:
        todo = next(v for k, v in plans.items() if k in task)
        return todo[min(n, len(todo) - 1)]

    status, run, db = run_swe(settings, ids, fake_endpoint(scripted(steps)), options,
                              run_id=run_id)
    assert status == "succeeded", run.error
    assert owned_containers(os.getpid()) == []
    assert agent_processes(os.getpid()) == []
    return {s.task_id: s for s in q.all_samples(db, run.id)}


def agent_processes(parent: int) -> list[int]:
    """benchdock's mini-swe-agent drivers that are children of `parent` (other sessions on
    this host may run their own)."""
    found = []
    for p in Path("/proc").iterdir():
        try:
            if not p.name.isdigit() or b"benchdock's mini-swe-agent driver" not in \
                    (p / "cmdline").read_bytes():
                continue
            stat = (p / "stat").read_text().rsplit(")", 1)[1].split()
            if stat[0] != "Z" and int(stat[1]) == parent:
                found.append(int(p.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def alive(pids: list[int]) -> list[int]:
    """Those of `pids` still running (not gone, not a zombie)."""
    out = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.append(pid)
    return out


def test_forged_gradings_leave_the_bug_not_resolved(tmp_path: Path) -> None:
    insts = instances(swe_settings(tmp_path, "http://fake/v1"))
    chosen = list(zip(ATTACKS, insts, strict=False))
    plans = {inst.problem_statement: [attack(inst), SUBMIT] for attack, inst in chosen}
    got = run_plans(tmp_path, plans, [i.instance_id for _, i in chosen], "swe-forge",
                    {"step_limit": 3})
    for attack, inst in chosen:
        s = got[inst.instance_id]
        e = s.extra or {}
        assert e["exit_status"] == "Submitted", (attack.__name__, e.get("trajectory"))
        assert e["patch"].strip() and e["patch_applied"], (attack.__name__, s.detail)
        assert s.verdict == "fail", (attack.__name__, s.detail)
        assert not e["resolved"], attack.__name__
        if attack is patches_pytest_in_process:
            # the forgery works inside pytest's process: only the patch scan stops it
            assert e["resolved_by_report"] is True and e["runner_reach"], e
            assert "reaches for the test runner" in (s.detail or "")
        else:
            # the tests really ran on the unfixed bug: its FAIL_TO_PASS tests still fail
            assert e["FAIL_TO_PASS"]["failure"], (attack.__name__, e["test_log"][-3000:])
    reached = {a.__name__ for a, i in chosen if got[i.instance_id].extra.get("runner_reach")}
    assert "prints_after_pytest" not in reached  # stopped by os._exit, not by the scan


def test_a_child_outliving_pytest_cannot_add_passes(tmp_path: Path) -> None:
    inst = instances(swe_settings(tmp_path, "http://fake/v1"))[0]
    got = run_plans(tmp_path, {inst.problem_statement: [child_writes_later(inst), SUBMIT]},
                    [inst.instance_id], "swe-child", {"step_limit": 3})
    s = got[inst.instance_id]
    assert s.verdict == "fail" and s.extra["patch_applied"], s.detail
    assert not s.extra["runner_reach"]  # the scan does not see it: the kill of leftovers does
    assert set(s.extra["FAIL_TO_PASS"]["failure"]) == set(inst.FAIL_TO_PASS)


PROBES = [
    # (command, what its output must show)
    ("python3 -c \"import socket; socket.create_connection(('172.17.0.1', 2375), timeout=3)\"",
     "Network is unreachable"),
    ("python3 -c \"import socket; socket.create_connection(('10.0.2.2', 3128), timeout=3)\"",
     "Network is unreachable"),
    ("python3 -c \"import socket; print(socket.getaddrinfo('pypi.org', 443))\"", "gaierror"),
    ("ls /sys/class/net", "lo"),
    ("touch /etc/pwned /usr/lib/pwned /proc/1/root/etc/pwned", "Read-only file system"),
    ("ls -l /var/run/docker.sock /run/docker.sock", "No such file or directory"),
    ("mount -t tmpfs none /mnt", "must be superuser"),
    ("id -u; grep CapEff /proc/self/status", "65534"),
    ("nsenter -t 1 -m sh -c id; chroot / id", "Operation not permitted"),
]


def test_no_network_and_no_way_out(tmp_path: Path) -> None:
    inst = instances(swe_settings(tmp_path, "http://fake/v1"))[1]
    marker = f"/tmp/benchdock-hostile-{uuid.uuid4().hex}"
    cmds = [c for c, _ in PROBES] + [f"echo pwned > {marker}; echo wrote",
                                     "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"]
    got = run_plans(tmp_path, {inst.problem_statement: cmds}, [inst.instance_id], "swe-probe",
                    {"step_limit": len(cmds) + 1})
    s = got[inst.instance_id]
    obs = [st for st in s.extra["trajectory"] if st["role"] == "observation"]
    assert len(obs) >= len(PROBES), s.extra["trajectory"]
    for (cmd, expect), seen in zip(PROBES, obs, strict=False):
        assert expect in seen["output"], (cmd, seen)
    assert "0000000000000000" in obs[7]["output"]  # no capability at all
    assert obs[3]["output"].split() == ["lo"]
    assert not Path(marker).exists()  # the container's /tmp is its own
    assert s.verdict == "fail" and "no patch submitted" in (s.detail or "")


def test_fork_bomb_full_disk_and_endless_output_end_in_a_limit(tmp_path: Path) -> None:
    inst = instances(swe_settings(tmp_path, "http://fake/v1"))[2]
    cmds = [":(){ :|:& };:",
            "echo alive; ls /proc | grep -c '^[0-9]'",
            "yes",
            "dd if=/dev/zero of=/testbed/fill bs=1M count=2000; rm -f /testbed/fill",
            "python3 -c 'b = bytearray(3 * 1024**3)'; echo status=$?",
            "setsid sleep 10000 > /dev/null 2>&1 & echo started",
            "echo still-here"]
    got = run_plans(tmp_path, {inst.problem_statement: cmds}, [inst.instance_id], "swe-abuse",
                    {"step_limit": len(cmds), "command_timeout_s": 10})
    s = got[inst.instance_id]
    e = s.extra
    assert s.verdict == "fail" and e["exit_status"] == "LimitsExceeded", s.detail
    assert e["steps"] == len(cmds)
    obs = [st for st in e["trajectory"] if st["role"] == "observation"]
    assert len(obs) == len(cmds), e["trajectory"]
    by_cmd = dict(zip(cmds, obs, strict=True))
    # `yes` is cut in the container, at the driver's cap, not read whole into the host
    assert by_cmd["yes"]["truncated"] and by_cmd["yes"]["chars"] == 1_000_000
    # the fork bomb was ended with the command that started it: the next one runs
    assert "alive" in by_cmd[cmds[1]]["output"], by_cmd[cmds[1]]
    assert "No space left on device" in by_cmd[cmds[3]]["output"]
    assert "status=0" not in by_cmd[cmds[4]]["output"]
    assert "still-here" in by_cmd["echo still-here"]["output"]
