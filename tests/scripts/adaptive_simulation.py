"""Validity of `decide`'s stopping rule, by simulation: prints a table.

For pairs of pass/fail models with a known true difference on a population of N tasks (a
benchmark), the procedure is replayed in many seeded random orders, checking the confidence
sequence after each batch as `decide` does. Columns: the true difference, the error rate (a
winner named when the truth is 0 or the other sign, or "equivalent" when |truth| >= margin;
it must stay <= 1 - confidence), the verdicts, the mean tasks per model to the decision, and
the fixed-size plans: the full benchmark (what plan_evaluation queues) and the classic
fixed-n for 80 % power. With --runs A,B (two stored runs' ids, or comma lists of run ids per
model, same benchmark) the population is the paired outcomes of real stored runs; --state
takes them from a decision's state file instead (BENCHDOCK_HOME/decisions/ID.json: every run
of each model). With --resample N the population is N tasks drawn (seeded, with
replacement) from those paired outcomes: the whole benchmark as its tasks run so far
suggest it, for a decision that ran only part of it. `decide` checks after every task scored
for all models (the default here; "tasks run" counts the first model's whole last batch);
--batch-end-only replays the rule before, a check only when a batch ends.

    python tests/scripts/adaptive_simulation.py [--replays 1000] [--n 164] [--margin 0.05]
    python tests/scripts/adaptive_simulation.py --runs RUN_A --runs RUN_B --db sqlite:///...
    python tests/scripts/adaptive_simulation.py --state H/decisions/ID.json --db sqlite:///H/benchdock.db \
        --dimension instruction_following --resample 541
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchdock.harnesses.choice.adaptive_sim import SimResult, population, replay, resampled

CASES = [  # pass rates of A and B, share of tasks both get alike
    (0.50, 0.50, 0.5), (0.30, 0.30, 0.8), (0.52, 0.50, 0.5), (0.55, 0.50, 0.5),
    (0.60, 0.50, 0.5), (0.70, 0.50, 0.5), (0.50, 0.80, 0.5), (0.90, 0.40, 0.5)]


def row(r: SimResult, seconds: float) -> str:
    v = r.verdicts
    power = "-" if r.fixed_power_tasks is None else str(r.fixed_power_tasks)
    return (f"| {r.true_diff:+.3f} | {r.error_rate:.3f} | {v['a']}/{v['b']}/{v['equivalent']}"
            f"/{v['open']} | {r.mean_tasks:.1f} | {r.mean_cost:.1f} | "
            f"{r.mean_cost / r.fixed_tasks:.2f} | {r.fixed_tasks} | {power} | {seconds:.0f} |")


def state_runs(path: Path) -> list[str]:
    """Each model's runs (comma-joined) from a decision's state, in the order of the first
    batch's models (the first model is A)."""
    data = json.loads(path.read_text())
    by_model: dict[str, list[str]] = {}
    for track in data.values():
        for _, _, runs in track["batches"]:
            for model, run_id in runs.items():
                by_model.setdefault(model, []).append(run_id)
    if len(by_model) != 2:
        raise SystemExit(f"{path}: {len(by_model)} models; replays compare two")
    return [",".join(r) for r in by_model.values()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replays", type=int, default=1000)
    ap.add_argument("--n", type=int, default=164, help="tasks in the population")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--batch-end-only", dest="mid_batch", action="store_false",
                    help="check only when a batch ends (the rule before)")
    ap.add_argument("--margin", type=float, default=0.05)
    ap.add_argument("--confidence", type=float, default=0.95)
    ap.add_argument("--runs", action="append", default=[],
                    help="twice: model A's and model B's stored run ids (comma-separated)")
    ap.add_argument("--state", default=None,
                    help="a decision's state file: its runs, first model vs second")
    ap.add_argument("--resample", type=int, default=None,
                    help="replay on this many tasks drawn from the stored paired outcomes")
    ap.add_argument("--db", default=None, help="the store (default: BENCHDOCK_DATABASE_URL)")
    ap.add_argument("--benchmark", default=None)
    ap.add_argument("--dimension", default="generation")
    args = ap.parse_args()
    alpha = 1 - args.confidence
    print(f"alpha {alpha:.2f}, margin {args.margin}, batch {args.batch}, "
          f"{args.replays} replays each")
    print(f"checks: {'after every task' if args.mid_batch else 'at batch ends only'}")
    print("| true diff | error rate | verdicts A/B/equiv/open | mean tasks to decision | mean "
          "tasks run | run / full | full benchmark | fixed-n 80% power | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    if args.state:
        args.runs = state_runs(Path(args.state))
    if args.runs:
        from benchdock.harnesses.choice.adaptive_sim import stored_population
        from benchdock.harnesses.config import Settings
        from benchdock.store.db import make_engine

        db = make_engine(args.db or Settings.from_env().database_url)
        diffs = stored_population(db, args.runs[0].split(","), args.runs[1].split(","),
                                  args.dimension)
        print(f"stored: {len(diffs)} paired tasks, mean difference {diffs.mean():+.3f}")
        if args.resample:
            diffs = resampled(diffs, args.resample, seed=0)
        t = time.monotonic()
        r = replay(diffs, alpha=alpha, margin=args.margin, batch=args.batch,
                   replays=args.replays, seed=1, mid_batch=args.mid_batch)
        print(row(r, time.monotonic() - t))
        return
    for i, (pa, pb, conc) in enumerate(CASES):
        t = time.monotonic()
        pop = population(args.n, pa, pb, conc, seed=i)
        r = replay(pop, alpha=alpha, margin=args.margin, batch=args.batch,
                   replays=args.replays, seed=100 + i, mid_batch=args.mid_batch)
        print(row(r, time.monotonic() - t), flush=True)


if __name__ == "__main__":
    main()
