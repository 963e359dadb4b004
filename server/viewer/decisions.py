"""`decide` decisions: the list, and one decision with its running intervals — each pair's
anytime-valid interval of the difference in pass rate as it stands, drawn against zero and
the margin, and as it narrowed task by task.

What is shown is what `decide` recorded (`harnesses/choice/adaptive_trace`): the intervals
each time they moved while a `decide` call advanced the decision, and the answer the last
call returned. Between calls nothing recomputes them (that needs the decision's request and
its endpoints); the page says when the trace was last written.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from benchdock.harnesses.choice.adaptive_trace import decision_ids, read_trace
from benchdock.server.viewer.context import Viewer, not_found

W, H, PAD = 560, 170, 34  # the history chart, in SVG units
BAR_W = 320  # an interval bar over [-1, 1]
_ID = re.compile(r"[0-9a-f]{6,64}")


def decisions_list(v: Viewer, request: Request) -> Response:
    rows = []
    for did in decision_ids(v.settings.home)[:200]:
        trace = read_trace(v.settings.home, did) or {}
        answer, req = trace.get("decision") or {}, trace.get("request") or {}
        rows.append({"id": did, "models": req.get("models") or [],
                     "status": answer.get("status"), "verdict": answer.get("verdict"),
                     "updated": trace.get("updated_at"), "minutes": answer.get("minutes")})
    return v.pages.page(request, "decisions.html.j2", {"rows": rows})


def _x(tasks: float, population: int) -> float:
    return PAD + (W - 2 * PAD) * tasks / max(population, 1)


def _y(value: float) -> float:
    return PAD / 2 + (H - PAD) * (1 - (value + 1) / 2)


def _bar(value: float) -> float:
    return BAR_W * (value + 1) / 2


def history(points: list[dict[str, Any]], populations: dict[str, int],
            margin: float) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Per (dimension, a, b): the band of the interval over the tasks, as SVG points."""
    series: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for p in points:
        series[(p["dimension"], p["a"], p["b"])].append(p)
    out = {}
    for key, pts in series.items():
        pts.sort(key=lambda p: p["tasks"])
        n = populations.get(key[0]) or max(p["tasks"] for p in pts)
        upper = [f"{_x(p['tasks'], n):.1f},{_y(p['upper']):.1f}" for p in pts]
        lower = [f"{_x(p['tasks'], n):.1f},{_y(p['lower']):.1f}" for p in reversed(pts)]
        out[key] = {"band": " ".join(upper + lower), "population": n,
                    "last": pts[-1], "points": len(pts)}
    return out


def decision_context(v: Viewer, did: str) -> dict[str, Any] | None:
    trace = read_trace(v.settings.home, did)
    if trace is None:
        return None
    answer, req = trace.get("decision") or {}, trace.get("request") or {}
    margin = float(req.get("margin") or 0.0)
    dims = answer.get("dimensions") or []
    populations = {d["dimension"]: int(d.get("population") or 0) for d in dims}
    for d in dims:
        for p in d.get("intervals") or []:
            p["bar"] = {"lo": _bar(p["lower"]), "hi": _bar(p["upper"])}
    for p in answer.get("overall") or []:
        p["bar"] = {"lo": _bar(p["lower"]), "hi": _bar(p["upper"])}
    geometry = {"w": W, "h": H, "pad": PAD, "zero": _y(0.0), "top": _y(1.0),
                "bottom": _y(-1.0), "m_hi": _y(margin), "m_lo": _y(-margin),
                "bar_w": BAR_W, "bar_zero": _bar(0.0), "bar_m_lo": _bar(-margin),
                "bar_m_hi": _bar(margin)}
    return {"id": did, "req": req, "answer": answer, "dims": dims, "margin": margin,
            "history": history(list(trace.get("points") or []), populations, margin),
            "g": geometry, "updated": trace.get("updated_at"),
            "live": answer.get("status") == "running"}


def decision_page(v: Viewer, request: Request) -> Response:
    did = request.path_params["decision_id"]
    ctx = decision_context(v, did) if _ID.fullmatch(did) else None
    if ctx is None:
        return not_found(v, request, f"no decision {did!r} in {v.settings.home / 'decisions'}")
    name = ("decision_body.html.j2" if request.query_params.get("fragment") == "body"
            else "decision.html.j2")
    return v.pages.page(request, name, ctx)
