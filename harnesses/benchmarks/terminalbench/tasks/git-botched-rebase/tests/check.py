"""feature = main + the three feature commits, conflict resolved, main untouched."""

import configparser
import subprocess
import sys
from pathlib import Path

REPO = Path("/app/repo")
failures: list[str] = []


def check(ok: bool, what: str) -> None:
    sys.stdout.write(("PASS " if ok else "FAIL ") + what + "\n")
    if not ok:
        failures.append(what)


def git(*args: str) -> str:
    done = subprocess.run(["git", "-c", "safe.directory=*", *args], cwd=REPO,
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else f"<git failed: {done.stderr}>"


check(git("log", "--format=%s", "main") == "main: add timeout setting\ninitial",
      "main's history is unchanged")
check(git("log", "-1", "--format=%cI", "main").startswith("2025-03-02"),
      "main's tip is the original commit")
check(git("symbolic-ref", "--short", "HEAD") == "feature", "HEAD is on feature")
check(git("log", "--reverse", "--format=%s", "main..feature").splitlines() == [
    "feature: add retries setting", "feature: add parser module", "feature: test the parser"],
      "main..feature is the three feature commits in order")
check(subprocess.run(["git", "-c", "safe.directory=*", "merge-base", "--is-ancestor", "main",
                      "feature"], cwd=REPO).returncode == 0, "feature is on top of main")
cfg = configparser.ConfigParser()
try:
    cfg.read_string(git("show", "feature:config.ini"))
    core = dict(cfg["core"])
except (configparser.Error, KeyError) as exc:
    core = {"error": str(exc)}
check(core == {"name": "demo", "timeout": "30", "retries": "5"},
      f"config.ini keeps both settings: {core}")
check("def parse" in git("show", "feature:parser.py"), "parser.py is on feature")
run = subprocess.run([sys.executable, "-B", "test_parser.py"], cwd=REPO, capture_output=True,
                     text=True)
check(run.returncode == 0 and run.stdout.strip() == "ok", "test_parser.py passes")
dirty = [line for line in git("status", "--porcelain").splitlines()
         if not line.startswith("?? __pycache__")]
check(dirty == [], f"the working tree is clean ({dirty[:3]})")
gitdir = REPO / ".git"
check(not (gitdir / "rebase-merge").exists() and not (gitdir / "rebase-apply").exists(),
      "no rebase in progress")
sys.exit(1 if failures else 0)
