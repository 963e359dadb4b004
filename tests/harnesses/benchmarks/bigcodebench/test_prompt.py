"""Asking and extracting as bigcodebench 0.2.5 does (its openai backend, its sanitiser);
the strings are checked character for character on real tasks."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchdock.harnesses.benchmarks.bigcodebench.prompt import (
    INSTRUCTION_PREFIX,
    calibrated_code,
    sanitize,
)
from benchdock.harnesses.contract.registry import get_benchmark


def test_complete_prompt_is_upstreams_user_message(real_data: Path) -> None:
    bench = get_benchmark("bigcodebench-complete")
    task = next(t for t in bench.tasks() if t.id == "BigCodeBench/0")
    msgs = bench.messages(task)
    assert len(msgs) == 1 and msgs[0]["role"] == "user"  # no system message upstream
    text = msgs[0]["content"]
    assert text == (INSTRUCTION_PREFIX + "\n```\n" + task.data["complete_prompt"].strip()
                    + "\n```\n")
    assert text.startswith("Please provide a self-contained Python script that solves the "
                           "following problem in a markdown code block:\n```\nimport itertools")


def test_instruct_prompt_is_upstreams_user_message(real_data: Path) -> None:
    bench = get_benchmark("bigcodebench-instruct")
    task = next(t for t in bench.tasks() if t.id == "BigCodeBench/0")
    text = bench.messages(task)[0]["content"]
    assert text == INSTRUCTION_PREFIX + "\n" + task.data["instruct_prompt"].strip() + "\n"
    assert "```\nimport itertools" in text and "You should write self-contained code" in text


def test_run_defaults_are_upstreams() -> None:
    bench = get_benchmark("bigcodebench-complete")
    assert bench.run_defaults == {"max_tokens": 1280}  # max_new_tokens' default


ANSWER = """Here is my solution.
```python
import os
import math

def helper(x):
    print(x)

def task_func(n):
    helper(n)
    return math.sqrt(n)

task_func(4)
print(task_func(9))
```
It works."""


def test_sanitize_keeps_reached_definitions_and_cuts_trailing_calls() -> None:
    got = sanitize(ANSWER, "task_func")
    # helper has no return (EvalPlus's sanitiser would drop it; bigcodebench keeps it)
    assert got == ("import os\nimport math\ndef helper(x):\n    print(x)\n"
                   "def task_func(n):\n    helper(n)\n    return math.sqrt(n)")


def test_sanitize_falls_back_to_the_longest_parsing_block() -> None:
    assert sanitize("x = 1\ny = 2\n", "task_func") == "x = 1\ny = 2"
    assert sanitize("", "task_func") == ""


def test_calibrated_code_puts_the_prompts_imports_first(real_data: Path) -> None:
    bench = get_benchmark("bigcodebench-complete")
    task = next(t for t in bench.tasks() if t.id == "BigCodeBench/0")
    code = calibrated_code(task, "def task_func(numbers=[1]):\n    return 0.0")
    assert code.startswith("import itertools\nfrom random import shuffle\ndef task_func(")
    assert "\n    pass\ndef task_func(numbers=[1]):" in code


@pytest.mark.parametrize("bench_id", ["bigcodebench-complete", "bigcodebench-instruct"])
def test_reference_answer_sanitises_to_the_canonical_solution(real_data: Path, bench_id: str) -> None:
    bench = get_benchmark(bench_id)
    for task in bench.tasks()[:40]:
        code = bench.extract(task, bench.reference(task))
        assert "def task_func" in code, task.id
        compile(code, task.id, "exec")
