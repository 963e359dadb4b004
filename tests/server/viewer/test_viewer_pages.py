"""The viewer's pages on a seeded store, through Starlette's test client (in process, fast):
what each page shows is checked against the known answers, verdicts and evidence of
`tests/support/viewer_seed.py` — filters, search, the trajectory, the tasks two models
differ on and the paired test over them, the dimension table and charts, a decision's
intervals, cancel. The browser test (test_viewer_browser.py) drives the real command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from benchdock.harnesses.choice import stats
from benchdock.harnesses.choice.adaptive_trace import DecisionTrace
from benchdock.harnesses.choice.adaptive_views import (
    DecideRequest,
    Decision,
    DimensionDecision,
    PairInterval,
)
from benchdock.server.viewer.app import create_viewer
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from tests.conftest import make_settings
from tests.support.viewer_seed import (
    A_PASSES,
    B_PASSES,
    DIFFERING,
    NEEDLE,
    STEP_COMMAND,
    STEP_OUTPUT,
    Seeded,
    seed_viewer_store,
)

LOCAL = "http://127.0.0.1:8766"


@pytest.fixture
def bed(tmp_path: Path) -> tuple[TestClient, Seeded, Path]:
    settings = make_settings(tmp_path, "http://127.0.0.1:9/v1", sandbox="local")
    db = make_engine(settings.database_url)
    seeded = seed_viewer_store(db)
    return TestClient(create_viewer(settings, db), base_url=LOCAL), seeded, tmp_path


def rows(html: str, attr: str = "data-task") -> list[str]:
    return re.findall(rf'<tr {attr}="([^"]+)"', html)


def test_runs_list_filters_and_shows_progress(bed: tuple[TestClient, Seeded, Path]) -> None:
    client, s, _ = bed
    page = client.get("/runs").text
    assert set(rows(page, "data-run")) == {s.a, s.b, s.swe, s.aider, s.queued}
    only_b = client.get("/runs", params={"model": "m-b"}).text
    assert set(rows(only_b, "data-run")) == {s.b, s.queued}
    queued = client.get("/runs", params={"status": "queued"}).text
    assert rows(queued, "data-run") == [s.queued]
    assert '<span class="done">0/5</span>' in queued
    # a page with a queued or running run refreshes its rows; one of ended runs does not
    assert 'hx-trigger="every 2s"' in page
    assert "hx-trigger" not in client.get("/runs", params={"status": "succeeded"}).text


def test_run_page_scores_settings_and_status(bed: tuple[TestClient, Seeded, Path]) -> None:
    client, s, _ = bed
    page = client.get(f"/runs/{s.a}").text
    assert "m-a on humaneval-plus" in page
    assert f'<b id="done">{10}</b> of <span id="total">10</span>' in page
    assert "0.600" in page  # pass@1 = 6 of 10
    assert "temperature" in page and "max_tokens" in page
    # a finished run's status does not poll; a queued one does, and can be cancelled
    assert 'hx-trigger="every 1s"' not in page
    queued = client.get(f"/runs/{s.queued}").text
    assert 'hx-trigger="every 1s"' in queued and 'id="cancel"' in queued
    assert client.get("/runs/nope").status_code == 404


def test_samples_filter_by_verdict_part_timing_and_search(
        bed: tuple[TestClient, Seeded, Path]) -> None:
    client, s, _ = bed
    fails = client.get(f"/runs/{s.a}/samples", params={"verdict": "fail"}).text
    assert rows(fails) == [f"HumanEval/{i}" for i in range(10) if i not in A_PASSES]
    # search: the needle is in one failing test output of m-b only
    found = client.get(f"/runs/{s.b}/samples", params={"q": NEEDLE.upper()}).text
    assert rows(found) == ["HumanEval/4"]
    assert rows(client.get(f"/runs/{s.a}/samples", params={"q": NEEDLE}).text) == []
    # in the evidence JSON too (an aider attempt's test outcomes live in `extra`)
    assert rows(client.get(f"/runs/{s.aider}/samples", params={"q": '"language": "go"'}).text
                ) == ["go/ex0", "go/ex1"]
    # a LIKE wildcard is a character, not a wildcard
    assert rows(client.get(f"/runs/{s.a}/samples", params={"q": "%"}).text) == []
    # parts (aider's languages), from the benchmark's declaration
    rust = client.get(f"/runs/{s.aider}/samples", params={"part": "rust"}).text
    assert rows(rust) == ["rust/ex0", "rust/ex1", "rust/ex2"]
    # timings: latency is 0.5 + i seconds, tokens 50 + 10 i
    slow = client.get(f"/runs/{s.a}/samples",
                      params={"min_latency": "6", "max_tokens": "130", "sort": "-latency"}).text
    assert rows(slow) == ["HumanEval/8", "HumanEval/7", "HumanEval/6"]
    assert '<b>3</b> samples match' in slow


def test_sample_page_shows_answer_code_verdict_and_trajectory(
        bed: tuple[TestClient, Seeded, Path]) -> None:
    client, s, _ = bed
    page = client.get(f"/runs/{s.b}/samples/HumanEval/4").text
    assert "def solve_4(xs):" in page and "# m-b" in page
    assert NEEDLE in page and "v-fail" in page
    # the prompt comes from the dataset here (the test fixture holds HumanEval/2, not /4)
    assert "the dataset installed here has no task HumanEval/4" in page
    assert "def separate_paren_groups" not in page
    with_prompt = client.get(f"/runs/{s.a}/samples/HumanEval/2").text
    assert 'id="prompt"' in with_prompt and "def truncate_number" in with_prompt
    assert "is not the run&#39;s (seed)" in with_prompt  # the seeded run's dataset hash
    traj = client.get(f"/runs/{s.swe}/samples/toolz__toolz-1").text
    steps = re.findall(r'<li class="(\w+)" id="step-(\d+)">', traj)
    assert [r for r, _ in steps] == ["assistant", "observation", "assistant", "observation",
                                     "exit"]
    assert f"$ {STEP_COMMAND}" in traj and STEP_OUTPUT in traj
    assert "4 passed" in traj  # the test log, as text
    # hostile text is shown as text
    assert "<script>" not in client.get(f"/runs/{s.a}/samples/HumanEval/0").text.split(
        "<body>")[1]


def test_side_by_side_differing_tasks_and_paired_test(
        bed: tuple[TestClient, Seeded, Path]) -> None:
    client, _, _ = bed
    shared = client.get("/compare", params=[("models", "m-a"), ("models", "m-b")]).text
    assert "humaneval-plus" in shared and "mbpp-plus" in shared  # both have runs there
    page = client.get("/compare", params=[("models", "m-a"), ("models", "m-b"),
                                          ("benchmark", "humaneval-plus")]).text
    assert set(rows(page)) == DIFFERING
    assert "5 of 10 shared tasks differ" in page
    wins, losses = len(set(A_PASSES) - set(B_PASSES)), len(set(B_PASSES) - set(A_PASSES))
    test_row = re.search(r'<tr><td>m-a vs m-b</td>(.*?)</tr>', page, re.S)
    assert test_row is not None
    cells = re.findall(r'<td class="num">([^<]+)</td>', test_row.group(1))
    assert cells[:4] == ["10", str(wins), str(losses), "5"]
    assert cells[5] == f"{stats.sign_test_p(wins, losses):.3g}"
    assert 'id="side-dimensions"' in page  # compare_dimensions' cells for the two
    every = client.get("/compare", params=[("models", "m-a"), ("models", "m-b"),
                                           ("benchmark", "humaneval-plus"), ("show", "all")])
    assert len(rows(every.text)) == 10
    diff = client.get("/compare/task", params=[("models", "m-a"), ("models", "m-b"),
                                               ("benchmark", "humaneval-plus"),
                                               ("task", "HumanEval/4")]).text
    assert '<div class="del">-    return sum(xs)</div>' in diff
    assert '<div class="add">+    return 0</div>' in diff
    missing = client.get("/compare", params=[("models", "m-a"), ("models", "m-b"),
                                             ("benchmark", "swe-local")]).text
    assert "no run of m-b on swe-local" in missing


def test_dimensions_table_and_charts(bed: tuple[TestClient, Seeded, Path]) -> None:
    client, _, _ = bed
    page = client.get("/dimensions").text
    assert sorted(re.findall(r'name="models" value="([^"]+)"', page)) == ["m-a", "m-b"]
    assert "Code generation" in page or "generation" in page
    for kind in ("radar", "quality_speed"):
        png = client.get(f"/charts/{kind}.png")
        assert png.headers["content-type"] == "image/png"
        assert png.content[:8] == b"\x89PNG\r\n\x1a\n" and len(png.content) > 20_000
    assert client.get("/charts/pie.png").status_code == 400


def test_decision_page_shows_its_running_intervals(bed: tuple[TestClient, Seeded, Path]) -> None:
    client, _, home = bed
    req = DecideRequest(models=["m-a", "m-b"], budget_minutes=10, margin=0.05)
    trace = DecisionTrace(home, "abc123def456", req)
    for tasks, lo, hi in ((4, -0.9, 0.95), (8, -0.5, 0.7), (16, 0.05, 0.6)):
        pair = PairInterval(a="m-a", b="m-b", lower=lo, upper=hi, tasks=tasks,
                            verdict="m-a better" if lo > 0 else "open")
        trace.record(Decision(
            decision_id="abc123def456", status="running", verdict="in progress",
            overall=[pair], minutes=1.0, full_minutes=10.0, notes=[], benchmarks=[],
            dimensions=[DimensionDecision(dimension="generation", weight=1.0,
                                          benchmark="humaneval-plus", status="open",
                                          intervals=[pair], tasks=tasks, population=40)]))
    listing = client.get("/decisions").text
    assert "/decisions/abc123def456" in listing
    page = client.get("/decisions/abc123def456").text
    assert "[+0.050, +0.600]" in page
    band = re.search(r'<polygon class="band" points="([^"]+)"', page)
    assert band is not None and len(band.group(1).split()) == 6  # 3 points up, 3 back
    assert 'hx-trigger="every 2s"' in page  # running: it refreshes itself
    assert client.get("/decisions/../../etc").status_code == 404


def test_cancel_from_the_viewer(bed: tuple[TestClient, Seeded, Path], tmp_path: Path) -> None:
    client, s, _ = bed
    got = client.post(f"/runs/{s.queued}/cancel", follow_redirects=False)
    assert got.status_code == 303 and got.headers["location"].startswith(f"/runs/{s.queued}?")
    run = q.get_run(make_engine(f"sqlite:///{tmp_path / 'benchdock.db'}"), s.queued)
    assert run is not None and run.status == "cancelled"
    page = client.get(got.headers["location"]).text
    assert 'id="resume"' in page and 'id="message"' in page
