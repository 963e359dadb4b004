"""benchdock's SWE-smith-style construction: a local set of SWE-bench-format instances from
a real project, with no LLM and no network at validation.

1. SWE-smith's procedural Python modifiers (drivers/bugs.py, in the `swe` venv) propose bug
   candidates in an order fixed by the seed.
2. Each candidate is validated in a network-less container of the swe image: the
   suite runs on the clean tree once and with each bug applied; a bug is kept only when
   some tests fail with it and pass without it (FAIL_TO_PASS) and others pass in both
   (PASS_TO_PASS). Statuses come from swebench's own `parse_log_pytest`.
3. The instance, in SWE-bench's format: `patch` (the gold patch) is the reverse of the bug,
   as git diffs it against the buggy base commit; `test_patch` is empty (the tests that
   catch the bug are already in the repository, as in SWE-smith); the problem statement is
   written from the failing tests' own output (names, assertion messages).

The set is cached under BENCHDOCK_HOME/swe/<project>/<CONSTRUCTION>-seed<seed>-n<count>.jsonl
and is the same on every machine for the same seed and count.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from benchdock.harnesses.benchmarks.swe import container, grading
from benchdock.harnesses.benchmarks.swe.project import Project, ensure_image, fetch_sdist, swe_home
from benchdock.harnesses.config import Settings

log = logging.getLogger("benchdock.swe")

CONSTRUCTION = "swe-local-1"  # bump when anything below changes what instances come out
NAME = "benchdock's SWE-smith-style construction"
DEFAULT_SEED = 0
DEFAULT_COUNT = 6
MAX_CANDIDATES = 60
FAILURE_KEPT = 1500  # characters of a failing test's output in the problem statement


class Instance(BaseModel):
    """One SWE-bench-format instance, with benchdock's provenance beside the standard fields."""

    instance_id: str
    repo: str
    base_commit: str
    patch: str
    test_patch: str
    FAIL_TO_PASS: list[str]
    PASS_TO_PASS: list[str]
    problem_statement: str
    version: str
    created_at: str = ""
    hints_text: str = ""
    environment_setup_commit: str = ""
    # benchdock's
    project: str
    bug_patch: str  # what turns the clean tree into the instance's base commit
    modifier: str
    entity: str
    construction: str = CONSTRUCTION

    def gold_files(self) -> list[str]:
        return sorted(set(re.findall(r"^\+\+\+ b/(\S+)", self.patch, re.M)))


def cache_path(settings: Settings, project: Project, seed: int, count: int) -> Path:
    return swe_home(settings) / project.name / f"{CONSTRUCTION}-seed{seed}-n{count}.jsonl"


def load_instances(settings: Settings, project: Project, seed: int, count: int) -> list[Instance] | None:
    path = cache_path(settings, project, seed, count)
    if not path.is_file():
        return None
    return [Instance.model_validate_json(line) for line in path.read_text().splitlines() if line]


def candidates(python: Path, sdist: Path, project: Project, seed: int) -> list[dict[str, Any]]:
    """The seeded bug candidates from SWE-smith's modifiers (parsing only, on the host)."""
    src = resources.files("benchdock.harnesses.benchmarks.swe.drivers").joinpath("bugs.py").read_text()
    with tempfile.TemporaryDirectory(prefix="benchdock-swe-src-") as tmp:
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp, filter="data")
        root = Path(tmp) / f"{project.name}-{project.version}"
        cfg = {"root": str(root), "sources": list(project.sources), "seed": seed,
               "max": MAX_CANDIDATES}
        done = subprocess.run([str(python), "-c", src], input=json.dumps(cfg) + "\n",
                              capture_output=True, text=True, timeout=600, cwd=tmp)
    if done.returncode != 0:
        raise RuntimeError(f"SWE-smith's modifiers failed: {done.stderr[-2000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _passing(status: dict[str, str]) -> set[str]:
    return {t for t, s in status.items() if s in ("PASSED", "XFAIL")}


def problem_statement(project: Project, f2p: list[str], log_text: str) -> str:
    """An issue written from the failing tests alone: which fail and what they print."""
    body = log_text.split(grading.START, 1)[-1].split(grading.END, 1)[0]
    summary = [line for line in body.splitlines() if line.startswith(("FAILED", "ERROR"))]
    first = f2p[0].split("::")[-1]
    section = re.search(rf"^_{{3,}} {re.escape(first)}\S* _{{3,}}$(.*?)(?=^_{{3,}} |^={{3,}} )",
                        body, re.M | re.S)
    detail = section.group(1).strip()[-FAILURE_KEPT:] if section else ""
    shown = "\n".join(summary[:10]) + (f"\n... and {len(summary) - 10} more"
                                       if len(summary) > 10 else "")
    text = (f"Some of {project.name}'s tests fail on the current code.\n\n"
            f"Running `python3 -m pytest` in the repository reports:\n\n```\n{shown}\n```\n")
    if detail:
        text += f"\nThe first failure in detail:\n\n```\n{detail}\n```\n"
    return text + ("\nThe tests describe the intended behaviour: fix the library so that "
                   "they pass, without changing the tests.\n")


def construct(settings: Settings, project: Project, python: Path, seed: int = DEFAULT_SEED,
              count: int = DEFAULT_COUNT, base: str | None = None,
              say: Callable[[str], None] = log.info) -> list[Instance]:
    """Build (or load) the instance set; see the module's docstring."""
    cached = load_instances(settings, project, seed, count)
    if cached is not None:
        return cached
    image = ensure_image(settings, base, say)
    sdist = fetch_sdist(settings, project, say)
    cands = candidates(python, sdist, project, seed)
    say(f"{len(cands)} bug candidates from SWE-smith's modifiers (seed {seed})")
    kept: list[Instance] = []
    box = container.start(image, "swe-construct", sdist)
    try:
        code, out = box.exec("tar -C /testbed -cf /tmp/.clean.tar .", 120)
        if code != 0:
            raise RuntimeError(f"could not keep the clean tree: {out[-500:]}")
        container.prepare(box, "")
        clean_log = grading.run_tests(box, project.test_dirs, None, "")
        clean = _passing(grading.swebench(python, [{"op": "parse", "log": clean_log}])[0])
        if not clean:
            raise RuntimeError(f"no test passes on clean {project.name}:\n{clean_log[-2000:]}")
        say(f"clean {project.name}: {len(clean)} tests pass")
        for n, cand in enumerate(cands):
            if len(kept) >= count:
                break
            inst = _validate(box, project, python, cand, clean)
            say(f"candidate {n + 1}: {cand['modifier']} in {cand['entity']} "
                f"({cand['file']}): " + (f"kept, {len(inst.FAIL_TO_PASS)} FAIL_TO_PASS"
                                         if inst else "dropped"))
            if inst is not None:
                kept.append(inst)
    finally:
        box.remove()
    path = cache_path(settings, project, seed, count)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(i.model_dump_json() + "\n" for i in kept))
    say(f"{len(kept)} instances of {project.name} kept in {path}")
    return kept


def _validate(box: container.InstanceContainer, project: Project, python: Path,
              cand: dict[str, Any], clean: set[str]) -> Instance | None:
    """One candidate: applied to the clean tree as the instance's base commit, tested."""
    code, out = box.exec("rm -rf .git; find . -mindepth 1 -maxdepth 1 -exec rm -rf {} +; "
                         "tar -C /testbed -xf /tmp/.clean.tar", 120)
    if code != 0:
        raise RuntimeError(f"could not reset the validation tree: {out[-500:]}")
    try:
        base_commit = container.prepare(box, cand["patch"])
    except Exception as exc:  # the bug patch does not apply: no instance
        log.info("candidate does not apply: %s", exc)
        return None
    box.put("/tmp/.bug.patch.keep", cand["patch"].encode())
    code, gold = box.exec("git apply -R --whitespace=nowarn /tmp/.bug.patch.keep && git diff && "
                          "git checkout -q -- . && rm -f /tmp/.bug.patch.keep", 60)
    if code != 0 or not gold.strip():
        return None
    buggy_log = grading.run_tests(box, project.test_dirs, None, "")
    status = grading.swebench(python, [{"op": "parse", "log": buggy_log}])[0]
    passing = _passing(status)
    f2p = sorted(clean - passing)
    p2p = sorted(clean & passing)
    if not f2p or not p2p:
        return None
    digest = hashlib.sha256(cand["patch"].encode()).hexdigest()[:8]
    owner_repo = project.repo.replace("/", "__")
    return Instance(
        instance_id=f"{owner_repo}.{project.version}.{cand['modifier']}__{digest}",
        repo=project.repo, base_commit=base_commit, patch=gold if gold.endswith("\n") else gold + "\n",
        test_patch="", FAIL_TO_PASS=f2p, PASS_TO_PASS=p2p,
        problem_statement=problem_statement(project, f2p, buggy_log), version=project.version,
        project=project.name, bug_patch=cand["patch"], modifier=cand["modifier"],
        entity=cand["entity"])
