"""The CLI's views of the choice: `compare`, `recommend`, `plan` and `report`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import anyio
from sqlalchemy.engine import make_url

from benchdock.harnesses.choice import speeds
from benchdock.harnesses.choice.adaptive_swap import model_switch_s
from benchdock.harnesses.choice.compare import compare
from benchdock.harnesses.choice.plan import dry_run, plan
from benchdock.harnesses.choice.profiles import DEFAULT_PROFILE, PROFILES
from benchdock.harnesses.choice.recommend import recommend
from benchdock.harnesses.choice.views import Constraints
from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract.dimensions import DIMENSIONS
from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.service import operations as service
from benchdock.server.text import table


def _priorities(args: argparse.Namespace) -> str | dict[str, float]:
    """--profile NAME, or --weight DIM=W (repeatable), which wins."""
    if not args.weight:
        return str(args.profile)
    out: dict[str, float] = {}
    for item in args.weight:
        dim, _, w = item.partition("=")
        try:
            out[dim] = float(w)
        except ValueError:
            raise BenchdockError(f"--weight wants DIMENSION=NUMBER, got {item!r}") from None
    return out


def _core() -> service.Core:
    return service.Core(Settings.from_env())


def cmd_compare(args: argparse.Namespace) -> int:
    cmp = compare(_core().db, args.models or None, args.dimension or None, limit=None)
    if args.json:
        print(cmp.model_dump_json(indent=1))
        return 0
    rows = []
    for row in cmp.models:
        cells = []
        for d in cmp.dimensions:
            c = row.dimensions[d]
            if not c.measured or c.score is None or c.ci95 is None:
                cells.append("-")
                continue
            mark = "*" if c.vs_leader and c.vs_leader.significant else ""
            cells.append(f"{c.score:.2f} [{c.ci95[0]:.2f},{c.ci95[1]:.2f}] n={c.n}{mark}")
        sp = row.speed
        cells.append("-" if sp.tokens_per_s is None else f"{sp.tokens_per_s:.1f}")
        rows.append([row.model, *cells])
    print(table(rows, ["model", *cmp.dimensions, "tok/s"]))
    print("* significantly below the dimension's leader (p < 0.05); - not measured")
    for d in cmp.dimensions:
        missing = [r for r in cmp.models if not r.dimensions[d].measured]
        if missing:
            nm = missing[0].dimensions[d].not_measured
            how = (f"run {nm.measured_by}" + (f" --limit {nm.limit}" if nm.limit else "")
                   + f" (~{nm.estimate_minutes} min for {missing[0].model})"
                   if nm and nm.measured_by else
                   "no benchdock benchmark yet (elsewhere: "
                   + ", ".join(cmp.how_to_measure[d].elsewhere) + ")")
            print(f"{d}: not measured for {len(missing)} model(s): {how}")
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    cons = Constraints(min_tokens_per_s=args.min_tokens_per_s, max_ttft_s=args.max_ttft_s,
                       context_needed=args.context_needed)
    rec = recommend(_core().db, _priorities(args), cons, args.models or None)
    if args.json:
        print(rec.model_dump_json(indent=1))
        return 0
    weights = ", ".join(f"{d} {w:.0%}" for d, w in rec.priorities.items())
    print(f"priorities ({rec.profile or 'custom'}): {weights}")
    rows = [[str(r.rank), r.model, f"{r.score:.3f} [{r.ci95[0]:.3f}, {r.ci95[1]:.3f}]",
             f"{r.coverage:.0%}", "-" if r.tokens_per_s is None else f"{r.tokens_per_s:.1f}",
             "yes" if r.pareto else ""] for r in rec.ranking]
    print(table(rows, ["#", "model", "score [95% CI]", "coverage", "tok/s", "pareto"]))
    for r in rec.ranking:
        print(f"  {r.reason}")
    for e in rec.excluded:
        print(f"excluded {e.model}: {e.reason}")
    print(rec.summary)
    return 0


def cmd_dry_run(args: argparse.Namespace) -> int:
    """`benchdock plan MODEL... --dry-run BENCH`: what that run would pull and take."""
    settings = Settings.from_env()
    d = dry_run(service.Core(settings).db, args.models, args.dry_run, args.limit)
    if args.json:
        print(d.model_dump_json(indent=1))
        return 0
    print(f"dry run: {d.benchmark}, {d.tasks} tasks" + ("" if d.ready else
                                                         f" (cannot run here now: {d.why_not})"))
    fp = d.footprint
    if fp is not None:
        print(f"would pull: {fp.items - fp.present} of {fp.items} {fp.what} "
              f"({fp.present} already here), ~{fp.download_gb:.0f} GB, "
              f"~{fp.download_minutes:.0f} min")
        print(f"disk needed: ~{fp.disk_gb:.0f} GB; e.g. {', '.join(fp.examples)}")
        print(f"sizes: {fp.basis}")
    for m in d.per_model:
        print(f"{m.model}: ~{m.estimate_minutes / 60:.1f} h ({m.estimate_basis})")
    print(f"total: ~{d.total_hours:.1f} h (models one after another, plus the download)")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    if args.dry_run:
        return cmd_dry_run(args)
    if args.budget is None:
        print("--budget is required (or --dry-run BENCHMARK)", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    known: list[str] = []
    swapping: set[str] = set()
    try:
        statuses = anyio.run(service.list_models, settings, None)
        known = [m.id for st in statuses for m in st.models]
        swapping = {m.id for st in statuses if st.swapping for m in st.models}
    except Exception as exc:  # the store's models still count
        print(f"note: model discovery failed ({exc})", file=sys.stderr)
    switch = {m: s for m, s in model_switch_s(settings.home).items() if m in swapping}
    db = service.Core(settings).db
    probes, notes = anyio.run(speeds.ensure, settings, db, [m for m in args.models if m in known])
    p = plan(db, args.models, args.budget, _priorities(args), known, switch, probes, notes)
    if args.json:
        print(p.model_dump_json(indent=1))
        return 0
    rows = [[str(r.order), r.model, r.benchmark, str(r.limit or "all"), str(r.tasks),
             f"{r.estimate_minutes:.1f}", ",".join(r.dimensions)] for r in p.runs]
    print(table(rows, ["#", "model", "benchmark", "limit", "tasks", "~min", "dimensions"]))
    print(f"planned {p.planned_minutes:.1f} of {p.budget_minutes:.0f} minutes")
    for u in p.uncovered:
        print(f"not covered: {', '.join(u.dimensions)} for {', '.join(u.models)}: {u.reason}"
              + (f"; {u.setup}" if u.setup else ""))
    for note in p.notes:
        print(f"note: {note}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from benchdock.harnesses.report.document import build, write

    settings = Settings.from_env()
    core = service.Core(settings)
    report = build(core.db, args.models or None, _priorities(args))
    store = make_url(settings.database_url).render_as_string(hide_password=True)
    files = write(report, Path(args.out), store=store)
    for kind, path in files.items():
        print(f"{kind}: {path}")
    print(json.dumps({k: round(v, 3) for k, v in report.seconds.items()}), file=sys.stderr)
    return 0


def _add_priorities(s: argparse.ArgumentParser) -> None:
    s.add_argument("--profile", default=DEFAULT_PROFILE, help=f"one of {', '.join(PROFILES)}")
    s.add_argument("--weight", action="append", default=[], metavar="DIM=W",
                   help=f"a dimension's weight instead of a profile; dimensions: {', '.join(DIMENSIONS)}")


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    s = sub.add_parser("compare", help="models x the ten dimensions, with intervals and speed")
    s.add_argument("models", nargs="*")
    s.add_argument("--dimension", action="append", default=[], help="only this dimension (repeatable)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_compare)
    s = sub.add_parser("recommend", help="rank models for a job")
    s.add_argument("models", nargs="*")
    _add_priorities(s)
    s.add_argument("--min-tokens-per-s", type=float, default=None)
    s.add_argument("--max-ttft-s", type=float, default=None)
    s.add_argument("--context-needed", type=int, default=None)
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_recommend)
    s = sub.add_parser("plan", help="the runs to queue for some models within a time budget")
    s.add_argument("models", nargs="+")
    s.add_argument("--budget", type=float, default=None, help="minutes")
    s.add_argument("--dry-run", metavar="BENCHMARK", default=None, help=(
        "instead of a plan: what a run of BENCHMARK would download, need on disk and take"))
    s.add_argument("--limit", type=int, default=None, help="with --dry-run: the first N tasks")
    _add_priorities(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_plan)
    s = sub.add_parser("report", help="write the HTML and Markdown report with its charts")
    s.add_argument("models", nargs="*")
    s.add_argument("--out", default="benchdock-report", help="output directory")
    _add_priorities(s)
    s.set_defaults(fn=cmd_report)
