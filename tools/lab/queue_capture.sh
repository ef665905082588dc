#!/bin/bash
# Queue listings beside the log, from a real lab MTA (tests/fixtures/queue/).
#
# Runs one MTA's own lab script (tools/lab/<mta>_lab.sh: it installs the MTA, routes
# every lab domain to bracketed loopback addresses and turns DNS off, so nothing leaves
# 127.0.0.0/8) with a short workload, and while mail is still deferred takes:
#
#   <mta>/log             the MTA's log as it was at that moment
#   <mta>/<listing>       the queue listing(s) right after the log copy
#   <mta>/later.<listing> the same listing LATER seconds later (mail delivered or
#                         expired in between is still held in the log copy, but no
#                         longer in this listing: in_queue false)
#   <mta>/CAPTURED.txt    when, which version, which commands
#
# Usage (as root, on a disposable Debian 12 machine; installing one MTA removes the
# others): tools/lab/queue_capture.sh postfix|exim|sendmail [OUTDIR]
# Environment: AT (seconds after the workload starts, default 75), LATER (default 40),
# SPREAD (workload spread, default 45), RUN_SECONDS (lab run limit, default 200),
# SKIP_INSTALL=1 (passed on to the lab script).
set -euo pipefail

MTA=${1:?usage: queue_capture.sh postfix|exim|sendmail [OUTDIR]}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=$(realpath -m "${2:-$REPO/tests/fixtures/queue}")/$MTA
AT=${AT:-75}
LATER=${LATER:-40}
SCRATCH=$(mktemp -d /var/tmp/queue-capture.XXXXXX)
log() { echo "[queue-capture $(date -u +%H:%M:%S)] $*" >&2; }

case $MTA in
postfix)
    LOG=/var/tmp/maillog-lab/postfix/mail.log
    export RUNS=syslog
    listings() {   # $1 = prefix
        postqueue -j > "$OUT/${1}postqueue-j.jsonl"
        postqueue -p > "$OUT/${1}postqueue-p.txt"
    }
    version() { postconf -h mail_version; }
    ;;
exim)
    LOG=/var/log/exim4/mainlog
    export RUNS=default
    listings() { exim4 -bp > "$OUT/${1}exim-bp.txt"; }
    version() { exim4 -bV | head -1; }
    ;;
sendmail)
    LOG=/var/tmp/maillog-lab/sendmail/maillog
    listings() { mailq > "$OUT/${1}mailq.txt"; }
    version() { sendmail -d0.1 -bv root 2>/dev/null | head -1; }
    ;;
*) echo "unknown MTA $MTA" >&2; exit 2 ;;
esac

mkdir -p "$OUT"
rm -f "$LOG"   # a log of an earlier run must not look like this one's start
export SPREAD=${SPREAD:-45} RUN_SECONDS=${RUN_SECONDS:-200}
# The lab's own outputs go to scratch: sample_logs/ stays as it is.
"$HERE/${MTA}_lab.sh" "$SCRATCH/lab-out" > "$SCRATCH/lab.out" 2>&1 &
LAB=$!
trap 'kill $LAB 2>/dev/null || true; rm -rf "$SCRATCH"' EXIT

# Wait for the workload to start (the log gets its first arrival), then AT seconds.
for _ in $(seq 600); do
    if grep -qsE 'from=<?alice|<= alice' "$LOG"; then break; fi
    if ! kill -0 $LAB 2>/dev/null; then log "lab ended early"; cat "$SCRATCH/lab.out" >&2; exit 1; fi
    sleep 1
done
sleep "$AT"
cp "$LOG" "$OUT/log"
listings ""
TAKEN=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep "$LATER"
listings "later."
LATER_TAKEN=$(date -u +%Y-%m-%dT%H:%M:%SZ)
{
    echo "MTA: $MTA $(version)"
    echo "log copied and first listing taken: $TAKEN (UTC), ${AT}s after the first arrival"
    echo "later listing taken: $LATER_TAKEN (UTC)"
    echo "lab: tools/lab/${MTA}_lab.sh with SPREAD=$SPREAD RUN_SECONDS=$RUN_SECONDS"
    ls "$OUT"
} > "$OUT/CAPTURED.txt"
log "captured into $OUT; waiting for the lab run to end"
wait $LAB || true
