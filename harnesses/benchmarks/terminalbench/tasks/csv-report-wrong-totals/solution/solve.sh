#!/bin/bash
# Reference solution: parse CSV properly (quotes, commas in fields, BOM, CRLF) with
# Python's csv module; strip thousands separators from amounts.
set -euo pipefail
cat > /app/report/totals.sh <<'SH'
#!/bin/bash
# totals.sh DIR: each customer's total over DIR/*.csv (customer,amount[,...] with a header;
# old and new export formats).
dir=${1:-.}
python3 - "$dir" <<'PY'
import csv
import sys
from decimal import Decimal
from pathlib import Path

totals: dict[str, Decimal] = {}
for path in sorted(Path(sys.argv[1]).glob("*.csv")):
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f)
        next(rows, None)
        for row in rows:
            if len(row) < 2 or not row[0].strip():
                continue
            amount = Decimal(row[1].replace(",", "").strip())
            totals[row[0]] = totals.get(row[0], Decimal(0)) + amount
for name in sorted(totals, key=lambda n: n.encode()):
    print(f"{name}\t{totals[name]:.2f}")
print(f"TOTAL\t{sum(totals.values(), Decimal(0)):.2f}")
PY
SH
chmod 755 /app/report/totals.sh
/app/report/totals.sh /app/report/data
