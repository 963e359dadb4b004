"""Engine creation and schema migrations.

Migrations are an ordered list of named functions; the names applied are recorded in the
database, so a user's store can be upgraded in place when a later release adds columns.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import event, inspect, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine, select

from benchdock.store.tables import (
    DimensionEvidence,
    EndpointSlots,
    Job,
    Run,
    RunSummary,
    Sample,
    SchemaMigration,
    Worker,
)


def _initial(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine)


def _add_columns(*columns: tuple[str, str]) -> Callable[[Engine], None]:
    """ALTER TABLE ... ADD COLUMN for stores made before the column existed; a new store,
    made by `_initial` from the current models, has them already."""

    def apply(engine: Engine) -> None:
        insp = inspect(engine)
        with engine.begin() as conn:
            for table_col, sql_type in columns:
                table, column = table_col.split(".")
                if column not in {c["name"] for c in insp.get_columns(table)}:
                    conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))

    return apply


def _create_indexes(*names: str) -> Callable[[Engine], None]:
    """Indexes a store made before `tables.py` declared them lacks (a new store has them)."""

    def apply(engine: Engine) -> None:
        for index in Sample.__table__.indexes:  # type: ignore[attr-defined]
            if index.name in names:
                index.create(engine, checkfirst=True)

    return apply


# how runs stored before 0005 named their benchmark's options
_LEGACY_OPTIONS = {"bfcl_mode": "mode", "aider_edit_format": "edit_format"}
_LEGACY_REASONS = ("bfcl_mode_reason", "aider_edit_format_reason")


def _run_options(engine: Engine) -> None:
    """A run's benchmark options become one `options` mapping (and `options_reason`), the
    same for every benchmark, instead of keys named after BFCL's mode and aider's format."""
    table = Run.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        for run_id, params in conn.execute(select(table.c.id, table.c.params)).all():
            p = dict(params or {})
            if not any(k in p for k in (*_LEGACY_OPTIONS, *_LEGACY_REASONS)):
                continue
            options = dict(p.get("options") or {})
            options.update({new: p.pop(old) for old, new in _LEGACY_OPTIONS.items() if old in p})
            reasons = [p.pop(k) for k in _LEGACY_REASONS if k in p]
            p["options"] = options
            if reasons and reasons[0]:
                p["options_reason"] = reasons[0]
            conn.execute(update(table).where(table.c.id == run_id).values(params=p))


def _workers_and_leases(engine: Engine) -> None:
    """Claims with a lease (which worker, until when, how many endpoint slots), the workers'
    registry and the endpoints' declared slots: what several workers on one store need."""
    _add_columns(("run.worker_id", "TEXT"), ("run.lease_until", "TIMESTAMP"),
                 ("run.slots", "INTEGER"))(engine)
    SQLModel.metadata.create_all(
        engine, tables=[Worker.__table__, EndpointSlots.__table__])  # type: ignore[attr-defined]


MIGRATIONS: list[tuple[str, Callable[[Engine], None]]] = [
    ("0001_initial", _initial),
    ("0002_sample_extra_and_tool_calls", _add_columns(("sample.extra", "JSON"),
                                                      ("generation.tool_calls", "JSON"))),
    ("0003_evidence_tables", lambda engine: SQLModel.metadata.create_all(
        engine, tables=[RunSummary.__table__, DimensionEvidence.__table__])),  # type: ignore[attr-defined]
    ("0004_run_isolation", _add_columns(("run.isolation", "TEXT"))),
    ("0005_run_options", _run_options),
    ("0006_workers_and_leases", _workers_and_leases),
    ("0007_sample_run_verdict_index", _create_indexes("ix_sample_run_verdict")),
    ("0008_jobs", lambda engine: SQLModel.metadata.create_all(
        engine, tables=[Job.__table__])),  # type: ignore[attr-defined]
]
# one number for pg_advisory_lock: workers starting together on a fresh PostgreSQL store
# migrate it once, one after the other
_MIGRATION_LOCK = 0x62656E6368


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def normalise_url(url: str) -> str:
    """`postgresql://` and `postgres://` URLs use psycopg 3 (the driver benchdock pins), not
    SQLAlchemy's default psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def make_engine(url: str, migrate_schema: bool = True) -> Engine:
    """An engine for `url`, its schema brought up to date unless `migrate_schema` is False;
    SQLite gets WAL so the server reads while the worker writes."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    else:
        if url.startswith(("postgresql", "postgres:")):
            try:
                import psycopg  # noqa: F401
            except ImportError as exc:
                raise RuntimeError(f"{url.split(':')[0]} store: the PostgreSQL driver is not "
                                   "installed; pip install 'benchdock[postgres]'") from exc
        # UTC sessions: timestamps are stored without a zone, in UTC, as SQLite stores them
        engine = create_engine(normalise_url(url), pool_pre_ping=True,
                               connect_args={"options": "-c timezone=UTC"})
    if migrate_schema:
        migrate(engine)
    return engine


def migrate(engine: Engine) -> list[str]:
    """Apply the migrations this database has not seen; returns their names. Servers, CLI
    commands and workers starting together on a new store migrate it once: on PostgreSQL
    under an advisory lock, on an SQLite file under a lock file beside it."""
    if not is_postgres(engine):
        path = engine.url.database
        if not path or path == ":memory:" or engine.dialect.name != "sqlite":
            return _migrate(engine)
        with open(f"{path}.migrate-lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file closes
            return _migrate(engine)
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
        conn.commit()
        try:
            return _migrate(engine)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
            conn.commit()


def _migrate(engine: Engine) -> list[str]:
    SQLModel.metadata.create_all(engine, tables=[SchemaMigration.__table__])  # type: ignore[attr-defined]
    with Session(engine) as s:
        done = set(s.exec(select(SchemaMigration.name)).all())
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        fn(engine)
        with Session(engine) as s:
            s.add(SchemaMigration(name=name))
            s.commit()
        applied.append(name)
    return applied
