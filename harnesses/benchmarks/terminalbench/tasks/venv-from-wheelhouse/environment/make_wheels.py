"""Writes the wheelhouse: reportgen 0.4.0 and its dependencies (and one stale version), as
pure-Python wheels assembled by hand (no index, no build tools)."""

import base64
import hashlib
import sys
import zipfile
from pathlib import Path

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)

TINYFMT_11 = '''"""Small text formatting helpers."""

__version__ = "1.1.0"


def pad(text, width):
    return str(text).ljust(width)
'''
TINYFMT_12 = '''"""Small text formatting helpers."""

__version__ = "1.2.0"


def pad(text, width):
    return str(text).ljust(width)


def table(rows):
    """Rows of cells as aligned columns."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\\n".join(" | ".join(pad(c, w) for c, w in zip(r, widths)).rstrip() for r in rows)
'''
COLORLESS = '''"""Strips ANSI colour codes."""

import re

__version__ = "0.3.0"


def strip(text):
    return re.sub(r"\\x1b\\[[0-9;]*m", "", text)
'''
REPORTGEN = '''"""reportgen: prints a small report."""

import sys

import colorless
import tinyfmt

__version__ = "0.4.0"


def main():
    rows = [("item", "count"), ("bolts", 12), ("gears", 3)]
    text = colorless.strip(tinyfmt.table(rows))
    if sys.argv[1:] == ["--selftest"]:
        want = "item  | count\\nbolts | 12\\ngears | 3"
        print("selftest ok" if text == want else "selftest FAILED")
        return 0 if text == want else 1
    print(text)
    return 0
'''


def wheel(name: str, version: str, files: dict[str, str], requires: list[str],
          scripts: dict[str, str] | None = None) -> None:
    dist = f"{name}-{version}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
            *(f"Requires-Dist: {r}" for r in requires)]
    contents = dict(files)
    contents[f"{dist}/METADATA"] = "\n".join(meta) + "\n"
    contents[f"{dist}/WHEEL"] = ("Wheel-Version: 1.0\nGenerator: benchdock\n"
                                 "Root-Is-Purelib: true\nTag: py3-none-any\n")
    if scripts:
        contents[f"{dist}/entry_points.txt"] = "[console_scripts]\n" + "".join(
            f"{k} = {v}\n" for k, v in scripts.items())
    record = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    contents[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    target = out / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for path, text in contents.items():
            info = zipfile.ZipInfo(path, date_time=(2025, 3, 1, 0, 0, 0))
            z.writestr(info, text)


wheel("tinyfmt", "1.1.0", {"tinyfmt.py": TINYFMT_11}, [])
wheel("tinyfmt", "1.2.0", {"tinyfmt.py": TINYFMT_12}, [])
wheel("colorless", "0.3.0", {"colorless.py": COLORLESS}, [])
wheel("reportgen", "0.4.0", {"reportgen.py": REPORTGEN}, ["tinyfmt==1.2.0", "colorless>=0.3"],
      {"reportgen": "reportgen:main"})
