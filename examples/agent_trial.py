"""An agent's loop as a script: "which of the models on my endpoint should I use as my coding
model? Decide on evidence, within a budget."

It does what an agent with only benchdock's tools would do, on a fresh home: lists the
models; for each dimension it cares about, picks a benchmark that can run now, or sets one up
through `setup_benchmark` when the set-up is cheap enough (its plan says the cost before
anything is downloaded); asks `decide` once and lets it finish in the background, reading
its state one call at a time (each waits up to 45 s); then reports the choice and what
getting it cost: tool calls, characters read (tools/list and every result), minutes.

    python examples/agent_trial.py                          # every model, generation only
    python examples/agent_trial.py --models a b c --budget 15 \\
        --priorities generation=0.7,instruction_following=0.3 --setup-minutes 5

It starts `benchdock serve` over stdio, as Claude Desktop would; the environment
(BENCHDOCK_ENDPOINTS, BENCHDOCK_HOME, ...) is passed on to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sys
import time
from typing import Any

from fastmcp import Client
from fastmcp.client.transports import StdioTransport

WAIT_S = 45.0


class Agent:
    """The MCP client, counting what the agent spends: calls and characters read."""

    def __init__(self, client: Client) -> None:
        self.c = client
        self.calls = 0
        self.chars = 0
        self.log: list[tuple[str, int]] = []
        self.listed = 0

    async def tools(self) -> None:
        listed = await self.c.list_tools()
        self.listed = len(json.dumps([t.model_dump(mode="json", exclude_none=True)
                                      for t in listed]))
        self.chars += self.listed

    async def call(self, tool: str, **args: Any) -> dict[str, Any]:
        res = await self.c.call_tool(tool, args)
        text = "".join(getattr(b, "text", "") for b in res.content)
        size = len(text) + (len(json.dumps(res.structured_content))
                            if res.structured_content is not None else 0)
        self.calls += 1
        self.chars += size
        self.log.append((tool, size))
        return json.loads(text)  # type: ignore[no-any-return]


def weights(text: str) -> dict[str, float]:
    out = {}
    for item in text.split(","):
        dim, _, w = item.partition("=")
        out[dim.strip()] = float(w or 1)
    return out


def setup_minutes(setup: str) -> float:
    """The minutes a `setup` line of list_benchmarks announces (inf when it says none)."""
    found = re.search(r"~([\d.]+) min", setup)
    return float(found.group(1)) if found else float("inf")


def choose_benchmarks(listed: list[dict[str, Any]], dims: dict[str, float],
                      limit_min: float) -> tuple[dict[str, str], list[str], list[str]]:
    """Per dimension: a ready benchmark, else the quickest set-up within `limit_min`.
    Returns (dimension -> benchmark, benchmarks to set up, what is left out and why)."""
    chosen: dict[str, str] = {}
    to_set_up: list[str] = []
    left: list[str] = []
    for dim in sorted(dims, key=lambda d: -dims[d]):
        fams = [b for b in listed if dim in b["dimensions"]]
        ready = [b for b in fams if b["ready"]]
        if ready:
            chosen[dim] = ready[0]["id"]
            continue
        fixable = sorted((b for b in fams if b.get("setup")), key=lambda b: setup_minutes(
            b["setup"]))
        if fixable and setup_minutes(fixable[0]["setup"]) <= limit_min:
            chosen[dim] = fixable[0]["id"]
            to_set_up.append(fixable[0]["id"])
        else:
            why = fixable[0]["setup"] if fixable else "; ".join(
                f"{b['id']}: {b.get('why_not')}" for b in fams) or "no benchmark measures it"
            left.append(f"{dim}: {why}")
    return chosen, list(dict.fromkeys(to_set_up)), left


async def trial(agent: Agent, args: argparse.Namespace) -> dict[str, Any]:
    await agent.tools()
    listing = await agent.call("list_models")
    found = [m["id"] for ep in listing["endpoints"] for m in ep["models"]]
    if listing.get("note"):
        print(f"discovery: {listing['note']}")
    models = args.models or found
    if len(models) < 2:
        raise SystemExit(f"need two models to choose between; found {found or 'none'}")
    print(f"choosing between {', '.join(models)}")
    dims = weights(args.priorities)
    listed = (await agent.call("list_benchmarks"))["benchmarks"]
    chosen, to_set_up, left = choose_benchmarks(listed, dims, args.setup_minutes)
    job: dict[str, Any] = {}
    for line in left:
        print(f"  left out: {line}")
    if to_set_up:
        print(f"  setting up {', '.join(to_set_up)}")
        job = await agent.call("setup_benchmark", benchmarks=to_set_up)
        if job["status"] == "needs confirm":
            job = await agent.call("setup_benchmark", benchmarks=to_set_up, confirm=True)
        while job["status"] in ("queued", "running"):
            job = await agent.call("setup_benchmark", benchmarks=to_set_up, wait_s=WAIT_S)
            print(f"    set-up {job['status']}: {job.get('message', '')}")
        print(f"  set-up: {job['status']}; ready: {job.get('ready')}")
    ready = {d: b for d, b in chosen.items() if b not in to_set_up
             or (job.get("ready") or {}).get(b) == "ready"}
    if not ready:
        raise SystemExit("nothing can measure the dimensions asked for here")
    decide_args: dict[str, Any] = {
        "models": models, "budget_minutes": args.budget,
        "priorities": {d: dims[d] for d in ready}, "benchmarks": sorted(set(ready.values()))}
    if args.tasks_per_benchmark:
        decide_args["tasks_per_benchmark"] = args.tasks_per_benchmark
    print(f"  deciding on {', '.join(decide_args['benchmarks'])} within {args.budget} min")
    d = await agent.call("decide", **decide_args)
    while d["status"] in ("queued", "running"):
        d = await agent.call("decide", **decide_args, wait_s=WAIT_S)
        print(f"    {d['status']}: {d['minutes']:.1f} min spent; {d['verdict'][:100]}")
    return d


async def main(args: argparse.Namespace) -> int:
    exe = shutil.which("benchdock") or os.path.join(os.path.dirname(sys.executable), "benchdock")
    t0 = time.monotonic()
    async with Client(StdioTransport(command=exe, args=["serve"], env=dict(os.environ)),
                      timeout=120) as c:
        agent = Agent(c)
        d = await trial(agent, args)
    minutes = (time.monotonic() - t0) / 60
    if d.get("screening"):
        s = d["screening"]
        print(f"screened {s['models']} models: leaders {', '.join(s['leaders'])} ({s['rule']})")
    for dim in d["dimensions"]:
        rates = ", ".join(f"{r['model']} {r['rate']:.2f}" for r in dim.get("rates", []))
        print(f"  {dim['dimension']} on {dim['benchmark']}: {dim['status']}"
              + (f", winner {dim['winner']}" if dim.get("winner") else "")
              + f" ({dim['tasks']} tasks; {rates})")
    print(f"verdict: {d['verdict']}")
    print(f"choice: {d.get('choice') or 'none'}" + (f" ({d['choice_rule']})"
                                                   if d.get("choice_rule") else ""))
    summary = {"choice": d.get("choice"), "status": d["status"], "calls": agent.calls,
               "characters": agent.chars, "minutes": round(minutes, 2),
               "decision_minutes": d["minutes"], "tools_list_chars": agent.listed,
               "calls_by_tool": {}, "chars_by_call": [f"{t} {n}" for t, n in agent.log]}
    for tool, _ in agent.log:
        summary["calls_by_tool"][tool] = summary["calls_by_tool"].get(tool, 0) + 1
    print("TRIAL " + json.dumps(summary))
    return 0 if d.get("choice") else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=None)
    p.add_argument("--budget", type=float, default=15.0, help="minutes for the decision")
    p.add_argument("--priorities", default="generation=1",
                   help="dimension=weight,... (e.g. generation=0.7,instruction_following=0.3)")
    p.add_argument("--setup-minutes", type=float, default=5.0,
                   help="set up a benchmark when its set-up takes at most this long")
    p.add_argument("--tasks-per-benchmark", type=int, default=None)
    sys.exit(asyncio.run(main(p.parse_args())))
