"""Mutants of a HumanEval+ reference solution, and which of them count.

Mutants come from cosmic-ray's own operators (cosmic-ray 8.7.0, used as a library: its
`core/*` operators enumerate mutation positions on a parso tree and `mutate_code` applies one
occurrence). Only occurrences inside the canonical solution (the body the prompt's stub lacks)
are used; operators that need arguments are skipped; mutants that do not compile or repeat
another's text are dropped. When more than `MAX_MUTANTS` remain, a seeded sample (seed
`SEED` and the task id) keeps `MAX_MUTANTS`: the set is the same on every machine.

A mutant *counts* only if HumanEval+'s own tests, run in the sandbox by the same judge that
runs the model's tests, kill it: a mutant they cannot tell from the reference may be
equivalent to it, and no suite should be blamed for missing it. The outcome is cached per
dataset hash and task in `BENCHDOCK_HOME/testgen/<dataset hash>/`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import random
import time
import warnings
from functools import cache
from pathlib import Path
from typing import Any

from benchdock.harnesses.benchmarks.testgen.sandbox_run import SuiteRuns

MUTATOR = "cosmic-ray"
SEED = 20261130
MAX_MUTANTS = 30
CACHE_SCHEMA = 1


@cache
def _operators() -> tuple[tuple[str, Any], ...]:
    from cosmic_ray.plugins import get_operator, operator_names

    out = []
    for name in sorted(operator_names()):
        cls = get_operator(name)
        if not name.startswith("core/") or cls.arguments():
            continue
        out.append((name, cls()))
    return tuple(out)


def mutator_version() -> str:
    from importlib import metadata

    return f"{MUTATOR} {metadata.version('cosmic-ray')}"


def _change(before: str, after: str) -> tuple[int, str]:
    """The first changed line (1-based) and the change as `old` -> `new`."""
    a, b = before.splitlines(), after.splitlines()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b).get_opcodes():
        if tag != "equal":
            old = " / ".join(x.strip() for x in a[i1:i2]) or "(nothing)"
            new = " / ".join(x.strip() for x in b[j1:j2]) or "(removed)"
            return i1 + 1, f"{old}  ->  {new}"
    return 0, "(no change)"


def generate(prompt: str, solution: str, task_id: str) -> list[dict[str, Any]]:
    """Every mutant of `prompt + solution` whose change lies in `solution` (seeded sample)."""
    from cosmic_ray.ast import ast_nodes, get_ast
    from cosmic_ray.mutating import mutate_code

    code = prompt + solution
    first_line = prompt.count("\n") + 1
    seen = {code}
    found: list[dict[str, Any]] = []
    for name, op in _operators():
        occurrence = 0
        for node in ast_nodes(get_ast(code)):
            for start, _end in op.mutation_positions(node):
                occ = occurrence
                occurrence += 1
                if start[0] < first_line:
                    continue
                mutated = mutate_code(code, op, occ)
                if mutated is None or mutated in seen:
                    continue
                try:
                    with warnings.catch_warnings():  # `x is 1` is a mutant, not a mistake
                        warnings.simplefilter("ignore")
                        compile(mutated, "<mutant>", "exec")
                except (SyntaxError, ValueError):
                    continue
                seen.add(mutated)
                line, change = _change(code, mutated)
                found.append({"operator": name, "occurrence": occ, "line": line,
                              "change": change, "code": mutated})
    if len(found) > MAX_MUTANTS:
        rng = random.Random(f"{SEED}:{task_id}")
        found = sorted(rng.sample(found, MAX_MUTANTS),
                       key=lambda m: (m["operator"], m["occurrence"]))
    for i, m in enumerate(found):
        m["id"] = f"m{i:02d}"
    return found


def cache_path(home: Path, dataset_hash: str, task_id: str) -> Path:
    safe = task_id.replace("/", "_")
    return home / "testgen" / dataset_hash / f"{safe}.json"


def counted_mutants(runs: SuiteRuns, home: Path, dataset_hash: str, task_id: str,
                    prompt: str, solution: str, entry_point: str, names: list[str],
                    plus_tests: str) -> dict[str, Any]:
    """The task's mutants with, for each, whether HumanEval+'s tests kill it (cached)."""
    path = cache_path(home, dataset_hash, task_id)
    key = hashlib.sha256(json.dumps([CACHE_SCHEMA, mutator_version(), SEED, MAX_MUTANTS,
                                     prompt, solution]).encode()).hexdigest()
    if path.exists():
        try:
            cached: dict[str, Any] = json.loads(path.read_text())
            if cached.get("key") == key:
                return cached
        except ValueError:
            pass
    t0 = time.monotonic()
    mutants = generate(prompt, solution, task_id)
    gen_s = time.monotonic() - t0
    outcome = runs.judge(prompt + solution, mutants, plus_tests, names)
    entry: dict[str, Any] = {
        "key": key, "mutator": mutator_version(), "seed": SEED, "task_id": task_id,
        "generated": len(mutants), "generate_s": round(gen_s, 3),
        "build_s": round(time.monotonic() - t0, 3), "sandbox": runs.sandbox.kind,
        "reference": outcome.reference, "problem": outcome.problem,
        "mutants": [{**m, "counted": not outcome.mutants.get(m["id"], {}).get("passed", True),
                     "plus_how": outcome.mutants.get(m["id"], {}).get("how")}
                    for m in mutants],
    }
    if outcome.problem is None:  # a sandbox fault is not cached: the next run tries again
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entry))
    return entry
