"""IFEval's scores from the checkers' per-instruction verdicts: a sample's verdict and
evidence, and the run's four official numbers.

IFEval reports prompt-level accuracy (every instruction of the prompt followed) and
instruction-level accuracy (each instruction on its own), each strict (the response as
written) and loose (also accepted after removing markdown asterisks or the first or last
line, as the paper defines). benchdock's per-sample verdict and pass@1 are prompt-level
strict.

An instruction whose checker could not run here (NLTK's punkt_tab missing) is neither
followed nor not followed: it is left out of the instruction-level figures, and its prompt
out of the prompt-level ones unless another instruction already failed (then the prompt
failed whatever the missing one says). Such a sample's verdict is `error` naming why, so
pass@1 counts it as not passed while the four numbers and the dimension leave it out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from benchdock.harnesses.contract.benchmark import Table, Task, VerdictName
from benchdock.harnesses.contract.delegated import SampleOutcome
from benchdock.harnesses.contract.metrics import wilson
from benchdock.store.tables import Sample

FIGURES = (("prompt_level_strict", "prompt-level strict"),
           ("prompt_level_loose", "prompt-level loose"),
           ("inst_level_strict", "instruction-level strict"),
           ("inst_level_loose", "instruction-level loose"))


def prompt_level(values: Sequence[bool | None]) -> bool | None:
    """All followed: True; any not followed: False; else (some unknown) None."""
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True


def outcome(task: Task, response: str, checked: list[dict[str, Any]], checker: str
            ) -> SampleOutcome:
    """One response's verdict (prompt-level strict) and its evidence: each instruction with
    its arguments and whether it was followed, strict and loose."""
    ids: list[str] = task.data["instruction_id_list"]
    kwargs: list[dict[str, Any]] = task.data["kwargs"]
    if len(checked) != len(ids):
        return SampleOutcome(completion=response, verdict="error", detail=(
            f"the checker answered for {len(checked)} instructions, not {len(ids)}"))
    rows = []
    for iid, kw, c in zip(ids, kwargs, checked, strict=True):
        row: dict[str, Any] = {"id": iid, "kwargs": kw, "strict": c.get("strict"),
                               "loose": c.get("loose")}
        if c.get("unavailable") or c.get("error"):
            row["why"] = c.get("unavailable") or f"the checker failed: {c.get('error')}"
        rows.append(row)
    strict = prompt_level([r["strict"] for r in rows])
    loose = prompt_level([r["loose"] for r in rows])
    failed_strict = [r["id"] for r in rows if r["strict"] is False]
    failed_loose = [r["id"] for r in rows if r["loose"] is False]
    unknown = [r for r in rows if r["strict"] is None]
    extra = {"instructions": rows, "prompt_strict": strict, "prompt_loose": loose,
             "failed_strict": failed_strict, "failed_loose": failed_loose, "checker": checker}
    verdict: VerdictName
    if strict is True:
        verdict, detail = "pass", None
    elif strict is False:
        verdict = "fail"
        detail = (f"not followed (strict): {', '.join(failed_strict)}; loose: "
                  + (", ".join(failed_loose) + " not followed" if failed_loose
                     else "all followed"))
    else:
        verdict = "error"
        detail = "; ".join(f"{r['id']}: {r['why']}" for r in unknown)
    return SampleOutcome(completion=response, verdict=verdict, detail=detail, extra=extra)


def prompt_strict(sample: Sample) -> float | None:
    """The dimension's outcome: prompt-level strict, None when it could not be decided."""
    value = (sample.extra or {}).get("prompt_strict")
    return None if value is None else float(value is True)


def _figure(values: list[bool]) -> dict[str, Any]:
    n, k = len(values), sum(values)
    lo, hi = wilson(k, n)
    return {"value": k / n if n else None, "ci95": [lo, hi], "n": n, "followed": k}


def summarise(samples: Sequence[Sample], checker: str, punkt: str | None) -> dict[str, Any]:
    """The four numbers (with Wilson intervals; instruction-level ones treat a prompt's
    instructions as independent, which they are not quite) and accuracy per instruction."""
    pools: dict[str, list[bool]] = {key: [] for key, _ in FIGURES}
    per: dict[str, dict[str, int]] = defaultdict(lambda: {"n": 0, "strict": 0, "loose": 0})
    undecided_prompts = undecided_instructions = unscored = 0
    for s in samples:
        ev = s.extra or {}
        if s.verdict is None or "instructions" not in ev:
            unscored += s.verdict is not None
            continue
        for key, level in (("prompt_level_strict", "prompt_strict"),
                           ("prompt_level_loose", "prompt_loose")):
            if ev.get(level) is not None:
                pools[key].append(bool(ev[level]))
        undecided_prompts += ev.get("prompt_strict") is None
        for row in ev["instructions"]:
            if row.get("strict") is None or row.get("loose") is None:
                undecided_instructions += 1
                continue
            pools["inst_level_strict"].append(bool(row["strict"]))
            pools["inst_level_loose"].append(bool(row["loose"]))
            tally = per[row["id"]]
            tally["n"] += 1
            tally["strict"] += bool(row["strict"])
            tally["loose"] += bool(row["loose"])
    out: dict[str, Any] = {key: _figure(pools[key]) for key, _ in FIGURES}
    out.update(per_instruction=dict(sorted(per.items())), checker=checker, punkt=punkt,
               undecided_prompts=undecided_prompts,
               undecided_instructions=undecided_instructions, no_evidence=unscored)
    return out


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def tables(details: dict[str, Any]) -> list[Table]:
    """IFEval's four numbers, then accuracy per instruction type."""
    rows = []
    for key, label in FIGURES:
        f = details.get(key) or {}
        ci = f.get("ci95") or [0.0, 0.0]
        rows.append([label, _pct(f.get("value")), f"[{ci[0]:.3f}, {ci[1]:.3f}]",
                     f"{f.get('followed', 0)}/{f.get('n', 0)}"])
    notes = [f"scored by {details.get('checker')}", f"punkt: {details.get('punkt') or 'missing'}"]
    if details.get("undecided_prompts") or details.get("undecided_instructions"):
        notes.append(f"{details.get('undecided_prompts', 0)} prompts and "
                     f"{details.get('undecided_instructions', 0)} instructions could not be "
                     "checked here and are left out of these figures (their samples are "
                     "`error` verdicts)")
    if details.get("no_evidence"):
        notes.append(f"{details['no_evidence']} samples were not checked (the endpoint "
                     "refused them or the checker failed): left out")
    per = details.get("per_instruction") or {}
    by_type = [[iid, str(t["n"]), _pct(t["strict"] / t["n"]), _pct(t["loose"] / t["n"])]
               for iid, t in per.items() if t.get("n")]
    return [Table(title="IFEval: the four official numbers",
                  headers=["metric", "accuracy", "95% CI", "followed"], rows=rows,
                  note="; ".join(notes)),
            Table(title="IFEval by instruction type", headers=["instruction", "n", "strict",
                                                               "loose"], rows=by_type)]
