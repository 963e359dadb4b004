"""The agent trial as the tools stood before issue 23, for its "before" figures: the same
question ("which of these five models?"), the same endpoint, the tools of that release.

What an economical agent could do with them: list the models and benchmarks; no set-up tool
(a benchmark that is not set up stays unmeasured); `decide` takes at most four models, so
first a 10-task probe run of each model (run_benchmark, then wait_for_run until it ends),
compare_dimensions to pick four; then `decide`, called again and again (each call advances
the decision for at most 45 s) until it says finished. Calls and characters (text and
structured content, as that release sent both) are counted as examples/agent_trial.py does.

    python tests/scripts/agent_trial_before.py --exe /path/to/old/benchdock --budget 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

from fastmcp import Client
from fastmcp.client.transports import StdioTransport

FINAL = ("succeeded", "failed", "cancelled")


class Agent:
    def __init__(self, client: Client) -> None:
        self.c, self.calls, self.chars, self.listed = client, 0, 0, 0
        self.by_tool: dict[str, int] = {}

    async def tools(self) -> None:
        listed = await self.c.list_tools()
        self.listed = len(json.dumps([t.model_dump(mode="json", exclude_none=True)
                                      for t in listed]))
        self.chars += self.listed

    async def call(self, tool: str, **args: Any) -> dict[str, Any]:
        res = await self.c.call_tool(tool, args)
        text = "".join(getattr(b, "text", "") for b in res.content)
        self.chars += len(text) + (len(json.dumps(res.structured_content))
                                   if res.structured_content is not None else 0)
        self.calls += 1
        self.by_tool[tool] = self.by_tool.get(tool, 0) + 1
        return res.structured_content or json.loads(text)


async def trial(a: Agent, args: argparse.Namespace) -> dict[str, Any]:
    await a.tools()
    models = [m["id"] for m in (await a.call("list_models"))["models"]]
    listed = (await a.call("list_benchmarks"))["benchmarks"]
    ready = [b["id"] for b in listed if b["ready"] and "generation" in b["dimensions"]]
    bench = ready[0]
    if len(models) > 4:  # decide takes four: probe each, keep the best four
        for m in models:
            run = await a.call("run_benchmark", model=m, benchmark=bench, limit=10)
            st: dict[str, Any] = {}
            while st.get("status") not in FINAL:
                st = await a.call("wait_for_run", run_id=run["run_id"], timeout_s=45)
        cmp = await a.call("compare_dimensions", models=models, dimensions=["generation"])
        score = {r["model"]: r["dimensions"]["generation"].get("score") or 0.0
                 for r in cmp["models"]}
        models = sorted(models, key=lambda m: -score.get(m, 0.0))[:4]
    d: dict[str, Any] = {"status": "running"}
    while d["status"] != "finished":
        d = await a.call("decide", models=models, budget_minutes=args.budget,
                         priorities={"generation": 1}, benchmarks=[bench],
                         tasks_per_benchmark=args.tasks_per_benchmark, wait_s=45)
    return d


async def main(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    async with Client(StdioTransport(command=args.exe, args=["serve"], env=dict(os.environ)),
                      timeout=120) as c:
        agent = Agent(c)
        d = await trial(agent, args)
    print("TRIAL " + json.dumps({
        "choice": d.get("winner"), "status": d["status"], "calls": agent.calls,
        "characters": agent.chars, "tools_list_chars": agent.listed,
        "minutes": round((time.monotonic() - t0) / 60, 2), "decision_minutes": d["minutes"],
        "calls_by_tool": agent.by_tool}))
    return 0 if d.get("winner") else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--exe", required=True, help="the `benchdock` of the release before")
    p.add_argument("--budget", type=float, default=20.0)
    p.add_argument("--tasks-per-benchmark", type=int, default=40)
    sys.exit(asyncio.run(main(p.parse_args())))
