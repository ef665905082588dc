#!/bin/bash
# Exim loopback lab for maillog-diag.
#
# Installs Debian's exim4-daemon-light (this REMOVES postfix/sendmail: run it
# on a disposable machine), writes a monolithic /etc/exim4/exim4.conf that
# routes every lab test domain with a manualroute router to the scripted
# SMTP server (tools/lab/smtp_server.py) on 127.0.0.x, injects the scripted
# workload (tools/lab/send_workload.py) and collects the real Exim mainlog.
#
# Two runs:
#   run "default":     default mainlog timestamp format ("2026-11-29 13:30:34"),
#                      log_selector with queue/deliver times, sizes, received
#                      recipients, smtp confirmation, subject, retry_defer, ...
#   run "millisec_tz": log_selector = +all (adds +millisec, +pid, ...) and
#                      log_timezone = true ("2026-11-29 13:30:34.123 +0000")
#
# Nothing leaves 127.0.0.0/8: lab domains go to IP literals via manualroute,
# no DNS lookups are made, and every other domain is failed locally.
#
# Usage (as root, on a disposable Debian 12 machine):
#   tools/lab/exim_lab.sh [OUTDIR]           # default OUTDIR: sample_logs/exim
# Environment: RUN_SECONDS (max seconds per run, default 600), SPREAD (default
# 240), RUNS ("default millisec_tz"), SKIP_INSTALL=1.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${1:-$REPO/sample_logs/exim}
WORK=${LAB_WORK:-/var/tmp/maillog-lab/exim}
RUN_SECONDS=${RUN_SECONDS:-600}
SPREAD=${SPREAD:-240}
RUNS=${RUNS:-"default millisec_tz"}
PY=${PYTHON:-python3}
OUT=$(realpath -m "$OUT")
cd /   # MTAs may log their working directory (Exim +arguments): keep it neutral
EXIMLOG=/var/log/exim4

log() { echo "[exim-lab $(date -u +%H:%M:%S)] $*" >&2; }

SERVER_PID=""
DAEMON_PIDFILE=/run/exim4/exim.pid   # Debian default; +arguments would log a -oP path
stop_exim() {
    if [ -f "$DAEMON_PIDFILE" ]; then
        kill "$(cat "$DAEMON_PIDFILE")" 2>/dev/null || true
        rm -f "$DAEMON_PIDFILE"
        sleep 2
    fi
}
cleanup() {
    set +e
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill "$SERVER_PID"; fi
    stop_exim
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP   # so that a kill still runs cleanup

# ---------------------------------------------------------------- install
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
    log "installing exim4-daemon-light (removes other MTAs)"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q exim4-daemon-light
fi
# the package's init script may have started a daemon: stop it
if [ -x /etc/init.d/exim4 ]; then /etc/init.d/exim4 stop >/dev/null 2>&1 || true; fi
if [ -f /run/exim4/exim.pid ]; then kill "$(cat /run/exim4/exim.pid)" 2>/dev/null || true; fi
sleep 1
mkdir -p "$WORK" "$OUT"

write_config() {   # $1 = log_selector line, $2 = extra main options
    cat > /etc/exim4/exim4.conf <<EOF
# maillog-diag loopback lab -- nothing may leave 127.0.0.0/8
primary_hostname = mail.example.net
qualify_domain = example.net
local_interfaces = <; 127.0.0.1.25 ; 127.0.0.1.587
domainlist local_domains = localhost : mail.example.net
hostlist relay_from_hosts = 127.0.0.0/8
acl_smtp_rcpt = acl_check_rcpt
host_lookup =
rfc1413_hosts =
keep_environment =
tls_advertise_hosts =
# fast retries / give-ups so a lab run ends within minutes
delay_warning = 2m
ignore_bounce_errors_after = 10m
timeout_frozen_after = 10m
$1
$2

begin acl
acl_check_rcpt:
  accept  hosts = +relay_from_hosts
  deny    message = relay not permitted

begin routers
# root/postmaster etc. end up at the lab sink, never in a local mailbox
local_aliases:
  driver = redirect
  domains = +local_domains
  data = postmaster@sender.test
lab_out:
  driver = manualroute
  domains = greyplain.test : ratelimit.test
  transport = remote_smtp_out
  route_list = greyplain.test 127.0.0.5 ; ratelimit.test 127.0.0.7
  no_more
lab:
  driver = manualroute
  domains = ! +local_domains
  transport = remote_smtp
  route_list = ok.test 127.0.0.2 ; \\
               greylist.test 127.0.0.3 ; \\
               greymilter.test 127.0.0.4 ; \\
               throttle.test 127.0.0.6 ; \\
               split.test 127.0.0.8 ; \\
               bounce.test 127.0.0.9 ; \\
               busy.test 127.0.0.10 ; \\
               down.test 127.0.0.11 ; \\
               slow.test 127.0.0.12 ; \\
               expire.test 127.0.0.13 ; \\
               sender.test 127.0.0.14
lab_only:
  driver = redirect
  allow_fail
  data = :fail: lab only

begin transports
remote_smtp:
  driver = smtp
  port = 25
  connect_timeout = 5s
  command_timeout = 10s
  hosts_avoid_tls = *
remote_smtp_out:
  driver = smtp
  port = 25
  connect_timeout = 5s
  command_timeout = 10s
  hosts_avoid_tls = *

begin retry
*   *   F,5m,20s

begin rewrite
EOF
    exim4 -bV >/dev/null
}

queue_empty() { [ "$(exim4 -bpc 2>/dev/null || echo 1)" = 0 ]; }

run_lab() {   # $1 = run name
    local name=$1 truth="$WORK/truth.$1.jsonl" manifest="$WORK/workload.$1.jsonl"
    rm -f "$truth" "$manifest"
    # empty queue, retry database and logs before the run
    exim4 -bp 2>/dev/null | awk '/^ *[0-9]/{print $3}' | xargs -r exim4 -Mrm >/dev/null 2>&1 || true
    rm -f /var/spool/exim4/db/retry* /var/spool/exim4/db/wait-* /var/spool/exim4/db/misc*
    : > "$EXIMLOG/mainlog"; : > "$EXIMLOG/rejectlog"; : > "$EXIMLOG/paniclog" 2>/dev/null || true
    chown Debian-exim:adm "$EXIMLOG"/*log 2>/dev/null || true
    "$PY" "$HERE/smtp_server.py" --truth "$truth" >"$WORK/server.$name.err" 2>&1 &
    SERVER_PID=$!
    sleep 1
    kill -0 "$SERVER_PID"
    mkdir -p /run/exim4; chown Debian-exim /run/exim4 2>/dev/null || true
    exim4 -bd -q15s
    sleep 2
    local t0; t0=$(date +%s)
    log "run $name: workload over ${SPREAD}s"
    "$PY" "$HERE/send_workload.py" --tag "exim-$name" --spread "$SPREAD" \
        --manifest "$manifest" >/dev/null
    while :; do
        local el=$(( $(date +%s) - t0 ))
        if queue_empty; then log "run $name: queue empty after ${el}s"; break; fi
        if [ "$el" -ge "$RUN_SECONDS" ]; then log "run $name: time limit, queue not empty"; break; fi
        sleep 10
    done
    exim4 -bp > "$WORK/queue-at-end.$name.txt" 2>&1 || true
    stop_exim
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

SEL_DEFAULT='log_selector = +queue_time +queue_time_overall +deliver_time +delivery_size +received_recipients +smtp_confirmation +subject +retry_defer +queue_run +smtp_connection +outgoing_port +return_path_on_delivery'

for run in $RUNS; do
    case $run in
    default)
        write_config "$SEL_DEFAULT" ""
        run_lab default
        cp "$EXIMLOG/mainlog" "$OUT/mainlog"
        cp "$WORK/truth.default.jsonl" "$OUT/truth.jsonl"
        cp "$WORK/workload.default.jsonl" "$OUT/workload.jsonl"
        if [ -s "$EXIMLOG/paniclog" ]; then cp "$EXIMLOG/paniclog" "$OUT/paniclog"; fi
        ;;
    millisec_tz)
        write_config "log_selector = +all" "log_timezone = true"
        run_lab millisec_tz
        cp "$EXIMLOG/mainlog" "$OUT/mainlog.millisec_tz"
        cp "$WORK/truth.millisec_tz.jsonl" "$OUT/truth.millisec_tz.jsonl"
        cp "$WORK/workload.millisec_tz.jsonl" "$OUT/workload.millisec_tz.jsonl"
        if [ -s "$EXIMLOG/paniclog" ]; then cp "$EXIMLOG/paniclog" "$OUT/paniclog.millisec_tz"; fi
        ;;
    *) echo "unknown run $run" >&2; exit 2 ;;
    esac
done
log "done; outputs in $OUT"
wc -l "$OUT"/* >&2
