"""Makes the broken restore: 100 orders checkpointed into the database file, 40 more only
in the write-ahead log, and the files copied while the connection was still open."""

import random
import shutil
import sqlite3
from pathlib import Path

live = Path("/var/tmp/live")
live.mkdir(parents=True, exist_ok=True)
db = sqlite3.connect(live / "orders.db", isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA wal_autocheckpoint=0")
db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, "
           "item TEXT NOT NULL, qty INTEGER NOT NULL, cents INTEGER NOT NULL)")
rng = random.Random(20250301)
names = ["ada", "bob", "cyd", "dee", "eve", "fay", "gus", "hal"]
items = ["bolt", "nut", "gear", "cog", "pin", "spring"]


def add(n: int) -> None:
    db.execute("BEGIN")
    for _ in range(n):
        db.execute("INSERT INTO orders (customer, item, qty, cents) VALUES (?, ?, ?, ?)",
                   (rng.choice(names), rng.choice(items), rng.randint(1, 20),
                    rng.randint(50, 99999)))
    db.execute("COMMIT")


add(100)
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
for _ in range(4):
    add(10)
restore = Path("/app/restore")
restore.mkdir(parents=True, exist_ok=True)
shutil.copy(live / "orders.db", restore / "orders.db")
shutil.copy(live / "orders.db-wal", restore / "orders.db-wal.saved")
db.close()
shutil.rmtree(live)
