#!/bin/bash
# Reference solution: find feature's tip from before the rebase in its reflog, rebase it
# again and resolve the conflict by keeping both settings.
set -euo pipefail
cd /app/repo
git rebase --abort 2>/dev/null || true
git checkout -q feature
# the tip from before the rebase: the one commit of feature's reflog whose history holds
# both the first and the last feature commit (the rebased ones lost the first)
tip=""
for c in $(git reflog show --format=%H feature | sort -u); do
    subjects=$(git log --format=%s "$c")
    if grep -qx "feature: add retries setting" <<<"$subjects" &&
       grep -qx "feature: test the parser" <<<"$subjects"; then tip=$c; break; fi
done
test -n "$tip"
git reset -q --hard "$tip"
if ! git rebase main; then
    printf '[core]\nname = demo\ntimeout = 30\nretries = 5\n' > config.ini
    git add config.ini
    GIT_EDITOR=true git rebase --continue
fi
git log --oneline main..feature
