"""A scripted MCP client: list models, run a benchmark, wait with progress, print results.

    python examples/evaluate.py --benchmark humaneval --limit 10 [--model ID]

It starts `benchdock serve` over stdio, as Claude Desktop would; the environment
(BENCHDOCK_ENDPOINTS, BENCHDOCK_HOME, ...) is passed on to it.
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


async def main(args: argparse.Namespace) -> int:
    exe = shutil.which("benchdock") or os.path.join(os.path.dirname(sys.executable), "benchdock")
    async with Client(StdioTransport(command=exe, args=["serve"], env=dict(os.environ))) as c:
        models = data(await c.call_tool("list_models", {}))
        for ep in models["endpoints"]:
            state = "up" if ep["up"] else f"DOWN ({ep.get('error')})"
            print(f"endpoint {ep['url']}: {state}")
        found = [m for ep in models["endpoints"] for m in ep["models"]]
        for m in found:
            print(f"  model {m['id']}  context={m.get('context_size')} "
                  f"quant={m.get('quantization')}")
        if not found:
            print(models.get("note") or "no models found; set BENCHDOCK_ENDPOINTS",
                  file=sys.stderr)
            return 2
        model = args.model or found[0]["id"]
        queued = data(await c.call_tool("run_benchmark", {
            "model": model, "benchmark": args.benchmark, "limit": args.limit}))
        run_id = queued["run_id"]
        print(f"run {run_id}: {model} on {args.benchmark}, {queued['total']} samples")

        async def progress(done: float, total: float | None, message: str | None) -> None:
            print(f"  progress {done:.0f}/{total or 0:.0f}  {message or ''}")

        status: dict[str, Any] = {}
        while status.get("status") not in ("succeeded", "failed", "cancelled"):
            res = await c.call_tool("wait_for_run", {"run_id": run_id, "timeout_s": 30},
                                    progress_handler=progress)
            status = data(res)
        results = data(await c.call_tool("get_results", {"run_id": run_id, "limit": 50}))
    print(f"\n{status['status']} in {status.get('elapsed_s') or 0:.1f}s "
          f"(sandbox: {status.get('sandbox')})")
    for key, label in (("scores_base", "base tests"), ("scores", "all tests")):
        for name, sc in (results["metrics"].get(key) or {}).items():
            lo, hi = sc["ci95"]
            print(f"{name:7} {label:10} {sc['value']:.3f}  95% CI [{lo:.3f}, {hi:.3f}]  n={sc['n']}")
    t = results["metrics"]["timing"]
    print(f"mean latency {t.get('mean_latency_s') or 0:.2f}s, ttft "
          f"{t.get('mean_ttft_s') or 0:.3f}s, {t.get('tokens_per_s') or 0:.1f} tokens/s, "
          f"{t['cached']} cached")
    print(f"\n{'task':16} {'verdict':8} detail")
    for s in results["samples"]:
        detail = s["detail"].strip().splitlines()[-1][:70] if s.get("detail") else ""
        print(f"{s['task_id']:16} {s['status']:8} {detail}")
    return 0 if status["status"] == "succeeded" else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--benchmark", default="humaneval")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--model", default=None)
    sys.exit(asyncio.run(main(p.parse_args())))
