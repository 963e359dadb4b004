"""`humaneval-plus` and `mbpp-plus`: EvalPlus, through the `evalplus` package itself.

Data come from EvalPlus's loaders (its download for users; HUMANEVAL_OVERRIDE_PATH /
MBPP_OVERRIDE_PATH for local copies, read when `evalplus.data` is first imported). Expected
outputs come from EvalPlus's `get_groundtruth` (trusted canonical code, run on the host and
cached by EvalPlus). The model's code is judged by EvalPlus's own `untrusted_check`, run in
the sandbox with EvalPlus's checker modules sent into it, on base and then plus inputs.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import sys
from functools import cached_property
from importlib import metadata, resources
from typing import Any

from benchdock.harnesses.base import Benchmark, DatasetUnavailable, Task, Verdict
from benchdock.harnesses.evalplus_prompt import EvalPlusChatCodegen
from benchdock.harnesses.sandbox import Sandbox, SandboxError

CHECKER_MODULES = (
    "__init__.py", "_version.py", "config.py",
    "eval/__init__.py", "eval/utils.py", "eval/_special_oracle.py",
)

DRIVER = r'''
import ast, json, pickle, sys
p = pickle.load(open("payload.pkl", "rb"))
out = {}
try:
    tree = ast.parse(p["solution"])
except SyntaxError as exc:
    print(json.dumps({"error": "SyntaxError: %s (line %s)" % (exc.msg, exc.lineno)}))
    sys.exit(0)
names = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
names |= {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
if p["entry_point"] not in names:
    print(json.dumps({"error": "the code does not define %s" % p["entry_point"]}))
    sys.exit(0)
from evalplus.eval import untrusted_check
for part in p["parts"]:
    stat, details = untrusted_check(
        p["dataset"], p["solution"], part["inputs"], p["entry_point"],
        expected=part["expected"], atol=p["atol"], ref_time=part["ref_time"],
        fast_check=True, min_time_limit=p["min_time_limit"],
        gt_time_limit_factor=p["gt_time_limit_factor"],
    )
    out[part["name"]] = {"status": stat, "details": [bool(x) for x in details]}
print(json.dumps(out))
'''


class EvalPlusSet(EvalPlusChatCodegen, Benchmark):
    dataset: str  # evalplus's name: "humaneval" | "mbpp"
    label: str
    override_var: str
    min_time_limit = 1.0  # evalplus DEFAULT_MIN_TIME_LIMIT
    gt_time_limit_factor = 4.0  # evalplus DEFAULT_GT_TIME_LIMIT_FACTOR
    needs = ("docker (recommended; local sandbox otherwise)",
             "download: EvalPlus fetches its dataset on first use (or set the override path)")
    metrics = ("pass@1 (base tests)", "pass@1 (base + plus tests)")

    def __init__(self) -> None:
        self._expected: dict[str, Any] | None = None

    @property
    def version(self) -> str:
        return f"{self.label} / evalplus {metadata.version('evalplus')}"

    @cached_property
    def _problems(self) -> dict[str, dict[str, Any]]:
        try:
            with contextlib.redirect_stdout(sys.stderr):
                if self.dataset == "humaneval":
                    from evalplus.data import get_human_eval_plus

                    return dict(get_human_eval_plus())
                from evalplus.data import get_mbpp_plus

                return dict(get_mbpp_plus())
        except (OSError, ValueError) as exc:
            raise DatasetUnavailable(
                f"{self.title}: EvalPlus could not load its dataset ({type(exc).__name__}: {exc}). "
                f"It downloads it on first use, which needs internet; or set {self.override_var} "
                "to a local .jsonl(.gz) copy before starting benchdock."
            ) from exc

    def tasks(self) -> list[Task]:
        return [
            Task(id=tid, prompt=p["prompt"], entry_point=p["entry_point"], data=p)
            for tid, p in self._problems.items()
        ]

    def dataset_hash(self) -> str:
        self._problems  # noqa: B018 - make sure the file exists (and says so clearly if not)
        with contextlib.redirect_stdout(sys.stderr):
            if self.dataset == "humaneval":
                from evalplus.data import get_human_eval_plus_hash

                return str(get_human_eval_plus_hash())
            from evalplus.data import get_mbpp_plus_hash

            return str(get_mbpp_plus_hash())

    def expected_outputs(self) -> dict[str, Any]:
        if self._expected is None:
            from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
            from evalplus.evaluate import get_groundtruth

            not_none = MBPP_OUTPUT_NOT_NONE_TASKS if self.dataset == "mbpp" else []
            with contextlib.redirect_stdout(sys.stderr):
                self._expected = get_groundtruth(self._problems, self.dataset_hash(), not_none)
        return self._expected

    def prepare(self, sandbox: Sandbox, tasks: list[Task]) -> None:
        self.expected_outputs()
        pkg = resources.files("evalplus")
        sandbox.install_lib(
            {f"evalplus/{m}": pkg.joinpath(m).read_bytes() for m in CHECKER_MODULES}
        )

    def score(self, task: Task, code: str, sandbox: Sandbox) -> Verdict:
        if not code.strip():
            return Verdict(verdict="error", detail="no code found in the answer")
        exp = self.expected_outputs()[task.id]
        p = task.data
        parts = [
            {"name": name, "inputs": p[f"{name}_input"], "expected": exp[name],
             "ref_time": exp[f"{name}_time"]}
            for name in ("base", "plus")
        ]
        payload = {
            "dataset": self.dataset, "solution": code, "entry_point": task.entry_point,
            "atol": p["atol"], "parts": parts, "min_time_limit": self.min_time_limit,
            "gt_time_limit_factor": self.gt_time_limit_factor,
        }
        limit = sum(
            min(60.0, sum(max(self.min_time_limit, self.gt_time_limit_factor * t)
                          for t in part["ref_time"])) + 3
            for part in parts
        )
        res = sandbox.execute(
            {"payload.pkl": pickle.dumps(payload), "driver.py": DRIVER.encode()},
            ["python3", "driver.py"], limit + 5,
        )
        if res.timed_out:
            return Verdict(verdict="timeout", base="timeout", plus="timeout",
                           detail=f"checker timed out after {limit + 5:.0f}s", exec_s=res.duration_s)
        try:
            out = json.loads(res.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError) as exc:
            raise SandboxError(
                f"EvalPlus checker produced no result (exit {res.exit_code}): {res.stderr[-800:]}"
            ) from exc
        if "error" in out:
            return Verdict(verdict="error", base="error", plus="error", detail=out["error"],
                           exec_s=res.duration_s)
        base, plus = out["base"]["status"], out["plus"]["status"]
        combined = "pass" if base == plus == "pass" else ("timeout" if "timeout" in (base, plus) else "fail")
        detail = None
        for part in parts:
            st = out[part["name"]]
            if st["status"] != "pass":
                idx = st["details"].index(False) if False in st["details"] else len(st["details"])
                shown = repr(part["inputs"][idx])[:300] if idx < len(part["inputs"]) else "?"
                want = repr(part["expected"][idx])[:200] if idx < len(part["expected"]) else "?"
                detail = (f"{part['name']} test #{idx} {st['status']}: "
                          f"{task.entry_point}(*{shown}) should return {want}")
                break
        return Verdict(verdict=combined, base=base, plus=plus, detail=detail,  # type: ignore[arg-type]
                       exec_s=res.duration_s)


class HumanEvalPlus(EvalPlusSet):
    id = "humaneval-plus"
    dataset = "humaneval"
    label = "HumanEval+ v0.1.10"
    override_var = "HUMANEVAL_OVERRIDE_PATH"
    title = "HumanEval+ (EvalPlus)"
    description = ("HumanEval's 164 tasks with EvalPlus's 80x more tests; reports pass@1 on the "
                   "original (base) tests and on base+plus tests, as the EvalPlus leaderboard.")
    dimensions = ("generation",)
    nominal_tasks = 164
    cost = "164 requests, up to 126k generated tokens at max_tokens=768; checking ~1-3 min"


class MbppPlus(EvalPlusSet):
    id = "mbpp-plus"
    dataset = "mbpp"
    label = "MBPP+ v0.2.0"
    override_var = "MBPP_OVERRIDE_PATH"
    title = "MBPP+ (EvalPlus)"
    description = ("378 basic Python programming problems with EvalPlus's extra tests; pass@1 on "
                   "base and base+plus tests, as the EvalPlus leaderboard.")
    dimensions = ("generation",)
    nominal_tasks = 378
    cost = "378 requests, up to 290k generated tokens at max_tokens=768"
