"""kvd starts with kvd-start, runs as kvd on 127.0.0.1:7400, keeps values across a restart."""

import hashlib
import subprocess
import sys
import time
from pathlib import Path

failures: list[str] = []
PROGRAMS = {"kvd": "d7bbf0747b5b32b1435bd4532d82e588db45295fc1f67c3cc0e56daf2ea0d1ef", "kvd-start": "08eb9cbd0a1629a9470723b944b0129886f486699fd05a4d9b6581962c0a9296", "kvd-stop": "268e460cbd7ea5ab57d7b18eddb363a4186fea756824582f8b68dfb472abefa6", "kvd-ctl": "2dfda85a9ce96152253116eeea4dd9d0c85ab7a207bae692412dfea122f1be0f"}


def check(ok: bool, what: str) -> None:
    sys.stdout.write(("PASS " if ok else "FAIL ") + what + "\n")
    if not ok:
        failures.append(what)


def sh(cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=60)


for name, digest in PROGRAMS.items():
    got = hashlib.sha256(Path(f"/usr/local/bin/{name}").read_bytes()).hexdigest()
    check(got == digest, f"/usr/local/bin/{name} is unchanged")
sh("pkill -f /usr/local/bin/kvd; sleep 0.5; rm -f /run/kvd.pid")
start = sh("kvd-start")
check(start.returncode == 0, f"kvd-start succeeds: {start.stdout}{start.stderr}".strip())
pid = Path("/run/kvd.pid").read_text().strip() if Path("/run/kvd.pid").exists() else ""
status = Path(f"/proc/{pid}/status").read_text() if pid and Path(f"/proc/{pid}").exists() else ""
uid = next((line.split()[1] for line in status.splitlines() if line.startswith("Uid:")), "")
kvd_uid = sh("id -u kvd").stdout.strip()
check(bool(uid) and uid == kvd_uid, f"kvd runs as user kvd (uid {uid!r}, kvd is {kvd_uid})")
listen = sh("cat /proc/net/tcp").stdout
check(":1CE8 " in listen and "0100007F:1CE8" in listen, "it listens on 127.0.0.1:7400")
check(sh("kvd-ctl set fruit mango").returncode == 0, "kvd-ctl set works")
got = sh("kvd-ctl get fruit").stdout.strip()
check(got == "mango", f"kvd-ctl get returns the value ({got!r})")
check(Path("/var/lib/kvd/fruit").is_file(), "the value is stored under /var/lib/kvd")
sh("kvd-stop")
time.sleep(0.5)
again = sh("kvd-start")
got = sh("kvd-ctl get fruit").stdout.strip()
check(again.returncode == 0 and got == "mango", f"values survive a restart ({got!r})")
sh("kvd-stop")
sys.exit(1 if failures else 0)
