"""BFCL scoring checked against known answers: an in-process fake endpoint answers every
question with BFCL's own ground truth (100%) or with one argument changed (0%, with the
checker's reason recorded), through the whole run engine, the recording proxy and bfcl-eval
itself in its own environment. Also the faults a real server will not show on demand: an
endpoint that rejects `tools`, malformed tool calls, an endpoint that dies mid-run."""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from benchdock.harnesses.benchmarks.bfcl.environment import EnvironmentMissing, load_env
from benchdock.harnesses.config import default_envs_dir
from benchdock.harnesses.contract.registry import UnknownBenchmark, get_benchmark
from benchdock.harnesses.engine.executor import RunExecutor
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from benchdock.store.tables import Run
from tests.conftest import make_settings

Answer = Callable[[dict[str, Any]], dict[str, Any] | int]


@pytest.fixture(scope="module")
def data_dir() -> Path:
    try:
        return load_env(default_envs_dir()).data_dir
    except EnvironmentMissing as exc:
        if os.environ.get("BENCHDOCK_REQUIRE_BFCL") == "1":
            pytest.fail(f"BENCHDOCK_REQUIRE_BFCL=1 but {exc}")
        pytest.skip(str(exc))


def load(data_dir: Path, category: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    def rows(path: Path) -> list[dict[str, Any]]:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    entries = rows(data_dir / f"BFCL_v4_{category}.json")
    truth = {r["id"]: r["ground_truth"]
             for r in rows(data_dir / "possible_answer" / f"BFCL_v4_{category}.json")}
    return entries, truth


def concrete(value: Any) -> Any:
    """A value as a model would write it: inside a dict parameter each key again lists its
    accepted values (take the first); a list is a value as it stands."""
    if isinstance(value, dict):
        return {k: concrete(first_choice(v)) for k, v in value.items() if first_choice(v) != ""}
    if isinstance(value, list):
        return [concrete(x) if isinstance(x, dict) else x for x in value]
    return value


def first_choice(values: list[Any]) -> Any:
    """The first accepted value that is not BFCL's "" (= may be left out)."""
    return next((v for v in values if v != ""), "")


def calls_from_truth(truth: list[dict[str, Any]], tweak: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """BFCL's possible answers as concrete calls: each parameter's first accepted value
    ("" alone means it may be left out); `tweak` changes the first argument's value."""
    calls = []
    for call in truth:
        (name, params), = call.items()
        args = {p: concrete(first_choice(v)) for p, v in params.items() if first_choice(v) != ""}
        if tweak:
            p = next(iter(args))
            v = args[p]
            args[p] = (v + 1 if isinstance(v, (int, float)) and not isinstance(v, bool)
                       else not v if isinstance(v, bool) else f"{v}_wrong" if isinstance(v, str)
                       else [*v, 999] if isinstance(v, list) else {"wrong": 1})
        calls.append((name, args))
    return calls


def prompting_text(calls: list[tuple[str, dict[str, Any]]]) -> str:
    return "[" + ", ".join(f"{n}({', '.join(f'{k}={v!r}' for k, v in a.items())})"
                           for n, a in calls) + "]"


def tool_calls(calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{"index": i, "id": f"call_{i}", "type": "function",
             "function": {"name": n.replace(".", "_"), "arguments": json.dumps(a)}}
            for i, (n, a) in enumerate(calls)]


def fake_endpoint(answer: Answer, seen: list[dict[str, Any]] | None = None) -> httpx.MockTransport:
    """Streams what `answer(request body)` returns: {"content": ...} and/or {"tool_calls": ...};
    an int is an HTTP error status."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if seen is not None:
            seen.append(body)
        out = answer(body)
        if isinstance(out, int):
            return httpx.Response(out, json={"error": {"message": f"fake refusal {out}"}})
        delta: dict[str, Any] = {"content": out.get("content")}
        if out.get("tool_calls"):
            delta["tool_calls"] = out["tool_calls"]
        usage = {"prompt_tokens": 11, "completion_tokens": 7}
        if not body.get("stream"):  # BFCL's handler does not stream; the proxy forwards as is
            message = {"role": "assistant", **delta}
            return httpx.Response(200, json={
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": usage, "timings": {"prompt_ms": 12.5}})
        events = [{"choices": [{"delta": delta}]},
                  {"choices": [{"delta": {}, "finish_reason": "stop"}]},
                  {"choices": [], "usage": usage}]
        sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return httpx.Response(200, content=sse.encode(), headers={"content-type": "text/event-stream"})

    return httpx.MockTransport(handler)


def last_user(body: dict[str, Any]) -> str:
    users = [m for m in body["messages"] if m.get("role") == "user"]
    return str(users[-1]["content"]) if users else ""


def single_turn_answer(entries: list[dict[str, Any]], truth: dict[str, Any], mode: str,
                       tweak: bool = False) -> Answer:
    by_question = {e["question"][0][-1]["content"]: truth[e["id"]] for e in entries}

    def answer(body: dict[str, Any]) -> dict[str, Any] | int:
        calls = calls_from_truth(by_question[last_user(body)], tweak)
        if mode == "native":
            return {"tool_calls": tool_calls(calls)}
        return {"content": prompting_text(calls)}

    return answer


def run_fake(tmp_path: Path, benchmark: str, task_ids: list[str], mode: str,
             transport: httpx.MockTransport, run_id: str = "bfcl-fake") -> tuple[str, Run, Any]:
    settings = make_settings(tmp_path, "http://fake/v1", sandbox="local")
    db = make_engine(settings.database_url)
    bench = get_benchmark(benchmark)
    run = Run(id=run_id, benchmark=benchmark, benchmark_version=bench.version,
              dataset_hash="h", model="fake", endpoint_url="http://fake/v1",
              task_ids=task_ids, total=len(task_ids), status="running", concurrency=4,
              params={"temperature": 0.0, "top_p": 1.0, "max_tokens": 256, "options": {"mode": mode}})
    q.add_run(db, run)
    status = anyio.run(RunExecutor(settings, db, run, transport).execute)
    done = q.get_run(db, run.id)
    assert done is not None
    return status, done, db


@pytest.mark.parametrize("mode", ["native", "prompting"])
def test_ground_truth_scores_full_marks_on_a_whole_category(tmp_path: Path, data_dir: Path,
                                                             mode: str) -> None:
    entries, truth = load(data_dir, "simple_python")
    status, run, db = run_fake(tmp_path, "bfcl-simple", [e["id"] for e in entries], mode,
                               fake_endpoint(single_turn_answer(entries, truth, mode)))
    assert status == "succeeded", run.error
    assert run.metrics is not None
    cat = run.metrics["bfcl"]["per_category"]["simple_python"]
    assert (cat["correct"], cat["n"], cat["accuracy"]) == (400, 400, 1.0)
    assert run.metrics["bfcl"]["mode"] == mode
    # BFCL's own aggregate: simple_python is a third of the non-live "simple" group
    overall = run.metrics["bfcl"]["overall"]
    assert overall["non_live"] == pytest.approx(1 / 3 / 4, abs=1e-3)
    sample = q.all_samples(db, run.id)[0]
    assert sample.extra is not None and sample.extra["exchanges"][0]["completion_tokens"] == 7
    assert sample.ttft_s == pytest.approx(0.0125)  # from the server's own timings


@pytest.mark.parametrize("mode", ["native", "prompting"])
def test_one_wrong_argument_scores_zero_with_the_checkers_reason(tmp_path: Path, data_dir: Path,
                                                                 mode: str) -> None:
    entries, truth = load(data_dir, "simple_python")
    entries = entries[:25]
    status, run, db = run_fake(tmp_path, "bfcl-simple", [e["id"] for e in entries], mode,
                               fake_endpoint(single_turn_answer(entries, truth, mode, tweak=True)))
    assert status == "succeeded", run.error
    assert run.metrics is not None
    assert run.metrics["bfcl"]["per_category"]["simple_python"]["accuracy"] == 0.0
    samples = q.all_samples(db, run.id)
    assert all(s.verdict == "fail" for s in samples)
    first = samples[0]  # calculate_triangle_area(base=10 -> 11, height=5)
    assert first.detail is not None and "value_error" in first.detail
    assert "base" in first.detail and "11" in first.detail
    assert first.extra is not None and first.extra["possible_answer"]


def test_multi_turn_ground_truth_scores_full_marks(tmp_path: Path, data_dir: Path) -> None:
    entries, truth = load(data_dir, "multi_turn_base")

    def keywords_only(entry: dict[str, Any]) -> bool:
        # BFCL's prompt asks for keyword arguments and its decoder drops positional ones
        calls = [ast.parse(c, mode="eval").body for turn in truth[entry["id"]] for c in turn]
        return all(isinstance(c, ast.Call) and not c.args for c in calls)

    entries = [e for e in entries if keywords_only(e)][:4]
    turns = {}
    for e in entries:
        for question, calls in zip(e["question"], truth[e["id"]], strict=True):
            if question:
                turns[question[-1]["content"]] = calls

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        calls = turns.get(last_user(body))
        if calls is None or body["messages"][-1]["role"] != "user":
            return {"content": "Done."}  # after the tool results: end the turn
        return {"content": "[" + ", ".join(calls) + "]"}

    # each turn's calls are answered once; the tool results then end the turn
    status, run, db = run_fake(tmp_path, "bfcl-multi-turn-base", [e["id"] for e in entries],
                               "prompting", fake_endpoint(answer))
    assert status == "succeeded", run.error
    samples = q.all_samples(db, run.id)
    assert [s.verdict for s in samples] == ["pass"] * 4, [s.detail for s in samples]
    for s, e in zip(samples, entries, strict=True):
        assert s.extra is not None and s.extra["steps"] == [2] * len(e["question"])
        assert json.loads(s.code or "")[0][0]  # the decoded calls of turn 1, as JSON


def test_endpoint_rejecting_tools_is_a_per_sample_verdict(tmp_path: Path, data_dir: Path) -> None:
    entries, _ = load(data_dir, "simple_python")
    status, run, db = run_fake(tmp_path, "bfcl-simple", [e["id"] for e in entries[:3]], "native",
                               fake_endpoint(lambda body: 400 if body.get("tools") else {}))
    assert status == "succeeded"
    samples = q.all_samples(db, run.id)
    assert all(s.verdict == "error" for s in samples)
    assert all("400" in (s.detail or "") and "fake refusal" in (s.detail or "") for s in samples)


def test_malformed_or_missing_calls_fail_with_the_decoders_reason(tmp_path: Path, data_dir: Path) -> None:
    entries, _ = load(data_dir, "simple_python")
    bad = [{"index": 0, "id": "c0", "type": "function",
            "function": {"name": "calculate_triangle_area", "arguments": "{base: 10,"}}]
    status, run, db = run_fake(tmp_path, "bfcl-simple", [entries[0]["id"]], "native",
                               fake_endpoint(lambda body: {"tool_calls": bad}))
    assert status == "succeeded"
    (s,) = q.all_samples(db, run.id)
    assert s.verdict == "fail" and "decoder" in (s.detail or "")
    status, run, db = run_fake(tmp_path / "b", "bfcl-simple", [entries[1]["id"]], "prompting",
                               fake_endpoint(lambda body: {"content": "I cannot help with that."}))
    assert status == "succeeded"
    (s,) = q.all_samples(db, run.id)
    assert s.verdict == "fail" and "decoder_failed" in (s.detail or "")


def test_dead_endpoint_fails_the_run_and_resume_answers_from_the_cache(tmp_path: Path,
                                                                      data_dir: Path) -> None:
    entries, truth = load(data_dir, "simple_python")
    entries = entries[:6]
    good = single_turn_answer(entries, truth, "prompting")
    seen: list[dict[str, Any]] = []
    dying = fake_endpoint(lambda b: good(b) if len(seen) <= 3 else 503, seen)
    settings = make_settings(tmp_path, "http://fake/v1", sandbox="local")
    status, run, db = run_fake(tmp_path, "bfcl-simple", [e["id"] for e in entries], "prompting",
                               dying)
    assert status == "failed" and "503" in (run.error or "")
    scored = [s for s in q.all_samples(db, run.id) if s.verdict]
    assert 1 <= len(scored) <= 3 and all(s.verdict == "pass" for s in scored)
    again: list[dict[str, Any]] = []
    status = anyio.run(RunExecutor(settings, db, run, fake_endpoint(good, again)).execute)
    assert status == "succeeded"
    assert all(s.verdict == "pass" for s in q.all_samples(db, run.id))
    assert len(again) == len(entries) - len(scored)  # scored samples are not asked again


def test_unknown_and_online_categories_are_refused_clearly() -> None:
    with pytest.raises(UnknownBenchmark) as exc:
        get_benchmark("bfcl-simple-cobol")
    assert "bfcl-simple-java" in str(exc.value) and "bfcl-multi-turn-base" in str(exc.value)
    assert get_benchmark("bfcl-parallel_multiple").id == "bfcl-parallel-multiple"
    online = get_benchmark("bfcl-web-search-base")
    assert "internet" in {n.kind for n in online.info().needs if not n.optional}
    from benchdock.harnesses.contract.benchmark import DatasetUnavailable

    with pytest.raises(DatasetUnavailable, match="internet"):
        online.tasks()


def test_limit_takes_the_first_n_of_each_category() -> None:
    suite = get_benchmark("bfcl")
    ids = ["simple_python_0", "simple_python_1", "multiple_0", "multiple_1", "live_simple_0-0-0"]
    assert suite.first(ids, 1) == ["simple_python_0", "multiple_0", "live_simple_0-0-0"]
    assert get_benchmark("humaneval").first(ids, 2) == ids[:2]
