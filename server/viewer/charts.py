"""What the viewer computes from the finished runs and keeps until another run ends: the
comparisons (`compare_dimensions`) its pages show, and the report's charts (radar,
quality/speed: `harnesses/report`).

A comparison over a hundred models takes about a second and a chart more (every model
compared and ranked, then a matplotlib figure); both depend only on the succeeded runs, so
each is computed once per state of the store — its mark: how many runs succeeded and the
newest end — and served again until a run ends. matplotlib's pyplot is not thread-safe, so
one chart is drawn at a time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.report.document import Report, build
from benchdock.store import browse

T = TypeVar("T")
KEPT = 32  # values kept (one per page of models, per set of models asked for)


class StoreMemo:
    """Values keyed by what was asked and the store's mark, the newest `KEPT` of them."""

    def __init__(self, kept: int = KEPT) -> None:
        self._lock = threading.Lock()
        self._values: OrderedDict[tuple[Hashable, Any], Any] = OrderedDict()
        self.kept = kept

    def get(self, db: Engine, key: Hashable, compute: Callable[[], T]) -> T:
        full = (key, browse.store_mark(db))
        with self._lock:
            if full in self._values:
                self._values.move_to_end(full)
                return self._values[full]  # type: ignore[no-any-return]
        value = compute()  # outside the lock: two pages may compute it at once, both right
        with self._lock:
            self._values[full] = value
            while len(self._values) > self.kept:
                self._values.popitem(last=False)
        return value


class ChartCache:
    def __init__(self) -> None:
        self.memo = StoreMemo()
        self._draw = threading.Lock()

    def report(self, db: Engine, models: Sequence[str] | None) -> Report:
        return self.memo.get(db, ("report", tuple(models or ())),
                             lambda: build(db, list(models) if models else None))

    def warm(self, db: Engine) -> None:
        """Draw the default charts now (a viewer starting, in the background), so the first
        visit to the dimensions page finds them drawn; a store without results has none."""
        try:
            self.png(db, "radar", None)
            self.png(db, "quality_speed", None)
        except BenchdockError:
            return

    def png(self, db: Engine, kind: str, models: Sequence[str] | None) -> bytes:
        report = self.report(db, models)
        with self._draw:  # the cached_property draws on first access
            return report.radar_png if kind == "radar" else report.scatter_png
