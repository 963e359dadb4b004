#!/bin/bash
# Reference solution. logrotate -d shows each cause in turn:
# - the config file is world-writable: logrotate ignores it ("bad file mode");
# - /var/log/webapp is group-writable by a group that is not root: logrotate refuses to
#   rotate there without an `su` directive;
# - `create ... webapp webapp`: there is no group webapp;
# - postrotate reads the wrong pid file.
set -euo pipefail
logrotate -d /etc/logrotate.conf 2>&1 | grep -i -E 'error|ignor|insecure' || true
chmod 644 /etc/logrotate.d/webapp
cat > /etc/logrotate.d/webapp <<'CONF'
/var/log/webapp/*.log {
    daily
    rotate 7
    missingok
    compress
    su webapp root
    create 0640 webapp root
    sharedscripts
    postrotate
        kill -HUP "$(cat /run/webapp/webappd.pid)"
    endscript
}
CONF
chmod 755 /var/log/webapp
logrotate -d /etc/logrotate.conf 2>&1 | grep -i error || echo "no errors"
