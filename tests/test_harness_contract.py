"""Every benchmark, in every sandbox: its reference answer passes, wrong answers do not.
And for EvalPlus sets, our verdicts equal those of `evalplus.evaluate` itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

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
# (testgen-humaneval-plus is answered with tests, not code: its own contract, with right and
# wrong test suites and hostile ones, is tests/test_testgen.py)
CHAT = [n for n in BENCHMARKS if isinstance(get_benchmark(n), Benchmark)
        and n != "testgen-humaneval-plus"]


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


REAL = Path(os.environ.get("BENCHDOCK_DATASETS") or Path(__file__).resolve().parents[2] / "shared" / "datasets") / "evalplus"
REAL_FILES = {"humaneval": ("HUMANEVAL_OVERRIDE_PATH", "HumanEvalPlus-v0.1.10.jsonl.gz", "humaneval-plus"),
              "mbpp": ("MBPP_OVERRIDE_PATH", "MbppPlus-v0.2.0.jsonl.gz", "mbpp-plus")}
# ~15 tasks per set: special oracles, atol, big outputs, the tasks whose limits are tight
# (HumanEval/130's tri(999998), Mbpp/392's n = 1000000) and Mbpp/255 (n = 77: an output
# over EvalPlus's memory headroom and over benchdock's 32 MiB plain-data limit)
SAMPLE = {
    "humaneval": [0, 2, 4, 10, 13, 15, 32, 38, 53, 71, 99, 130, 139, 145, 160],
    "mbpp": [2, 3, 7, 11, 17, 82, 120, 255, 392, 558, 581, 630, 737, 769, 794],
}


def _solutions(problems: dict[str, Any], ids: list[str]) -> dict[str, list[str]]:
    """Per task: the canonical solution and one that passes the base tests only; tasks
    outside the sample get one answer that fails at once (evaluate() wants every task)."""
    out = {}
    for tid, p in problems.items():
        right = p["prompt"] + p["canonical_solution"]
        if tid not in ids:
            out[tid] = [f"def {p['entry_point']}(*a):\n    return None\n"]
            continue
        base_only = right + f"\n_orig = {p['entry_point']}\n" + (
            f"def {p['entry_point']}(*a):\n    r = _orig(*a)\n"
            "    return r if list(a) in BASE else 'wrong'\n"
            f"BASE = {p['base_input']!r}\n")
        out[tid] = [right, base_only]
    return out


def _real_problems(dataset: str) -> dict[str, Any]:
    import evalplus.data.humaneval as he_data
    import evalplus.data.mbpp as mbpp_data

    var, name, _ = REAL_FILES[dataset]
    mod: Any = he_data if dataset == "humaneval" else mbpp_data
    saved = getattr(mod, var)
    setattr(mod, var, str(REAL / name))
    try:
        return dict(mod.get_human_eval_plus() if dataset == "humaneval" else mod.get_mbpp_plus())
    finally:
        setattr(mod, var, saved)


@pytest.fixture(scope="module", params=list(REAL_FILES))
def evalplus_reference(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                       ) -> tuple[str, dict[str, list[str]], dict[str, list[tuple[str, str]]]]:
    """`evalplus.evaluate` itself on the real files: the sample's solutions and its verdicts."""
    dataset = request.param
    var, name, _ = REAL_FILES[dataset]
    if not (REAL / name).is_file():
        pytest.skip(f"the real EvalPlus file is not at {REAL / name} (set BENCHDOCK_DATASETS)")
    tmp = tmp_path_factory.mktemp(f"evalplus-{dataset}")
    env = {**os.environ, var: str(REAL / name)}
    problems = _real_problems(dataset)
    prefix = "HumanEval/" if dataset == "humaneval" else "Mbpp/"
    ids = [f"{prefix}{i}" for i in SAMPLE[dataset]]
    solutions = _solutions(problems, ids)
    # Mbpp/255 goes last: evaluate()'s pool worker that unpickles its expected outputs
    # (~1.5 GB) stays over 4 GB of address space, and every check it forks afterwards fails
    # any input that needs memory (EvalPlus's 4 GB RLIMIT_AS counts the inherited memory);
    # `python tests/evalplus_parity.py --explain-memory` shows it on Mbpp/392
    order = sorted(solutions, key=lambda k: k == "Mbpp/255")
    samples = tmp / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": k, "solution": v}) + "\n"
                               for k in order for v in solutions[k]))
    script = ("from evalplus.evaluate import evaluate; "
              f"evaluate({dataset!r}, samples={str(samples)!r}, parallel=2, i_just_wanna_run=True)")
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True,
                   timeout=1800)
    theirs = json.loads((tmp / "samples_eval_results.json").read_text())["eval"]
    verdicts = {tid: [(r["base_status"], r["plus_status"]) for r in theirs[tid]] for tid in ids}
    return dataset, {tid: solutions[tid] for tid in ids}, verdicts


def test_verdicts_equal_evalplus_evaluate(
        evalplus_reference: tuple[str, dict[str, list[str]], dict[str, list[tuple[str, str]]]],
        sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real files, a CI-sized sample: benchdock's (base, plus) verdicts equal those of
    `evalplus.evaluate` on the same solutions, limits included."""
    import evalplus.data.humaneval as he_data
    import evalplus.data.mbpp as mbpp_data

    dataset, solutions, theirs = evalplus_reference
    var, name, bench_id = REAL_FILES[dataset]
    monkeypatch.setattr(he_data if dataset == "humaneval" else mbpp_data, var, str(REAL / name))
    bench = get_benchmark(bench_id)
    assert isinstance(bench, Benchmark)
    tasks = [t for t in bench.tasks() if t.id in solutions]
    bench.prepare(sandbox, tasks)
    jobs = [(t, i, code) for t in tasks for i, code in enumerate(solutions[t.id])]
    with ThreadPoolExecutor(sandbox.size) as pool:
        ours = list(pool.map(lambda j: bench.score(j[0], j[2], sandbox), jobs))
    differ = [(t.id, i, theirs[t.id][i], (v.base, v.plus), v.detail)
              for (t, i, _), v in zip(jobs, ours, strict=True)
              if (v.base, v.plus) != theirs[t.id][i]]
    assert not differ, differ
    seen = {pair for pairs in theirs.values() for pair in pairs}
    assert ("pass", "pass") in seen and ("pass", "fail") in seen
