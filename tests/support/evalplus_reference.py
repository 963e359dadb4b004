"""`evalplus.evaluate`'s own verdicts on a CI-sized sample of the real EvalPlus files,
recorded once, for test_harness_contract's parity test.

Why recorded rather than run beside the test: EvalPlus's verdict on some answers moves with
the machine's load and with the order it evaluates tasks in (Mbpp/630's canonical solution
builds 3^9 coordinates against a time limit EvalPlus derives from its own ground-truth
timings, and a pool worker's memory carries over from one task to the next: see
tests/scripts/evalplus_parity.py --explain-memory). A test that raced a live reference run
failed whenever the reference was slow, whatever benchdock did. The verdicts are recorded by
tests/scripts/record_evalplus_verdicts.py (several runs of `evalplus.evaluate`, each verdict
kept only when every run agrees) into tests/fixtures/evalplus_reference_verdicts.json,
together with what they were recorded against: the data files' SHA-256, EvalPlus's version and
each solution's digest. When any of those changes the test fails and says to record again.

The real files are read from ../shared/datasets beside the checkout (or BENCHDOCK_DATASETS);
their data are never copied into the repository: the fixture holds verdicts and digests only.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REAL = Path(os.environ.get("BENCHDOCK_DATASETS") or ROOT.parent / "shared" / "datasets") / "evalplus"
REAL_FILES = {"humaneval": ("HUMANEVAL_OVERRIDE_PATH", "HumanEvalPlus-v0.1.10.jsonl.gz", "humaneval-plus"),
              "mbpp": ("MBPP_OVERRIDE_PATH", "MbppPlus-v0.2.0.jsonl.gz", "mbpp-plus")}
# ~15 tasks per set: special oracles, atol, big outputs, the tasks whose limits are tight
# (HumanEval/130's tri(999998), Mbpp/392's n = 1000000) and Mbpp/255 (n = 77: an output
# over EvalPlus's memory headroom and over benchdock's 32 MiB plain-data limit)
SAMPLE = {
    "humaneval": [0, 2, 4, 10, 13, 15, 32, 38, 53, 71, 99, 130, 139, 145, 160],
    "mbpp": [2, 3, 7, 11, 17, 82, 120, 255, 392, 558, 581, 630, 737, 769, 794],
}
RECORDED = ROOT / "tests" / "fixtures" / "evalplus_reference_verdicts.json"
RECORD_HINT = ("record them again on a quiet machine: python tests/scripts/record_evalplus_verdicts.py "
               "(a few minutes; see its docstring)")

Verdict = tuple[str, str]  # EvalPlus's (base_status, plus_status)


def sample_ids(dataset: str) -> list[str]:
    prefix = "HumanEval/" if dataset == "humaneval" else "Mbpp/"
    return [f"{prefix}{i}" for i in SAMPLE[dataset]]


def solutions(problems: dict[str, Any], ids: list[str]) -> dict[str, list[str]]:
    """Per task: the canonical solution and one that passes the base tests only; tasks
    outside the sample get one answer that fails at once (evaluate() wants every task)."""
    out = {}
    for tid, p in problems.items():
        right = p["prompt"] + p["canonical_solution"]
        if tid not in ids:
            out[tid] = [f"def {p['entry_point']}(*a):\n    return None\n"]
            continue
        base_only = right + f"\n_orig = {p['entry_point']}\n" + (
            f"def {p['entry_point']}(*a):\n    r = _orig(*a)\n"
            "    return r if list(a) in BASE else 'wrong'\n"
            f"BASE = {p['base_input']!r}\n")
        out[tid] = [right, base_only]
    return out


def real_problems(dataset: str) -> dict[str, Any]:
    """The real file's problems through EvalPlus's own loader (its override variable pointed at
    the file for the call only: the tests' default is the small fixture)."""
    import evalplus.data.humaneval as he_data
    import evalplus.data.mbpp as mbpp_data

    var, name, _ = REAL_FILES[dataset]
    mod: Any = he_data if dataset == "humaneval" else mbpp_data
    saved = getattr(mod, var)
    setattr(mod, var, str(REAL / name))
    try:
        return dict(mod.get_human_eval_plus() if dataset == "humaneval" else mod.get_mbpp_plus())
    finally:
        setattr(mod, var, saved)


def digest(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:16]


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class StaleRecording(RuntimeError):
    """The recorded verdicts were recorded against other data, solutions or EvalPlus."""


def recorded_verdicts(dataset: str, sols: dict[str, list[str]],
                      path: Path = RECORDED) -> dict[str, list[Verdict]]:
    """The recorded verdicts of `sols` (the sample's solutions), checked against what they
    were recorded for; StaleRecording names what differs."""
    import evalplus

    if not path.is_file():
        raise StaleRecording(f"{path} is missing: {RECORD_HINT}")
    rec = json.loads(path.read_text())
    if rec.get("evalplus") != evalplus.__version__:
        raise StaleRecording(f"the verdicts were recorded with evalplus {rec.get('evalplus')}, "
                             f"this is {evalplus.__version__}: {RECORD_HINT}")
    if dataset not in rec.get("sets", {}):
        raise StaleRecording(f"{path} has no verdicts for {dataset}: {RECORD_HINT}")
    got = rec["sets"][dataset]
    name = REAL_FILES[dataset][1]
    if got.get("file") != name or got.get("sha256") != file_digest(REAL / name):
        raise StaleRecording(f"the {dataset} verdicts were recorded on {got.get('file')} "
                             f"(sha256 {got.get('sha256')}), not on {REAL / name}: {RECORD_HINT}")
    out: dict[str, list[Verdict]] = {}
    for tid, codes in sols.items():
        rows = got["verdicts"].get(tid)
        if rows is None or [r["solution"] for r in rows] != [digest(c) for c in codes]:
            raise StaleRecording(f"the recorded {tid} verdicts are for other solutions: {RECORD_HINT}")
        out[tid] = [(r["base"], r["plus"]) for r in rows]
    return out
