"""The online SWE-bench sets: SWE-bench Verified, Lite and a "mini" subset, in SWE-bench's
instance format, with the official per-instance images.

Data: the Hugging Face hub through the `datasets` library of the `swe` venv (benchdock's own
environment has no `datasets`), cached once as jsonl under BENCHDOCK_HOME/swe/online/, or a
local .jsonl/.json/.parquet file named by the variant's override variable (tests, offline
users). swebench 5.0.2 grades an instance with fields its current datasets carry
(`eval_script`, `log_parser`, `eval_type`, `image`); an older copy without an eval script
cannot be graded and is refused when loaded, naming the dataset to use instead.

Images: `swebench/sweb.eval.x86_64.<instance_id>:latest`, lowercased, with `__` written
`_1776_` (Docker Hub allows no double underscore): swebench 5.0.2's
`image_builder.image_spec.ImageSpec.name` and mini-swe-agent's
`get_swebench_docker_image_name`, unless the instance names its own `image`. They are pulled
only when a run needs them, never by setup; one that is missing and cannot be pulled is an
error naming the image and how to get it.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchdock.harnesses.benchmarks.swe.construct import Instance
from benchdock.harnesses.benchmarks.swe.project import swe_home
from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract.benchmark import DatasetUnavailable
from benchdock.harnesses.sandbox.base import SandboxError

log = logging.getLogger("benchdock.swe")

NAMESPACE = "swebench"
CONSTRUCTION = "swe-bench"  # an instance of the published sets, not benchdock's construction
PULL_TIMEOUT_S = 3600


@dataclass(frozen=True)
class Variant:
    """One published set: where it lives on the hub and how big it is."""

    key: str  # swe-<key> is the benchmark id
    dataset: str  # the Hugging Face dataset id
    split: str
    count: int  # instances in the published set
    title: str
    about: str

    @property
    def bench_id(self) -> str:
        return f"swe-{self.key}"

    @property
    def override_var(self) -> str:
        return f"BENCHDOCK_SWE_{self.key.upper()}_PATH"


VARIANTS: dict[str, Variant] = {
    "verified": Variant(
        "verified", "SWE-bench/SWE-bench_Verified", "test", 500, "SWE-bench Verified",
        "500 instances of 12 Python repositories that annotators confirmed solvable (SWE-bench "
        "with OpenAI, 2024); the set model cards quote"),
    "lite": Variant(
        "lite", "SWE-bench/SWE-bench_Lite", "test", 300, "SWE-bench Lite",
        "300 self-contained instances of SWE-bench's test split (SWE-bench's own cheaper set)"),
    # no official "mini" exists in swebench or mini-swe-agent; this is the 50-instance subset
    # of Verified that inspect_evals runs as swe_bench_verified_mini (M. Hobbhahn,
    # github.com/mariushobbhahn/SWEBench-verified-mini: chosen to keep Verified's score
    # distribution while needing only the django and sphinx environments, ~5 GB of images)
    "mini": Variant(
        "mini", "MariusHobbhahn/swe-bench-verified-mini", "test", 50,
        "SWE-bench Verified mini",
        "50 instances of Verified (django and sphinx only) chosen to keep Verified's score "
        "distribution; inspect_evals' swe_bench_verified_mini"),
}


class OnlineInstance(Instance):
    """A published SWE-bench instance: the standard fields, the grading fields swebench 5
    reads, and the image it runs in. benchdock's construction fields stay empty."""

    project: str = ""
    bug_patch: str = ""
    modifier: str = ""
    entity: str = ""
    construction: str = CONSTRUCTION
    image: str = ""
    eval_script: str = ""
    log_parser: str = ""
    eval_type: str = "pass_and_fail"


def image_name(instance_id: str, namespace: str = NAMESPACE) -> str:
    """The official image of an instance (see the module's docstring)."""
    key = f"sweb.eval.x86_64.{instance_id}:latest"
    return f"{namespace}/{key}".replace("__", "_1776_").lower()


def _as_list(value: Any) -> list[str]:
    """FAIL_TO_PASS/PASS_TO_PASS: a JSON string on the hub, a list in local files."""
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    return [str(v) for v in value or []]


def to_instance(row: dict[str, Any]) -> OnlineInstance:
    """One row of a published set as an instance; refuses one swebench 5 cannot grade."""
    iid = str(row.get("instance_id") or "")
    missing = [k for k in ("instance_id", "repo", "base_commit", "patch", "problem_statement")
               if not row.get(k)]
    if missing:
        raise DatasetUnavailable(f"instance {iid or '?'} lacks {', '.join(missing)}: not in "
                                 "SWE-bench's instance format")
    if not row.get("eval_script"):
        raise DatasetUnavailable(
            f"instance {iid} has no eval_script: swebench 5.0.2 grades with the script the "
            "dataset carries; use SWE-bench/SWE-bench_Verified or SWE-bench/SWE-bench_Lite "
            "(the SWE-bench organisation's current copies), not an older princeton-nlp one")
    return OnlineInstance(
        instance_id=iid, repo=str(row["repo"]), base_commit=str(row["base_commit"]),
        patch=str(row["patch"]), test_patch=str(row.get("test_patch") or ""),
        FAIL_TO_PASS=_as_list(row.get("FAIL_TO_PASS")),
        PASS_TO_PASS=_as_list(row.get("PASS_TO_PASS")),
        problem_statement=str(row["problem_statement"]), version=str(row.get("version") or ""),
        created_at=str(row.get("created_at") or ""), hints_text=str(row.get("hints_text") or ""),
        environment_setup_commit=str(row.get("environment_setup_commit") or ""),
        image=str(row.get("image") or row.get("image_name") or row.get("docker_image") or
                  image_name(iid)),
        eval_script=str(row["eval_script"]), log_parser=str(row.get("log_parser") or ""),
        eval_type=str(row.get("eval_type") or "pass_and_fail"))


def cache_path(settings: Settings, variant: Variant) -> Path:
    return swe_home(settings) / "online" / f"{variant.key}.jsonl"


def source(settings: Settings, variant: Variant) -> Path | None:
    """The file the variant's instances come from: the override, else the download."""
    override = settings.var(variant.override_var)
    if override:
        return Path(override).expanduser()
    path = cache_path(settings, variant)
    return path if path.is_file() else None


# run with the swe venv's interpreter: the rows of a hub dataset or a parquet file as jsonl
_READ_DRIVER = """
import json, sys
from datasets import load_dataset
cfg = json.loads(sys.stdin.read())
if cfg.get("parquet"):
    rows = load_dataset("parquet", data_files=cfg["parquet"], split="train")
else:
    rows = load_dataset(cfg["dataset"], split=cfg["split"])
for row in rows:
    sys.stdout.write(json.dumps(dict(row), default=str) + "\\n")
"""


def _read_rows(python: Path | None, path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        return list(data if isinstance(data, list) else data.get("instances", []))
    if path.suffix == ".parquet":
        if python is None:
            raise DatasetUnavailable(f"reading {path} needs the swe venv's `datasets`: run "
                                     "`benchdock setup swe-local` (the venv) first")
        return _venv_rows(python, {"parquet": str(path)})
    raise DatasetUnavailable(f"{path}: expected a .jsonl, .json or .parquet file of "
                             "SWE-bench instances")


def _venv_rows(python: Path, cfg: dict[str, Any], timeout_s: float = 900) -> list[dict[str, Any]]:
    done = subprocess.run([str(python), "-c", _READ_DRIVER], input=json.dumps(cfg),
                          capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise DatasetUnavailable(f"could not load {cfg.get('parquet') or cfg.get('dataset')}: "
                                 f"{done.stderr.strip()[-800:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def load_instances(settings: Settings, variant: Variant,
                   python: Path | None = None) -> list[OnlineInstance] | None:
    """The variant's instances in dataset order, or None when neither an override nor a
    download is here (cheap: never downloads)."""
    path = source(settings, variant)
    if path is None:
        return None
    if not path.is_file():
        raise DatasetUnavailable(f"{variant.override_var}={path}: no such file")
    return [to_instance(r) for r in _read_rows(python, path)]


def download(settings: Settings, variant: Variant, python: Path,
             say: Callable[[str], None] = log.info) -> Path:
    """Fetch the variant from the hub once (`benchdock setup swe-<key>`), checked by
    converting every row, and keep it as jsonl. Pulls no image."""
    path = cache_path(settings, variant)
    if path.is_file():
        return path
    say(f"downloading {variant.dataset} ({variant.split}) from the Hugging Face hub")
    rows = _venv_rows(python, {"dataset": variant.dataset, "split": variant.split})
    for r in rows:
        to_instance(r)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tmp.replace(path)
    say(f"{len(rows)} instances of {variant.title} kept in {path}")
    return path


# --- images ---------------------------------------------------------------------------------

def missing_image_message(image: str, why: str) -> str:
    return (f"the instance image {image} is not on this machine and could not be pulled "
            f"({why}). Get it with `docker pull {image}` where Docker Hub is reachable (on "
            f"another machine: `docker save {image} | gzip > img.tar.gz`, then `docker load "
            "< img.tar.gz` here), or run swe-local, whose images are built locally")


def ensure_image(image: str, pull: bool = True,
                 say: Callable[[str], None] = log.info) -> str:
    """The image, pulled from its registry when it is not here (and `pull`); a SandboxError
    naming the image and how to get it otherwise."""
    from benchdock.harnesses.benchmarks.swe.project import image_exists

    if image_exists(image):
        return image
    if not pull:
        raise SandboxError(missing_image_message(image, "pulling is off: "
                                                 "BENCHDOCK_SWE_PULL=0"))
    say(f"pulling {image}")
    try:
        done = subprocess.run(["docker", "pull", "-q", image], capture_output=True, text=True,
                              timeout=PULL_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(missing_image_message(image, str(exc))) from None
    if done.returncode != 0 or not image_exists(image):
        why = (done.stderr or done.stdout).strip().splitlines()
        raise SandboxError(missing_image_message(image, why[-1] if why else
                                                 f"docker pull exited {done.returncode}"))
    return image
