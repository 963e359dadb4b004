"""Validity of `decide`'s stopping rule, by simulation: prints a table.

For pairs of pass/fail models with a known true difference on a population of N tasks (a
benchmark), the procedure is replayed in many seeded random orders, checking the confidence
sequence after each batch as `decide` does. Columns: the true difference, the error rate (a
winner named when the truth is 0 or the other sign, or "equivalent" when |truth| >= margin;
it must stay <= 1 - confidence), the verdicts, the mean tasks per model to the decision, and
the fixed-size plans: the full benchmark (what plan_evaluation queues) and the classic
fixed-n for 80 % power. With --runs A,B (two stored runs' ids, or comma lists of run ids per
model, same benchmark) the population is the paired outcomes of real stored runs.

    python tests/adaptive_simulation.py [--replays 1000] [--n 164] [--margin 0.05]
    python tests/adaptive_simulation.py --runs RUN_A --runs RUN_B --db sqlite:///...
"""

from __future__ import annotations

import argparse
import time

from benchdock.harnesses.choice.adaptive_sim import SimResult, population, replay

CASES = [  # pass rates of A and B, share of tasks both get alike
    (0.50, 0.50, 0.5), (0.30, 0.30, 0.8), (0.52, 0.50, 0.5), (0.55, 0.50, 0.5),
    (0.60, 0.50, 0.5), (0.70, 0.50, 0.5), (0.50, 0.80, 0.5), (0.90, 0.40, 0.5)]


def row(r: SimResult, seconds: float) -> str:
    v = r.verdicts
    power = "-" if r.fixed_power_tasks is None else str(r.fixed_power_tasks)
    return (f"| {r.true_diff:+.3f} | {r.error_rate:.3f} | {v['a']}/{v['b']}/{v['equivalent']}"
            f"/{v['open']} | {r.mean_tasks:.1f} | {r.mean_tasks / r.fixed_tasks:.2f} | "
            f"{r.fixed_tasks} | {power} | {seconds:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replays", type=int, default=1000)
    ap.add_argument("--n", type=int, default=164, help="tasks in the population")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--margin", type=float, default=0.05)
    ap.add_argument("--confidence", type=float, default=0.95)
    ap.add_argument("--runs", action="append", default=[],
                    help="twice: model A's and model B's stored run ids (comma-separated)")
    ap.add_argument("--db", default=None, help="the store (default: BENCHDOCK_DATABASE_URL)")
    ap.add_argument("--benchmark", default=None)
    ap.add_argument("--dimension", default="generation")
    args = ap.parse_args()
    alpha = 1 - args.confidence
    print(f"alpha {alpha:.2f}, margin {args.margin}, batch {args.batch}, "
          f"{args.replays} replays each")
    print("| true diff | error rate | verdicts A/B/equiv/open | mean tasks | / full | full "
          "benchmark | fixed-n 80% power | s |")
    print("|---|---|---|---|---|---|---|---|")
    if args.runs:
        from benchdock.harnesses.choice.adaptive_sim import stored_population
        from benchdock.harnesses.config import Settings
        from benchdock.store.db import make_engine

        db = make_engine(args.db or Settings.from_env().database_url)
        diffs = stored_population(db, args.runs[0].split(","), args.runs[1].split(","),
                                  args.dimension)
        t = time.monotonic()
        r = replay(diffs, alpha=alpha, margin=args.margin, batch=args.batch,
                   replays=args.replays, seed=1)
        print(row(r, time.monotonic() - t))
        return
    for i, (pa, pb, conc) in enumerate(CASES):
        t = time.monotonic()
        pop = population(args.n, pa, pb, conc, seed=i)
        r = replay(pop, alpha=alpha, margin=args.margin, batch=args.batch,
                   replays=args.replays, seed=100 + i)
        print(row(r, time.monotonic() - t), flush=True)


if __name__ == "__main__":
    main()
