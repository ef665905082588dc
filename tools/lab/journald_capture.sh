#!/bin/sh
# Replay a traditional-syslog Postfix log into a running systemd-journald through its
# syslog socket (the path Postfix's syslog(3) calls take on Debian 12), then capture the
# records with `journalctl -o json`. Time is compressed by SPEEDUP (default 100: one hour
# of log becomes 36 seconds), so held times in the capture are the log's divided by it.
#
#   tools/lab/journald_capture.sh tests/fixtures/postfix_small.log > capture.json
#
# Needs: systemd-journald running (it can be started by hand in a container:
# mkdir -p /run/systemd/journal; /lib/systemd/systemd-journald &), logger, journalctl.
set -eu
log=$1
speedup=${SPEEDUP:-100}
socket=${SOCKET:-/run/systemd/journal/dev-log}
tag="maillog-diag-capture-$$"
start=$(date +%s.%N)
since=$(date '+%Y-%m-%d %H:%M:%S')
prev=""
while IFS= read -r line; do
    stamp=$(printf '%s' "$line" | cut -c1-15)
    rest=$(printf '%s' "$line" | cut -c17-)
    rest=${rest#* }                    # drop the host name
    prog=${rest%%:*}                   # postfix/smtp[103]
    msg=${rest#*: }
    ident=${prog%%\[*}
    pid=$(printf '%s' "$prog" | sed -n 's/.*\[\([0-9]*\)\]$/\1/p')
    now=$(date -d "$stamp" +%s)
    if [ -n "$prev" ] && [ "$now" -gt "$prev" ]; then
        sleep "$(echo "($now - $prev) / $speedup" | bc -l)"
    fi
    prev=$now
    logger --socket "$socket" -p mail.info -t "$ident" ${pid:+--id="$pid"} -- "$msg"
done < "$log"
# One record whose text is not UTF-8: journald exports its MESSAGE as an array of bytes.
printf '9F9F9F9F9F: to=<x@latin1.test>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to mx.latin1.test[192.0.2.9]:25: caf\351 refused)' \
    | logger --socket "$socket" -p mail.info -t postfix/smtp --id=999
sleep 1
journalctl -o json --no-pager --since "$since" SYSLOG_FACILITY=2
