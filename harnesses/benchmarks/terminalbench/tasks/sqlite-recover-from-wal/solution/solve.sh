#!/bin/bash
# Reference solution: put the saved log back where SQLite looks for it, checkpoint it into
# the database file, then leave WAL mode.
set -euo pipefail
cd /app/restore
sqlite3 orders.db 'SELECT count(*) FROM orders'     # 100: the log is not applied
cp orders.db-wal.saved orders.db-wal
sqlite3 orders.db 'PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE; SELECT count(*) FROM orders;'
rm -f orders.db-shm orders.db-wal
sqlite3 orders.db 'PRAGMA integrity_check'
