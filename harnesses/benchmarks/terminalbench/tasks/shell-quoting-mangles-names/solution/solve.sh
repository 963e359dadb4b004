#!/bin/bash
# Reference solution: iterate with a glob, quote every expansion, end options with --,
# print names with printf, escape newlines for the MANIFEST, sort with a fixed locale.
set -euo pipefail
cat > /app/bin/archive-inbox <<'SCRIPT'
#!/bin/bash
# archive-inbox INBOX ARCHIVE_ROOT [DATE]: moves INBOX's files to ARCHIVE_ROOT/DATE and
# lists them in its MANIFEST.
set -u
INBOX=$1
ROOT=$2
DATE=${3:-$(date +%F)}
DEST=$ROOT/$DATE
mkdir -p -- "$DEST"
shopt -s nullglob dotglob
moved=()
for path in "$INBOX"/*; do
    [ -f "$path" ] && [ ! -L "$path" ] || continue
    name=${path##*/}
    mv -- "$path" "$DEST/$name"
    moved+=("${name//$'\n'/\\n}")
done
if [ ${#moved[@]} -gt 0 ]; then
    printf '%s\n' "${moved[@]}" >> "$DEST/MANIFEST"
fi
if [ -f "$DEST/MANIFEST" ]; then
    LC_ALL=C sort -o "$DEST/MANIFEST" -- "$DEST/MANIFEST"
fi
SCRIPT
chmod 755 /app/bin/archive-inbox
archive-inbox /srv/inbox /srv/archive 2025-01-01
cat /srv/archive/2025-01-01/MANIFEST
