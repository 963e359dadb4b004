"""RepoQA's own scorer (PyPI `repoqa` 0.1.2) in a venv of its own, to check benchdock's port
of its matcher against it (`tests/harnesses/benchmarks/repoqa/test_repoqa_parity.py`) and for anyone who wants RepoQA's
verdict on an answer.

Its module imports tree-sitter-languages 1.10.2, which works only with tree-sitter < 0.22
(benchdock has 0.26, through EvalPlus), and transformers at import: hence the venv
(`benchdock setup repoqa`, ~400 MB, about a minute). Only what `repoqa.compute_score`
imports is installed, not RepoQA's model clients (openai, anthropic, google-generativeai),
and NLTK at the version benchdock uses, so that BLEU is the same code on both sides.
The scorer reads answers and code as text and executes none of them, so it runs as a plain
subprocess.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from benchdock.harnesses.envs import managed as envs

REPOQA_VERSION = "0.1.2"
NLTK_VERSION = "3.10.4"  # the same pin as benchdock's own dependency


def spec() -> envs.EnvSpec:
    return envs.EnvSpec(
        name=f"repoqa-{REPOQA_VERSION}",
        steps=[("repoqa", ["--no-deps", f"repoqa=={REPOQA_VERSION}"]),
               ("what repoqa.compute_score imports",
                ["tree-sitter==0.21.3", "tree-sitter-languages==1.10.2",
                 f"nltk=={NLTK_VERSION}", "numpy>=1.25.2", "tempdir>=0.7.1", "rich>=13.5.2",
                 "transformers>=4.40.0", "appdirs>=1.4.4", "wget>=3.2"])],
        setup_hint=("run `benchdock setup repoqa` once (about a minute, ~400 MB: RepoQA's "
                    "scorer, whose tree-sitter pin clashes with benchdock's)"))


_SCRIPT = """
import json, sys
from repoqa.compute_score import needle_evaluator, Result
out = []
for case in json.load(sys.stdin):
    v, best, sim = needle_evaluator(case["output"], case["name"], case["repo"], "python", False)
    out.append([v == Result.BEST_MATCH, best, sim])
json.dump(out, sys.stdout)
"""


def evaluate(env_root: Path, cases: list[dict[str, Any]]) -> list[tuple[bool, str | None, float]]:
    """RepoQA's `needle_evaluator` on each case ({"output", "name", "repo"}): (best match,
    best target, similarity)."""
    env = envs.load(env_root, spec())
    proc = subprocess.run([str(env.python), "-c", _SCRIPT], input=json.dumps(cases),
                          capture_output=True, text=True, timeout=600, cwd="/")
    if proc.returncode != 0:
        raise RuntimeError(f"RepoQA's scorer failed: {proc.stderr[-2000:]}")
    return [(bool(a), b, float(c)) for a, b, c in json.loads(proc.stdout)]
