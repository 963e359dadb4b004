"""HumanEval+'s own tests, written as a pytest file.

Every base and plus input with the canonical solution's output (EvalPlus's `get_groundtruth`),
compared as EvalPlus's `unsafe_execute` does: exact equality, else (float outputs, or the
task's `atol`) numpy's `allclose` with rtol 1e-7, and `find_zero`'s special oracle. The same
file decides which mutants count (those it kills) and is the known-right answer of the
contract tests: it kills every counted mutant, so it scores 1.0 by construction.
"""

from __future__ import annotations

from typing import Any

HEADER = '''"""HumanEval+ (v0.1.10) base and plus tests of {entry_point}, as EvalPlus checks them."""
import math

import numpy as np

from solution import {entry_point}

inf, nan = float("inf"), float("nan")
ATOL = {atol!r}


def _is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    if isinstance(x, np.ndarray):
        return x.dtype == np.float64 or x.dtype == np.float32
    return False


def _poly(xs, x):
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def _check(inp, exp):
    out = {entry_point}(*inp)
    if {find_zero!r}:
        assert abs(_poly(*inp, out)) <= ATOL
        return
    atol = ATOL
    if atol == 0 and _is_floats(exp):
        atol = 1e-6
    if out != exp and atol != 0:
        assert type(out) == type(exp)
        if isinstance(exp, (list, tuple)):
            assert len(out) == len(exp)
        assert np.allclose(out, exp, rtol=1e-07, atol=atol)
    else:
        assert out == exp, f"{entry_point}(*{{inp!r:.200}}) returned {{out!r:.200}}"

'''


def render(entry_point: str, atol: float, parts: dict[str, tuple[list[Any], list[Any]]]) -> str:
    """The file: one test per part ("base", "plus") that checks each input in turn."""
    out = [HEADER.format(entry_point=entry_point, atol=atol,
                         find_zero=entry_point == "find_zero")]
    for name, (inputs, expected) in parts.items():
        out.append(f"CASES_{name.upper()} = [\n")
        out.extend(f"    ({inp!r}, {exp!r}),\n" for inp, exp in zip(inputs, expected, strict=True))
        out.append("]\n\n\n")
        out.append(f"def test_{name}():\n    for inp, exp in CASES_{name.upper()}:\n"
                   "        _check(inp, exp)\n\n\n")
    return "".join(out)
