"""The report: one HTML file with the charts embedded (no network, no scripts needed to read
it) and the same content as Markdown with the charts beside it as PNG files."""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.engine import Engine

from benchdock.harnesses.choice.compare import compare
from benchdock.harnesses.choice.recommend import recommend
from benchdock.harnesses.choice.views import Constraints, DimensionComparison, Recommendation
from benchdock.harnesses.contract.benchmark import Table
from benchdock.harnesses.contract.dimensions import DIMENSION_INFO
from benchdock.harnesses.contract.registry import run_tables
from benchdock.harnesses.report import charts
from benchdock.store import queries as q


@dataclass
class Report:
    """The comparison and recommendation behind a report; each chart is drawn when first
    asked for (the chart tool wants one of them, the report both)."""

    comparison: DimensionComparison
    recommendation: Recommendation
    # each run's benchmark's own figures, as its declaration renders them
    benchmark_tables: list[tuple[str, list[Table]]] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @cached_property
    def radar_png(self) -> bytes:
        t = time.perf_counter()
        shown = charts.radar_models(self.comparison,
                                    [r.model for r in self.recommendation.ranking])
        png = charts.radar(self.comparison, shown)
        self.seconds["radar"] = time.perf_counter() - t
        return png

    @cached_property
    def scatter_png(self) -> bytes:
        t = time.perf_counter()
        png = charts.quality_speed(self.recommendation)
        self.seconds["scatter"] = time.perf_counter() - t
        return png


def _env() -> Environment:
    env = Environment(loader=PackageLoader("benchdock.harnesses.report"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["f3"] = lambda v: "-" if v is None else f"{v:.3f}"
    env.filters["f1"] = lambda v: "-" if v is None else f"{v:.1f}"
    return env


def build(db: Engine, models: Sequence[str] | None = None,
          priorities: str | Mapping[str, float] | None = None,
          constraints: Constraints | None = None) -> Report:
    t0 = time.perf_counter()
    cmp = compare(db, models, limit=None)
    t1 = time.perf_counter()
    rec = recommend(db, priorities, constraints, models, comparison=cmp)
    t2 = time.perf_counter()
    return Report(cmp, rec, _benchmark_tables(db, cmp),
                  seconds={"compare": t1 - t0, "recommend": t2 - t1})


def _benchmark_tables(db: Engine, cmp: DimensionComparison) -> list[tuple[str, list[Table]]]:
    out = []
    for rid, ref in cmp.runs.items():
        run = q.get_run(db, rid)
        tables = run_tables(run.benchmark, run.metrics, run.params) if run else []
        if tables:
            out.append((f"{ref.model} on {ref.benchmark} (run {rid})", tables))
    return out


def _context(report: Report, images: Mapping[str, str], store: str) -> dict[str, object]:
    cmp, rec = report.comparison, report.recommendation
    return {
        "cmp": cmp, "rec": rec, "images": images, "store": store,
        "titles": {d: DIMENSION_INFO[d].title for d in cmp.dimensions},
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "radar_models": charts.radar_models(cmp, [r.model for r in rec.ranking]),
        "benchmark_tables": report.benchmark_tables,
    }


def write(report: Report, out_dir: Path, store: str = "") -> dict[str, Path]:
    """report.html (self-contained), report.md, radar.png and quality_speed.png in out_dir."""
    radar_png, scatter_png = report.radar_png, report.scatter_png  # drawn (and timed) first
    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"radar": out_dir / "radar.png", "scatter": out_dir / "quality_speed.png",
             "html": out_dir / "report.html", "markdown": out_dir / "report.md"}
    files["radar"].write_bytes(radar_png)
    files["scatter"].write_bytes(scatter_png)
    env = _env()
    inline = {"radar": "data:image/png;base64," + base64.b64encode(radar_png).decode(),
              "scatter": "data:image/png;base64," + base64.b64encode(scatter_png).decode()}
    files["html"].write_text(env.get_template("report.html.j2").render(
        **_context(report, inline, store)), encoding="utf-8")
    files["markdown"].write_text(env.get_template("report.md.j2").render(
        **_context(report, {"radar": "radar.png", "scatter": "quality_speed.png"}, store)),
        encoding="utf-8")
    report.files = files
    report.seconds["write"] = time.perf_counter() - t0
    return files
