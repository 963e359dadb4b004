"""The two halves of BFCL's containment that need no bfcl-eval: `guard` (which calls BFCL may
`eval`) and `isolate` (a process per job, a private protocol). The whole path, with
bfcl-eval and hostile answers through the run engine, is in test_bfcl_hostile.py."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from benchdock.harnesses.benchmarks.bfcl.drivers import guard
from tests.conftest import ROOT

METHODS = {"cd": "fs_instance", "mkdir": "fs_instance", "power": "math_instance"}


@pytest.mark.parametrize("call", [
    "cd(folder='document')",
    "mkdir(dir_name='temp')",
    "power(base=2, exponent=10)",
    "cd('document')",
    "cd(folder=['a', {'b': (1, -2.5, None, True)}])",
    "  cd(folder='x(y)')  ",
])
def test_plain_method_calls_with_literal_arguments_pass(call: str) -> None:
    assert guard.refusal(call, METHODS) is None


@pytest.mark.parametrize(("call", "why"), [
    ("__import__('os')._exit(0) or print()", "not a single function call"),
    ("__import__('os')._exit(status=0)", "expression"),
    ("os.system(command='id')", "expression"),
    ("cd(folder=__import__('os').getcwd())", "literal arguments"),
    ("cd(folder=[x for x in iter(int, 1)])", "literal arguments"),
    ("cd(folder='a' * 10**9)", "literal arguments"),
    ("cd(*['a'])", "*arguments"),
    ("cd(**{'folder': 'a'})", "**arguments"),
    ("cd(folder='a'); print(1)", "not Python"),
    ("cd(folder='a')\nimport os", "not Python"),
    ("lambda: 0", "not a single function call"),
    ("exec(source='1')", "name 'exec' is not defined"),
    ("cd", "not a single function call"),
    ("cd(folder='\x00')", "not Python"),  # as BFCL's eval would say
])
def test_anything_else_is_refused_with_the_reason(call: str, why: str | None) -> None:
    got = guard.refusal(call, METHODS)
    if why is None:
        assert got is None
    else:
        assert got is not None and why in got


def test_the_rewritten_call_must_still_be_a_method_of_the_right_instance() -> None:
    assert guard.processed_refusal("fs_instance.cd(folder='a')", METHODS) is None
    for bad in ("math_instance.cd(folder='a')", "fs_instance.cd(folder=open('x'))",
                "fs_instance.__class__(x=1)", "cd(folder='a')"):
        assert guard.processed_refusal(bad, METHODS) is not None, bad


@pytest.mark.parametrize(("expr", "value"), [
    ("2 * 3", 6), ("-1.5 + 2", 0.5), ("'a' + 'b'", "ab"), ("[0] * 3", [0, 0, 0]),
    ("10 ** 3", 1000), ("7 // 2 % 3", 0), ("1 << 4", 16), ("(1, 2) + (3,)", (1, 2, 3)),
])
def test_arithmetic_in_an_argument_is_computed_without_eval(expr: str, value: Any) -> None:
    node = ast.parse(expr, mode="eval").body
    assert guard.arithmetic(node) == value == eval(expr)


@pytest.mark.parametrize("expr", [
    "__import__('os')._exit(0) + 1", "9 ** 9 ** 9", "'x' * 10 ** 9", "1 << 10 ** 9",
    "'%*d' % (10 ** 9, 1)", "a + 1", "[x for x in iter(int, 1)] + []",
])
def test_arithmetic_refuses_code_and_blowups(expr: str) -> None:
    with pytest.raises(ValueError, match="benchdock"):
        guard.arithmetic(ast.parse(expr, mode="eval").body)


# --- isolate: run in a fresh single-threaded interpreter, as the bridge is ---------------

DRIVER = textwrap.dedent("""
    import json, os, signal, sys, time
    sys.path.insert(0, {root!r})
    import isolate
    proto = isolate.private_stdout()
    out = []
    sup = isolate.Supervisor(private_fds=(proto,))
    L = isolate.Limits(wall_s=60, cpu_s=1, mem_bytes=256 << 20, max_output=1 << 20)
    SHORT = isolate.Limits(wall_s=3, cpu_s=1, mem_bytes=256 << 20, max_output=1 << 20)

    def record(name):
        return lambda o: out.append({{"job": name, "payload": o.payload, "why": o.why,
                                      "timed_out": o.timed_out}})

    def fake_reply():
        for fd in range(256):
            try:
                os.write(fd, b'{{"id": 1, "judged": {{"valid": true}}}}\\n')
            except OSError:
                pass
        return {{"ok": "wrote fake replies everywhere it could"}}

    def lingering_child():
        pid = os.fork()
        if pid == 0:
            os.closerange(3, 1024)  # not holding the job's pipe: the job itself ends
            time.sleep(60)
            os._exit(0)
        return {{"left": pid}}

    JOBS = {{
        "answers": lambda: {{"ok": 1}},
        "os_exit_0": lambda: os._exit(0),
        "sys_exit_0": lambda: sys.exit(0),
        "raises": lambda: 1 / 0,
        "kills_itself": lambda: os.kill(os.getpid(), signal.SIGKILL),
        "fake_reply": fake_reply,
        "loops": lambda: [None for _ in iter(int, 1) if False],
        "sleeps": lambda: time.sleep(60),
        "floods_pipe": lambda: {{"x": "y" * (4 << 20)}},
        "floods_stdout": lambda: [os.write(1, b"z" * 65536) for _ in range(2000)] and {{"ok": 2}},
        "eats_memory": lambda: {{"n": len(bytearray(1 << 30))}},
        "lingering_child": lingering_child,
    }}
    for name, work in JOBS.items():
        sup.spawn(work, SHORT if name == "sleeps" else L, record(name))
    sup.stop()
    sup.run()
    os.write(proto, json.dumps(out).encode())
""")


@pytest.fixture(scope="module")
def isolated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each hostile job's outcome, and what reached the protocol fd."""
    root = ROOT / "harnesses" / "benchmarks" / "bfcl" / "drivers"
    proc = subprocess.run([sys.executable, "-c", DRIVER.format(root=str(root))],
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    out = json.loads(proc.stdout)  # the protocol carried this, and nothing else
    return {o["job"]: o for o in out}


def test_a_job_answers_through_its_pipe_only(isolated: dict[str, dict[str, Any]]) -> None:
    assert isolated["answers"]["payload"] == {"ok": 1}
    # a job that writes fake replies on every descriptor it has reaches only its own pipe
    # (its answer then is whatever it wrote there, never a verdict on the protocol)
    fake = isolated["fake_reply"]
    assert fake["payload"] is None and "JSON" in fake["why"]


@pytest.mark.parametrize(("job", "why"), [
    ("os_exit_0", "not one JSON object"),  # exit status 0 with no answer is no answer
    ("sys_exit_0", None),
    ("raises", None),
    ("kills_itself", "SIGKILL"),
    ("loops", "CPU time"),
    ("sleeps", "3s limit"),
    ("floods_pipe", "more than 1048576 bytes"),
])
def test_a_job_that_dies_hangs_or_floods_is_a_failure_with_its_reason(
        isolated: dict[str, dict[str, Any]], job: str, why: str | None) -> None:
    o = isolated[job]
    if why is None:  # an exception inside the job (SystemExit too): its answer says so
        assert o["payload"] and "job_error" in o["payload"], o
    else:
        assert o["payload"] is None and why in o["why"], o
    assert o["timed_out"] == (job in ("loops", "sleeps"))


def test_a_job_cannot_flood_the_protocol_or_exhaust_memory(
        isolated: dict[str, dict[str, Any]]) -> None:
    assert isolated["floods_stdout"]["payload"] == {"ok": 2}  # its stdout is /dev/null
    o = isolated["eats_memory"]
    assert o["payload"] and "MemoryError" in o["payload"]["job_error"]


def test_nothing_outlives_its_job(isolated: dict[str, dict[str, Any]]) -> None:
    left = isolated["lingering_child"]["payload"]["left"]
    try:  # its job's process group was killed when the job ended
        cmdline = Path(f"/proc/{left}/cmdline").read_bytes()
    except FileNotFoundError:
        return
    assert b"isolate" not in cmdline  # (the pid may have been reused by now)
