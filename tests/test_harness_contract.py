"""Every benchmark, in every sandbox: its reference answer passes, wrong answers do not.
And for EvalPlus sets, our verdicts equal those of `evalplus.evaluate` itself."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchdock.harnesses.base import Benchmark
from benchdock.harnesses.registry import BENCHMARKS, get_benchmark
from benchdock.harnesses.sandbox import Sandbox, open_sandbox


@pytest.fixture(scope="module", params=["local", "docker"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    image = request.getfixturevalue("docker_image") if request.param == "docker" else "unused"
    sb = open_sandbox(request.param, image, size=2)
    yield sb
    sb.close()


# benchmarks that benchdock scores itself; BFCL's checker is checked against its own ground
# truth through the whole engine in test_bfcl_fake_model.py
CHAT = [n for n in BENCHMARKS if isinstance(get_benchmark(n), Benchmark)]


@pytest.mark.parametrize("name", CHAT)
def test_reference_passes_and_wrong_fails(name: str, sandbox: Sandbox) -> None:
    bench = get_benchmark(name)
    assert isinstance(bench, Benchmark)
    tasks = bench.tasks()[:3]
    bench.prepare(sandbox, tasks)
    for task in tasks:
        right = bench.score(task, bench.extract(task, bench.reference(task)), sandbox)
        assert right.verdict == "pass", (task.id, right)
        wrong_code = f"def {task.entry_point}(*args):\n    return 'certainly wrong'\n"
        wrong = bench.score(task, bench.extract(task, f"```python\n{wrong_code}```"), sandbox)
        assert wrong.verdict == "fail", (task.id, wrong)
        assert wrong.detail
        broken = bench.score(task, "def nothing_here(:\n", sandbox)
        assert broken.verdict == "error", (task.id, broken)
        looping = f"def {task.entry_point}(*args):\n    while True:\n        pass\n"
        slow = bench.score(task, looping, sandbox)
        assert slow.verdict in ("timeout", "fail"), (task.id, slow)
        if name == "humaneval":
            assert slow.verdict == "timeout"


def test_extraction_uses_evalplus_sanitiser() -> None:
    bench = get_benchmark("humaneval")
    task = bench.tasks()[53]
    answer = ("Sure! Here it is:\n```python\nimport os\n\ndef add(x: int, y: int):\n    return x + y\n\n"
              "print(add(1, 2))\n```\nHope it helps.")
    code = bench.extract(task, answer)
    assert "def add" in code and "print(" not in code and "Hope" not in code


def test_messages_match_evalplus_openai_prompt() -> None:
    bench = get_benchmark("humaneval-plus")
    task = bench.tasks()[0]
    msgs = bench.messages(task)
    assert msgs[0] == {"role": "system", "content": "You are a helpful assistant good at coding."}
    assert msgs[1]["content"].startswith(
        "Please provide a self-contained Python script that solves the following problem in a "
        "markdown code block:\n```python\n")
    assert msgs[1]["content"].endswith(task.prompt.strip() + "\n```")


def test_verdicts_equal_evalplus_evaluate(tmp_path: Path) -> None:
    """Score right and wrong solutions with benchdock and with `evalplus.evaluate`."""
    bench = get_benchmark("humaneval-plus")
    tasks = bench.tasks()
    solutions = {}
    for i, t in enumerate(tasks):
        right = t.prompt + t.data["canonical_solution"]
        # every other task gets a solution that passes base tests but not all plus tests
        solutions[t.id] = right if i % 2 == 0 else right + f"\n_orig = {t.entry_point}\n" + (
            f"def {t.entry_point}(*a):\n    r = _orig(*a)\n"
            "    return r if a in [tuple(x) for x in BASE] else 'wrong'\n"
            f"BASE = {t.data['base_input']!r}\n")
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": k, "solution": v}) + "\n" for k, v in solutions.items()))
    script = ("import sys; from evalplus.evaluate import evaluate; "
              f"evaluate('humaneval', samples={str(samples)!r}, parallel=1, i_just_wanna_run=True)")
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=300)
    theirs = json.loads((tmp_path / "samples_eval_results.json").read_text())["eval"]
    with open_sandbox("local", "unused", size=1) as sb:
        bench.prepare(sb, tasks)
        for t in tasks:
            ours = bench.score(t, solutions[t.id], sb)
            ref = theirs[t.id][0]
            assert (ours.base, ours.plus) == (ref["base_status"], ref["plus_status"]), t.id
    statuses = {(r[0]["base_status"], r[0]["plus_status"]) for r in theirs.values()}
    assert ("pass", "pass") in statuses and ("pass", "fail") in statuses
