"""queued-ctl starts, reports, refuses a second start, processes jobs and stops, with
unrelated processes named like it around (and the daemon unchanged)."""

import hashlib
import subprocess
import sys
import time
from pathlib import Path

DAEMON = "0273216e45b4ca563f601481469cafc6e3e53f7518a3ac2efd34cd9312a9b185"
failures: list[str] = []


def check(ok: bool, what: str) -> None:
    sys.stdout.write(("PASS " if ok else "FAIL ") + what + "\n")
    if not ok:
        failures.append(what)


def ctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["queued-ctl", *args], capture_output=True, text=True, timeout=30)


def daemons() -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "/usr/local/bin/queued" in line
            and "queued-ctl" not in line and "ps -eo" not in line]


check(hashlib.sha256(Path("/usr/local/bin/queued").read_bytes()).hexdigest() == DAEMON,
      "the daemon is unchanged")
# a process whose command line mentions queued, but is not the daemon
decoy = subprocess.Popen(["bash", "-c", "exec -a 'tail -f /var/log/queued.log' sleep 300"])
time.sleep(0.3)
status = ctl("status")
check(status.returncode != 0 and "stopped" in status.stdout,
      f"status says stopped before start ({status.stdout.strip()})")
start = ctl("start")
check(start.returncode == 0 and "started" in start.stdout,
      f"start starts it ({start.stdout.strip()}{start.stderr.strip()})")
time.sleep(0.5)
check(len(daemons()) == 1, f"one daemon runs ({daemons()})")
again = ctl("start")
check(again.returncode != 0 and len(daemons()) == 1, "a second start is refused")
status = ctl("status")
check(status.returncode == 0 and "running" in status.stdout, "status says running")
for name in ("alpha", "beta"):
    ctl("submit", name)
deadline = time.monotonic() + 10
done = Path("/var/spool/queued/done")
while time.monotonic() < deadline and not all((done / n).is_file() for n in ("alpha", "beta")):
    time.sleep(0.2)
check(all((done / n).read_text() == f"ran {n}\n" for n in ("alpha", "beta")
          if (done / n).is_file()) and (done / "beta").is_file(), "submitted jobs are run")
stop = ctl("stop")
time.sleep(0.5)
check(stop.returncode == 0 and daemons() == [], "stop stops it")
status = ctl("status")
check(status.returncode != 0 and "stopped" in status.stdout, "status says stopped after stop")
decoy.kill()
sys.exit(1 if failures else 0)
