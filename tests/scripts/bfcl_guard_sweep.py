"""Does benchdock's guard change any BFCL verdict on a legitimate answer? Judges BFCL's own
ground truth for every multi-turn entry (800) as the model's answer, with and without the
guard, and compares each verdict. Runs in BFCL's venv, in-process (bfcl-eval's own
checkers, no bridge loop, no model):

    $BENCHDOCK_ENVS/bfcl-eval-2026.3.23/bin/python tests/scripts/bfcl_guard_sweep.py

Three forms of the answer: `raw` (the ground-truth strings as a prompting answer; BFCL's
prompting decoder drops positional arguments, so some fail with or without the guard),
`keywords` (positional arguments named, prompting) and `native` (tool calls, JSON
arguments). Prints one line per form: valid counts with and without the guard, verdicts
that differ (must be 0) and calls the guard refused (must be 0).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import sys
import types
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[2] / "harnesses" / "benchmarks" / "bfcl" / "drivers"
CATEGORIES = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param",
              "multi_turn_long_context")


def load_bridge() -> tuple[Any, Any]:
    for name in ("benchdock", "benchdock.harnesses", "benchdock.harnesses.benchmarks.bfcl"):
        pkg = types.ModuleType(name)
        pkg.__path__ = []
        sys.modules[name] = pkg
    mods = {}
    for short in ("guard", "isolate", "bridge"):
        name = f"benchdock.harnesses.benchmarks.bfcl.{short}"
        mod = types.ModuleType(name)
        sys.modules[name] = mod
        setattr(sys.modules["benchdock.harnesses.benchmarks.bfcl"], short, mod)
        exec(compile((HERE / f"{short}.py").read_text(), f"{short}.py", "exec"), mod.__dict__)
        mods[short] = mod
    return mods["bridge"], mods["guard"]


def named(call: str, classes: list[str]) -> tuple[str, dict[str, Any]]:
    from bfcl_eval.constants.executable_backend_config import CLASS_FILE_PATH_MAPPING

    node = ast.parse(call, mode="eval").body
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    args = {k.arg or "": ast.literal_eval(k.value) for k in node.keywords}
    for c in classes:
        cls = getattr(importlib.import_module(CLASS_FILE_PATH_MAPPING[c]), c)
        if node.args and hasattr(cls, node.func.id):
            params = [p for p in inspect.signature(getattr(cls, node.func.id)).parameters
                      if p != "self"]
            args.update({p: ast.literal_eval(a) for p, a in zip(params, node.args, strict=False)})
            break
    return node.func.id, args


def answer(form: str, gt: list[list[str]], classes: list[str]) -> list[Any]:
    if form == "raw":
        return [["[" + ", ".join(turn) + "]"] if turn else [] for turn in gt]
    calls = [[named(c, classes) for c in turn] for turn in gt]
    if form == "keywords":
        return [["[" + ", ".join(f"{n}({', '.join(f'{k}={v!r}' for k, v in a.items())})"
                                 for n, a in turn) + "]"] if turn else [] for turn in calls]
    return [[[{n: json.dumps(a)} for n, a in turn]] if turn else [] for turn in calls]


def sweep(form: str, with_guard: bool) -> dict[str, Any]:
    """In a child process: the guard, once installed, stays for the process."""
    r, w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(w)
        with os.fdopen(r) as fh:
            data = fh.read()
        os.waitpid(pid, 0)
        out: dict[str, Any] = json.loads(data)
        return out
    os.close(r)
    bridge, guard = load_bridge()
    bridge._state.update(model="sweep", mode="native" if form == "native" else "prompting",
                         temperature=0.0)
    bridge._register_models()
    if with_guard:
        guard.install()
    bridge._state["handler"] = bridge._make_handler()
    verdicts = {}
    for cat in CATEGORIES:
        _, ev, truth = bridge._entries(cat)
        for eid, gt in truth.items():
            j = bridge._judge(cat, eid, answer(form, gt, ev[eid]["involved_classes"]))
            verdicts[eid] = [j.get("valid"), j.get("error_type")]
    os.write(w, json.dumps({"verdicts": verdicts, "refused": guard.refusals}).encode())
    os._exit(0)


def main() -> None:
    sys.stdout, out = sys.stderr, sys.stdout  # BFCL prints progress
    os.environ.setdefault("BENCHDOCK_PROXY_SOCKET", "/nonexistent")
    os.environ.setdefault("OPENAI_API_KEY", "unused")
    for form in ("raw", "keywords", "native"):
        guarded, plain = sweep(form, True), sweep(form, False)
        g, p = guarded["verdicts"], plain["verdicts"]
        differ = [k for k in g if g[k] != p[k]]
        out.write(f"{form}: {len(g)} entries, valid {sum(v[0] is True for v in g.values())} "
                  f"with the guard, {sum(v[0] is True for v in p.values())} without; "
                  f"verdicts that differ: {len(differ)} {differ[:5]}; "
                  f"calls refused: {len(guarded['refused'])}\n")
        out.flush()


if __name__ == "__main__":
    main()
