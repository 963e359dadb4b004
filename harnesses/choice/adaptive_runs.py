"""What `decide` reads from a batch's runs while they are still going: which tasks are scored
(so the confidence sequences can take the scored prefix of the seeded order before the batch
ends) and how long a run has been working (its time, not the time it sat cancelled).

Why a prefix and not whatever is scored: the confidence sequence is valid for the tasks in
their seeded random order, so it may take task k only once tasks 1..k-1 are in; stopping
after any prefix is fine (it is anytime-valid), skipping ahead is not.

Why the working time needs care: a run keeps its first `started_at` when it is resumed, so
"finished minus started" of a run that sat cancelled for an hour counts that hour. A resumed
run's working time is its time before the cancel plus the time from its first generation
after the resume (the generation's end minus its latency) to its end.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from benchdock.harnesses.service.views import RunStatus
from benchdock.store import queries as q


def scored_tasks(db: Engine, run_id: str) -> set[str]:
    """The tasks of the run that have a verdict (every sample of them scored)."""
    samples = q.all_samples(db, run_id)
    pending = {s.task_id for s in samples if s.verdict is None}
    return {s.task_id for s in samples if s.verdict is not None} - pending


def scored_prefix(order: list[str], start: int, scored: list[set[str]]) -> int:
    """How far, from `start`, the tasks of `order` are scored for every model."""
    end = start
    while end < len(order) and all(order[end] in s for s in scored):
        end += 1
    return end


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def working_seconds(db: Engine, st: RunStatus, resumed_after: str | None) -> float:
    """The run's elapsed time without the time it sat cancelled before decide resumed it.
    `resumed_after`: when the run had been cancelled (ISO time), for a run decide resumed."""
    elapsed = st.elapsed_s or 0.0
    if resumed_after is None:
        return elapsed
    cancelled_at = _aware(datetime.fromisoformat(resumed_after))
    restarts = [_aware(s.generated_at).timestamp() - (s.latency_s or 0.0)
                for s in q.all_samples(db, st.run_id)
                if s.generated_at is not None and _aware(s.generated_at) > cancelled_at]
    end = _aware(st.finished_at).timestamp() if st.finished_at else datetime.now(UTC).timestamp()
    restart = min(restarts, default=end)  # nothing generated since: it has not restarted
    idle = max(0.0, restart - cancelled_at.timestamp())
    return max(0.0, elapsed - idle)
