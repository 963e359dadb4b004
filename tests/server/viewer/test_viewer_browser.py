"""`benchdock view` as a user sees it: the real command in a subprocess, a real `benchdock
worker` executing a run against a fake endpoint, Debian's headless Chromium driven by
Playwright (as the report's browser test does).

One store holds the seeded runs of tests/support/viewer_seed.py and a `count` run (the
queue tests' plugin benchmark) that the worker executes while the browser watches: its
page shows progress move without a reload, then its final figures. Then: filter and search
samples; open a trajectory; put two models side by side and see the tasks they differ on
and a diff of their answers; the dimension table with its charts; a decision's intervals;
an MCP result's link opens the run; a second viewer with a token refuses a wrong one; the
viewer's record (what MCP results read) goes when it stops.

Screenshots are kept as test artifacts in BENCHDOCK_TEST_ARTIFACTS/viewer (default
tests/artifacts/viewer). `.ci/run` sets BENCHDOCK_REQUIRE_BROWSER=1: no browser is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastmcp import Client

from benchdock.harnesses.choice.adaptive_trace import DecisionTrace
from benchdock.harnesses.choice.adaptive_views import (
    DecideRequest,
    Decision,
    DimensionDecision,
    PairInterval,
)
from benchdock.harnesses.service import links
from benchdock.server.app import create_server
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from benchdock.store.tables import Run
from tests.conftest import ROOT, make_settings
from tests.harnesses.engine.test_pg_workers import plugin_site, start_worker, worker_env
from tests.harnesses.report.test_report_browser import FLAGS, PROBE, _browser
from tests.support.fake_endpoint import CountingEndpoint
from tests.support.mcp_json import payload
from tests.support.viewer_seed import DIFFERING, NEEDLE, STEP_COMMAND, seed_viewer_store

TASKS = 30
TOKEN = "browser-test-token-0123456789abcdef"
DECISION = "0123456789ab"


def artifacts() -> Path:
    out = Path(os.environ.get("BENCHDOCK_TEST_ARTIFACTS", ROOT / "tests" / "artifacts"))
    out = out / "viewer"
    out.mkdir(parents=True, exist_ok=True)
    return out


class Viewer:
    """`benchdock view --port 0` in a subprocess; its URL is the line it prints."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "benchdock.server.cli", "view", "--port", "0"],
                env=env, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()  # blocks until it listens
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            pytest.fail(f"benchdock view printed {line!r}; its log:\n{log.read_text()}")
        self.base = line.removesuffix("/runs")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def bed(tmp_path: Path) -> Iterator[dict[str, Any]]:
    chromium = _browser()
    endpoint = CountingEndpoint(delay_s=0.3)
    home = tmp_path / "home"
    settings = make_settings(home, endpoint.url, sandbox="local")
    db = make_engine(settings.database_url)
    seeded = seed_viewer_store(db)
    run_id = "count0live01"
    q.add_run(db, Run(id=run_id, benchmark="count", benchmark_version="count 0.1.0",
                      dataset_hash=f"count-{TASKS}", model="fake-counter",
                      endpoint_url=endpoint.url, task_ids=[f"count/{t}" for t in range(TASKS)],
                      total=TASKS, concurrency=1,
                      params={"temperature": 0.0, "top_p": 1.0, "max_tokens": 16}))
    cfg = tmp_path / "endpoints.toml"
    cfg.write_text(f'[[endpoints]]\nurl = "{endpoint.url}"\nconcurrency = 1\n')
    env = worker_env(home, settings.database_url, cfg, plugin_site(tmp_path / "site"),
                     tmp_path / "scored.log") | {"BENCHDOCK_COUNT_TASKS": str(TASKS)}
    env.pop("BENCHDOCK_HTTP_TOKEN", None)
    viewer = Viewer(env, tmp_path / "viewer.log")
    # the second viewer keeps its record in a home of its own: MCP links name the first
    secured = Viewer(env | {"BENCHDOCK_HTTP_TOKEN": TOKEN,
                            "BENCHDOCK_HOME": str(tmp_path / "home-token")},
                     tmp_path / "viewer-token.log")
    trace = DecisionTrace(home, DECISION, DecideRequest(models=["m-a", "m-b"], budget_minutes=20))
    for tasks, lo, hi in ((5, -0.95, 0.9), (10, -0.6, 0.7), (20, -0.2, 0.55), (30, 0.02, 0.4)):
        pair = PairInterval(a="m-a", b="m-b", lower=lo, upper=hi, tasks=tasks,
                            verdict="m-a better" if lo > 0 else "open")
        trace.record(Decision(
            decision_id=DECISION, status="finished" if lo > 0 else "running",
            verdict="m-a is better under the priorities" if lo > 0 else "in progress",
            winner="m-a" if lo > 0 else None, overall=[pair], minutes=4.2, full_minutes=31.0,
            notes=[], benchmarks=[], dimensions=[DimensionDecision(
                dimension="generation", weight=1.0, benchmark="humaneval-plus",
                status="separated" if lo > 0 else "open", winner="m-a" if lo > 0 else None,
                intervals=[pair], tasks=tasks, population=60)]))
    worker: list[subprocess.Popen[bytes]] = []
    try:
        yield {"chromium": chromium, "db": db, "seeded": seeded, "run": run_id, "env": env,
               "home": home, "viewer": viewer, "secured": secured, "worker": worker,
               "settings": settings, "endpoint": endpoint}
    finally:
        for p in worker:
            if p.poll() is None:
                p.terminate()
                p.wait(30)
        viewer.stop()
        secured.stop()
        endpoint.close()


def done_of(page: Any) -> int:
    return int(page.locator("#done").inner_text())


def test_viewer_in_chromium(bed: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    out = artifacts()
    base, s = bed["viewer"].base, bed["seeded"]
    link = _mcp_view_url(bed)  # get_run through the MCP server, beside the running viewer
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=bed["chromium"], args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            # 1. a run while it executes: progress moves on the open page, no reload
            page.goto(f"{base}/runs/{bed['run']}")
            expect(page.locator("#run-state .badge")).to_have_text("queued")
            assert done_of(page) == 0
            bed["worker"].append(start_worker(bed["env"], bed["home"]))
            seen = [0]
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and len(set(seen)) < 3:
                now = done_of(page)
                if now != seen[-1]:
                    seen.append(now)
                if 0 < now < TASKS and len(set(seen)) == 2:
                    page.screenshot(path=str(out / "run-live.png"), full_page=True)
                time.sleep(0.2)
            assert len(set(seen)) >= 3 and seen == sorted(seen), seen  # it moved, and up
            assert any(0 < n < TASKS for n in seen), seen  # seen mid-run, not only at the end
            expect(page.locator("#run-state .badge")).to_have_text("succeeded", timeout=120_000)
            expect(page.locator("#done")).to_have_text(str(TASKS))
            expect(page.locator("#scores")).to_contain_text("pass@1")
            page.screenshot(path=str(out / "run-done.png"), full_page=True)

            # 2. filter and search samples
            page.goto(f"{base}/runs/{s.a}/samples")
            page.select_option("#f-verdict", "fail")
            page.click("#apply")
            expect(page.locator("#match-count")).to_contain_text("4 samples match")
            tasks = page.locator("#samples tbody tr").evaluate_all(
                "rows => rows.map(r => r.dataset.task)")
            assert tasks == ["HumanEval/6", "HumanEval/7", "HumanEval/8", "HumanEval/9"]
            assert "verdict=fail" in page.url
            page.goto(f"{base}/runs/{s.b}/samples")
            page.fill("#f-q", NEEDLE.lower())
            page.click("#apply")
            expect(page.locator("#samples tbody tr")).to_have_count(1)
            expect(page.locator("#samples tbody tr")).to_have_attribute("data-task", "HumanEval/4")
            page.screenshot(path=str(out / "samples-search.png"), full_page=True)

            # 3. a trajectory, step by step
            page.goto(f"{base}/runs/{s.swe}/samples")
            page.click("text=toolz__toolz-1")
            steps = page.locator("ol.trajectory > li")
            expect(steps).to_have_count(5)
            expect(steps.nth(0)).to_contain_text(STEP_COMMAND)
            expect(steps.nth(1)).to_contain_text("TypeError: got an unexpected keyword")
            page.screenshot(path=str(out / "trajectory.png"), full_page=True)

            # 4. two models side by side: the tasks they differ on, then one task's diff
            page.goto(f"{base}/compare")
            page.select_option("#f-benchmark", "humaneval-plus")
            page.select_option("#f-models", ["m-a", "m-b"])
            page.click("#side-apply")
            expect(page.locator("#differ-heading")).to_contain_text("5 of 10 shared tasks differ")
            rows = page.locator("#side-tasks tbody tr").evaluate_all(
                "rows => rows.map(r => r.dataset.task)")
            assert set(rows) == DIFFERING
            expect(page.locator("#pair-tests")).to_contain_text("m-a vs m-b")
            page.screenshot(path=str(out / "side-by-side.png"), full_page=True)
            page.locator('#side-tasks tr[data-task="HumanEval/4"] >> text=answers and diff').click()
            expect(page.locator(".diff .add")).to_have_text(["+    # m-b", "+    return 0"])
            expect(page.locator(".diff .del")).to_have_text(["-    # m-a", "-    return sum(xs)"])
            page.screenshot(path=str(out / "side-by-side-diff.png"), full_page=True)

            # 5. the dimension table and the report's charts
            page.goto(f"{base}/dimensions")
            page.wait_for_load_state("load")
            images = {i["id"]: i for i in page.evaluate(PROBE)}
            assert set(images) == {"radar", "scatter"}
            for img in images.values():
                assert img["complete"] and img["w"] > 400 and img["colours"] > 8, img
            page.screenshot(path=str(out / "dimensions.png"), full_page=True)

            # 6. a decision and its intervals as they narrowed
            page.goto(f"{base}/decisions/{DECISION}")
            expect(page.locator("#verdict")).to_contain_text("m-a is better")
            expect(page.locator("svg.history polygon.band")).to_have_count(1)
            page.screenshot(path=str(out / "decision.png"), full_page=True)

            # 7. an MCP result's link opens the run in this viewer
            assert link == f"{base}/runs/{s.a}"
            page.goto(link)
            expect(page.locator("h1")).to_contain_text("m-a on humaneval-plus")
            assert errors == [], errors  # no script, style or image refused or broken

            # 8. the viewer with a token refuses a wrong one, and lets the right one in
            secured = bed["secured"].base
            page.goto(f"{secured}/runs")
            expect(page.locator("h1")).to_contain_text("needs the token")
            page.fill("input[name=token]", "not-the-token-0123456789")
            with page.expect_response(lambda r: r.url.endswith("/login")) as refused:
                page.click("text=Log in")
            assert refused.value.status == 401
            expect(page.locator("#wrong-token")).to_be_visible()
            page.screenshot(path=str(out / "wrong-token.png"), full_page=True)
            page.fill("input[name=token]", TOKEN)
            page.click("text=Log in")
            expect(page.locator("#runs")).to_be_visible()
            assert page.url == f"{secured}/runs"
        finally:
            browser.close()
    wrong = httpx.get(f"{bed['secured'].base}/runs",
                      headers={"authorization": "Bearer not-the-token-0123456789"})
    assert wrong.status_code == 401
    right = httpx.get(f"{bed['secured'].base}/runs", headers={"authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200 and bed["run"] in right.text
    # the record MCP results read exists while the viewer runs, and goes when it stops
    record = links.record_path(bed["home"])
    assert json.loads(record.read_text())["url"] == bed["viewer"].base
    bed["viewer"].stop()
    assert not record.exists()
    for name in ("run-live", "run-done", "samples-search", "trajectory", "side-by-side",
                 "side-by-side-diff", "dimensions", "decision", "wrong-token"):
        assert (out / f"{name}.png").stat().st_size > 10_000, name


def _mcp_view_url(bed: dict[str, Any]) -> str:
    import anyio

    async def ask() -> str:
        async with Client(create_server(bed["settings"])) as c:
            got = await c.call_tool("get_run", {"run_id": bed["seeded"].a})
            return str(payload(got)["view_url"])

    return anyio.run(ask)
