"""A run's samples: filtered by verdict, task, part and timings, searched in their
evidence; and one sample whole — prompt, answer, extracted code, verdict, evidence, and
an agentic sample's trajectory step by step.

Every filter is a query argument, so a filtered list has a URL to share or come back to.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from benchdock.server.viewer.context import Viewer, float_arg, int_arg, not_found, page_arg
from benchdock.server.viewer.evidence import split_evidence
from benchdock.store import browse
from benchdock.store import queries as q

PAGE = 50
VERDICTS = ("pass", "fail", "error", "timeout", browse.PENDING)
SORT_LABELS = {"seq": "run order", "latency": "latency ↑", "-latency": "latency ↓",
               "tokens": "tokens ↑", "-tokens": "tokens ↓", "exec": "execution ↑",
               "-exec": "execution ↓", "ttft": "first token ↑", "-ttft": "first token ↓"}


def samples_list(v: Viewer, request: Request) -> Response:
    run_id = request.path_params["run_id"]
    run = q.get_run(v.db, run_id)
    if run is None:
        return not_found(v, request, f"no run {run_id!r} in this store")
    a = request.query_params
    parts = v.tasks.parts(run)
    part_names = sorted(set(parts.values()))
    part = a.get("part") or None
    text = (a.get("q") or "").strip() or None
    note = None
    text_tasks: list[str] = []
    if text:
        text_tasks = list(v.tasks.matching(run, text))
        note = v.tasks.prompts(run.benchmark).for_run(run)[1]
    verdict = a.get("verdict") if a.get("verdict") in VERDICTS else None
    sort = a.get("sort") if a.get("sort") in browse.SORTS else "seq"
    f = browse.SampleFilter(
        verdict=verdict, task=(a.get("task") or "").strip() or None,
        task_ids=[t for t, p in parts.items() if p == part] if part else None,
        text=text, text_tasks=text_tasks,
        min_latency=float_arg(a.get("min_latency")), max_latency=float_arg(a.get("max_latency")),
        min_tokens=int_arg(a.get("min_tokens")), max_tokens=int_arg(a.get("max_tokens")),
        min_exec=float_arg(a.get("min_exec")), max_exec=float_arg(a.get("max_exec")),
        sort=sort or "seq")
    page = page_arg(a.get("page"))
    lines, total = browse.samples_page(v.db, run_id, f, (page - 1) * PAGE, PAGE)
    filters: dict[str, Any] = {k: a.get(k) for k in (
        "verdict", "task", "part", "q", "min_latency", "max_latency", "min_tokens",
        "max_tokens", "min_exec", "max_exec", "sort") if a.get(k)}
    return v.pages.page(request, "samples.html.j2", {
        "run": run, "lines": lines, "total": total, "page": page,
        "pages": max(1, -(-total // PAGE)), "filters": filters, "verdicts": VERDICTS,
        "parts": part_names, "part_of": parts,
        "sorts": SORT_LABELS, "counts": browse.verdict_counts(v.db, run_id),
        "prompt_matches": len(text_tasks), "prompt_note": note})


def sample_page(v: Viewer, request: Request) -> Response:
    run_id, task_id = request.path_params["run_id"], request.path_params["task_id"]
    run = q.get_run(v.db, run_id)
    if run is None:
        return not_found(v, request, f"no run {run_id!r} in this store")
    samples = browse.task_samples(v.db, run_id, task_id)
    if not samples:
        return not_found(v, request, f"run {run_id} has no task {task_id!r}")
    part = v.tasks.parts(run).get(task_id)
    shown = [(s, split_evidence(s.extra)) for s in samples]
    idx = run.task_ids.index(task_id) if task_id in run.task_ids else None
    neighbours = {
        "prev": run.task_ids[idx - 1] if idx else None,
        "next": run.task_ids[idx + 1] if idx is not None and idx + 1 < len(run.task_ids)
        else None}
    return v.pages.page(request, "sample.html.j2", {
        "run": run, "task_id": task_id, "part": part, "samples": shown,
        "neighbours": neighbours, **v.tasks.prompts(run.benchmark).context(run, task_id)})
