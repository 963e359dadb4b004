"""Runs: the list (filtered, paged, live while any is running), one run (status, progress
and ETA as they move, settings, scores, the benchmark's own figures), cancel and resume.

Status, progress and ETA are the façade's (`run_status`: the same figures `get_run` gives
an agent); cancel and resume go through the façade too, so the viewer acts exactly as the
MCP tools do (a resumed run gets a worker).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from benchdock.harnesses.contract.metrics import compute_metrics
from benchdock.harnesses.contract.registry import run_tables
from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.service import operations as service
from benchdock.harnesses.service.links import run_path
from benchdock.server.viewer.context import Viewer, not_found, page_arg
from benchdock.store import browse
from benchdock.store import queries as q
from benchdock.store.tables import FINAL_STATUSES, RUN_STATUSES

PAGE = 50


def runs_list(v: Viewer, request: Request) -> Response:
    args = request.query_params
    status = args.get("status") or None
    if status is not None and status not in RUN_STATUSES:
        status = None
    model, benchmark = args.get("model") or None, args.get("benchmark") or None
    page = page_arg(args.get("page"))
    lines, total = browse.runs_page(v.db, status=status, model=model, benchmark=benchmark,
                                    offset=(page - 1) * PAGE, limit=PAGE)
    models, benches = browse.run_facets(v.db)
    live = any(line.run.status not in FINAL_STATUSES for line in lines)
    filters = {"status": status, "model": model, "benchmark": benchmark,
               "page": page if page > 1 else None}
    template = "runs_rows.html.j2" if args.get("fragment") == "rows" else "runs.html.j2"
    return v.pages.page(request, template, {
        "lines": lines, "total": total, "page": page, "pages": max(1, -(-total // PAGE)),
        "filters": filters, "models": models, "benchmarks": benches,
        "statuses": RUN_STATUSES, "live": live, "now_eta": _etas(v, lines)})


def _etas(v: Viewer, lines: list[browse.RunLine]) -> dict[str, Any]:
    """ETA of the running runs on the page, as the façade computes it."""
    out = {}
    for line in lines:
        if line.run.status == "running":
            try:
                out[line.run.id] = service.peek_status(v.db, line.run.id).eta_s
            except BenchdockError:
                continue
    return out


def run_page(v: Viewer, request: Request) -> Response:
    run_id = request.path_params["run_id"]
    run = q.get_run(v.db, run_id)
    if run is None:
        return not_found(v, request, f"no run {run_id!r} in this store")
    st = service.peek_status(v.db, run_id)
    metrics = run.metrics
    if metrics is None:  # running: what is scored so far
        metrics = compute_metrics(q.all_samples(v.db, run_id), run.n_samples)
    tables = run_tables(run.benchmark, metrics, run.params)
    scores = {k: m for k, m in (metrics.get("scores") or {}).items() if isinstance(m, dict)}
    base = {k: m for k, m in (metrics.get("scores_base") or {}).items() if isinstance(m, dict)}
    others = [m for m in browse.models_on(v.db, run.benchmark, "succeeded") if m != run.model]
    return v.pages.page(request, "run.html.j2", {
        "run": run, "st": st, "counts": browse.verdict_counts(v.db, run_id),
        "scores": scores, "scores_base": base, "timing": metrics.get("timing") or {},
        "tables": tables, "metrics": metrics, "final": run.status in FINAL_STATUSES,
        "other_models": others,
        "message": request.query_params.get("message")})


def run_status_fragment(v: Viewer, request: Request) -> Response:
    """The live part of a run's page, polled while the run goes on. When the run has
    ended since the page was drawn, the page is reloaded (its final figures)."""
    run_id = request.path_params["run_id"]
    try:
        st = service.peek_status(v.db, run_id)
    except BenchdockError as exc:
        return not_found(v, request, str(exc))
    final = st.status in FINAL_STATUSES
    headers = {"HX-Refresh": "true"} if final and request.query_params.get("live") else {}
    return v.pages.page(request, "run_status.html.j2", {
        "st": st, "counts": browse.verdict_counts(v.db, run_id), "final": final},
        headers=headers)


def cancel(v: Viewer, request: Request) -> Response:
    run_id = request.path_params["run_id"]
    try:
        st = service.cancel_run(v.db, run_id, "cancelled in the viewer")
        note = ("cancel requested: the worker stops the run" if st.status == "running"
                else f"the run is {st.status}")
    except BenchdockError as exc:
        note = str(exc)
    return _back(run_id, note)


def resume(v: Viewer, request: Request) -> Response:
    run_id = request.path_params["run_id"]
    try:
        service.resume_run(v.settings, v.db, run_id)
        note = "queued again: a worker carries on with its unscored samples"
    except BenchdockError as exc:
        note = str(exc)
    return _back(run_id, note)


def _back(run_id: str, note: str) -> Response:
    return RedirectResponse(f"{run_path(run_id)}?{urlencode({'message': note})}",
                            status_code=303)
