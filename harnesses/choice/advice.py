"""Which of the runs that would measure something to suggest: one that can run now, or else
one a set-up makes ready, said with that set-up and its cost.

The comparison's "not measured" cells, `recommend_model`'s next run and the plan all
suggest runs; a suggestion an agent cannot follow (a benchmark that is not set up, named
as if it could run) sends it down a dead end. Readiness is asked once per benchmark per
answer (`Ready`): it looks at files and, for downloads, at whether the source answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from benchdock.harnesses.choice.catalogue import RunOption
from benchdock.harnesses.service.setup import advice

T = TypeVar("T")


class Ready:
    """Readiness and set-up advice per benchmark, asked once."""

    def __init__(self) -> None:
        self._why: dict[str, str | None] = {}
        self._fix: dict[str, str | None] = {}

    def why_not(self, opt: RunOption) -> str | None:
        bid = opt.bench.id
        if bid not in self._why:
            self._why[bid] = opt.bench.readiness()
        return self._why[bid]

    def setup(self, opt: RunOption) -> str | None:
        bid = opt.bench.id
        if bid not in self._fix:
            self._fix[bid] = advice(opt.bench)[0]
        return self._fix[bid]

    def pick(self, options: Sequence[tuple[RunOption, T]]) -> tuple[RunOption, T, str | None] | None:
        """The first option (they come best first) that can run now; else the first that a
        set-up makes ready, with that set-up; None when none can be made ready here."""
        for opt, extra in options:
            if self.why_not(opt) is None:
                return opt, extra, None
        for opt, extra in options:
            fix = self.setup(opt)
            if fix is not None:
                return opt, extra, fix
        return None

    def label(self, opt: RunOption) -> str:
        """The benchmark's id, marked when it cannot run now."""
        if self.why_not(opt) is None:
            return opt.bench.id
        return f"{opt.bench.id} (needs set-up)" if self.setup(opt) else \
            f"{opt.bench.id} (cannot run here)"
