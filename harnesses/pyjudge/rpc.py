"""One call across the pipe, seen from the judge: what came back, or why nothing usable did.

Every way a worker can misbehave ends as an `Outcome` of its own kind, with a reason a
person can act on; the harness-specific judges turn those into verdicts.
"""

from __future__ import annotations

import sys

from . import codec, frames
from .worker import SMALL_VALUE, VALUE_CAP

TYPE_CHECKING = False  # typing itself is slow to import, and the judge starts per sample
if TYPE_CHECKING:
    from typing import Any

HEADER_CAP = SMALL_VALUE + 4096  # a small value travels in the header


class Outcome:
    """kind: ok | ready | value | raised | died | late | too_large | garbled | not_plain.
    (A plain class: dataclasses would import inspect, a cost on every sample.)"""

    __slots__ = ("elapsed", "kind", "opaque", "text", "value")

    def __init__(self, kind: str, value: Any = None, text: str = "", elapsed: float = 0.0,
                 opaque: list[str] | None = None) -> None:
        self.kind, self.value, self.text, self.elapsed = kind, value, text, elapsed
        self.opaque = opaque or []


def not_plain_reason(type_name: str) -> str:
    article = "an" if type_name[:1].lower() in "aeiou" else "a"
    return (f"returned {article} {type_name} object, which is not plain data; an object that "
            "defines its own comparison cannot be judged")


def _numpy() -> Any:
    return sys.modules.get("numpy")


def _decode(raw: bytes) -> tuple[Any, list[str]]:
    try:
        return codec.decode(raw, _numpy())
    except codec.Garbled as exc:
        if "numpy" not in str(exc) or _numpy() is not None:
            raise
    import numpy  # the program returned numpy values: judge them with numpy itself

    return codec.decode(raw, numpy)


def exchange(w: frames.WorkerHandle, request: str, header_deadline: float,
             body_deadline: float) -> Outcome:
    """Send one request; read the header ("done"/"raise") by `header_deadline` and the
    value by `body_deadline`."""
    try:
        w.send(request.encode("ascii"), header_deadline)
        head, opaque = _decode(w.recv(header_deadline, HEADER_CAP))
        if type(head) is not list or not head or type(head[0]) is not str:
            raise codec.Garbled("a reply must be a list")
        if head[0] in ("ok", "ready"):
            return Outcome(head[0])
        if head[0] == "raise" and len(head) == 4:
            return Outcome("raised", text=f"{str(head[1])[:100]}: {str(head[2])[:500]}",
                           elapsed=_num(head[3]))
        if head[0] != "done" or len(head) not in (2, 3):
            raise codec.Garbled(f"unexpected reply {str(head[0])[:40]!r}")
        elapsed = _num(head[1])
        if len(head) == 3:  # the value came with the header
            body = ["value", head[2]]
        else:
            body, opaque = _decode(w.recv(body_deadline, VALUE_CAP + 64))
        if type(body) is not list or len(body) != 2:
            raise codec.Garbled("a value reply must be [kind, value]")
        if body[0] == "unencodable":
            if str(body[1]) == "too large":
                return Outcome("too_large", text=f"over {VALUE_CAP >> 20} MiB as plain data",
                               elapsed=elapsed)
            text = f"returned a value that cannot be sent as plain data: {str(body[1])[:300]}"
            return Outcome("not_plain", text=text, elapsed=elapsed)
        if body[0] != "value":
            raise codec.Garbled(f"unexpected reply {str(body[0])[:40]!r}")
        if opaque:
            return Outcome("not_plain", body[1], not_plain_reason(opaque[0]), elapsed, opaque)
        return Outcome("value", body[1], elapsed=elapsed)
    except frames.Late:
        return Outcome("late")
    except frames.Closed:
        return Outcome("died", text=w.how_it_ended())
    except frames.TooLarge as exc:
        return Outcome("too_large", text=f"{exc.size} bytes")
    except codec.Garbled as exc:
        return Outcome("garbled", text=str(exc)[:300])


def _num(v: Any) -> float:
    if type(v) not in (int, float):
        raise codec.Garbled("a time must be a number")
    return float(v)
