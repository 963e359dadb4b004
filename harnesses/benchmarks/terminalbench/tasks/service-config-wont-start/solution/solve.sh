#!/bin/bash
# Reference solution: read the errors one by one and fix each cause.
set -euo pipefail
kvd-start || true
cat /tmp/kvd.stderr || true                   # cannot write the log /var/log/kvd/kvd.log
mkdir -p /var/log/kvd
kvd-start || true
cat /var/log/kvd/kvd.log                      # bind = '127.0.0.l' is not an IP address
sed -i 's/^bind = .*/bind = 127.0.0.1/' /etc/kvd/kvd.conf
kvd-start || true
cat /tmp/kvd.stderr                           # /var/lib/kvd, then its own log, not writable
chown kvd:kvd /var/lib/kvd                    # once it runs as kvd
chown -R kvd:kvd /var/log/kvd
kvd-stop
kvd-start
kvd-ctl set colour blue
kvd-ctl get colour
