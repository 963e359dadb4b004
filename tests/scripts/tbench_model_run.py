"""A real model over benchdock's local Harbor-format set, through the whole path (Harbor's
Terminus-2, the recording proxy, Docker, the verifier): one line per task with its verdict,
why it failed, the agent's turns and status, the reward, and the time each phase took.
Printed, not asserted (the point is that every task gets a real verdict).

    BENCHDOCK_ENVS=... python tests/scripts/tbench_model_run.py \\
        --endpoint http://127.0.0.1:18230/v1 --model smollm2-135m [--max-turns 5] \\
        [--max-tokens 256] [--concurrency 2] [--tasks a,b]

Needs the harbor venv and the tasks' base image (`benchdock setup terminal-bench-local`)
and a running endpoint (`benchdock demo-server --port N`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchdock.harnesses.contract.registry import get_benchmark  # noqa: E402
from benchdock.store import queries as q  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.support.tbench_support import run_tbench  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--max-turns", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--tasks", default="")
    ap.add_argument("--agent-timeout-multiplier", type=float, default=1.0)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tbench-model-run-"))
    settings = make_settings(home, args.endpoint)
    bench = get_benchmark("terminal-bench-local", settings)
    ids = args.tasks.split(",") if args.tasks else [t.id for t in bench.tasks()]
    t0 = time.monotonic()
    opts = {"max_turns": args.max_turns,
            "agent_timeout_multiplier": args.agent_timeout_multiplier}
    status, run, db = run_tbench(settings, ids, None, opts,
                                 run_id="tbench-model", concurrency=args.concurrency,
                                 model=args.model, max_tokens=args.max_tokens)
    wall = time.monotonic() - t0
    print(f"run {status} in {wall:.0f}s ({args.model}, max_turns {args.max_turns}, "
          f"max_tokens {args.max_tokens}, agent timeout x{args.agent_timeout_multiplier}, "
          f"concurrency {args.concurrency}); db {home}")
    print(f"{'task':34} {'verdict':8} {'failure':17} {'agent':13} {'turns':>5} {'reward':>6} "
          f"{'agent_s':>8} {'verify_s':>8} {'calls':>5} {'cut':>4} {'tokens':>7}")
    for s in sorted(q.all_samples(db, run.id), key=lambda s: s.task_id):
        e = s.extra or {}
        calls = len(e.get("exchanges") or [])
        cut = sum(1 for x in e.get("exchanges") or [] if x.get("finish_reason") == "length")
        tokens = int(e.get("input_tokens") or 0) + int(e.get("output_tokens") or 0)
        print(f"{s.task_id:34} {s.verdict or '-':8} {e.get('failure') or '-':17} "
              f"{e.get('agent_status') or '-':13} {e.get('turns', '-')!s:>5} "
              f"{e.get('reward')!s:>6} {e.get('agent_s', '-')!s:>8} "
              f"{e.get('verify_s', '-')!s:>8} {calls:>5} {cut:>4} {tokens:>7}")
    details = (run.metrics or {}).get("tbench") or {}
    print(f"resolved {details.get('resolved')}/{details.get('n')}, failures "
          f"{details.get('failures')}, recovery {details.get('recovery')}")


if __name__ == "__main__":
    main()
