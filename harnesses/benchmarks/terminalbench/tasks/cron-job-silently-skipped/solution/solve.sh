#!/bin/bash
# Reference solution. What kept cron from running the job, one cause at a time:
# - the file is group-writable (cron ignores such files in /etc/cron.d);
# - its last line has no newline (cron drops it);
# - /etc/cron.d lines need a user field;
# - `%` is cron's newline: it must be escaped as \%;
# - the script is not executable;
# - salesdb-export is in /usr/local/sbin, not on cron's PATH (/usr/bin:/bin).
set -euo pipefail
cat > /etc/cron.d/nightly-report <<'CRON'
# nightly sales report
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
30 2 * * * root /usr/local/bin/nightly-report $(date +\%Y-\%m-\%d) >> /var/log/nightly-report.log 2>&1
CRON
chmod 644 /etc/cron.d/nightly-report
chmod 755 /usr/local/bin/nightly-report
