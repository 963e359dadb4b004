"""Ground truth timed where the code will run: EvalPlus's `trusted_exec`, in the sandbox.

EvalPlus's per-input time limits are `factor * ref_time`, where `ref_time` is how long the
canonical solution took on each input. EvalPlus measures it on the machine that checks;
benchdock checks inside the sandbox (a container with one CPU), so it measures there too,
the way `evalplus.gen.util.trusted_exec` does: the code exec'd once per part, each input
deep-copied, `time.time()` around the call, every output kept until the part ends. The
canonical code is the dataset's (trusted): it runs in the judge, no worker needed.
"""

from __future__ import annotations

import time
from copy import deepcopy

from . import frames

TYPE_CHECKING = False  # typing itself is slow to import, and the judge starts per sample
if TYPE_CHECKING:
    from typing import Any


def prepare() -> None:
    pass


def trusted_times(code: str, inputs: list[Any], entry_point: str) -> list[float]:
    exec_globals: dict[str, Any] = {}
    exec(code, exec_globals)
    fn = exec_globals[entry_point]
    rtime = []
    ret = []
    for inp in inputs:
        inp = deepcopy(inp)
        start = time.time()
        ret.append(fn(*inp))
        rtime.append(time.time() - start)
    return rtime


def run(payload: dict[str, Any], workers: list[frames.WorkerHandle]) -> dict[str, Any]:
    return {"times": {name: trusted_times(payload["code"], inputs, payload["entry_point"])
                      for name, inputs in payload["parts"].items()}}
