#!/bin/bash
# Postfix loopback lab for maillog-diag.
#
# Installs Debian's postfix + rsyslog, points every lab test domain at the
# scripted SMTP server (tools/lab/smtp_server.py) on 127.0.0.x, injects the
# scripted workload (tools/lab/send_workload.py) and collects REAL Postfix
# logs in three formats:
#
#   run 1 "syslog":       Postfix -> /dev/log -> our own rsyslogd, which writes
#                         mail.* twice: RSYSLOG_TraditionalFileFormat (mail.log)
#                         and RSYSLOG_FileFormat (mail.log.rfc3339)
#   run 2 "maillog_file": Postfix -> postlogd(8) -> maillog_file.log
#
# (A Postfix that has maillog_file set logs ONLY through postlogd, so the
# postlogd format needs its own run.)  Each run has its own ground truth.
#
# Nothing leaves 127.0.0.0/8: every lab domain is routed with transport_maps to
# a bracketed loopback address, DNS is disabled, and every other destination
# is failed locally by default_transport = error:lab only.
#
# Usage (as root, on a disposable Debian 12 machine):
#   tools/lab/postfix_lab.sh [OUTDIR]        # default OUTDIR: sample_logs/postfix
# Environment: RUN_SECONDS (max seconds per run, default 600), SPREAD (seconds
# over which the workload is injected, default 240), RUNS ("syslog maillog_file"),
# SKIP_INSTALL=1 to skip apt-get.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${1:-$REPO/sample_logs/postfix}
WORK=${LAB_WORK:-/var/tmp/maillog-lab/postfix}
RUN_SECONDS=${RUN_SECONDS:-600}
SPREAD=${SPREAD:-240}
RUNS=${RUNS:-"syslog maillog_file"}
PY=${PYTHON:-python3}
OUT=$(realpath -m "$OUT")
cd /   # MTAs may log their working directory (Exim +arguments): keep it neutral
LOGDIR=/var/log/maillog-lab     # maillog_file must live under /var (maillog_file_prefixes)

log() { echo "[postfix-lab $(date -u +%H:%M:%S)] $*" >&2; }

SERVER_PID=""
RSYSLOG_PIDFILE="$WORK/rsyslogd.pid"
cleanup() {
    set +e
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill "$SERVER_PID"; fi
    postfix status >/dev/null 2>&1 && postfix stop
    if [ -f "$RSYSLOG_PIDFILE" ]; then kill "$(cat "$RSYSLOG_PIDFILE")" 2>/dev/null; rm -f "$RSYSLOG_PIDFILE"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP   # so that a kill still runs cleanup

# ---------------------------------------------------------------- install
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
    log "installing postfix and rsyslog"
    apt-get update -q
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix rsyslog
fi
# Debian's package may have started it through its init script
postfix status >/dev/null 2>&1 && postfix stop || true
sleep 1

mkdir -p "$WORK" "$OUT" "$LOGDIR"

# ---------------------------------------------------------------- configure
log "writing /etc/postfix/main.cf"
cat > /etc/postfix/main.cf <<'EOF'
# maillog-diag loopback lab -- nothing may leave 127.0.0.0/8
compatibility_level = 3.6
myhostname = mail.example.net
mydomain = example.net
myorigin = $myhostname
mydestination = $myhostname, localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
smtp_dns_support_level = disabled
smtp_host_lookup = native
transport_maps = texthash:/etc/postfix/lab_transport
default_transport = error:lab only
relay_transport = error:lab only
alias_maps = texthash:/etc/postfix/lab_aliases
alias_database =
biff = no
append_dot_mydomain = no
smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
# fast retries so a lab run ends within minutes
queue_run_delay = 15s
minimal_backoff_time = 20s
maximal_backoff_time = 60s
maximal_queue_lifetime = 5m
bounce_queue_lifetime = 5m
delay_warning_time = 2m
smtp_connect_timeout = 5s
smtp_helo_timeout = 10s
# busy/down/slow go through transport smtp-lc (still logs as postfix/smtp):
# concurrency window 1, so one failed connection marks the destination dead
# and queued mail for it is deferred with "delivery temporarily suspended"
smtp-lc_initial_destination_concurrency = 1
EOF
# local aliases: anything for root/postmaster goes to the lab sink, never to a local mailbox
cat > /etc/postfix/lab_aliases <<'EOF'
postmaster postmaster@sender.test
root postmaster@sender.test
EOF
cat > /etc/postfix/lab_transport <<'EOF'
ok.test          smtp:[127.0.0.2]:25
greylist.test    smtp:[127.0.0.3]:25
greymilter.test  smtp:[127.0.0.4]:25
greyplain.test   smtp-out:[127.0.0.5]:25
throttle.test    smtp:[127.0.0.6]:25
ratelimit.test   smtp-out:[127.0.0.7]:25
split.test       smtp:[127.0.0.8]:25
bounce.test      smtp:[127.0.0.9]:25
busy.test        smtp-lc:[127.0.0.10]:25
down.test        smtp-lc:[127.0.0.11]:25
slow.test        smtp-lc:[127.0.0.12]:25
expire.test      smtp:[127.0.0.13]:25
sender.test      smtp:[127.0.0.14]:25
EOF
# no chroot (no /dev/log or resolv.conf copies needed inside the spool)
postconf -F '*/*/chroot = n'
# a second smtp client that logs as postfix-out/smtp, and a submission-style smtpd
postconf -M "smtp-lc/unix=smtp-lc unix - - n - - smtp"
postconf -M "smtp-out/unix=smtp-out unix - - n - - smtp -o syslog_name=postfix-out"
postconf -M "127.0.0.1:587/inet=127.0.0.1:587 inet n - n - - smtpd -o syslog_name=postfix/submission -o smtpd_relay_restrictions=permit_mynetworks,reject"
postconf -e "maillog_file ="
postfix check

# ---------------------------------------------------------------- helpers
start_rsyslog() {
    mkdir -p "$WORK/rsyslog-spool"
    rm -f "$WORK/mail.log" "$WORK/mail.log.rfc3339"
    cat > "$WORK/rsyslog.conf" <<EOF
global(workDirectory="$WORK/rsyslog-spool")
module(load="imuxsock" SysSock.Name="/dev/log" SysSock.RateLimit.Interval="0")
mail.* action(type="omfile" file="$WORK/mail.log" template="RSYSLOG_TraditionalFileFormat")
mail.* action(type="omfile" file="$WORK/mail.log.rfc3339" template="RSYSLOG_FileFormat")
EOF
    rsyslogd -f "$WORK/rsyslog.conf" -i "$RSYSLOG_PIDFILE"
    sleep 1
    log "rsyslogd pid $(cat "$RSYSLOG_PIDFILE")"
}

stop_rsyslog() {
    if [ -f "$RSYSLOG_PIDFILE" ]; then
        kill "$(cat "$RSYSLOG_PIDFILE")" 2>/dev/null || true
        sleep 1
        rm -f "$RSYSLOG_PIDFILE"
    fi
}

queue_empty() { postqueue -j 2>/dev/null | grep -q . && return 1 || return 0; }

run_lab() {   # $1 = run name
    local name=$1 truth="$WORK/truth.$1.jsonl" manifest="$WORK/workload.$1.jsonl"
    rm -f "$truth" "$manifest"
    "$PY" "$HERE/smtp_server.py" --truth "$truth" >"$WORK/server.$name.err" 2>&1 &
    SERVER_PID=$!
    sleep 1
    kill -0 "$SERVER_PID"
    postfix start
    sleep 2
    local t0; t0=$(date +%s)
    log "run $name: workload over ${SPREAD}s"
    "$PY" "$HERE/send_workload.py" --tag "pf-$name" --spread "$SPREAD" \
        --manifest "$manifest" >/dev/null
    while :; do
        local el=$(( $(date +%s) - t0 ))
        if queue_empty; then log "run $name: queue empty after ${el}s"; break; fi
        if [ "$el" -ge "$RUN_SECONDS" ]; then log "run $name: time limit, queue not empty"; break; fi
        sleep 10
    done
    postqueue -p > "$WORK/queue-at-end.$name.txt" 2>&1 || true
    postfix stop
    sleep 2
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# ---------------------------------------------------------------- runs
for run in $RUNS; do
    case $run in
    syslog)
        postconf -e "maillog_file ="
        postsuper -d ALL >/dev/null 2>&1 || true   # before logging starts
        start_rsyslog
        run_lab syslog
        sleep 1
        stop_rsyslog
        cp "$WORK/mail.log" "$OUT/mail.log"
        cp "$WORK/mail.log.rfc3339" "$OUT/mail.log.rfc3339"
        cp "$WORK/truth.syslog.jsonl" "$OUT/truth.jsonl"
        cp "$WORK/workload.syslog.jsonl" "$OUT/workload.jsonl"
        ;;
    maillog_file)
        rm -f "$LOGDIR/maillog_file.log"
        postsuper -d ALL >/dev/null 2>&1 || true   # before logging starts
        postconf -e "maillog_file = $LOGDIR/maillog_file.log"
        run_lab maillog_file
        postconf -e "maillog_file ="
        cp "$LOGDIR/maillog_file.log" "$OUT/maillog_file.log"
        cp "$WORK/truth.maillog_file.jsonl" "$OUT/truth.maillog_file.jsonl"
        cp "$WORK/workload.maillog_file.jsonl" "$OUT/workload.maillog_file.jsonl"
        ;;
    *) echo "unknown run $run" >&2; exit 2 ;;
    esac
done
log "done; outputs in $OUT"
wc -l "$OUT"/* >&2
