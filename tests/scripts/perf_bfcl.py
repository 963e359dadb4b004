"""BFCL speed figure for the closing note, both sides measured in one run:

    python tests/scripts/perf_bfcl.py --endpoint http://127.0.0.1:18282/v1 [--n 50] [--mode prompting]

1. BFCL's own handler (bfcl-eval's OpenAICompletionsHandler.inference, in its venv) asking the
   endpoint directly for the first N `simple_python` questions, one at a time: the
   endpoint's own time for these requests, with nothing of benchdock in between;
2. `benchdock run bfcl-simple --limit N` on a fresh store (no cache), the same requests
   (same mode, max_tokens, top_p, temperature), one at a time, through the recording proxy,
   the Docker sandbox and the store: wall time from queueing to the last verdict, and the
   run's own wall time (started -> finished).
Ratio 2/1, target <= 1.10. The benchdock side pays worker start, container start and
bfcl_eval's import (~5 s) once per run; the ratio is reported with and without them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = r"""
import copy, json, os, sys, tempfile, time
os.environ.setdefault("BFCL_PROJECT_ROOT", tempfile.mkdtemp())
os.environ.setdefault("OPENAI_API_KEY", "unused")
from openai import OpenAI
from bfcl_eval.utils import load_dataset_entry
from bfcl_eval.model_handler.api_inference.openai_completion import OpenAICompletionsHandler
endpoint, model, mode, n, max_tokens, top_p = sys.argv[1:7]
h = OpenAICompletionsHandler(model_name=model, temperature=0.0, registry_name="baseline",
                             is_fc_model=mode == "native")
h.client = OpenAI(api_key="x", base_url=endpoint, max_retries=0)
create = h.client.chat.completions.create
h.client.chat.completions.create = lambda **kw: create(**kw, max_tokens=int(max_tokens), top_p=float(top_p))
entries = load_dataset_entry("simple_python")[: int(n)]
t0 = time.perf_counter()
lat = 0.0
for e in entries:
    _, meta = h.inference(copy.deepcopy(e), False, True)
    lat += meta["latency"]
print(json.dumps({"wall_s": time.perf_counter() - t0, "latency_sum_s": lat}))
"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", default=os.environ.get("BENCHDOCK_TEST_ENDPOINT", "http://127.0.0.1:8080/v1"))
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--mode", choices=["native", "prompting"], default="prompting")
    p.add_argument("--max-tokens", type=int, default=128)
    args = p.parse_args()
    from benchdock.harnesses.benchmarks.bfcl.environment import load_env
    from benchdock.harnesses.config import default_envs_dir

    env = load_env(default_envs_dir())
    home = Path(tempfile.mkdtemp(prefix="benchdock-perf-bfcl-"))
    base = subprocess.run([str(env.python), "-c", BASELINE, args.endpoint, args.model, args.mode,
                           str(args.n), str(args.max_tokens), "0.95"],
                          capture_output=True, text=True)
    if base.returncode != 0:
        sys.exit(f"BFCL baseline failed:\n{base.stderr[-3000:]}")
    baseline = json.loads(base.stdout.strip().splitlines()[-1])
    print(f"1. BFCL's own handler, {args.n} simple_python questions, {args.mode}, one at a time: "
          f"{baseline['wall_s']:.1f} s (its request latencies sum to {baseline['latency_sum_s']:.1f} s)",
          flush=True)
    exe = Path(sys.executable).with_name("benchdock")
    run_env = {**os.environ, "BENCHDOCK_HOME": str(home), "BENCHDOCK_ENDPOINTS": args.endpoint,
               "BENCHDOCK_SANDBOX": "docker"}
    t0 = time.perf_counter()
    out = subprocess.run([str(exe), "run", "bfcl-simple", "--model", args.model, "--limit",
                          str(args.n), "--mode", args.mode, "--max-tokens", str(args.max_tokens),
                          "--show", "1"], env=run_env, capture_output=True, text=True)
    total = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"benchdock run failed:\n{out.stdout}\n{out.stderr}")
    import sqlite3

    con = sqlite3.connect(home / "benchdock.db")
    started, finished, metrics = con.execute(
        "select started_at, finished_at, metrics from run").fetchone()
    from datetime import datetime

    run_wall = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    per = json.loads(metrics)["bfcl"]["per_category"]["simple_python"]
    print(f"2. benchdock run bfcl-simple --limit {args.n}: {total:.1f} s from the command to the "
          f"table, {run_wall:.1f} s run wall (started -> finished); accuracy {per['accuracy']:.3f} "
          f"({per['correct']}/{per['n']})", flush=True)
    print(f"ratio {total / baseline['wall_s']:.3f} end to end, {run_wall / baseline['wall_s']:.3f} "
          "run wall (target <= 1.10)", flush=True)


if __name__ == "__main__":
    main()
