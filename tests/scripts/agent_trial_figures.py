"""The agent trial's figures (issue 23): calls, characters read and minutes to a decision,
for this release's examples/agent_trial.py and, given the `benchdock` of an earlier release,
for tests/scripts/agent_trial_before.py, both on a fresh home against the same five fake
models on one endpoint (tests/support/trial_models.py), BENCHDOCK_SANDBOX=local.

    python -m tests.scripts.agent_trial_figures [--before-exe /tmp/old-venv/bin/benchdock]
    python -m tests.scripts.agent_trial_figures --endpoints URL,URL   # real endpoints

With --endpoints it runs this release's trial against real endpoints (e.g. the demo models:
`benchdock demo-server`), on the generation benchmark only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import ROOT
from tests.support.fake_models import fake_models
from tests.support.trial_models import PLUGIN, plugin_site, trial_models


def run(cmd: list[str], env: dict[str, str]) -> dict[str, object]:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if "TRIAL " not in proc.stdout:
        raise SystemExit(f"no figures from {cmd[:3]}:\n{proc.stdout[-2000:]}"
                         f"{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.split("TRIAL ", 1)[1].splitlines()[0]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before-exe", default=None, help="an earlier release's `benchdock`")
    p.add_argument("--endpoints", default=None, help="real endpoints instead of the fakes")
    p.add_argument("--budget", type=float, default=20.0)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="agent-trial-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith("BENCHDOCK_")}
    base.update(BENCHDOCK_SANDBOX="local", BENCHDOCK_ENVS=str(tmp / "envs"))
    example = [sys.executable, str(ROOT / "examples" / "agent_trial.py"), "--budget",
               str(args.budget)]
    if args.endpoints:
        env = {**base, "BENCHDOCK_ENDPOINTS": args.endpoints, "BENCHDOCK_HOME": str(tmp / "h")}
        print(f"after, {args.endpoints}: {json.dumps(run(example, env))}")
        return 0
    site = plugin_site(tmp / "site")
    with fake_models(trial_models()) as (url, _):
        env = {**base, "BENCHDOCK_ENDPOINTS": url, "BENCHDOCK_HOME": str(tmp / "after"),
               "PYTHONPATH": os.pathsep.join([str(site), str(PLUGIN)])}
        after = run([*example, "--setup-minutes", "1", "--priorities",
                     "generation=0.7,instruction_following=0.3",
                     "--tasks-per-benchmark", "40"], env)
        print(f"after:  {json.dumps(after)}")
        if args.before_exe:
            env = {**env, "BENCHDOCK_HOME": str(tmp / "before")}
            before = run([sys.executable, str(ROOT / "tests" / "scripts" /
                                              "agent_trial_before.py"), "--exe",
                          args.before_exe, "--budget", str(args.budget)], env)
            print(f"before: {json.dumps(before)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
