"""totals.sh on the task's data and on fresh exports of both formats it has not seen."""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

failures: list[str] = []


def check(ok: bool, what: str) -> None:
    sys.stdout.write(("PASS " if ok else "FAIL ") + what + "\n")
    if not ok:
        failures.append(what)


def totals(folder: Path) -> str:
    run = subprocess.run(["/app/report/totals.sh", str(folder)], capture_output=True,
                         text=True, timeout=60)
    return run.stdout


check(totals(Path("/app/report/data")) == (
    "Wayne, Bruce\t400.00\nacme\t1536.05\nglobex\t155.35\ninitech\t2299.95\nTOTAL\t4391.35\n"),
      "the task's data")
work = Path(tempfile.mkdtemp(prefix="totals-check-"))
new_only = work / "new only"
new_only.mkdir()
rows = ['"customer","amount","currency"', '"zeta","2,000.10","EUR"', '"Doe, Jane","15.00","EUR"',
        '"zeta","-0.10","EUR"', '"alpha beta","1,234,567.89","EUR"', '"Doe, Jane","5.5","EUR"']
(new_only / "2025-03.csv").write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(rows) + "\r\n").encode())
got = totals(new_only)
check(got == "Doe, Jane\t20.50\nalpha beta\t1234567.89\nzeta\t2000.00\nTOTAL\t1236588.39\n",
      f"a new-format export it has not seen ({got!r})")
old_only = work / "old"
old_only.mkdir()
(old_only / "a.csv").write_text("customer,amount\nbob,1.10\nann,2.20\nbob,3.30\n")
(old_only / "b.csv").write_text("customer,amount\nann,0.05\n")
got = totals(old_only)
check(got == "ann\t2.25\nbob\t4.40\nTOTAL\t6.65\n", f"old-format exports ({got!r})")
both = work / "both"
both.mkdir()
shutil.copy(old_only / "a.csv", both / "a.csv")
(both / "c.csv").write_bytes(b"\xef\xbb\xbf" + b'"customer","amount","currency"\r\n'
                             b'"bob","1,000.00","EUR"\r\n')
got = totals(both)
check(got == "ann\t2.20\nbob\t1004.40\nTOTAL\t1006.60\n", f"both formats in one folder ({got!r})")
shutil.rmtree(work, ignore_errors=True)
sys.exit(1 if failures else 0)
