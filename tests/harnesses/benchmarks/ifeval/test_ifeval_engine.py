"""IFEval through the whole run engine: an in-process fake endpoint answers real IFEval
prompts with hand-written responses that follow their instructions (prompt-level pass) or
break them (fail), through the recording proxy and lm-eval's checkers in IFEval's venv, in
both sandboxes. IFEval has no reference responses, so this is its contract test (right ->
pass, wrong -> fail) on a subset whose right answers can be written by hand; every
instruction type is covered one by one in test_ifeval_known_answers.py. Also the four
numbers' arithmetic and how an instruction that could not be checked is counted."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from benchdock.harnesses.benchmarks.ifeval import scoring
from benchdock.harnesses.contract.benchmark import Task
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.engine.executor import RunExecutor
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from benchdock.store.tables import Run, Sample
from tests.conftest import make_settings
from tests.support.ifeval_support import ifeval_env

# real IFEval prompts: (its instructions, a response that follows them, one that does not)
ANSWERS = {
    "IFEval/1001": (["punctuation:no_comma"], "Day one we see Kyoto and day two we rest.",
                    "Day one, Kyoto; day two, rest."),
    "IFEval/1075": (["detectable_format:json_format"], '{"answer": "yes"}',
                    "The answer is yes."),
    "IFEval/122": (["startend:quotation"], '"This whole answer is quoted."',
                   "This answer is not quoted."),
}


def fake_endpoint(answer: Callable[[str], str]) -> httpx.MockTransport:
    """A chat.completion (unstreamed, as the IFEval session asks) with `answer(prompt)`."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert not body.get("stream")
        text = answer(body["messages"][-1]["content"])
        return httpx.Response(200, json={
            "id": "x", "object": "chat.completion", "created": int(time.time()),
            "model": "fake", "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10}})

    return httpx.MockTransport(handler)


@pytest.mark.parametrize("sandbox", ["local", "docker"])
def test_right_answers_pass_and_wrong_ones_fail(tmp_path: Path, sandbox: str,
                                                request: pytest.FixtureRequest) -> None:
    ifeval_env()
    if sandbox == "docker":
        request.getfixturevalue("docker_image")
    settings = make_settings(tmp_path, "http://fake/v1", sandbox=sandbox)
    bench = get_benchmark("ifeval", settings)
    tasks = {t.id: t for t in bench.tasks() if t.id in ANSWERS}
    for tid, (ids, _, _) in ANSWERS.items():
        assert tasks[tid].data["instruction_id_list"] == ids
    by_prompt = {tasks[tid].prompt: pair for tid, (_, *pair) in ANSWERS.items()}
    db = make_engine(settings.database_url)
    for which, label in ((0, "right"), (1, "wrong")):
        run = Run(id=label, benchmark="ifeval", benchmark_version=bench.version,
                  dataset_hash=bench.dataset_hash(), model="fake", endpoint_url="http://fake/v1",
                  task_ids=list(ANSWERS), total=len(ANSWERS), status="running",
                  # max_tokens differs: the generation cache must not answer the second run
                  params={"temperature": 0.0, "top_p": 0.95, "max_tokens": 1280 - which})
        q.add_run(db, run)
        answer = fake_endpoint(lambda p, w=which: by_prompt[p][w])  # type: ignore[misc]
        assert anyio.run(RunExecutor(settings, db, run, answer).execute) == "succeeded"
        done = q.get_run(db, label)
        assert done is not None and done.metrics is not None
        assert done.sandbox_used == sandbox
        figures = done.metrics["ifeval"]
        want = 1.0 if label == "right" else 0.0
        assert done.metrics["scores"]["pass@1"]["value"] == want
        for key, _ in scoring.FIGURES:
            assert figures[key]["value"] == want and figures[key]["n"] == 3, (key, figures)
        for s in q.all_samples(db, label):
            assert s.verdict == ("pass" if label == "right" else "fail"), s
            ev = s.extra or {}
            (row,) = ev["instructions"]
            assert row["id"] == ANSWERS[s.task_id][0][0] and row["strict"] is (label == "right")
            assert scoring.prompt_strict(s) == want
            assert label == "right" or row["id"] in (s.detail or "")
        titles = [t.title for t in bench.tables(figures, {})]
        assert titles == ["IFEval: the four official numbers", "IFEval by instruction type"]


def _sample(instructions: list[dict[str, Any]]) -> Sample:
    task = Task(id="t", prompt="p", entry_point="", data={
        "instruction_id_list": [r["id"] for r in instructions],
        "kwargs": [{} for _ in instructions]})
    out = scoring.outcome(task, "response", [{k: v for k, v in r.items() if k != "id"}
                                             for r in instructions], "checker")
    return Sample(run_id="r", task_id="t", verdict=out.verdict, detail=out.detail,
                  extra=out.extra)


def test_the_four_numbers_and_what_could_not_be_checked() -> None:
    samples = [
        _sample([{"id": "a", "strict": True, "loose": True},
                 {"id": "b", "strict": False, "loose": True}]),  # strict fail, loose pass
        _sample([{"id": "a", "strict": True, "loose": True}]),  # pass
        # one instruction could not be checked, the other failed: the prompt failed
        _sample([{"id": "n", "strict": None, "loose": None, "unavailable": "no punkt"},
                 {"id": "b", "strict": False, "loose": False}]),
        # could not be checked, nothing failed: neither pass nor fail
        _sample([{"id": "n", "strict": None, "loose": None, "unavailable": "no punkt"},
                 {"id": "a", "strict": True, "loose": True}]),
    ]
    assert [s.verdict for s in samples] == ["fail", "pass", "fail", "error"]
    assert "no punkt" in (samples[3].detail or "")
    assert [scoring.prompt_strict(s) for s in samples] == [0.0, 1.0, 0.0, None]
    d = scoring.summarise(samples, "checker", None)
    assert (d["prompt_level_strict"]["followed"], d["prompt_level_strict"]["n"]) == (1, 3)
    assert (d["prompt_level_loose"]["followed"], d["prompt_level_loose"]["n"]) == (2, 3)
    assert (d["inst_level_strict"]["followed"], d["inst_level_strict"]["n"]) == (3, 5)
    assert (d["inst_level_loose"]["followed"], d["inst_level_loose"]["n"]) == (4, 5)
    assert d["undecided_prompts"] == 1 and d["undecided_instructions"] == 2
    assert d["per_instruction"]["b"] == {"n": 2, "strict": 0, "loose": 1}
    note = scoring.tables(d)[0].note or ""
    assert "1 prompts and 2 instructions could not be checked" in note
