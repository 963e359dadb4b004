"""Every benchmark, in every sandbox: its reference answer passes, wrong answers do not.
And for EvalPlus sets, our verdicts equal those of `evalplus.evaluate` itself (recorded:
tests/support/evalplus_reference.py)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from benchdock.harnesses.contract.benchmark import Benchmark
from benchdock.harnesses.contract.registry import benchmark_ids, get_benchmark
from benchdock.harnesses.sandbox import Sandbox, open_sandbox
from tests.support.evalplus_reference import (
    REAL,
    REAL_FILES,
    StaleRecording,
    Verdict,
    real_problems,
    recorded_verdicts,
    sample_ids,
    solutions,
)


@pytest.fixture(scope="module", params=["local", "docker"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    image = request.getfixturevalue("docker_image") if request.param == "docker" else "unused"
    sb = open_sandbox(request.param, image, size=2)
    yield sb
    sb.close()


# benchmarks that benchdock scores itself; BFCL's checker is checked against its own ground
# truth through the whole engine in test_bfcl_fake_model.py
# (testgen-humaneval-plus is answered with tests, not code: its own contract, with right and
# wrong test suites and hostile ones, is tests/harnesses/benchmarks/testgen/test_testgen.py;
# bigcodebench-* need their own image and the real data, and judge as upstream does (code
# that does not parse fails, a loop meets a 241 s limit): their contract, right, wrong and
# hostile answers in that image, is tests/harnesses/benchmarks/bigcodebench/test_known_answers.py)
CHAT = [n for n in benchmark_ids() if isinstance(get_benchmark(n), Benchmark)
        and n != "testgen-humaneval-plus" and not n.startswith("bigcodebench")]


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


@pytest.fixture(scope="module", params=list(REAL_FILES))
def evalplus_reference(request: pytest.FixtureRequest
                       ) -> tuple[str, dict[str, list[str]], dict[str, list[Verdict]]]:
    """`evalplus.evaluate`'s own verdicts on the sample's solutions, as recorded by
    tests/scripts/record_evalplus_verdicts.py (tests/support/evalplus_reference.py says why
    recorded: EvalPlus's own verdict on some answers moves with load), checked to be for
    these data, these solutions and this EvalPlus."""
    dataset = request.param
    name = REAL_FILES[dataset][1]
    if not (REAL / name).is_file():
        pytest.skip(f"the real EvalPlus file is not at {REAL / name} (set BENCHDOCK_DATASETS)")
    ids = sample_ids(dataset)
    sols = {tid: codes for tid, codes in solutions(real_problems(dataset), ids).items()
            if tid in ids}
    try:
        theirs = recorded_verdicts(dataset, sols)
    except StaleRecording as exc:
        pytest.fail(str(exc))
    return dataset, sols, theirs


def test_verdicts_equal_evalplus_evaluate(
        evalplus_reference: tuple[str, dict[str, list[str]], dict[str, list[Verdict]]],
        sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real files, a CI-sized sample: benchdock's (base, plus) verdicts equal those of
    `evalplus.evaluate` on the same solutions (recorded), limits included."""
    import evalplus.data.humaneval as he_data
    import evalplus.data.mbpp as mbpp_data

    dataset, sols, theirs = evalplus_reference
    var, name, bench_id = REAL_FILES[dataset]
    monkeypatch.setattr(he_data if dataset == "humaneval" else mbpp_data, var, str(REAL / name))
    bench = get_benchmark(bench_id)
    assert isinstance(bench, Benchmark)
    tasks = [t for t in bench.tasks() if t.id in sols]
    bench.prepare(sandbox, tasks)
    jobs = [(t, i, code) for t in tasks for i, code in enumerate(sols[t.id])]
    with ThreadPoolExecutor(sandbox.size) as pool:
        ours = list(pool.map(lambda j: bench.score(j[0], j[2], sandbox), jobs))
    differ = [(t.id, i, theirs[t.id][i], (v.base, v.plus), v.detail)
              for (t, i, _), v in zip(jobs, ours, strict=True)
              if (v.base, v.plus) != theirs[t.id][i]]
    # a time limit is a multiple of the reference solution's own timing: beside the other
    # test workers (CI's load reached 40 on 2 cores) an answer near its limit can time out
    # where the recording, on a quiet machine, did not. Those are scored once more, alone;
    # a verdict that differs then is a real difference
    again = []
    for tid, i, want, got, detail in differ:
        task = next(t for t in tasks if t.id == tid)
        v = bench.score(task, sols[tid][i], sandbox)
        if (v.base, v.plus) != want:
            again.append((tid, i, want, got, (v.base, v.plus), detail, v.detail))
    assert not again, again
    if differ:
        print(f"\n{len(differ)} verdicts differed under load and agreed when scored alone: "
              f"{[(d[0], d[1], d[3]) for d in differ]}")
    seen = {pair for pairs in theirs.values() for pair in pairs}
    assert ("pass", "pass") in seen and ("pass", "fail") in seen
