"""Where a Harbor-format task set comes from, one `Source` per benchmark:

- `LocalSet`: benchdock's own offline tasks, in `tasks/` beside this file. They are package
  data (pyproject's package-data ships them in the wheel), so an installed benchdock finds
  them with importlib.resources, and their version moves with benchdock's.
- `TerminalBench`: Terminal-Bench 2.0 from BENCHDOCK_TERMINAL_BENCH_DIR (a folder the user
  has, e.g. a `git clone` or a copy of Harbor's download), else the copy `benchdock setup
  terminal-bench` downloads with Harbor's own `harbor datasets download
  terminal-bench@2.0` (Harbor's registry: needs the internet).
- `TaskDir`: any folder of task folders, named by BENCHDOCK_HARBOR_TASKS_DIR.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from benchdock.harnesses.benchmarks.terminalbench import estimate
from benchdock.harnesses.benchmarks.terminalbench.container import image_exists
from benchdock.harnesses.benchmarks.terminalbench.taskfmt import (
    HarborTask,
    find_task_dirs,
    load_tasks,
)
from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract.benchmark import (
    DatasetUnavailable,
    Footprint,
    ImageSpec,
    Requirement,
)
from benchdock.harnesses.sandbox.base import SandboxError

log = logging.getLogger("benchdock.tbench")

PACKAGE = "benchdock.harnesses.benchmarks.terminalbench"
LOCAL_SET_VERSION = "1"  # bump when a task of tasks/ changes
LOCAL_COUNT = 12
BASE_IMAGE = "benchdock-tbench-base:1"  # bump the tag when the Dockerfile changes
TB_DATASET = "terminal-bench@2.0"
TB_COUNT = 89
DOWNLOAD_TIMEOUT_S = 3600


def _lookup(settings: Settings) -> dict[str, str]:
    """What task.toml's ${VAR} may name: benchdock's environment."""
    import os

    return dict(os.environ)


class Source:
    bench_id: str
    title: str
    about: str
    cost: str
    count: int
    what: str  # what `benchdock setup` fetches for it
    tools_online = False  # its tests fetch their tools when they run (tools.py)

    def root(self, settings: Settings) -> Path | None:
        """The folder of task folders, or None when there is none yet."""
        raise NotImplementedError

    def load(self, settings: Settings) -> list[HarborTask]:
        root = self.root(settings)
        if root is None:
            raise DatasetUnavailable(self.missing())
        return load_tasks(root, _lookup(settings))

    def missing(self) -> str:
        raise NotImplementedError

    def version(self, settings: Settings) -> str:
        """The set's name (its folder's, not the path: the same tasks elsewhere are the same
        version; the dataset hash tells their contents apart)."""
        root = self.root(settings)
        return f"the Harbor tasks of {root.name}/" if root else "no tasks yet"

    def readiness(self, settings: Settings) -> str | None:
        try:
            root = self.root(settings)
            if root is None:
                return self.missing()
            find_task_dirs(root)
        except DatasetUnavailable as exc:
            return str(exc)
        return None

    def requirements(self, settings: Settings) -> list[Requirement]:
        return []

    def images(self, settings: Settings) -> list[ImageSpec]:
        return []

    def setup(self, settings: Settings, python: Path, say: Callable[[str], None]) -> str:
        root = self.root(settings)
        if root is None:
            raise DatasetUnavailable(self.missing())
        return f"{len(find_task_dirs(root))} tasks in {root}"

    def footprint(self, settings: Settings, tasks: int | None) -> Footprint | None:
        return None


class LocalSet(Source):
    bench_id = "terminal-bench-local"
    title = "benchdock's offline terminal tasks (Harbor format), worked by Terminus-2"
    about = (f"benchdock's own {LOCAL_COUNT} Harbor-format tasks on Debian 12 with no "
             "network: broken builds, repositories, services, databases, virtual "
             "environments, cron jobs and shell scripts to repair in a real terminal, each "
             "with a reference solve.sh and tests that fail before and pass after.")
    cost = "5-50 model calls per task (the whole conversation each); a build, two containers"
    count = LOCAL_COUNT
    what = f"the base image {BASE_IMAGE} and the {LOCAL_COUNT} tasks' images"

    def root(self, settings: Settings) -> Path | None:
        return Path(str(resources.files(PACKAGE).joinpath("tasks")))

    def missing(self) -> str:
        return "benchdock's task folder is missing from the installation"

    def version(self, settings: Settings) -> str:
        return f"benchdock-tbench-local {LOCAL_SET_VERSION} ({LOCAL_COUNT} tasks)"

    def base_image(self, settings: Settings) -> str:
        return settings.var("BENCHDOCK_TBENCH_BASE_IMAGE") or BASE_IMAGE

    def readiness(self, settings: Settings) -> str | None:
        try:
            if not image_exists(self.base_image(settings)):
                return (f"{self.base_image(settings)} is not built: run `benchdock setup "
                        "terminal-bench-local`")
        except SandboxError as exc:
            return str(exc)
        return super().readiness(settings)

    def requirements(self, settings: Settings) -> list[Requirement]:
        return [Requirement(kind="image", name=self.base_image(settings), how=(
            "benchdock setup terminal-bench-local (or benchdock build-image --harness "
            "terminal-bench-local)"))]

    def images(self, settings: Settings) -> list[ImageSpec]:
        return [ImageSpec(name="terminal-bench-local", package=PACKAGE,
                          tag=self.base_image(settings),
                          what="Debian 12 with tmux and the tools benchdock's tasks use")]

    def setup(self, settings: Settings, python: Path, say: Callable[[str], None]) -> str:
        from benchdock.harnesses.benchmarks.terminalbench.images import ensure_image
        from benchdock.harnesses.sandbox.image import build_image

        base = self.base_image(settings)
        if not image_exists(base):
            say(f"building {base}")
            build_image(base, settings.var("BENCHDOCK_TBENCH_BASE") or None, package=PACKAGE)
        tasks = self.load(settings)
        for t in tasks:
            ensure_image(t, pull_allowed=False, say=say)
        return f"{len(tasks)} tasks, their images built on {base}"


class TerminalBench(Source):
    bench_id = "terminal-bench"
    title = "Terminal-Bench 2.0 (Harbor format), worked by Terminus-2"
    about = (f"Terminal-Bench 2.0's {TB_COUNT} tasks (Stanford and the Laude Institute): real "
             "environments where an agent inspects a system, edits files, runs commands and "
             "recovers from errors. Its images are pulled when a run needs them; its tests "
             "install their tools when they run, so each task's verifier needs what "
             "`benchdock setup terminal-bench` prepares (see the README).")
    cost = (f"{TB_COUNT} images (see the footprint); 10-100 model calls per task; agent "
            "timeouts of 15 min to hours per task")
    count = TB_COUNT
    what = f"{TB_DATASET} from Harbor's registry (unless BENCHDOCK_TERMINAL_BENCH_DIR is set)"
    override_var = "BENCHDOCK_TERMINAL_BENCH_DIR"
    tools_online = True

    def download_dir(self, settings: Settings) -> Path:
        return settings.home / "tbench" / "terminal-bench-2.0"

    def root(self, settings: Settings) -> Path | None:
        named = settings.var(self.override_var)
        if named:
            return Path(named).expanduser()
        got = self.download_dir(settings)
        return got if got.is_dir() and any(got.rglob("task.toml")) else None

    def missing(self) -> str:
        return (f"Terminal-Bench 2.0 is not here: set {self.override_var} to a folder of its "
                f"task folders, or run `benchdock setup terminal-bench` (Harbor's registry; "
                "needs the internet)")

    def version(self, settings: Settings) -> str:
        return TB_DATASET

    def requirements(self, settings: Settings) -> list[Requirement]:
        return [Requirement(kind="dataset", name=TB_DATASET, how=(
                    f"benchdock setup terminal-bench (Harbor's registry), or "
                    f"{self.override_var}=a local copy")),
                Requirement(kind="image", name=f"{TB_COUNT} task images (see the footprint)",
                            how="pulled when a run needs them (BENCHDOCK_TBENCH_PULL=0 "
                                "forbids it); without their registry, `docker load` them"),
                Requirement(kind="internet", name="the tasks' registries and, for tasks "
                            "whose network_mode is public, the agent's network",
                            how="a machine with internet", optional=True)]

    def setup(self, settings: Settings, python: Path, say: Callable[[str], None]) -> str:
        root = self.root(settings)
        if root is not None:
            return f"{len(find_task_dirs(root))} tasks in {root} (no download)"
        dest = self.download_dir(settings)
        dest.mkdir(parents=True, exist_ok=True)
        harbor = python.parent / "harbor"
        say(f"downloading {TB_DATASET} with Harbor's registry into {dest}")
        try:
            done = subprocess.run([str(harbor), "datasets", "download", TB_DATASET,
                                   "--export", "-o", str(dest)], capture_output=True,
                                  text=True, timeout=DOWNLOAD_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DatasetUnavailable(f"harbor datasets download {TB_DATASET} failed: "
                                     f"{exc}") from None
        if done.returncode != 0:
            raise DatasetUnavailable(f"harbor datasets download {TB_DATASET} failed (no "
                                     f"internet?): {(done.stderr or done.stdout)[-800:]}")
        n = len(find_task_dirs(dest))
        return f"{n} tasks in {dest}; no image pulled (a run pulls what it needs)"

    def footprint(self, settings: Settings, tasks: int | None) -> Footprint | None:
        try:
            got = self.load(settings)
        except DatasetUnavailable:
            got = None
        return estimate.footprint(settings, tasks, got, TB_COUNT)


class TaskDir(Source):
    bench_id = "harbor-tasks"
    title = "A folder of Harbor-format tasks (yours, or Harbor's datasets), worked by Terminus-2"
    about = ("Any folder of Harbor-format task folders named by BENCHDOCK_HARBOR_TASKS_DIR: "
             "your own tasks, or Harbor's other datasets downloaded with `harbor datasets "
             "download`.")
    cost = "depends on the tasks: one image each; their task.toml sets the timeouts"
    count = 0
    what = "nothing (the tasks are yours: BENCHDOCK_HARBOR_TASKS_DIR)"
    override_var = "BENCHDOCK_HARBOR_TASKS_DIR"

    def root(self, settings: Settings) -> Path | None:
        named = settings.var(self.override_var)
        return Path(named).expanduser() if named else None

    def missing(self) -> str:
        return (f"no task folder named: set {self.override_var} to a folder of Harbor-format "
                "tasks (each with task.toml, instruction.md, environment/, tests/test.sh)")

    def footprint(self, settings: Settings, tasks: int | None) -> Footprint | None:
        try:
            got = self.load(settings)
        except DatasetUnavailable:
            return None
        return estimate.footprint(settings, tasks, got, len(got))


SOURCES: tuple[Source, ...] = (LocalSet(), TerminalBench(), TaskDir())
