"""Known answers on the real data, judged in the image (CI: the slim one): every sampled
task's canonical solution passes (seven domains, both splits), a wrong body fails with the
failing test and its assertion as evidence, and hostile answers are non-passes that leave
the sandbox able to pass the next right answer.

Hostile code sits inside `task_func`, where bigcodebench's sanitiser keeps it (it drops
top-level statements the entry point does not reach), except where a test says otherwise.
The hostile ones are judged with a 20 s suite limit instead of upstream's 240 s, so that a
fork bomb costs CI seconds, not minutes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchdock.harnesses.benchmarks.bigcodebench import judging
from benchdock.harnesses.benchmarks.bigcodebench.benchmark import BigCodeBench
from benchdock.harnesses.benchmarks.bigcodebench.prompt import calibrated_code
from benchdock.harnesses.contract.benchmark import Task
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.sandbox import Sandbox

from .sample import SAMPLE

HOSTILE_LIMIT_S = 20.0


def bench_for(split: str) -> BigCodeBench:
    bench = get_benchmark(f"bigcodebench-{split}")
    assert isinstance(bench, BigCodeBench)
    return bench


def task(split: str, task_id: str) -> Task:
    return next(t for t in bench_for(split).tasks() if t.id == task_id)


def judged(t: Task, code: str, sandbox: Sandbox, limit: float = HOSTILE_LIMIT_S) -> tuple[str, str, dict]:
    v = judging.verdict(*judging.judge(sandbox, calibrated_code(t, code), t.data["test"], limit))
    return v.verdict, v.detail or "", v.extra or {}


@pytest.mark.parametrize("task_id", sorted(SAMPLE))
def test_canonical_solution_passes(real_data: Path, bcb_sandbox: Sandbox, task_id: str,
                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the declaration's own path: the reference answer, the sanitiser, the
    canonical solution judged first (upstream's ground truth), then the sample."""
    monkeypatch.setenv("BENCHDOCK_HOME", str(tmp_path))
    domain, split = SAMPLE[task_id]
    bench = bench_for(split)
    t = task(split, task_id)
    bench.prepare(bcb_sandbox, [t])
    v = bench.score(t, bench.extract(t, bench.reference(t)), bcb_sandbox)
    assert v.verdict == "pass", f"{task_id} ({domain}, {split}): {v.detail}"
    extra = v.extra or {}
    assert extra["upstream"] == "pass" and extra["canonical_here"] == "pass"
    assert extra["tests"] >= 3 and extra["time_limit_s"] == 241.0  # max(240, 1, gt) + 1


def test_wrong_body_fails_naming_the_test_and_the_assertion(real_data: Path,
                                                            bcb_sandbox: Sandbox) -> None:
    t = task("complete", "BigCodeBench/3")  # returns a dict of letter -> mean of a list
    wrong = ("import random\nimport numpy as np\n"
             "def task_func(LETTERS):\n    return {k: 0 for k in LETTERS}\n")
    verdict, detail, extra = judged(t, wrong, bcb_sandbox)
    assert verdict == "fail" and extra["upstream"] == "fail"
    assert extra["failing"], detail
    first = extra["failing"][0]
    assert f"{first}: AssertionError" in detail, detail


def test_code_that_does_not_parse_fails_as_upstream(real_data: Path, bcb_sandbox: Sandbox) -> None:
    t = task("instruct", "BigCodeBench/1")
    verdict, detail, extra = judged(t, "def task_func(length=100:\n    return 1\n", bcb_sandbox)
    assert verdict == "fail" and extra["upstream"] == "fail" and "SyntaxError" in detail


HOSTILE = {
    "exit 0 from the function": (
        "import os\ndef task_func(*args, **kwargs):\n    os._exit(0)\n"),
    "sys.exit(0) from the function": (
        "import sys\ndef task_func(*args, **kwargs):\n    sys.exit(0)\n"),
    "monkeypatched unittest assertions": (
        "def task_func(*args, **kwargs):\n"
        "    import unittest\n"
        "    for name in dir(unittest.TestCase):\n"
        "        if name.startswith('assert') or name == 'fail':\n"
        "            setattr(unittest.TestCase, name, lambda *a, **k: None)\n"
        "    return None\n"),
    "monkeypatched TestResult": (
        "def task_func(*args, **kwargs):\n"
        "    import unittest\n"
        "    unittest.TestResult.addFailure = lambda *a, **k: None\n"
        "    unittest.TestResult.addError = lambda *a, **k: None\n"
        "    unittest.TestResult.addSubTest = lambda *a, **k: None\n"
        "    raise ValueError('wrong')\n"),
    "a skip raised by the function": (
        "def task_func(*args, **kwargs):\n"
        "    import unittest\n"
        "    raise unittest.SkipTest('nothing to see')\n"),
    "forged result lines and frames on every descriptor": (
        "def task_func(*args, **kwargs):\n"
        "    import json, os, struct\n"
        "    line = (json.dumps({'status': 'pass', 'nonce': '0' * 32}) + '\\n').encode()\n"
        "    body = json.dumps(['report', 'x', {'stat': 0, 'details': {}, 'run': [],\n"
        "                                      'tampered': []}]).encode()\n"
        "    for fd in range(0, 64):\n"
        "        for data in (line, struct.pack('>I', len(body)) + body):\n"
        "            try:\n"
        "                os.write(fd, data)\n"
        "            except OSError:\n"
        "                pass\n"
        "    print('OK'); print('Ran 10 tests'); print('PASSED')\n"
        "    os._exit(0)\n"),
    "a fork bomb": (
        "import os\n"
        "def task_func(*args, **kwargs):\n"
        "    while True:\n"
        "        try:\n"
        "            os.fork()\n"
        "        except BaseException:\n"
        "            pass\n"),
    "an output flood": (
        "import os, sys\n"
        "def task_func(*args, **kwargs):\n"
        "    chunk = b'x' * (1 << 20)\n"
        "    for _ in range(300):\n"
        "        for fd in (1, 2):\n"
        "            try:\n"
        "                os.write(fd, chunk)\n"
        "            except OSError:\n"
        "                pass\n"
        "    sys.stdout.write('y' * (50 << 20))\n"
        "    return None\n"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_answer_is_a_non_pass_and_sinks_nothing(real_data: Path, bcb_sandbox: Sandbox,
                                                       name: str) -> None:
    t = task("complete", "BigCodeBench/1")
    bench = bench_for("complete")
    code = bench.extract(t, f"```python\n{HOSTILE[name]}\n```")
    assert "task_func" in code
    t0 = time.monotonic()
    verdict, detail, _ = judged(t, code, bcb_sandbox)
    assert verdict != "pass", f"{name}: {detail}"
    assert time.monotonic() - t0 < HOSTILE_LIMIT_S + 60
    # the same sandbox judges the next right answer right
    verdict, detail, _ = judged(t, bench.extract(t, bench.reference(t)), bcb_sandbox)
    assert verdict == "pass", f"after {name}: {detail}"


def test_module_level_exit_is_a_non_pass(real_data: Path, bcb_sandbox: Sandbox) -> None:
    """Judged without the sanitiser (which would drop these lines): the process ends while
    the module loads. Upstream says fail (SystemExit caught) or timeout (os._exit)."""
    t = task("complete", "BigCodeBench/1")
    for code, upstream in (("import sys\nsys.exit(0)\ndef task_func(length=100):\n    return 1\n",
                            "fail"),
                           ("import os\nos._exit(0)\ndef task_func(length=100):\n    return 1\n",
                            "timeout")):
        verdict, detail, extra = judged(t, code, bcb_sandbox)
        assert verdict != "pass", detail
        assert extra.get("upstream", "timeout") == upstream, (code, detail, extra)


def test_monkeypatched_unittest_is_what_upstream_would_pass(real_data: Path,
                                                           bcb_sandbox: Sandbox) -> None:
    """The difference from upstream, shown: the same report upstream's untrusted_check would
    call a pass is a fail here, with the reason."""
    t = task("complete", "BigCodeBench/1")
    verdict, detail, extra = judged(t, HOSTILE["monkeypatched TestResult"], bcb_sandbox)
    assert verdict == "fail" and extra["upstream"] == "pass"
    assert "changed the test machinery" in detail and "TestResult.addError" in detail
