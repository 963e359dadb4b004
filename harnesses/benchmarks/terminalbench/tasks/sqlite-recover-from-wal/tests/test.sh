#!/bin/bash
# Verifier of sqlite-recover-from-wal (benchdock terminal-bench-local).
python3 /tests/check.py
if [ $? -eq 0 ]; then echo 1 > /logs/verifier/reward.txt; else echo 0 > /logs/verifier/reward.txt; fi
