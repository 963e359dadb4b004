"""/app/.venv is a working venv with reportgen 0.4.0, tinyfmt 1.2.0 and colorless 0.3.0."""

import subprocess
import sys
from pathlib import Path

VENV = Path("/app/.venv")
PY = VENV / "bin" / "python"
failures: list[str] = []


def check(ok: bool, what: str) -> None:
    sys.stdout.write(("PASS " if ok else "FAIL ") + what + "\n")
    if not ok:
        failures.append(what)


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
    except OSError as exc:
        return subprocess.CompletedProcess(list(argv), 127, "", str(exc))


prefix = run(str(PY), "-c", "import sys; print(sys.prefix, sys.base_prefix != sys.prefix)")
check(prefix.returncode == 0 and prefix.stdout.split() == [str(VENV), "True"],
      f"{PY} runs and is a virtual environment ({prefix.stdout.strip() or prefix.stderr[-200:]})")
versions = run(str(PY), "-c", "from importlib.metadata import version as v; "
               "print(v('reportgen'), v('tinyfmt'), v('colorless'))")
check(versions.stdout.split() == ["0.4.0", "1.2.0", "0.3.0"],
      f"reportgen 0.4.0, tinyfmt 1.2.0, colorless 0.3.0 installed ({versions.stdout.strip()})")
where = run(str(PY), "-c", "import tinyfmt; print(tinyfmt.__file__)")
check(where.stdout.strip().startswith(str(VENV)), "tinyfmt is imported from the venv")
selftest = run(str(VENV / "bin" / "reportgen"), "--selftest")
check(selftest.returncode == 0 and selftest.stdout.strip() == "selftest ok",
      f"reportgen --selftest ({selftest.stdout.strip()}{selftest.stderr[-300:]})")
sys.exit(1 if failures else 0)
