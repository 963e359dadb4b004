"""EvalPlus's datasets (HumanEval+, MBPP+), loaded through the `evalplus` package itself.

Two benchmark packages read them — the EvalPlus family (`benchmarks/evalplus`) and test
generation (`benchmarks/testgen`, on HumanEval+'s functions and tests) — so the loading
lives here, apart from both. Data come from EvalPlus's loaders (its download for users;
HUMANEVAL_OVERRIDE_PATH / MBPP_OVERRIDE_PATH for local copies, read when `evalplus.data` is
first imported); expected outputs from EvalPlus's `get_groundtruth` (trusted canonical code,
run on the host and cached by EvalPlus).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from benchdock.harnesses.client.reach import unreachable
from benchdock.harnesses.contract.benchmark import DatasetUnavailable, Task

Name = Literal["humaneval", "mbpp"]
LABELS: dict[str, tuple[str, str, str]] = {  # name: (label, title, override variable)
    "humaneval": ("HumanEval+ v0.1.10", "HumanEval+ (EvalPlus)", "HUMANEVAL_OVERRIDE_PATH"),
    "mbpp": ("MBPP+ v0.2.0", "MBPP+ (EvalPlus)", "MBPP_OVERRIDE_PATH"),
}
RELEASES: dict[str, tuple[str, str, float]] = {  # name: (EvalPlus's file name, version, MB)
    "humaneval": ("HumanEvalPlus", "v0.1.10", 0.9),
    "mbpp": ("MbppPlus", "v0.2.0", 0.4),
}


class EvalPlusData:
    """One EvalPlus dataset: its problems, tasks, hash and expected outputs (each loaded once)."""

    def __init__(self, name: Name) -> None:
        self.name = name
        self.label, self.title, self.override_var = LABELS[name]
        self._expected: dict[str, Any] | None = None
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        return f"{self.label} / evalplus {metadata.version('evalplus')}"

    @cached_property
    def problems(self) -> dict[str, dict[str, Any]]:
        try:
            with contextlib.redirect_stdout(sys.stderr):
                if self.name == "humaneval":
                    from evalplus.data import get_human_eval_plus

                    return dict(get_human_eval_plus())
                from evalplus.data import get_mbpp_plus

                return dict(get_mbpp_plus())
        except (OSError, ValueError) as exc:
            raise DatasetUnavailable(
                f"{self.title}: EvalPlus could not load its dataset ({type(exc).__name__}: {exc}). "
                f"It downloads it on first use, which needs internet (setup_benchmark fetches it "
                f"once); or set {self.override_var} to a local .jsonl(.gz) copy before starting "
                "benchdock."
            ) from exc

    def release(self) -> tuple[str, Path]:
        """EvalPlus's download URL for the dataset and the file its cache keeps it in."""
        from evalplus.data.utils import get_dataset_metadata

        name, version, _ = RELEASES[self.name]
        url, path = get_dataset_metadata(name, version, False)
        return url, Path(path)

    def present(self) -> bool:
        """The file is here: the override path's, or EvalPlus's cached download."""
        override = os.environ.get(self.override_var)
        return Path(override).is_file() if override else self.release()[1].is_file()

    def missing(self) -> str | None:
        """Why the dataset cannot be loaded here now (None: it can): the override path names
        no file, or neither EvalPlus's cache holds it nor can its release be downloaded."""
        override = os.environ.get(self.override_var)
        if override:
            return None if Path(override).is_file() else (
                f"{self.title}: {self.override_var}={override} names no file")
        url, cached = self.release()
        if cached.is_file():
            return None
        why = unreachable(url)
        if why is None:
            return None  # EvalPlus downloads it on first use
        name, version, _ = RELEASES[self.name]
        return (f"set {self.override_var} to a local copy of {name}-{version}.jsonl(.gz): "
                f"{self.title}'s data are not in EvalPlus's cache ({cached}) and its release "
                f"cannot be downloaded ({why})")

    def download(self, say: Callable[[str], None]) -> str:
        """Fetch the release into EvalPlus's cache (EvalPlus's own download), once."""
        override = os.environ.get(self.override_var)
        if override and Path(override).is_file():
            return f"{override} ({self.override_var})"
        url, cached = self.release()
        if not cached.is_file():
            say(f"downloading {url}")
            self.__dict__.pop("problems", None)
            self.problems  # noqa: B018 - EvalPlus downloads on first load
        return str(cached)

    def tasks(self) -> list[Task]:
        return [Task(id=tid, prompt=p["prompt"], entry_point=p["entry_point"], data=p)
                for tid, p in self.problems.items()]

    def dataset_hash(self) -> str:
        self.problems  # noqa: B018 - make sure the file exists (and says so clearly if not)
        with contextlib.redirect_stdout(sys.stderr):
            if self.name == "humaneval":
                from evalplus.data import get_human_eval_plus_hash

                return str(get_human_eval_plus_hash())
            from evalplus.data import get_mbpp_plus_hash

            return str(get_mbpp_plus_hash())

    def expected_outputs(self) -> dict[str, Any]:
        """Per task: the canonical solution's outputs and times on base and plus inputs."""
        with self._lock:
            if self._expected is None:
                from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
                from evalplus.evaluate import get_groundtruth

                not_none = MBPP_OUTPUT_NOT_NONE_TASKS if self.name == "mbpp" else []
                with contextlib.redirect_stdout(sys.stderr):
                    self._expected = get_groundtruth(self.problems, self.dataset_hash(), not_none)
            return self._expected
