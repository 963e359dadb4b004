"""archive-inbox on a fresh inbox of hostile names: every file arrives intact, nothing is
left or invented, the MANIFEST lists the names (newlines as \\n), sorted."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NAMES = ["plain.txt", "two words.txt", "tab\there", "-n", "--", "-rf", "*", "a?b", "[ab]",
         "$HOME", "it's", 'say "hi"', "back\\slash", "trailing space ", " leading",
         "café", "line\nbreak", ".hidden", "x" * 200, "semi;colon", "amp&ersand",
         "glob [a-z]*", "~tilde"]
failures: list[str] = []


def check(ok: bool, what: str) -> None:
    sys.stdout.write(("PASS " if ok else "FAIL ") + what + "\n")
    if not ok:
        failures.append(what)


def collation_key(name: str) -> bytes:
    return name.encode()


work = Path(tempfile.mkdtemp(prefix="archive-check-"))
inbox, root = work / "in box", work / "archive root"
inbox.mkdir()
root.mkdir()
(inbox / "subdir").mkdir()
(inbox / "subdir" / "inner.txt").write_text("stays\n")
for i, name in enumerate(NAMES):
    (inbox / name).write_bytes(f"content {i} of {name!r}\n".encode())
run = subprocess.run(["/app/bin/archive-inbox", str(inbox), str(root), "2024-02-29"],
                     capture_output=True, text=True, timeout=60, cwd=str(work))
sys.stdout.write(run.stdout[-800:] + run.stderr[-800:])
dest = root / "2024-02-29"
check(run.returncode == 0, f"archive-inbox exits 0 ({run.returncode})")
check(dest.is_dir(), "the dated folder exists")
for i, name in enumerate(NAMES):
    got = dest / name
    ok = got.is_file() and got.read_bytes() == f"content {i} of {name!r}\n".encode()
    check(ok, f"{name!r} archived with its content")
left = sorted(p.name for p in inbox.iterdir())
check(left == ["subdir"], f"the inbox keeps only its subfolder ({left[:5]})")
check((inbox / "subdir" / "inner.txt").is_file(), "the subfolder is untouched")
extra = sorted({p.name for p in dest.iterdir()} - set(NAMES) - {"MANIFEST"}) if dest.is_dir() else []
check(extra == [], f"nothing else in the archive ({extra[:5]})")
manifest = (dest / "MANIFEST").read_bytes().decode() if (dest / "MANIFEST").is_file() else ""
want = sorted((n.replace("\n", "\\n") for n in NAMES), key=collation_key)
got_lines = manifest.split("\n")[:-1] if manifest.endswith("\n") else manifest.split("\n")
check(sorted(got_lines, key=collation_key) == want, "the MANIFEST lists every name once")
check(got_lines == want or got_lines == sorted(want), "the MANIFEST is sorted")
# a second run on the same day appends to the MANIFEST and keeps it sorted
(inbox / "zz later.txt").write_text("later\n")
(inbox / "aa later.txt").write_text("later\n")
subprocess.run(["/app/bin/archive-inbox", str(inbox), str(root), "2024-02-29"],
               capture_output=True, text=True, timeout=60, cwd=str(work))
manifest = (dest / "MANIFEST").read_bytes().decode() if (dest / "MANIFEST").is_file() else ""
lines = manifest.split("\n")[:-1]
want2 = sorted([*want, "aa later.txt", "zz later.txt"], key=collation_key)
check(sorted(lines, key=collation_key) == want2 and lines in (want2, sorted(want2)),
      "a second run adds its names and keeps the MANIFEST sorted")
shutil.rmtree(work, ignore_errors=True)
os.sync()
sys.exit(1 if failures else 0)
