"""The report: one HTML file with the charts embedded (no network, no scripts needed to read
it) and the same content as Markdown with the charts beside it as PNG files."""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.engine import Engine

from benchdock.harnesses.choice.compare import compare
from benchdock.harnesses.choice.recommend import recommend
from benchdock.harnesses.choice.views import Constraints, DimensionComparison, Recommendation
from benchdock.harnesses.dimensions import DIMENSION_INFO
from benchdock.harnesses.report import charts


@dataclass
class Report:
    comparison: DimensionComparison
    recommendation: Recommendation
    radar_png: bytes
    scatter_png: bytes
    files: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


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
    rec = recommend(db, priorities, constraints, models)
    t2 = time.perf_counter()
    shown = charts.radar_models(cmp, [r.model for r in rec.ranking])
    radar = charts.radar(cmp, shown)
    scatter = charts.quality_speed(rec)
    t3 = time.perf_counter()
    return Report(cmp, rec, radar, scatter,
                  seconds={"compare": t1 - t0, "recommend": t2 - t1, "charts": t3 - t2})


def _context(report: Report, images: Mapping[str, str], store: str) -> dict[str, object]:
    cmp, rec = report.comparison, report.recommendation
    return {
        "cmp": cmp, "rec": rec, "images": images, "store": store,
        "titles": {d: DIMENSION_INFO[d].title for d in cmp.dimensions},
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "radar_models": charts.radar_models(cmp, [r.model for r in rec.ranking]),
    }


def write(report: Report, out_dir: Path, store: str = "") -> dict[str, Path]:
    """report.html (self-contained), report.md, radar.png and quality_speed.png in out_dir."""
    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"radar": out_dir / "radar.png", "scatter": out_dir / "quality_speed.png",
             "html": out_dir / "report.html", "markdown": out_dir / "report.md"}
    files["radar"].write_bytes(report.radar_png)
    files["scatter"].write_bytes(report.scatter_png)
    env = _env()
    inline = {"radar": "data:image/png;base64," + base64.b64encode(report.radar_png).decode(),
              "scatter": "data:image/png;base64," + base64.b64encode(report.scatter_png).decode()}
    files["html"].write_text(env.get_template("report.html.j2").render(
        **_context(report, inline, store)), encoding="utf-8")
    files["markdown"].write_text(env.get_template("report.md.j2").render(
        **_context(report, {"radar": "radar.png", "scatter": "quality_speed.png"}, store)),
        encoding="utf-8")
    report.files = files
    report.seconds["write"] = time.perf_counter() - t0
    return files
