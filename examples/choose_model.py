"""An agent-like MCP client choosing between two models on evidence: it plans an evaluation
within a time budget, runs it, compares the two on the ten dimensions and asks for a
recommendation.

    python examples/choose_model.py [--models A B] [--budget 15] [--profile autocomplete]
    python examples/choose_model.py --benchmark humaneval --limit 5   # skip the plan

It starts `benchdock serve` over stdio, as Claude Desktop would; the environment
(BENCHDOCK_ENDPOINTS with one or more endpoints, BENCHDOCK_HOME, ...) is passed on to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from fastmcp import Client
from fastmcp.client.transports import StdioTransport

FINAL = ("succeeded", "failed", "cancelled")


async def call(c: Client, tool: str, **args: Any) -> dict[str, Any]:
    """A tool's result: its one text block, JSON (benchdock sends each result once)."""
    return json.loads((await c.call_tool(tool, args)).content[0].text)  # type: ignore[union-attr,no-any-return]


async def run_and_wait(c: Client, model: str, benchmark: str, limit: int | None) -> dict[str, Any]:
    queued = await call(c, "run_benchmark", model=model, benchmark=benchmark, limit=limit)
    print(f"  run {queued['run_id']}: {model} on {benchmark} ({queued['total']} samples)")
    status: dict[str, Any] = {}
    while status.get("status") not in FINAL:
        status = await call(c, "wait_for_run", run_id=queued["run_id"], timeout_s=30)
        print(f"    {status['status']}: {status['done']}/{status['total']}")
    return status


async def main(args: argparse.Namespace) -> int:
    exe = shutil.which("benchdock") or os.path.join(os.path.dirname(sys.executable), "benchdock")
    async with Client(StdioTransport(command=exe, args=["serve"], env=dict(os.environ))) as c:
        found = [m["id"] for ep in (await call(c, "list_models"))["endpoints"]
                 for m in ep["models"]]
        models = args.models or found[:2]
        if len(models) < 2:
            print(f"need two models to choose between; the endpoints serve {found or 'none'} "
                  "(set BENCHDOCK_ENDPOINTS, or pass --models A B)", file=sys.stderr)
            return 2
        print(f"choosing between {models[0]} and {models[1]} for {args.profile}")

        if args.benchmark:  # the caller knows what to run
            todo = [(m, args.benchmark, args.limit) for m in models]
        else:  # ask benchdock what is worth running in the time we have
            plan = await call(c, "plan_evaluation", models=models, budget_minutes=args.budget,
                              priorities=args.profile)
            for r in plan["runs"]:
                print(f"  plan {r['order']}: {r['model']} on {r['benchmark']} limit={r.get('limit')} "
                      f"~{r['estimate_minutes']} min ({r['why']})")
            for u in plan["uncovered"]:
                print(f"  not covered: {', '.join(u['dimensions'])} for "
                      f"{', '.join(u['models'])}: {u['reason'][:100]}"
                      + (f" ({u['setup']})" if u.get("setup") else ""))
            todo = [(r["model"], r["benchmark"], r.get("limit")) for r in plan["runs"]]
        for model, bench, limit in todo:
            if (await run_and_wait(c, model, bench, limit))["status"] != "succeeded":
                print(f"  the run of {bench} on {model} did not succeed; comparing what there is")

        cmp = await call(c, "compare_dimensions", models=models)
        for row in cmp["models"]:
            tps = row["speed"].get("tokens_per_s")  # absent fields: not measured
            print(f"\n{row['model']}: " + (f"{tps:.1f} tokens/s" if tps else "speed not measured"))
            for dim, cell in row["dimensions"].items():
                if cell["measured"]:
                    lo, hi = cell["ci95"]
                    vs = cell["vs_leader"]["verdict"] if "vs_leader" in cell else "leader"
                    print(f"  {dim:22} {cell['score']:.3f} [{lo:.3f}, {hi:.3f}] n={cell['n']}  {vs}")
                else:
                    nm = cell["not_measured"]
                    print(f"  {dim:22} not measured: "
                          + (f"{nm['measured_by']} ~{nm['estimate_minutes']} min"
                             + (f" after {nm['setup']}" if nm.get("setup") else "")
                             if nm.get("measured_by") else "no benchdock benchmark yet"))
        rec = await call(c, "recommend_model", priorities=args.profile, models=models)
        print()
        for r in rec["ranking"]:
            print(r["reason"])
        print(rec["summary"])
        if args.chart:
            res = await c.call_tool("get_chart", {"kind": "radar", "models": models})
            import base64

            Path(args.chart).write_bytes(base64.b64decode(res.content[0].data))  # type: ignore[union-attr]
            print(f"radar chart: {args.chart}")
    return 0 if rec["ranking"] else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs=2, default=None)
    p.add_argument("--budget", type=float, default=15.0, help="minutes for the planned runs")
    p.add_argument("--profile", default="autocomplete")
    p.add_argument("--benchmark", default=None, help="run this on both instead of planning")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--chart", default=None, help="save the radar chart PNG here")
    sys.exit(asyncio.run(main(p.parse_args())))
