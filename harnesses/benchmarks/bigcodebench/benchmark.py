"""The BigCodeBench family: `bigcodebench-complete` and `bigcodebench-instruct` (1,140 tasks
each), and the 148-task Hard subset of each (`-hard`) where the Hugging Face hub is reachable.

Asked as bigcodebench 0.2.5 asks a chat model, its answer sanitised as upstream sanitises it
(`prompt.py`), and judged as upstream judges it — each task's unittest suite in one
process with the code, upstream's own guards and limits (`judging.py`) — by benchdock's judge,
whose verdict the code under test cannot write (`drivers/`), in an image holding the
libraries the tasks import (`Dockerfile`). Tasks whose tests need the internet
(`network.py`) are left out unless BENCHDOCK_BIGCODEBENCH_NETWORK=1 gives the sandbox a
network; every run says how many were left out.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from typing import Any, ClassVar

from benchdock.harnesses.benchmarks.bigcodebench import data, network
from benchdock.harnesses.benchmarks.bigcodebench.calibration import ground_truth
from benchdock.harnesses.benchmarks.bigcodebench.judging import (
    TIMEOUT_PER_TASK,
    Limits,
    judge,
    verdict,
)
from benchdock.harnesses.benchmarks.bigcodebench.prompt import (
    MAX_NEW_TOKENS,
    Split,
    calibrated_code,
    chat_messages,
    sanitize,
)
from benchdock.harnesses.benchmarks.bigcodebench.setup_steps import (
    IMAGE,
    IMAGE_BUILD,
    IMAGE_SIZE,
    SLIM_IMAGE,
    images,
    setup_step,
)
from benchdock.harnesses.contract.benchmark import (
    Benchmark,
    Frontier,
    ImageSpec,
    Requirement,
    SetupStep,
    Table,
    Task,
    Verdict,
)
from benchdock.harnesses.sandbox import Sandbox

RESEARCH_NOTE = "shared/reference/agentic-coding-evaluation-landscape.md"


class BigCodeBench(Benchmark):
    split: ClassVar[Split]
    subset: ClassVar[data.Subset] = "full"
    dimensions = ("generation",)
    run_defaults: ClassVar[dict[str, Any]] = {"max_tokens": MAX_NEW_TOKENS}
    details_key: ClassVar[str | None] = "bigcodebench"
    tokens_per_request = 600
    exec_s_per_task = 15.0  # measured: 8-20 s per sample on this project's 2 busy cores

    def __init__(self) -> None:
        self._gt: weakref.WeakKeyDictionary[Sandbox, dict[str, dict[str, Any]]] = (
            weakref.WeakKeyDictionary())
        self._lock = threading.Lock()

    # --- what it is -------------------------------------------------------------------------

    @property
    def version(self) -> str:
        return f"BigCodeBench {data.VERSION} ({self.split}, {self.subset}; bigcodebench 0.2.5)"

    @property
    def family(self) -> str:
        return f"bigcodebench-{self.split}"

    def network_allowed(self) -> bool:
        return (self.settings.var("BENCHDOCK_BIGCODEBENCH_NETWORK") or "") in ("1", "true", "yes")

    def sandbox_network(self) -> bool:
        return self.network_allowed()

    def limits(self) -> Limits:
        raw = self.settings.var("BENCHDOCK_BIGCODEBENCH_TIMEOUT_PER_TASK")
        return Limits(timeout_per_task=float(raw) if raw else TIMEOUT_PER_TASK)

    def tasks(self) -> list[Task]:
        """The subset's tasks in dataset order; those needing the internet only when the
        sandbox may reach it."""
        loaded = data.load(self.subset)
        keep_network = self.network_allowed()
        out = []
        for row in loaded.rows:
            if not keep_network and row["task_id"] in network.NEEDS_NETWORK:
                continue
            out.append(Task(id=row["task_id"], prompt=row[f"{self.split}_prompt"],
                            entry_point=row["entry_point"], data=row))
        return out

    def dataset_hash(self) -> str:
        return data.load(self.subset).digest

    # --- what it needs ----------------------------------------------------------------------

    def sandbox_tag(self) -> str:
        return self.settings.var("BENCHDOCK_BIGCODEBENCH_IMAGE") or IMAGE

    def images(self) -> list[ImageSpec]:
        return images()

    def setups(self) -> list[SetupStep]:
        return [setup_step(self.settings)]

    def requirements(self) -> list[Requirement]:
        return [
            Requirement(kind="docker", name="Docker engine", how=(
                "the tasks import 60+ libraries (pandas, matplotlib, sklearn, tensorflow...): "
                "they run in an image, not in the local sandbox")),
            Requirement(kind="image", name=self.sandbox_tag(), how=(
                f"`benchdock setup bigcodebench` ({IMAGE_SIZE}, {IMAGE_BUILD} to build once; "
                f"{SLIM_IMAGE} is CI's slim image)")),
            Requirement(kind="dataset", name=f"BigCodeBench {data.VERSION} ({self.subset})",
                        how="`benchdock setup bigcodebench` (the Hugging Face hub) or "
                            f"{data.OVERRIDE}; the {len(network.NEEDS_NETWORK)} tasks whose "
                            "tests need the internet are left out unless "
                            "BENCHDOCK_BIGCODEBENCH_NETWORK=1 (the sandbox then has a network)"),
        ]

    def readiness(self) -> str | None:
        why = data.missing_reason(self.subset)
        if why is not None:
            return why
        if self.settings.sandbox == "local":
            return ("BENCHDOCK_SANDBOX=local: BigCodeBench's tasks need the libraries of its "
                    f"image ({self.sandbox_tag()}); use Docker")
        from benchdock.harnesses.sandbox import docker_available

        ok, reason = docker_available(self.sandbox_tag())
        if not ok:
            return (f"{reason}: run `benchdock setup bigcodebench` (builds {self.sandbox_tag()}, "
                    f"{IMAGE_SIZE}, {IMAGE_BUILD} once)")
        return None

    # --- asking -----------------------------------------------------------------------------

    def messages(self, task: Task) -> list[dict[str, str]]:
        return chat_messages(task, self.split)

    def extract(self, task: Task, completion: str) -> str:
        return sanitize(completion, task.entry_point)

    def reference(self, task: Task) -> str:
        code = str(task.data["complete_prompt"]) + str(task.data["canonical_solution"])
        return f"```python\n{code}\n```"

    # --- scoring ----------------------------------------------------------------------------

    def _ground_truth(self, sandbox: Sandbox, tasks: list[Task]) -> dict[str, dict[str, Any]]:
        with self._lock:
            known = self._gt.setdefault(sandbox, {})
            todo = [t for t in tasks if t.id not in known]
        if todo:
            got = ground_truth(sandbox, self.dataset_hash(), todo, self.settings.home,
                               self.limits())
            with self._lock:
                known.update(got)
        return {t.id: known[t.id] for t in tasks}

    def prepare(self, sandbox: Sandbox, tasks: list[Task]) -> None:
        """The canonical solutions judged here first (upstream's ground truth)."""
        self._ground_truth(sandbox, tasks)

    def score(self, task: Task, code: str, sandbox: Sandbox) -> Verdict:
        if not code.strip():
            return Verdict(verdict="error", detail="no code found in the answer")
        gt = self._ground_truth(sandbox, [task])[task.id]
        timeout = self.limits().suite_timeout(gt.get("time"))
        out = verdict(*judge(sandbox, calibrated_code(task, code), task.data["test"], timeout))
        out.extra = {**(out.extra or {}), "time_limit_s": timeout,
                     "canonical_here": gt.get("status")}
        if gt.get("status") != "pass" and out.verdict != "pass":
            out.detail = (f"{out.detail} (note: the task's canonical solution does not pass "
                          f"here either: {str(gt.get('why'))[:200]})")
        return out

    # --- its own figures --------------------------------------------------------------------

    def summarise(self, samples: list[Any]) -> dict[str, Any]:
        scored = [s for s in samples if s.verdict is not None]
        extras = [s.extra or {} for s in scored]
        left_out = [] if self.network_allowed() else sorted(network.NEEDS_NETWORK)
        return {
            "network_tasks_left_out": len(left_out) if self.subset == "full" else None,
            "network": "allowed" if self.network_allowed() else "none",
            "canonical_failing_here": sorted(
                s.task_id for s, e in zip(scored, extras, strict=True)
                if e.get("canonical_here") not in (None, "pass")),
            "upstream_would_say": dict(Counter(str(e.get("upstream")) for e in extras
                                               if e.get("upstream"))),
        }

    def tables(self, details: dict[str, Any], options: dict[str, Any]) -> list[Table]:
        rows = [["sandbox network", str(details.get("network"))]]
        if details.get("network_tasks_left_out") is not None:
            rows.append(["tasks left out: their tests need the internet (not charged)",
                         str(details["network_tasks_left_out"])])
        failing = details.get("canonical_failing_here") or []
        rows.append(["tasks whose canonical solution fails in this image",
                     f"{len(failing)}" + (f" ({', '.join(failing[:8])})" if failing else "")])
        seen = details.get("upstream_would_say") or {}
        rows.append(["bigcodebench's untrusted_check on the same reports",
                     ", ".join(f"{k} {v}" for k, v in sorted(seen.items())) or "-"])
        return [Table(title=f"BigCodeBench-{self.split.capitalize()} ({self.subset})",
                      headers=["figure", "value"], rows=rows, note=(
                          "pass@1 counts the tasks that ran; see the package README for the "
                          "image's deviations from upstream's library versions"))]


class Complete(BigCodeBench):
    id = "bigcodebench-complete"
    split = "complete"
    title = "BigCodeBench-Complete"
    description = ("Complete a Python function from its signature and docstring, using the "
                   "libraries it names (139 libraries in 7 domains: numpy, pandas, "
                   "matplotlib, requests, ...); judged by the task's unittest suite as "
                   "bigcodebench 0.2.5 judges it. Frontier models score ~65% here.")
    nominal_tasks = 1140
    cost = ("1,140 requests, up to 1.5M tokens at max_tokens=1280; judging ~10-20 s per "
            "sample on 2 cores: hours, plus the canonical solutions once")
    frontier: ClassVar[Frontier | None] = Frontier(
        pass_at_1=0.65, model="Claude Opus 4.5/4.6, GPT-5.2, Gemini 3.1 Pro", source=(
            RESEARCH_NOTE + ": frontier models score ~65% on BigCodeBench-Complete"))


class Instruct(BigCodeBench):
    id = "bigcodebench-instruct"
    split = "instruct"
    title = "BigCodeBench-Instruct"
    description = ("Write a Python function from a short natural-language instruction (the "
                   "same 1,140 tasks and tests as Complete, without the docstring); judged "
                   "as bigcodebench 0.2.5 judges it. Frontier models score under 50% here.")
    nominal_tasks = 1140
    cost = Complete.cost
    frontier: ClassVar[Frontier | None] = Frontier(
        pass_at_1=0.50, model="GPT-4o", source=(
            RESEARCH_NOTE + ": best model (GPT-4o) ~60% Complete, <50% Instruct"))


class CompleteHard(Complete):
    id = "bigcodebench-complete-hard"
    subset = "hard"
    title = "BigCodeBench-Hard, Complete (148 tasks)"
    description = ("The 148 hardest, most practical BigCodeBench tasks (Complete split); the "
                   "task list comes only from the Hugging Face hub (bigcode/bigcodebench-hard).")
    nominal_tasks = 148
    cost = "148 requests, up to 190k generated tokens; checking ~15-30 min"
    frontier: ClassVar[Frontier | None] = None  # no figure in the project's research note


class InstructHard(Instruct):
    id = "bigcodebench-instruct-hard"
    subset = "hard"
    title = "BigCodeBench-Hard, Instruct (148 tasks)"
    description = CompleteHard.description.replace("Complete split", "Instruct split")
    nominal_tasks = 148
    cost = CompleteHard.cost
    frontier: ClassVar[Frontier | None] = None


def bigcodebench_benchmarks() -> dict[str, type[BigCodeBench]]:
    return {b.id: b for b in (Complete, Instruct, CompleteHard, InstructHard)}
