"""A forced logrotate run rotates webapp's logs without errors, creates fresh ones and
makes the running webappd reopen them."""

import gzip
import pwd
import stat
import subprocess
import sys
import time
from pathlib import Path

LOGS = Path("/var/log/webapp")
failures: list[str] = []


def check(ok: bool, what: str) -> None:
    sys.stdout.write(("PASS " if ok else "FAIL ") + what + "\n")
    if not ok:
        failures.append(what)


def sh(cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=60)


for old in LOGS.glob("*.gz"):
    old.unlink()
for p in LOGS.glob("*.log.[0-9]*"):
    p.unlink()
Path(LOGS / "reopened").unlink(missing_ok=True)
sh("pkill -f /usr/local/bin/webappd; rm -f /run/webapp/webappd.pid /run/webapp.pid")
lines_before = (LOGS / "access.log").read_text().count("\n")
started = sh("webappd-start")
check(started.returncode == 0, f"webappd-start ({started.stdout.strip()}{started.stderr})")
time.sleep(1.5)
run = sh("logrotate -f -s /tmp/logrotate.state /etc/logrotate.conf")
sys.stdout.write(run.stdout[-1500:] + run.stderr[-1500:])
check(run.returncode == 0 and not run.stderr.strip(), "logrotate -f runs without errors")
rotated = LOGS / "access.log.1.gz"
check(rotated.is_file(), "access.log was rotated and compressed to access.log.1.gz")
if rotated.is_file():
    with gzip.open(rotated, "rt") as f:
        old_lines = f.read().count("\n")
    check(old_lines >= lines_before, f"the rotated log holds the old lines ({old_lines})")
check((LOGS / "error.log.1.gz").is_file(), "error.log was rotated too")
fresh = LOGS / "access.log"
if fresh.is_file():
    st = fresh.stat()
    check(stat.S_IMODE(st.st_mode) == 0o640, f"the new access.log has mode 0640 "
          f"({oct(stat.S_IMODE(st.st_mode))})")
    check(st.st_uid == pwd.getpwnam("webapp").pw_uid, "the new access.log belongs to webapp")
else:
    check(False, "a new access.log was created")
time.sleep(2.5)
check((LOGS / "reopened").is_file(), "webappd was told to reopen its logs (SIGHUP)")
check(fresh.is_file() and fresh.stat().st_size > 0, "webappd writes to the new access.log")
sh("pkill -f /usr/local/bin/webappd")
sys.exit(1 if failures else 0)
