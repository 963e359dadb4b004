"""Equivalence with EvalPlus, measured on the real files (not collected by pytest).

    python tests/scripts/evalplus_parity.py [--sets humaneval mbpp] [--sandboxes local docker]
                                    [--parallel 2] [--no-wrong] [--tasks ID ...] [--out DIR]

For HumanEval+ (164) and MBPP+ (378), scores the canonical solutions and a set of wrong ones
(each canonical solution with one operator or constant of one line mutated, where that
parses) through `evalplus.evaluate` itself (in this process, first, with the real files via
HUMANEVAL_OVERRIDE_PATH / MBPP_OVERRIDE_PATH) and through benchdock in each sandbox, then
prints identical/different counts per EvalPlus (base, plus) status, with the task ids that
differ and benchdock's reason. Results go to DIR/parity.json.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

DATA = Path(os.environ.get("BENCHDOCK_DATASETS", "/work/shared/datasets")) / "evalplus"
FILES = {"humaneval": ("HUMANEVAL_OVERRIDE_PATH", "HumanEvalPlus-v0.1.10.jsonl.gz"),
         "mbpp": ("MBPP_OVERRIDE_PATH", "MbppPlus-v0.2.0.jsonl.gz")}
BENCH = {"humaneval": "humaneval-plus", "mbpp": "mbpp-plus"}
SWAPS = [("<=", "<"), (">=", ">"), ("==", "!="), ("!=", "=="), (" < ", " <= "), (" > ", " >= "),
         (" + ", " - "), (" - ", " + "), (" and ", " or "), (" or ", " and "),
         ("True", "False"), ("False", "True"), (" * ", " + "), ("+ 1", "+ 2"), ("- 1", "- 2"),
         ("[0]", "[1]"), ("[1]", "[0]"), ("0", "1")]


def mutate(task_id: str, prompt: str, canonical: str) -> str | None:
    """The canonical solution with one swap on one line (which line: from the task id), if
    one applies and the result still parses; else None."""
    lines = canonical.splitlines()
    start = int(hashlib.md5(task_id.encode()).hexdigest(), 16) % max(1, len(lines))
    for k in range(len(lines)):
        i = (start + k) % len(lines)
        line = lines[i]
        if line.strip().startswith(("#", "def ", "import ", "from ", '"""', "'''")):
            continue
        for a, b in SWAPS:
            if a in line:
                cand = [*lines[:i], line.replace(a, b, 1), *lines[i + 1:]]
                text = "\n".join(cand)
                try:
                    ast.parse(prompt + text)
                except SyntaxError:
                    continue
                return text
    return None


def evalplus_verdicts(dataset: str, solutions: dict[str, str], parallel: int,
                      work: Path, label: str) -> dict[str, tuple[str, str]]:
    from evalplus.evaluate import evaluate

    samples = work / f"{dataset}-{label}.jsonl"
    samples.write_text("".join(json.dumps({"task_id": k, "solution": v}) + "\n"
                               for k, v in solutions.items()))
    evaluate(dataset, samples=str(samples), parallel=parallel, i_just_wanna_run=True)
    res = json.loads(samples.with_name(samples.stem + "_eval_results.json").read_text())["eval"]
    return {k: (r[0]["base_status"], r[0]["plus_status"]) for k, r in res.items()}


def benchdock_verdicts(dataset: str, kind: str, solutions: dict[str, str], parallel: int,
                       image: str) -> dict[str, tuple[str, str, str]]:
    from benchdock.harnesses.contract.registry import get_benchmark
    from benchdock.harnesses.sandbox import open_sandbox

    bench = get_benchmark(BENCH[dataset])
    tasks = [t for t in bench.tasks() if t.id in solutions]  # type: ignore[attr-defined]
    out: dict[str, tuple[str, str, str]] = {}
    with open_sandbox(kind, image, parallel) as sb:
        bench.prepare(sb, tasks)  # type: ignore[attr-defined]

        def one(t: Any) -> tuple[str, tuple[str, str, str]]:
            v = bench.score(t, solutions[t.id], sb)  # type: ignore[attr-defined]
            return t.id, (str(v.base), str(v.plus), (v.detail or "")[:300])

        with ThreadPoolExecutor(parallel) as pool:
            for n, (tid, got) in enumerate(pool.map(one, tasks), 1):
                out[tid] = got
                if n % 50 == 0:
                    print(f"  {kind} {dataset}: {n}/{len(tasks)}", file=sys.stderr, flush=True)
    return out


def compare(theirs: dict[str, tuple[str, str]], ours: dict[str, tuple[str, str, str]],
            only: set[str]) -> dict[str, Any]:
    same: Counter[str] = Counter()
    diff: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for tid in sorted(only, key=lambda s: int(s.split("/")[1])):
        ref = theirs[tid]
        key = f"{ref[0]}/{ref[1]}"
        if ours[tid][:2] == ref:
            same[key] += 1
        else:
            diff[key].append({"task": tid, "benchdock": f"{ours[tid][0]}/{ours[tid][1]}",
                              "why": ours[tid][2]})
    return {"identical": sum(same.values()), "different": sum(len(v) for v in diff.values()),
            "identical_by_status": dict(same), "different_by_status": dict(diff)}


def _bloat_job(tid: str, problem: dict[str, Any], expected: dict[str, Any]) -> tuple[str, str, str, int]:
    from evalplus.evaluate import check_correctness

    r = check_correctness("mbpp", 0, problem, problem["prompt"] + problem["canonical_solution"],
                          expected, fast_check=True)
    with open("/proc/self/status") as fh:
        vm = next(int(line.split()[1]) for line in fh if line.startswith("VmSize"))
    return tid, r["base"][0], r["plus"][0], vm // 1024


def explain_worker_bloat() -> None:
    """Why `evalplus.evaluate` fails some right MBPP+ answers: its pool worker unpickles each
    task's expected outputs; after Mbpp/255's (~1.5 GB) its address space stays over 4 GB,
    so every child it forks afterwards starts above EvalPlus's 4 GB RLIMIT_AS and fails on
    any input that needs memory. Mbpp/392's canonical solution, alone, then after Mbpp/255
    in the same worker:"""
    from concurrent.futures import ProcessPoolExecutor

    from evalplus.data import get_mbpp_plus, get_mbpp_plus_hash
    from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
    from evalplus.evaluate import get_groundtruth

    problems = get_mbpp_plus()
    expected = get_groundtruth(problems, get_mbpp_plus_hash(), MBPP_OUTPUT_NOT_NONE_TASKS)
    order = ["Mbpp/392", "Mbpp/255", "Mbpp/392"]
    print(explain_worker_bloat.__doc__)
    with ProcessPoolExecutor(1) as pool:  # one worker, as evaluate() has per task
        for tid, base, plus, vm_mb in pool.map(_bloat_job, order, [problems[t] for t in order],
                                               [expected[t] for t in order]):
            print(f"   {tid}: base {base}, plus {plus}; the worker's address space after: {vm_mb} MB")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sets", nargs="+", default=["humaneval", "mbpp"], choices=list(FILES))
    p.add_argument("--sandboxes", nargs="+", default=["local", "docker"])
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--no-wrong", action="store_true", help="canonical solutions only")
    p.add_argument("--tasks", nargs="*", default=None, help="benchdock side: only these ids")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--image", default=os.environ.get("BENCHDOCK_SANDBOX_IMAGE", "benchdock-sandbox:1"))
    p.add_argument("--explain-memory", action="store_true",
                   help="only show why evalplus.evaluate fails some right MBPP+ answers")
    args = p.parse_args()
    for ds in args.sets:  # evalplus reads these when evalplus.data is first imported
        var, name = FILES[ds]
        os.environ[var] = str(DATA / name)
    if args.explain_memory:
        explain_worker_bloat()
        return
    out_dir = args.out or Path(tempfile.mkdtemp(prefix="evalplus-parity-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    from evalplus.data import get_human_eval_plus, get_mbpp_plus

    report: dict[str, Any] = {}
    for ds in args.sets:
        problems = get_human_eval_plus() if ds == "humaneval" else get_mbpp_plus()
        sets = {"canonical": {k: p["prompt"] + p["canonical_solution"] for k, p in problems.items()}}
        wrong_ids: set[str] = set()
        if not args.no_wrong:
            wrong = {}
            for k, p in problems.items():
                m = mutate(k, p["prompt"], p["canonical_solution"])
                wrong[k] = p["prompt"] + (m if m is not None else p["canonical_solution"])
                if m is not None:
                    wrong_ids.add(k)
            sets["mutated"] = wrong
        for label, sols in sets.items():
            t0 = time.time()
            theirs = evalplus_verdicts(ds, sols, args.parallel, out_dir, label)
            print(f"{ds} {label}: evalplus.evaluate took {time.time() - t0:.0f} s", flush=True)
            only = set(args.tasks) if args.tasks else (wrong_ids if label == "mutated" else set(sols))
            for kind in args.sandboxes:
                t0 = time.time()
                ours = benchdock_verdicts(ds, kind, {k: sols[k] for k in only}, args.parallel, args.image)
                took = time.time() - t0
                res = compare(theirs, ours, only)
                res["benchdock_s"] = round(took, 1)
                report[f"{ds}/{label}/{kind}"] = res
                print(f"{ds} {label} {kind}: {res['identical']} identical, {res['different']} "
                      f"different ({took:.0f} s)", flush=True)
                print("   identical by EvalPlus (base/plus): " + json.dumps(res["identical_by_status"]))
                for key, rows in res["different_by_status"].items():
                    for r in rows:
                        print(f"   DIFF EvalPlus {key} benchdock {r['benchdock']}: {r['task']}: {r['why']}")
                (out_dir / "parity.json").write_text(json.dumps(report, indent=1))
    print(f"results in {out_dir / 'parity.json'}")


if __name__ == "__main__":
    main()
