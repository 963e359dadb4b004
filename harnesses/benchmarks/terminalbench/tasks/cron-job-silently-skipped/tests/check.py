"""Reads /etc/cron.d/nightly-report as Debian's cron does and runs its job as cron would:
the file's mode, the trailing newline, the user field, `%` (cron's newline: the rest is
stdin), and cron's own environment (PATH=/usr/bin:/bin unless the file sets one)."""

import datetime
import pwd
import re
import stat
import subprocess
import sys
from pathlib import Path

CRONTAB = Path("/etc/cron.d/nightly-report")
failures: list[str] = []


def check(ok: bool, what: str) -> bool:
    sys.stdout.write(("PASS " if ok else "FAIL ") + what + "\n")
    if not ok:
        failures.append(what)
    return ok


def cron_command(raw: str) -> tuple[str, str]:
    """cron's reading of a command field: an unescaped % ends the command (what follows
    is its stdin, with further % as newlines); \\% is a literal %."""
    cmd: list[str] = []
    stdin: list[str] = []
    i, in_stdin = 0, False
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw) and raw[i + 1] == "%":
            (stdin if in_stdin else cmd).append("%")
            i += 2
            continue
        if ch == "%":
            if in_stdin:
                stdin.append("\n")
            in_stdin = True
        else:
            (stdin if in_stdin else cmd).append(ch)
        i += 1
    return "".join(cmd), "".join(stdin)


st = CRONTAB.stat()
check(stat.S_ISREG(st.st_mode) and st.st_uid == 0, "the file is a regular file owned by root")
check(not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH),
      f"not writable by group or others (mode {oct(st.st_mode & 0o777)}): cron skips it else")
text = CRONTAB.read_text()
check(text.endswith("\n"), "the last line ends with a newline (cron drops it otherwise)")
env = {"SHELL": "/bin/sh", "PATH": "/usr/bin:/bin", "HOME": "/root", "LOGNAME": "root"}
jobs = []
for line in text.split("\n")[:-1]:  # cron drops a last line without its newline
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$", line)
    if m:
        env[m.group(1)] = m.group(2).strip().strip("\"'")
        continue
    jobs.append(line.split(None, 6))
check(len(jobs) == 1, f"one job line ({len(jobs)})")
if jobs and len(jobs[0]) == 7:
    *when, user, command = jobs[0]
    check(when == ["30", "2", "*", "*", "*"], f"the schedule is 02:30 daily ({' '.join(when)})")
    try:
        pwd.getpwnam(user)
        known = True
    except KeyError:
        known = False
    check(known and user == "root", f"the user field names root ({user!r})")
    cmd, stdin = cron_command(command)
    day = datetime.datetime.now(datetime.UTC).date().isoformat()  # the container's TZ
    out = Path(f"/var/reports/sales-{day}.txt")
    out.unlink(missing_ok=True)
    run = subprocess.run([env.get("SHELL", "/bin/sh"), "-c", cmd], input=stdin, env=env,
                         cwd=env["HOME"], capture_output=True, text=True, timeout=60)
    sys.stdout.write(f"ran as cron would: {cmd!r} (exit {run.returncode})\n")
    sys.stdout.write(run.stdout[-500:] + run.stderr[-500:])
    log = Path("/var/log/nightly-report.log")
    if log.exists():
        sys.stdout.write("its log: " + log.read_text()[-500:] + "\n")
    want = f"sales report for {day}\neast 210\nnorth 150\nsouth 80\n"
    got = out.read_text() if out.exists() else "<missing>"
    check(got == want, f"the job wrote {out.name} with the day's totals ({got[:80]!r})")
else:
    check(False, "the job line has five time fields, a user and a command")
sys.exit(1 if failures else 0)
