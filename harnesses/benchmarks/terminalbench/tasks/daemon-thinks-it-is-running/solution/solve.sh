#!/bin/bash
# Reference solution: `pgrep -f queued` matches queued-ctl itself (and anything else with
# "queued" in its command line); check the pid file's process instead. The daemon then
# fails on its missing runtime directory, which the script creates before starting it.
set -euo pipefail
queued-ctl start || true
cat > /usr/local/bin/queued-ctl <<'SH'
#!/bin/bash
# queued-ctl start|stop|status|submit NAME
PIDFILE=/run/queued/queued.pid
running() {
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid=$(cat "$PIDFILE")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "/usr/local/bin/queued "
}
case "$1" in
    start)
        if running; then echo "queued is already running"; exit 1; fi
        mkdir -p /run/queued
        nohup /usr/local/bin/queued >/var/log/queued.log 2>&1 &
        for _ in $(seq 20); do running && break; sleep 0.1; done
        if running; then echo "queued started"; else echo "queued failed to start" >&2; cat /var/log/queued.log >&2; exit 1; fi
        ;;
    stop)
        if running; then kill "$(cat "$PIDFILE")"; fi
        rm -f "$PIDFILE"
        echo "queued stopped"
        ;;
    status)
        if running; then echo "queued is running"; else echo "queued is stopped"; exit 3; fi
        ;;
    submit)
        [ -n "${2:-}" ] || { echo "usage: queued-ctl submit NAME" >&2; exit 2; }
        mkdir -p /var/spool/queued/incoming
        echo "$2" > "/var/spool/queued/incoming/$2"
        echo "submitted $2"
        ;;
    *)
        echo "usage: queued-ctl start|stop|status|submit NAME" >&2; exit 2
        ;;
esac
SH
chmod 755 /usr/local/bin/queued-ctl
queued-ctl start
queued-ctl submit hello
sleep 1
cat /var/spool/queued/done/hello
queued-ctl stop
