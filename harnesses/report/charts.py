"""The charts, drawn by matplotlib (Agg, no display) as PNG bytes: a radar of the dimension
scores per model, and quality against speed with the Pareto front marked."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.projections.polar import PolarAxes

from benchdock.harnesses.choice.views import DimensionComparison, Recommendation
from benchdock.harnesses.contract.dimensions import DIMENSION_INFO

RADAR_MAX_MODELS = 6


def _png(fig: Figure, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def radar_models(cmp: DimensionComparison, ranking: Sequence[str] = ()) -> list[str]:
    """The models a radar can show legibly: the recommendation's order, then the rest by
    their best mean (a model the recommendation left out is still drawn if there is room)."""
    if ranking:
        rest = [r.model for r in cmp.models if r.model not in set(ranking)]
        return [*ranking, *rest][:RADAR_MAX_MODELS]

    def mean(m: str) -> float:
        row = next(r for r in cmp.models if r.model == m)
        vals = [c.score for c in row.dimensions.values() if c.score is not None]
        return sum(vals) / len(vals) if vals else -1.0

    return sorted((r.model for r in cmp.models), key=mean, reverse=True)[:RADAR_MAX_MODELS]


def radar(cmp: DimensionComparison, models: Sequence[str] | None = None) -> bytes:
    """Dimension scores on a 0..1 radar, one outline per model. A dimension a model was not
    measured on is a gap in its outline, never a zero; axes nobody was measured on say so."""
    shown = list(models) if models else radar_models(cmp)
    dims = cmp.dimensions
    angles = [2 * math.pi * i / len(dims) for i in range(len(dims))]
    fig = plt.figure(figsize=(7.5, 6.5))
    ax = cast(PolarAxes, fig.add_subplot(projection="polar"))
    rows = {r.model: r for r in cmp.models}
    for m in shown:
        row = rows[m]
        vals = [row.dimensions[d].score for d in dims]
        ys = [math.nan if v is None else v for v in vals]
        ax.plot([*angles, angles[0]], [*ys, ys[0]], marker="o", linewidth=1.6, label=m)
        if all(v is not None for v in vals):
            ax.fill([*angles, angles[0]], [*ys, ys[0]], alpha=0.08)
    labels = []
    for d in dims:
        title = DIMENSION_INFO[d].title
        if all(rows[m].dimensions[d].score is None for m in shown):
            title += "\n(not measured)"
        labels.append(title)
    ax.set_xticks(angles)
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_yticks([0.25, 0.5, 0.75, 1.0])
    ax.set_yticklabels(["0.25", "0.5", "0.75", "1"], fontsize=7)
    ax.set_rlabel_position(180 / len(dims))  # between the first two axes, off the data
    ax.set_title("Capability dimensions (score 0-1)", pad=18)
    if shown:
        ax.legend(loc="upper right", bbox_to_anchor=(1.35, 1.12), fontsize=8)
    return _png(fig)


def quality_speed(rec: Recommendation) -> bytes:
    """Priority-weighted score (with its 95% interval) against generated tokens/s; the
    Pareto front joined by a line. Models with no measured speed are listed, not plotted."""
    fig, ax = plt.subplots(figsize=(7.5, 5))
    timed = [r for r in rec.ranking if r.tokens_per_s is not None]
    front = sorted((r for r in timed if r.pareto), key=lambda r: r.tokens_per_s or 0.0)
    for r in timed:
        err = [[r.score - r.ci95[0]], [r.ci95[1] - r.score]]
        ax.errorbar(r.tokens_per_s or 0.0, r.score, yerr=err, fmt="o",
                    color="tab:red" if r.pareto else "tab:blue", capsize=3, alpha=0.85)
    label = {r.model for r in front} | {r.model for r in timed[:8]}
    for r in timed:
        if r.model in label:
            ax.annotate(r.model, (r.tokens_per_s or 0.0, r.score), textcoords="offset points",
                        xytext=(5, 5), fontsize=8)
    if len(front) > 1:
        ax.plot([r.tokens_per_s or 0.0 for r in front], [r.score for r in front], "--",
                color="tab:red", linewidth=1, label="Pareto front")
        ax.legend(fontsize=8)
    ax.set_xlabel("generated tokens/s (measured)")
    ax.set_ylabel(f"weighted score ({rec.profile or 'custom priorities'})")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    untimed = [r.model for r in rec.ranking if r.tokens_per_s is None]
    title = "Quality vs speed"
    if not timed:
        ax.text(0.5, 0.5, "no model has a measured speed yet", ha="center", transform=ax.transAxes)
    if untimed:
        title += f" ({len(untimed)} model(s) without measured speed not shown)"
    ax.set_title(title, fontsize=10)
    return _png(fig)
