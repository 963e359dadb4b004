"""All 140 orders, byte for byte as the application wrote them, in a standalone database."""

import hashlib
import sqlite3
import sys
from pathlib import Path

DB = Path("/app/restore/orders.db")
ROWS_SHA256 = "592fb981c2aca60379e66f0a8a4263d74116e585525afa996ef505e8078d4872"  # of every row as the application wrote them, in id order
failures: list[str] = []


def check(ok: bool, what: str) -> None:
    sys.stdout.write(("PASS " if ok else "FAIL ") + what + "\n")
    if not ok:
        failures.append(what)


for side in ("-wal", "-shm"):
    check(not Path(f"{DB}{side}").exists(), f"no orders.db{side} beside the database")
header = DB.read_bytes()[:20] if DB.is_file() else b""
check(header[:16] == b"SQLite format 3\x00", "orders.db is a SQLite database")
check(header[18:20] == b"\x01\x01", "its header says rollback-journal mode, not WAL")
if DB.is_file() and not failures:
    db = sqlite3.connect(f"file:{DB}?mode=ro", uri=True)
    check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity_check is ok")
    check(db.execute("PRAGMA journal_mode").fetchone()[0] == "delete", "journal_mode is delete")
    rows = db.execute("SELECT id, customer, item, qty, cents FROM orders ORDER BY id").fetchall()
    check(len(rows) == 140, f"140 orders ({len(rows)})")
    digest = hashlib.sha256(repr(rows).encode()).hexdigest()
    check(digest == ROWS_SHA256, "every order is the one the application wrote")
sys.exit(1 if failures else 0)
