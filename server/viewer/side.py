"""Side by side: two or more models on the same tasks of a benchmark they share — the tasks
where they differ, each one's answer and verdict, a diff of their answers — with the paired
test over the shared tasks and `compare_dimensions`' cells for these models.

Which run stands for a model: the newest succeeded run of it on the benchmark (else its
newest run, e.g. one still going), or the runs named in the URL (`runs=`). Pairs are
tested as `compare_dimensions` tests them: the exact sign test over the shared tasks where
the two differ (McNemar's exact test for pass/fail), and each model's score with its 95%
interval (Wilson's for pass/fail, the normal interval of per-task means otherwise).
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from benchdock.harnesses.choice import stats
from benchdock.harnesses.choice.compare import compare
from benchdock.harnesses.choice.views import DimensionComparison
from benchdock.harnesses.errors import BenchdockError
from benchdock.server.viewer.context import Viewer, bad_request, page_arg
from benchdock.store import browse
from benchdock.store.tables import Run

PAGE = 100
MAX_MODELS = 6
SHOW = {"differ": "where they differ", "all": "all shared tasks"}


@dataclass
class Side:
    """The runs chosen for the models, and their outcomes on the shared tasks."""

    models: list[str]
    runs: dict[str, Run]
    values: dict[str, dict[str, float]]  # model -> task -> share of samples passed
    verdicts: dict[str, dict[str, list[str]]]  # model -> task -> verdicts
    shared: list[str]  # tasks every run has, in the first run's order

    def differs(self, task: str) -> bool:
        seen = {self.values[m].get(task) for m in self.models}
        seen.discard(None)
        return len(seen) > 1


def _value(verdicts: list[str]) -> float | None:
    scored = [v for v in verdicts if v != browse.PENDING]
    return sum(v == "pass" for v in scored) / len(scored) if scored else None


def choose_runs(v: Viewer, models: Sequence[str], benchmark: str,
                run_ids: Sequence[str] = ()) -> dict[str, Run] | str:
    """model -> its run on the benchmark, or why there is none."""
    chosen: dict[str, Run] = {}
    for r in browse.runs_of(v.db, models, benchmark):
        if run_ids and r.id not in run_ids:
            continue
        have = chosen.get(r.model)
        # newest first: a succeeded run wins over any other; otherwise the newest stands
        if have is None or (have.status != "succeeded" and r.status == "succeeded"):
            chosen[r.model] = r
    missing = [m for m in models if m not in chosen]
    if missing:
        having = browse.models_on(v.db, benchmark)
        return (f"no run of {', '.join(missing)} on {benchmark}; models with runs there: "
                f"{', '.join(having) or 'none'}")
    return chosen


def load_side(v: Viewer, models: list[str], runs: dict[str, Run]) -> Side:
    out = browse.outcomes(v.db, [runs[m].id for m in models])
    verdicts = {m: out[runs[m].id] for m in models}
    values = {m: {t: x for t, vs in verdicts[m].items() if (x := _value(vs)) is not None}
              for m in models}
    first = runs[models[0]]
    shared = [t for t in first.task_ids if all(t in verdicts[m] for m in models)]
    return Side(models, runs, values, verdicts, shared)


def pair_tests(side: Side) -> list[dict[str, Any]]:
    """Every pair on the tasks both have scored: wins, losses, the sign test."""
    out = []
    for a, b in itertools.combinations(side.models, 2):
        pairs = [(side.values[a][t], side.values[b][t]) for t in side.shared
                 if t in side.values[a] and t in side.values[b]]
        wins = sum(1 for x, y in pairs if x > y)
        losses = sum(1 for x, y in pairs if x < y)
        p = stats.sign_test_p(wins, losses)
        diff = sum(x - y for x, y in pairs) / len(pairs) if pairs else 0.0
        out.append({"a": a, "b": b, "n": len(pairs), "wins": wins, "losses": losses,
                    "ties": len(pairs) - wins - losses, "difference": diff, "p": p,
                    "significant": p < stats.ALPHA})
    return out


def scores(side: Side) -> dict[str, dict[str, Any]]:
    """Each model's score on the shared tasks it has scored, with its 95% interval."""
    out = {}
    for m in side.models:
        vals = [side.values[m][t] for t in side.shared if t in side.values[m]]
        binary = all(x in (0.0, 1.0) for x in vals)
        pooled = stats.Pooled(len(vals), sum(vals), None if binary else vals)
        lo, hi = pooled.interval() if vals else (None, None)
        out[m] = {"score": pooled.mean if vals else None, "ci95": (lo, hi), "n": len(vals)}
    return out


def dimension_cells(v: Viewer, models: list[str],
                    benchmark: str) -> tuple[DimensionComparison | None, str | None]:
    bench = v.tasks.bench(benchmark)
    dims = sorted({m.dimension for m in bench.dimension_metrics()}) if bench else None
    try:
        key = ("compare", tuple(models), tuple(dims or ()))
        return v.charts.memo.get(v.db, key, lambda: compare(v.db, models, dims, limit=None)), None
    except BenchdockError as exc:
        return None, str(exc)


def _selection(request: Request) -> tuple[list[str], str | None, list[str]]:
    a = request.query_params
    models = list(dict.fromkeys(m for m in a.getlist("models") if m))
    return models, a.get("benchmark") or None, [r for r in a.getlist("runs") if r]


def side_page(v: Viewer, request: Request) -> Response:
    models, benchmark, run_ids = _selection(request)
    if len(models) > MAX_MODELS:
        return bad_request(v, request, f"{len(models)} models asked for; side by side shows "
                           f"at most {MAX_MODELS}")
    all_models, benches = browse.run_facets(v.db)
    ctx: dict[str, Any] = {"models": models, "benchmark": benchmark, "all_models": all_models,
                           "benchmarks": benches, "run_ids": run_ids, "side": None}
    if models and not benchmark:
        ctx["shared"] = _shared_benchmarks(v, models)
    if benchmark and len(models) >= 2:
        runs = choose_runs(v, models, benchmark, run_ids)
        if isinstance(runs, str):
            ctx["problem"] = runs
        else:
            side = load_side(v, models, runs)
            show = request.query_params.get("show", "differ")
            show = show if show in SHOW else "differ"
            tasks = [t for t in side.shared if show == "all" or side.differs(t)]
            page = page_arg(request.query_params.get("page"))
            cmp, why = dimension_cells(v, models, benchmark)
            parts = v.tasks.parts(runs[models[0]])
            ctx.update(side=side, tests=pair_tests(side), scores=scores(side), show=show,
                       shows=SHOW, differing=sum(1 for t in side.shared if side.differs(t)),
                       tasks=tasks[(page - 1) * PAGE:page * PAGE], n_tasks=len(tasks),
                       page=page, pages=max(1, -(-len(tasks) // PAGE)), cmp=cmp,
                       cmp_problem=why, part_of=parts)
    elif benchmark and models:
        ctx["problem"] = "choose at least two models to put side by side"
    return v.pages.page(request, "side.html.j2", ctx)


def _shared_benchmarks(v: Viewer, models: list[str]) -> list[tuple[str, dict[str, int]]]:
    """Benchmarks every chosen model has a run of, with how many runs each has there."""
    per = browse.run_counts(v.db, models)
    return sorted((b, c) for b, c in per.items() if all(m in c for m in models))


def answer_of(samples: list[Any]) -> str:
    """What to diff: the extracted code where there is any, else the raw answer."""
    s = samples[0] if samples else None
    if s is None:
        return ""
    return str(s.code if s.code else (s.completion or ""))


def diff_lines(a: str, b: str, a_name: str, b_name: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, line): kind is add, del, hunk or same."""
    out = []
    for line in difflib.unified_diff(a.splitlines(), b.splitlines(), a_name, b_name,
                                     lineterm="", n=3):
        kind = ("hunk" if line.startswith("@@") else "head" if line.startswith(("---", "+++"))
                else "add" if line.startswith("+") else "del" if line.startswith("-")
                else "same")
        out.append((kind, line))
    return out


def side_task(v: Viewer, request: Request) -> Response:
    models, benchmark, run_ids = _selection(request)
    task = request.query_params.get("task")
    if not benchmark or len(models) < 2 or not task:
        return bad_request(v, request, "a task side by side needs benchmark=, task= and at "
                           "least two models=")
    runs = choose_runs(v, models, benchmark, run_ids)
    if isinstance(runs, str):
        return bad_request(v, request, runs)
    per = {m: browse.task_samples(v.db, runs[m].id, task) for m in models}
    answers = {m: answer_of(per[m]) for m in models}
    first = models[0]
    diffs = [(m, diff_lines(answers[first], answers[m], f"{first} ({runs[first].id})",
                            f"{m} ({runs[m].id})")) for m in models[1:]]
    return v.pages.page(request, "side_task.html.j2", {
        "models": models, "benchmark": benchmark, "runs": runs, "task": task, "per": per,
        "diffs": diffs, "run_ids": run_ids,
        **v.tasks.prompts(benchmark).context(runs[first], task)})
