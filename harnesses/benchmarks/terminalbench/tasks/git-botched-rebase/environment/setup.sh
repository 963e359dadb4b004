#!/bin/bash
# Builds the repository and botches the rebase (fixed dates: the same hashes every build).
set -euo pipefail
git config --global user.name "Dana Developer"
git config --global user.email dana@example.com
git config --global init.defaultBranch main
export GIT_AUTHOR_DATE="2025-03-01T10:00:00Z" GIT_COMMITTER_DATE="2025-03-01T10:00:00Z"
mkdir -p /app/repo && cd /app/repo
git init -q
# the dates are fixed and old: keep the reflog whatever they say
git config gc.reflogExpire never
git config gc.reflogExpireUnreachable never
printf '# demo service\n' > README.md
printf '[core]\nname = demo\n' > config.ini
git add -A && git commit -q -m "initial"
git checkout -q -b feature
printf '[core]\nname = demo\nretries = 5\n' > config.ini
git commit -q -am "feature: add retries setting"
cat > parser.py <<'PY'
"""Parses `key = value` lines of config.ini's [core] section."""


def parse(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("[", "#", ";")):
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out
PY
git add parser.py && git commit -q -m "feature: add parser module"
cat > test_parser.py <<'PY'
from parser import parse


def test_parse():
    assert parse("[core]\nname = demo\nretries = 5\n") == {"name": "demo", "retries": "5"}


if __name__ == "__main__":
    test_parse()
    print("ok")
PY
git add test_parser.py && git commit -q -m "feature: test the parser"
git checkout -q main
printf '[core]\nname = demo\ntimeout = 30\n' > config.ini
export GIT_COMMITTER_DATE="2025-03-02T09:00:00Z" GIT_AUTHOR_DATE="2025-03-02T09:00:00Z"
git commit -q -am "main: add timeout setting"
git checkout -q feature
export GIT_COMMITTER_DATE="2025-03-03T08:00:00Z"
git rebase main >/dev/null 2>&1 || true   # conflicts on config.ini
git rebase --skip >/dev/null 2>&1 || true  # drops "add retries setting"
git reset -q --hard HEAD~2                 # "clean up": feature == main now
