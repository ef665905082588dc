#!/bin/bash
# OpenSMTPD loopback lab for maillog-diag.
#
# Installs Debian's opensmtpd (this REMOVES sendmail/exim4/postfix: run it on
# a disposable machine), writes its own smtpd.conf that routes every lab test
# domain with a per-domain relay action ("relay host smtp://127.0.0.x:25") to
# the scripted SMTP server (tools/lab/smtp_server.py), injects the scripted
# workload (tools/lab/send_workload.py) and collects the real log via our own
# rsyslogd (mail.* -> traditional syslog format).  While mail is still queued
# it also captures the queue listings (smtpctl show queue, the mailq view,
# smtpctl show envelope for one envelope).
#
# Nothing leaves 127.0.0.0/8: lab domains go to loopback IPs named in the
# relay URLs (no MX lookup), every other domain gets OpenSMTPD's default MX
# resolution, and while the lab runs /etc/resolv.conf names a loopback
# nameserver where nothing listens (127.0.0.53), so that lookup fails on the
# machine itself.  /etc/resolv.conf is put back at exit.
#
# OpenSMTPD takes its server name (greeting, HELO, bounce From) from
# /etc/mailname.  While the lab runs that file says mail.example.net; it is
# put back (or removed, if there was none) at exit.
#
# Timers: OpenSMTPD 6.8 has no retry settings; it retries a deferred
# envelope at creation time + 400 s * n^2 (6m40s, 26m40s, 60m, ...).
# "queue ttl 30m" (global) lets the first two retries show and still expires
# every undeliverable envelope (down.test, slow.test, the unresolvable
# domain) inside a ~35-minute run.  The expire.test relay action has its own
# "ttl 20m" (smtpd.conf(5) documents ttl for local actions; 6.8 accepts and
# honours it on relay actions too), so expire.test mail expires between the
# two retries.  "bounce warn-interval 5m, 20m" asks for delay notices.
#
# Usage (as root, on a disposable Debian 12 machine):
#   tools/lab/opensmtpd_lab.sh [OUTDIR]      # default OUTDIR: sample_logs/opensmtpd
# Environment: RUN_SECONDS (default 2250), SPREAD (default 240), TTL (default
# 30m), EXPIRE_TTL (expire.test only, default 20m), QUEUE_SNAPSHOT_AT (seconds
# after the first injection, default 330), SKIP_INSTALL=1.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${1:-$REPO/sample_logs/opensmtpd}
WORK=${LAB_WORK:-/var/tmp/maillog-lab/opensmtpd}
RUN_SECONDS=${RUN_SECONDS:-2250}
SPREAD=${SPREAD:-240}
TTL=${TTL:-30m}
EXPIRE_TTL=${EXPIRE_TTL:-20m}
QUEUE_SNAPSHOT_AT=${QUEUE_SNAPSHOT_AT:-330}
PY=${PYTHON:-python3}
OUT=$(realpath -m "$OUT")
cd /   # keep the working directory neutral, like the other labs

log() { echo "[opensmtpd-lab $(date -u +%H:%M:%S)] $*" >&2; }

mkdir -p "$WORK" "$OUT"
SERVER_PID=""
SMTPD_PID=""
RSYSLOG_PIDFILE="$WORK/rsyslogd.pid"
RESOLV_BACKUP="$WORK/resolv.conf.orig"
MAILNAME_BACKUP="$WORK/mailname.orig"
NO_MAILNAME="$WORK/mailname.absent"

stop_mta() {
    if [ -n "$SMTPD_PID" ] && kill -0 "$SMTPD_PID" 2>/dev/null; then
        kill "$SMTPD_PID" 2>/dev/null || true   # (6.8's smtpctl has no "stop")
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$SMTPD_PID" 2>/dev/null || break; sleep 1; done
        kill -KILL "$SMTPD_PID" 2>/dev/null || true
        wait "$SMTPD_PID" 2>/dev/null || true
    fi
    SMTPD_PID=""
}
cleanup() {
    set +e
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill "$SERVER_PID"; fi
    stop_mta
    if [ -f "$RSYSLOG_PIDFILE" ]; then kill "$(cat "$RSYSLOG_PIDFILE")" 2>/dev/null; rm -f "$RSYSLOG_PIDFILE"; fi
    if [ -f "$RESOLV_BACKUP" ]; then cat "$RESOLV_BACKUP" > /etc/resolv.conf; rm -f "$RESOLV_BACKUP"; fi
    if [ -f "$MAILNAME_BACKUP" ]; then cat "$MAILNAME_BACKUP" > /etc/mailname; rm -f "$MAILNAME_BACKUP"; fi
    if [ -f "$NO_MAILNAME" ]; then rm -f /etc/mailname "$NO_MAILNAME"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP   # so that a kill still runs cleanup

# ---------------------------------------------------------------- install
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
    log "installing opensmtpd and rsyslog (removes other MTAs)"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q opensmtpd rsyslog
fi
# the package's init script may have started the daemon: stop it
/etc/init.d/opensmtpd stop >/dev/null 2>&1 || true
sleep 1

# ------------------------------------------------- server name and no DNS
if [ -e /etc/mailname ]; then cp /etc/mailname "$MAILNAME_BACKUP"; else : > "$NO_MAILNAME"; fi
echo mail.example.net > /etc/mailname
# MX lookups for non-lab domains go to a loopback address where no
# nameserver listens: they fail without any packet leaving the machine
cp /etc/resolv.conf "$RESOLV_BACKUP"
printf '# maillog-diag lab: no DNS while the lab runs\nnameserver 127.0.0.53\n' > /etc/resolv.conf

# ---------------------------------------------------------------- configure
cat > "$WORK/aliases" <<'EOF'
postmaster: postmaster@sender.test
mailer-daemon: postmaster
root: postmaster@sender.test
EOF
{
    echo "# maillog-diag loopback lab -- nothing may leave 127.0.0.0/8"
    echo "queue ttl $TTL"
    echo "bounce warn-interval 5m, 20m"
    echo "table aliases file:$WORK/aliases"
    echo "listen on 127.0.0.1 port 25"
    echo "listen on 127.0.0.1 port 587 tag SUBMISSION"
    echo 'action "local" mbox alias <aliases>'
    while read -r dom ip; do
        extra=""
        if [ "$dom" = expire.test ]; then extra=" ttl $EXPIRE_TTL"; fi
        echo "action \"lab-${dom%.test}\" relay host smtp://$ip:25$extra"
    done <<'EOF'
ok.test          127.0.0.2
greylist.test    127.0.0.3
greymilter.test  127.0.0.4
greyplain.test   127.0.0.5
throttle.test    127.0.0.6
ratelimit.test   127.0.0.7
split.test       127.0.0.8
bounce.test      127.0.0.9
busy.test        127.0.0.10
down.test        127.0.0.11
slow.test        127.0.0.12
expire.test      127.0.0.13
sender.test      127.0.0.14
EOF
    # everything else: default MX resolution (which fails: no DNS, see above)
    echo 'action "mx" relay'
    echo 'match for local action "local"'
    for dom in ok greylist greymilter greyplain throttle ratelimit split bounce busy down slow expire sender; do
        echo "match from local for domain \"$dom.test\" action \"lab-$dom\""
    done
    echo 'match from local for any action "mx"'
} > "$WORK/smtpd.conf"
smtpd -n -f "$WORK/smtpd.conf"

start_rsyslog() {
    mkdir -p "$WORK/rsyslog-spool"
    rm -f "$WORK/maillog"
    cat > "$WORK/rsyslog.conf" <<EOF
global(workDirectory="$WORK/rsyslog-spool")
module(load="imuxsock" SysSock.Name="/dev/log" SysSock.RateLimit.Interval="0")
mail.* action(type="omfile" file="$WORK/maillog" template="RSYSLOG_TraditionalFileFormat")
EOF
    rsyslogd -f "$WORK/rsyslog.conf" -i "$RSYSLOG_PIDFILE"
    sleep 1
}

queue_empty() { [ -z "$(smtpctl show queue 2>/dev/null)" ]; }

# mailq: Debian's package ships no mailq link; smtpctl prints the mailq view
# when it is invoked under that name
mkdir -p "$WORK/bin"
ln -sf /usr/sbin/smtpctl "$WORK/bin/mailq"

snapshot_queue() {   # $1 = seconds since the first injection
    local q="$WORK/queue" evp
    rm -rf "$q"; mkdir -p "$q"
    {
        echo "Captured $(date -u +%Y-%m-%dT%H:%M:%SZ) (UTC), $1 s after the first injection,"
        echo "while the lab run was in progress (smtpd running, mail deferred)."
        echo "smtpctl_show_queue.txt: smtpctl show queue"
        echo "mailq.txt: smtpctl run under the name mailq (a symlink: Debian's package ships no mailq)"
    } > "$q/CAPTURED.txt"
    smtpctl show queue > "$q/smtpctl_show_queue.txt" 2>&1 || true
    "$WORK/bin/mailq" > "$q/mailq.txt" 2>&1 || true
    # one envelope: the first one for expire.test, else the first listed
    evp=$(awk -F'|' '$0 ~ /expire\.test/ {print $1; exit}' "$q/smtpctl_show_queue.txt")
    [ -n "$evp" ] || evp=$(awk -F'|' 'NF > 1 {print $1; exit}' "$q/smtpctl_show_queue.txt")
    if [ -n "$evp" ]; then
        echo "smtpctl show envelope $evp" >> "$q/CAPTURED.txt"
        smtpctl show envelope "$evp" > "$q/smtpctl_show_envelope.txt" 2>&1 || true
    fi
}

# ---------------------------------------------------------------- run
rm -rf /var/spool/smtpd/{queue,incoming,corrupt,temporary,offline,purge}/* 2>/dev/null || true
truth="$WORK/truth.jsonl"; manifest="$WORK/workload.jsonl"
rm -f "$truth" "$manifest"
start_rsyslog
"$PY" "$HERE/smtp_server.py" --truth "$truth" >"$WORK/server.err" 2>&1 &
SERVER_PID=$!
sleep 1
kill -0 "$SERVER_PID"
smtpd -F -f "$WORK/smtpd.conf" &
SMTPD_PID=$!
sleep 3
kill -0 "$SMTPD_PID"
t0=$(date +%s)
log "workload over ${SPREAD}s"
"$PY" "$HERE/send_workload.py" --tag "os" --spread "$SPREAD" --manifest "$manifest" >/dev/null
snapped=0
while :; do
    el=$(( $(date +%s) - t0 ))
    if [ "$snapped" = 0 ] && [ "$el" -ge "$QUEUE_SNAPSHOT_AT" ]; then
        log "queue snapshot at ${el}s"; snapshot_queue "$el"; snapped=1
    fi
    if [ "$snapped" = 1 ] && queue_empty; then log "queue empty after ${el}s"; break; fi
    if [ "$el" -ge "$RUN_SECONDS" ]; then log "time limit, queue not empty"; break; fi
    sleep 5
done
smtpctl show queue > "$WORK/queue-at-end.txt" 2>&1 || true
stop_mta
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
sleep 1
kill "$(cat "$RSYSLOG_PIDFILE")"; rm -f "$RSYSLOG_PIDFILE"
sleep 1
# leave no lab mail behind in the spool of the stopped daemon
rm -rf /var/spool/smtpd/{queue,incoming,corrupt,temporary,offline,purge}/* 2>/dev/null || true
cp "$WORK/maillog" "$OUT/maillog"
cp "$truth" "$OUT/truth.jsonl"
cp "$manifest" "$OUT/workload.jsonl"
rm -rf "$OUT/queue"
if [ -d "$WORK/queue" ]; then cp -r "$WORK/queue" "$OUT/queue"; fi
log "done; outputs in $OUT"
wc -l "$OUT"/* "$OUT"/queue/* >&2 || true
