"""repoqa-*: known answers through RepoQA's matcher (as ported), the local construction's
determinism and format, the context length, the cap by the model's window, the dimension
rows, and the official-data path fed a file in RepoQA's format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchdock.harnesses.benchmarks.repoqa import local, matcher, official
from benchdock.harnesses.benchmarks.repoqa.benchmark import RepoQA
from benchdock.harnesses.benchmarks.repoqa.context import count_tokens
from benchdock.harnesses.client.endpoints import EndpointStatus, ModelInfo
from benchdock.harnesses.config import EndpointConfig
from benchdock.harnesses.contract.benchmark import Benchmark
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.errors import BenchdockError


def bench(name: str = "repoqa-local-4k") -> RepoQA:
    b = get_benchmark(name)
    assert isinstance(b, RepoQA) and isinstance(b, Benchmark)
    return b


def test_known_answers() -> None:
    """The needle -> pass; another needle of the same repository -> fail, naming it;
    garbage -> not a pass; the needle inside prose and a second block -> pass."""
    b = bench()
    tasks = b.tasks()[:4]
    for task, other in zip(tasks, tasks[1:] + tasks[:1], strict=True):
        right = b.score(task, b.extract(task, b.reference(task)), None)  # type: ignore[arg-type]
        assert right.verdict == "pass", right
        assert f"best match {task.entry_point} at BLEU 1.000" in (right.detail or "")
        wrong = b.score(task, b.extract(task, b.reference(other)), None)  # type: ignore[arg-type]
        assert wrong.verdict == "fail" and f"best match {other.entry_point}" in (wrong.detail or "")
        for junk in ("I could not find it.", "```python\nprint('hello')\n```", "def x(:"):
            v = b.score(task, b.extract(task, junk), None)  # type: ignore[arg-type]
            assert v.verdict in ("fail", "error"), (junk, v)
        chatty = (f"Sure. The function is:\n{b.reference(task)}\nand a usage example:\n"
                  "```python\nprint(1)\n```\n")
        assert b.score(task, b.extract(task, chatty), None).verdict == "pass"  # type: ignore[arg-type]


def test_threshold_is_applied_to_the_best_match() -> None:
    """The needle with half its lines: still the best match, but under RepoQA's 0.8."""
    b = bench()
    task = b.tasks()[0]
    code = matcher.needle_code(task.data["repo"]["content"], task.data["needle"]).split("\n")
    half = "\n".join(code[: max(2, len(code) // 2)])
    m = matcher.needle_evaluator(half, task.entry_point, task.data["repo"])
    assert m.best_target == task.entry_point and 0 < m.similarity < 0.8
    assert b.score(task, half, None).verdict in ("fail", "error")  # type: ignore[arg-type]


def test_local_set_is_deterministic_and_seeded() -> None:
    build = local.build.__wrapped__  # type: ignore[attr-defined]
    one, two = build(0), build(0)
    assert local.data_hash(one) == local.data_hash(two)
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    other = build(1)
    assert local.data_hash(other) != local.data_hash(one)
    assert bench().dataset_hash().startswith(local.data_hash(one))


def test_local_set_is_in_repoqa_format_with_descriptions_not_naming_the_needle() -> None:
    data = local.build()
    assert list(data) == ["python"] and len(data["python"]) == len(local.PACKAGES)
    for repo in data["python"]:
        assert local.PERMISSIVE.search(repo["licence"]), repo["repo"]
        assert set(repo) >= {"repo", "content", "dependency", "needles"}
        assert len(repo["needles"]) == local.NEEDLES
        for n in repo["needles"]:
            code = matcher.needle_code(repo["content"], n)
            assert code.lstrip().startswith(("def ", "async def ")), code[:80]
            assert repo["content"][n["path"]][n["start_byte"]:n["end_byte"]].startswith(
                code.lstrip()[:20])
            assert not re.search(rf"\b{re.escape(n['name'])}\b", n["description"])
            assert len(n["description"].split()) >= local.MIN_WORDS
            # the docstring left the needle: the description is not in the context verbatim
            assert n["description"].strip() not in repo["content"][n["path"]]


@pytest.mark.parametrize("length,size", [("4k", 4096), ("16k", 16384)])
def test_context_is_packed_to_the_length_with_the_needle_inside(length: str, size: int) -> None:
    b = bench(f"repoqa-local-{length}")
    tasks = b.tasks()
    assert len(tasks) >= 0.75 * local.NEEDLES * len(local.PACKAGES)
    for t in tasks:
        ctx = t.data["code_context"]
        assert 0.9 * size <= t.data["code_context_ntokens"] <= 1.01 * size + 16
        assert abs(count_tokens(ctx) - t.data["code_context_ntokens"]) <= 8
        n = t.data["needle"]
        # RepoQA puts the needle's bytes in (its indentation stays on the line before)
        assert t.data["repo"]["content"][n["path"]][n["start_byte"]:n["end_byte"]] in ctx
        assert t.prompt.startswith("Based on the function description and code context")
        assert f"\nFunction Description:{t.data['needle']['description']}\n" in t.prompt
    assert any("# Path: " in t.data["code_context"] for t in tasks)  # files are headed
    ratios = [t.data["needle_token_start"] / t.data["code_context_ntokens"] for t in tasks]
    assert min(ratios) < 0.2 and max(ratios) > 0.8  # needles early and late in the context


def test_dimension_rows_name_the_lengths() -> None:
    assert [m.dimension for m in bench("repoqa-local-4k").dimension_metrics()] == [
        "repo_understanding"]
    assert [m.dimension for m in bench("repoqa-8k").dimension_metrics()] == ["repo_understanding"]
    rows = bench("repoqa-local-32k").dimension_metrics()
    assert [m.dimension for m in rows] == ["long_context"] and "32k" in rows[0].description
    assert bench("repoqa-local-32k").part("local-32k/httpx::x") == "local-32k"
    assert "context 32768 tokens" in bench("repoqa-local-32k").version
    assert "local construction" in bench("repoqa-local-32k").version
    assert bench().run_defaults == {"max_tokens": 1024}  # RepoQA's max_new_tokens
    assert bench("repoqa-local-32k").cost.startswith("38 requests of ~36044 prompt tokens")


@pytest.mark.anyio
async def test_a_length_over_the_models_window_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fake_probe(ep: EndpointConfig) -> EndpointStatus:
        return EndpointStatus(url=ep.url, up=True, models=[
            ModelInfo(id="m", endpoint=ep.url, server="llama.cpp", context_size=8192)])

    monkeypatch.setattr("benchdock.harnesses.client.endpoints.probe", fake_probe)
    ep = EndpointConfig(url="http://127.0.0.1:1/v1")
    b8 = bench("repoqa-local-8k")
    with pytest.raises(BenchdockError, match=r"needs a context window of 10240.*repoqa-local-4k"):
        await b8.configure(ep, "m", b8.parse_options({}))
    b4 = bench("repoqa-local-4k")
    _, why = await b4.configure(ep, "m", b4.parse_options({}))
    assert why and "8192" in why


def test_official_path_reads_repoqa_format_from_the_override(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without RepoQA's data, repoqa-4k falls back to the local construction; fed the local
    set written in RepoQA's format through RepoQA's own variable, it reads that instead (the
    release cannot be downloaded here): its tasks load and its reference passes."""
    monkeypatch.delenv("REPOQA_DATA_OVERRIDE_PATH", raising=False)
    monkeypatch.setattr(official, "cache_path", lambda: tmp_path / "absent.json")
    default = bench("repoqa-4k")  # no RepoQA data: the local construction, said as such
    assert default.readiness() is None and "local construction" in default.version
    assert default.tasks()[0].id.startswith("local-4k/")
    assert default.dimension_metrics()[0].dimension == "repo_understanding"
    path = tmp_path / "repoqa.json"
    path.write_text(json.dumps(local.build()))
    monkeypatch.setenv("REPOQA_DATA_OVERRIDE_PATH", str(path))
    b = bench("repoqa-4k")
    assert b.readiness() is None and "RepoQA data 2024-04-20" in b.version
    tasks = b.tasks()
    assert len(tasks) == local.NEEDLES * len(local.PACKAGES)  # no local-only filter here
    assert tasks[0].id.startswith("4k/")
    assert b.score(tasks[0], b.extract(tasks[0], b.reference(tasks[0])), None).verdict == "pass"  # type: ignore[arg-type]
