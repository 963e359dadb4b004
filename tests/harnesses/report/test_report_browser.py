"""The HTML report opened in a real browser (Debian's headless Chromium, driven by
Playwright): both charts load, decode and show drawn pixels, and the tables are there. The
screenshot is kept as a test artifact (BENCHDOCK_TEST_ARTIFACTS, default tests/artifacts).

`.ci/run` installs Chromium and sets BENCHDOCK_REQUIRE_BROWSER=1, which turns a missing
browser into a failure instead of a skip."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from benchdock.harnesses.report.document import build, write
from benchdock.store.db import make_engine
from tests.conftest import ROOT
from tests.support.seed import aider_outcomes, passes, seed_run

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# per image: natural size, shown size, and how many distinct colours a canvas copy holds
PROBE = """() => [...document.querySelectorAll('img')].map(img => {
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, c.width, c.height).data;
  const colours = new Set();
  for (let i = 0; i < data.length; i += 4 * 97) colours.add(data[i] << 16 | data[i+1] << 8 | data[i+2]);
  const box = img.getBoundingClientRect();
  return {id: img.id, complete: img.complete, w: img.naturalWidth, h: img.naturalHeight,
          shownW: box.width, shownH: box.height, colours: colours.size};
})"""


def _browser() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    problem = None if Path(path).exists() else "Chromium is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "playwright is not installed (pip install -e '.[dev]')"
    if problem:
        if os.environ.get("BENCHDOCK_REQUIRE_BROWSER") in ("1", "true", "yes"):
            pytest.fail(f"BENCHDOCK_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)
    return path


def test_report_charts_render_in_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chromium = _browser()
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("BENCHDOCK_ENVS", str(tmp_path / "no-envs"))
    db = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    for model, gen, tool, tps in (("coder-30b", 45, 25, 40.0), ("small-3b", 20, 30, 120.0),
                                  ("dense-27b", 40, 35, 18.0)):
        seed_run(db, model, "humaneval-plus", passes("HumanEval/", 50, gen), tokens_per_s=tps)
        seed_run(db, model, "bfcl", {**passes("simple_python_", 40, tool),
                                     **passes("multi_turn_base_", 10, tool // 8)},
                 tokens_per_s=tps)
    outcomes, extras = aider_outcomes("rust", [True, False, False, True], [None, True, False, None])
    seed_run(db, "coder-30b", "aider-polyglot", outcomes, extras=extras, tokens_per_s=40.0)
    files = write(build(db), tmp_path / "report")
    assert files["html"].stat().st_size > 10_000

    artifacts = Path(os.environ.get("BENCHDOCK_TEST_ARTIFACTS",
                                    ROOT / "tests" / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(files["html"].as_uri())
            page.wait_for_load_state("load")
            images = {i["id"]: i for i in page.evaluate(PROBE)}
            ranking_rows = page.locator("#ranking tr").count()
            dimension_rows = page.locator("#dimensions tr").count()
            summary = page.locator("#summary").inner_text()
            not_measured = page.locator("#dimensions td.nm").count()
            page.screenshot(path=str(artifacts / "report.png"), full_page=True)
        finally:
            browser.close()
    assert set(images) == {"radar", "scatter"}
    for img in images.values():
        assert img["complete"] and img["w"] > 400 and img["h"] > 300, img  # decoded
        assert img["shownW"] > 300 and img["shownH"] > 200, img  # laid out on the page
        assert img["colours"] > 8, img  # drawn, not a blank canvas
    assert ranking_rows == 4 and dimension_rows == 4  # header + three models
    assert summary.startswith("Best for these priorities:")
    assert not_measured >= 3 * 4  # e.g. repo understanding, never shown as a zero
    assert (artifacts / "report.png").stat().st_size > 20_000
