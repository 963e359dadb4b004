"""`benchdock decide`: the adaptive comparison, the same job the `decide` tool starts (the
worker runs it; more than four models are screened first), followed to its end here with its
running state on stderr; Ctrl-C cancels it, --detach leaves it running."""

from __future__ import annotations

import argparse
import sys

import anyio

from benchdock.harnesses.choice import adaptive_job
from benchdock.harnesses.choice.adaptive_views import DecideRequest, Decision
from benchdock.harnesses.choice.profiles import PROFILES
from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract.dimensions import DIMENSIONS
from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.service import operations as service
from benchdock.server.interrupt import ctrl_c_flag
from benchdock.server.text import table


def _priorities(args: argparse.Namespace) -> str | dict[str, float] | None:
    if not args.weight:
        return args.profile  # type: ignore[no-any-return]
    out: dict[str, float] = {}
    for item in args.weight:
        dim, _, w = item.partition("=")
        try:
            out[dim] = float(w)
        except ValueError:
            raise BenchdockError(f"--weight wants DIMENSION=NUMBER, got {item!r}") from None
    return out


def show(d: Decision) -> None:
    print(f"{d.status}: {d.verdict}" + (f"; use {d.choice}" if d.choice else ""))
    if d.screening:
        print(f"screened {d.screening.models} models: {d.screening.rule}")
        print("  " + ", ".join(f"{m} {r:.2f}" for m, r in d.screening.rates.items()))
    rows = [[x.dimension, x.benchmark, x.status, x.winner or ", ".join(x.equivalent or []),
             "; ".join(f"{p.a}-{p.b} [{p.lower:+.3f}, {p.upper:+.3f}]" for p in x.intervals),
             f"{x.tasks}/{x.population}"] for x in d.dimensions]
    print(table(rows, ["dimension", "benchmark", "status", "winner", "interval", "tasks"]))
    rows = [[b.benchmark, b.status, str(b.batch), f"{b.tasks_per_model}/{b.population}",
             f"{b.minutes:.1f}", f"{b.full_minutes:.1f}",
             "-" if b.switch_s is None else f"{b.switch_s:.1f}"] for b in d.benchmarks]
    print(table(rows, ["benchmark", "status", "batch", "tasks", "min", "full min", "switch s"]))
    ratio = f" ({d.time_ratio:.2f} of the full benchmarks)" if d.time_ratio is not None else ""
    print(f"spent {d.minutes:.1f} min; the full benchmarks: ~{d.full_minutes:.1f} min{ratio}")
    for b in d.benchmarks:
        if b.reason:
            print(f"{b.benchmark}: {b.reason}")


def cmd_decide(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    core = service.Core(settings)
    req = DecideRequest(
        models=args.models, budget_minutes=args.budget, priorities=_priorities(args),
        margin=args.margin, confidence=args.confidence, benchmarks=args.benchmark or None,
        tasks_per_benchmark=args.tasks_per_benchmark, batch=args.batch, seed=args.seed,
        max_tokens=args.max_tokens)

    d = anyio.run(adaptive_job.request, settings, core.db, req)
    print(f"decision {d.decision_id}: {d.status}", file=sys.stderr)
    if args.detach:
        print(d.decision_id)
        return 0
    last = ""
    with ctrl_c_flag() as ctrl_c:  # read between store calls, see interrupt.py
        while d.status in ("queued", "running") and not ctrl_c.wait(2):
            d = adaptive_job.state(settings, core.db, d.decision_id)
            line = f"[{d.minutes:.1f} min] {d.verdict}"
            if line != last:
                print(line, file=sys.stderr, flush=True)
                last = line
        if ctrl_c.is_set():
            anyio.run(adaptive_job.request, settings, core.db, req, True)
            print("\ncancelled (its runs are cancelled too)", file=sys.stderr)
            return 130
    if args.json:
        print(d.model_dump_json(indent=1, exclude_none=True))
    else:
        show(d)
    return 0 if d.status == "finished" else 1


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    s = sub.add_parser("decide", help="compare models adaptively: stop as soon as the "
                       "evidence decides, within a time budget")
    s.add_argument("models", nargs="+")
    s.add_argument("--budget", type=float, required=True, help="minutes")
    s.add_argument("--profile", default=None, help=f"one of {', '.join(PROFILES)}")
    s.add_argument("--weight", action="append", default=[], metavar="DIM=W",
                   help=f"a dimension's weight; dimensions: {', '.join(DIMENSIONS)}")
    s.add_argument("--benchmark", action="append", default=[], help="only this benchmark "
                   "(repeatable)")
    s.add_argument("--margin", type=float, default=0.05)
    s.add_argument("--confidence", type=float, default=0.95)
    s.add_argument("--tasks-per-benchmark", type=int, default=None)
    s.add_argument("--batch", type=int, default=None)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--max-tokens", type=int, default=None)
    s.add_argument("--json", action="store_true")
    s.add_argument("--detach", action="store_true",
                   help="start it and print its id; the worker carries on (read it with the "
                        "same command, or the decide tool)")
    s.set_defaults(fn=cmd_decide)
