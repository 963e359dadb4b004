"""What of a model's answer BFCL may evaluate. Runs in BFCL's own process (see `bridge.py`);
standard library only, so benchdock's tests can check it without bfcl-eval.

bfcl-eval executes answers with `eval()`: multi-turn calls as
`eval("<instance>.<method>(<args>)")` in its own module (`execute_multi_turn_func_call`,
whose only guard is a short list of forbidden function names), and any arithmetic in an
argument written as text (`f(x=2*3)`) while decoding it. In native mode the function name
is the tool call's name, verbatim; in prompting mode arguments may hold anything Python
parses. An answer such as `__import__('os')._exit(0)` would run in the process that judges
it. `install()` puts a check in front of both places:

- a call is evaluated only when it is one call of a public method of the entry's simulator
  classes (a plain name, as BFCL's own prompt asks) with literal arguments
  (`ast.literal_eval` accepts each); anything else gets BFCL's own failing-call result,
  "Error during execution: ...", so the model sees a tool error and the checker sees the
  state it leaves, as for any call that fails;
- arithmetic in an argument is computed from literals with size limits, never by `eval`.

Every legitimate answer evaluates as before: BFCL's own ground truth for every multi-turn
entry is such calls (see tests/harnesses/benchmarks/bfcl/test_bfcl_hostile.py).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

REFUSE = "_benchdock_refused"  # the name a refused call is replaced by in BFCL's eval
MAX_INT_BITS = 100_000  # results of arithmetic in an argument: ~30,000 decimal digits
MAX_SEQUENCE = 1_000_000  # a repeated string or list in an argument

# what was refused in this process: {"call", "reason", "by"} ("model" or "ground truth")
refusals: list[dict[str, str]] = []


def refusal(call: str, methods: Mapping[str, str]) -> str | None:
    """Why `call` must not be evaluated, or None: it is `method(literal, ..., k=literal)`
    with `method` a key of `methods` (method name -> the instance BFCL calls it on)."""
    node = _parse_call(call)
    if isinstance(node, str):
        return node
    if not isinstance(node.func, ast.Name):
        return (f"benchdock evaluates only a plain method name with literal arguments; "
                f"{_short(call)} calls {type(node.func).__name__.lower()} expression")
    if node.func.id not in methods:
        return f"name '{node.func.id}' is not defined"  # what BFCL's eval says for a stray name
    return _literal_args(node, call)


def processed_refusal(call: str, methods: Mapping[str, str]) -> str | None:
    """The same check on the string BFCL is about to evaluate (`<instance>.<method>(...)`),
    after its own rewriting: the call must still be exactly that."""
    node = _parse_call(call)
    if isinstance(node, str):
        return node
    f = node.func
    if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
            and methods.get(f.attr) == f.value.id):
        return f"benchdock refused {_short(call)}: not a method of this entry's classes"
    return _literal_args(node, call)


def _parse_call(call: str) -> ast.Call | str:
    if not isinstance(call, str):
        return f"benchdock refused a call that is not text ({type(call).__name__})"
    try:
        node = ast.parse(call.strip(), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        return f"benchdock refused {_short(call)}: not Python ({type(exc).__name__})"
    if not isinstance(node, ast.Call):
        return f"benchdock refused {_short(call)}: not a single function call"
    return node


def _literal_args(node: ast.Call, call: str) -> str | None:
    values: list[ast.expr] = []
    for a in node.args:
        if isinstance(a, ast.Starred):
            return f"benchdock refused {_short(call)}: *arguments"
        values.append(a)
    for k in node.keywords:
        if k.arg is None:
            return f"benchdock refused {_short(call)}: **arguments"
        values.append(k.value)
    for v in values:
        try:
            ast.literal_eval(v)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return (f"benchdock evaluates only literal arguments; {_short(call)} has "
                    f"{_short(ast.unparse(v), 80)}")
    return None


def _short(text: str, n: int = 160) -> str:
    text = str(text)
    return repr(text if len(text) <= n else text[:n] + "...")


# --- arithmetic in an argument, as BFCL's decoder computes it with eval() ---------------

_OPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow, ast.LShift: operator.lshift, ast.RShift: operator.rshift,
    ast.BitOr: operator.or_, ast.BitAnd: operator.and_, ast.BitXor: operator.xor,
}


def arithmetic(node: ast.expr) -> Any:
    """The value of `2*3`, `-1.5 + 2`, `'a' + 'b'`, `[0] * 3`: literals and operators only,
    refusing (ValueError) anything else and anything that would grow past the limits."""
    if not isinstance(node, ast.BinOp):
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, RecursionError) as exc:
            raise ValueError(f"benchdock does not evaluate {_short(ast.unparse(node), 80)} "
                             "in an argument: only literals and arithmetic on them") from exc
    op = _OPS.get(type(node.op))
    if op is None:
        raise ValueError(f"benchdock does not evaluate the operator {type(node.op).__name__}")
    left, right = arithmetic(node.left), arithmetic(node.right)
    _check_size(node.op, left, right)
    out = op(left, right)
    if isinstance(out, int) and out.bit_length() > MAX_INT_BITS:
        raise ValueError("benchdock does not evaluate arithmetic this large in an argument")
    return out


def _check_size(op: ast.operator, left: Any, right: Any) -> None:
    def too_big() -> ValueError:
        return ValueError("benchdock does not evaluate arithmetic this large in an argument")

    ints = isinstance(left, int) and isinstance(right, int)
    if isinstance(op, ast.Pow) and ints and right > 0 and abs(left) > 1 and (
            right * math.log2(abs(left)) > MAX_INT_BITS):
        raise too_big()
    if isinstance(op, ast.LShift) and ints and right > MAX_INT_BITS:
        raise too_big()
    if isinstance(op, ast.Mult):
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, str | bytes | list | tuple) and isinstance(n, int) and (
                    len(seq) * n > MAX_SEQUENCE):
                raise too_big()
    if isinstance(op, ast.Mod) and isinstance(left, str | bytes):
        raise ValueError("benchdock does not evaluate %-formatting in an argument")


# --- the patches -----------------------------------------------------------------------

def _raise_refused(reason: str) -> None:
    raise Exception(reason)  # BFCL turns it into "Error during execution: <reason>"


def install() -> None:
    """Patch bfcl-eval in this process (both are looked up as module globals at call time,
    so every caller sees the checked versions)."""
    from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils as mtu
    from bfcl_eval.model_handler import utils as hu

    if getattr(mtu, REFUSE, None) is _raise_refused:
        return
    rewrite: Callable[[str, dict[str, str]], str] = mtu._process_method_calls
    resolve: Callable[[Any], Any] = hu.resolve_ast_by_type

    def process_method_calls(call: str, methods: dict[str, str]) -> str:
        why = refusal(call, methods)
        if why is None:
            out = rewrite(call, methods)
            why = processed_refusal(out, methods)
            if why is None:
                return out
        by = "ground truth" if any("_ground_truth_" in i for i in methods.values()) else "model"
        refusals.append({"call": str(call)[:500], "reason": why, "by": by})
        return f"{REFUSE}({why!r})"

    def resolve_ast_by_type(value: Any) -> Any:
        if isinstance(value, ast.BinOp):
            try:
                return arithmetic(value)
            except ValueError as exc:
                refusals.append({"call": ast.unparse(value)[:500], "reason": str(exc),
                                 "by": "model"})
                raise
        if isinstance(value, ast.Lambda):  # BFCL's own branch fails (TypeError) before eval
            raise TypeError("a lambda is not an argument value")
        return resolve(value)

    setattr(mtu, REFUSE, _raise_refused)
    mtu._process_method_calls = process_method_calls
    hu.resolve_ast_by_type = resolve_ast_by_type
