#!/bin/bash
# Reference solution: recreate the venv with this machine's Python and install offline.
set -euo pipefail
/app/.venv/bin/python --version || true      # the interpreter it points to is gone
rm -rf /app/.venv
python3 -m venv /app/.venv
/app/.venv/bin/pip install --no-index --find-links /app/wheels reportgen==0.4.0
/app/.venv/bin/reportgen --selftest
