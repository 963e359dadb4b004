"""A scripted MCP client that runs BFCL on a model and prints the per-category table.

    benchdock setup bfcl                       # once: BFCL's own environment
    python examples/bfcl.py --limit 5 [--model ID] [--mode native|prompting] \
        [--benchmark bfcl | bfcl-simple | bfcl-multi-turn-base ...]

`--limit 5` on `bfcl` takes the first 5 questions of every offline category (17 of them;
the multi-turn ones take several requests each). It starts `benchdock serve` over stdio, as
Claude Desktop would, passing the environment on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
from typing import Any

from fastmcp import Client
from fastmcp.client.transports import StdioTransport


def data(res: Any) -> dict[str, Any]:
    """A tool's result: its one text block, JSON (benchdock sends each result once)."""
    return json.loads(res.content[0].text)  # type: ignore[no-any-return]


async def run_one(c: Client, model: str, benchmark: str, limit: int | None,
                  mode: str | None) -> dict[str, Any]:
    args: dict[str, Any] = {"model": model, "benchmark": benchmark, "max_tokens": 512}
    if limit:
        args["limit"] = limit
    if mode:
        args["mode"] = mode
    queued = data(await c.call_tool("run_benchmark", args))
    print(f"run {queued['run_id']}: {model} on {benchmark}, {queued['total']} questions, "
          f"{queued['options']['mode']} mode ({queued.get('options_reason')})")

    async def progress(done: float, total: float | None, message: str | None) -> None:
        print(f"\r  {message}", end="", flush=True)

    status: dict[str, Any] = {}
    while status.get("status") not in ("succeeded", "failed", "cancelled"):
        res = await c.call_tool("wait_for_run", {"run_id": queued["run_id"], "timeout_s": 30},
                                progress_handler=progress)
        status = data(res)
    print()
    if status["status"] != "succeeded":
        print(f"  {status['status']}: {status.get('error')}")
    return data(await c.call_tool("get_results", {"run_id": queued["run_id"], "status": "fail",
                                              "limit": 5}))


async def main(args: argparse.Namespace) -> int:
    exe = shutil.which("benchdock") or os.path.join(os.path.dirname(sys.executable), "benchdock")
    async with Client(StdioTransport(command=exe, args=["serve"], env=dict(os.environ))) as c:
        models = data(await c.call_tool("list_models", {}))
        found = [m for ep in models["endpoints"] for m in ep["models"]]
        if not found:
            print(models.get("note") or "no models found; set BENCHDOCK_ENDPOINTS",
                  file=sys.stderr)
            return 2
        model = args.model or found[0]["id"]
        results = await run_one(c, model, args.benchmark, args.limit, args.mode)
    bfcl = results["metrics"].get("bfcl", {})
    print(f"\n{'category':26} {'accuracy':>8}  {'95% CI':17} correct")
    for cat, v in bfcl.get("per_category", {}).items():
        lo, hi = v["ci95"]
        print(f"{cat:26} {v['accuracy']:8.3f}  [{lo:.3f}, {hi:.3f}]  {v['correct']}/{v['n']}")
    overall = bfcl.get("overall") or {}
    print("BFCL's own aggregate: " + ", ".join(
        f"{k} {'N/A' if v is None else f'{v:.3f}'}" for k, v in overall.items() if k != "note"))
    t = results["metrics"]["timing"]
    print(f"mean latency {t.get('mean_latency_s') or 0:.2f}s per question, "
          f"{t.get('tokens_per_s') or 0:.1f} tokens/s, {t['cached']} cached")
    if results["samples"]:
        print("\nsome failures, with BFCL's checker verdict:")
    for s in results["samples"]:
        print(f"  {s['task_id']:24} {(s.get('detail') or '')[:100]}")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--benchmark", default="bfcl")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--model", default=None)
    p.add_argument("--mode", choices=["native", "prompting"], default=None)
    sys.exit(asyncio.run(main(p.parse_args())))
