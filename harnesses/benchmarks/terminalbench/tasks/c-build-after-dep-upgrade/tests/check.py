"""wordstat builds from clean against libstrbuf 2.0 (left unchanged) and counts words."""

import hashlib
import subprocess
import sys
from pathlib import Path

APP = Path("/app")
VENDOR = {  # sha256 of the library as shipped: it must not be edited
    "include/strbuf/strbuf.h": "3d85ee66c3f23b4d2fdd06114594ba0ef48fd222a8bf8c0a58189455b37a2831",
    "strbuf.c": "91202bc0645c51a281539d8581b2d09f2093396ab9dc3d33116e261afb7a0825",
    "Makefile": "12ed06be28d2155aed4d21fc116dbfc367f2fffc5fed2255f29d6e286774eb41",
}
failures: list[str] = []


def check(ok: bool, what: str) -> None:
    sys.stdout.write(("PASS " if ok else "FAIL ") + what + "\n")
    if not ok:
        failures.append(what)


for name, digest in VENDOR.items():
    got = hashlib.sha256((APP / "vendor/libstrbuf" / name).read_bytes()).hexdigest()
    check(got == digest, f"vendor/libstrbuf/{name} is unchanged")
src = (APP / "src/wordstat.c").read_text()
check("strbuf" in src, "wordstat.c still uses libstrbuf")
subprocess.run(["make", "clean"], cwd=APP, capture_output=True)
subprocess.run(["rm", "-f", "wordstat", "vendor/libstrbuf/libstrbuf.a",
                "vendor/libstrbuf/strbuf.o"], cwd=APP)
build = subprocess.run(["make"], cwd=APP, capture_output=True, text=True)
sys.stdout.write(build.stdout[-2000:] + build.stderr[-2000:])
check(build.returncode == 0 and (APP / "wordstat").is_file(), "make builds ./wordstat")
cases = [
    ("a bb ccc\n", "words: 3\nlongest: ccc\n"),
    ("", "words: 0\nlongest: \n"),
    ("  tab\tseparated\nlines and  spaces  \n", "words: 5\nlongest: separated\n"),
    ("x" * 5000 + " y\n", f"words: 2\nlongest: {'x' * 5000}\n"),
    ("same size word\n", "words: 3\nlongest: same\n"),
]
if (APP / "wordstat").is_file():
    for given, want in cases:
        run = subprocess.run(["./wordstat"], cwd=APP, input=given, capture_output=True,
                             text=True, timeout=20)
        check(run.returncode == 0 and run.stdout == want,
              f"wordstat on {given[:30]!r}: {run.stdout[:80]!r}")
sys.exit(1 if failures else 0)
