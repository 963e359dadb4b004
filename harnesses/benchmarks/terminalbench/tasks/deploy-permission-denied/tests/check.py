"""deploy-site works as deploy; www-data reads every published file and writes none."""

import os
import stat
import subprocess
import sys
from pathlib import Path

SITE = Path("/var/www/site")
BUILD = Path("/home/deploy/build")
failures: list[str] = []


def check(ok: bool, what: str) -> None:
    sys.stdout.write(("PASS " if ok else "FAIL ") + what + "\n")
    if not ok:
        failures.append(what)


def as_user(user: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", user, "--", *argv], capture_output=True,
                          text=True, timeout=60)


groups = subprocess.run(["id", "-Gn", "deploy"], capture_output=True, text=True).stdout.split()
check("sudo" not in groups and "root" not in groups and os.getuid() == 0,
      f"deploy has no root rights ({groups})")
check(not any(p.stat().st_mode & (stat.S_ISUID | stat.S_ISGID) and p.stat().st_uid == 0
              for p in Path("/usr/local/bin").iterdir() if p.is_file()),
      "no setuid programs in /usr/local/bin")
(BUILD / "docs" / "new.html").write_text("<p>new page</p>\n")
run = as_user("deploy", "deploy-site")
sys.stdout.write(run.stdout[-500:] + run.stderr[-500:])
check(run.returncode == 0, "runuser -u deploy -- deploy-site succeeds")
want = sorted(str(p.relative_to(BUILD)) for p in BUILD.rglob("*") if p.is_file())
got = sorted(str(p.relative_to(SITE)) for p in SITE.rglob("*") if p.is_file())
check(got == sorted([*want, "VERSION"]), f"the site holds the build and VERSION ({got[:8]})")
for rel in [*want, "VERSION"]:
    read = as_user("www-data", "cat", str(SITE / rel))
    same = rel == "VERSION" or read.stdout == (BUILD / rel).read_text()
    check(read.returncode == 0 and same, f"www-data reads {rel}")
for p in [SITE, *SITE.rglob("*")]:
    mode = p.stat().st_mode
    if mode & stat.S_IWOTH:
        check(False, f"{p} is writable by everyone")
probe = as_user("www-data", "sh", "-c", f"touch {SITE}/probe || touch {SITE}/docs/probe")
check(probe.returncode != 0, "www-data cannot write into the site")
old = as_user("deploy", "sh", "-c", "echo again > /tmp/x && deploy-site")
check(old.returncode == 0, "a second deployment succeeds too")
sys.exit(1 if failures else 0)
