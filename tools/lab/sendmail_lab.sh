#!/bin/bash
# Sendmail loopback lab for maillog-diag.
#
# Installs Debian's sendmail (this REMOVES exim4/postfix: run it on a
# disposable machine), builds its own sendmail.cf from an m4 file that routes
# every lab test domain through a mailertable to the scripted SMTP server
# (tools/lab/smtp_server.py) on 127.0.0.x, injects the scripted workload
# (tools/lab/send_workload.py) and collects the real logs via our own rsyslogd
# (mail.* -> traditional syslog format, and the same run in RFC 3339 format).
#
# Nothing leaves 127.0.0.0/8: the mailertable sends lab domains to bracketed
# loopback IPs ("esmtp:[127.0.0.x]"), "." (everything else) to the error
# mailer, and host lookups use /etc/hosts only (own service switch file,
# FEATURE(nocanonify), resolver options -DNSRCH -DEFNAMES).
#
# Sendmail waits 60 s at every start when the machine's hostname does not
# resolve to a dotted name, so while the lab runs, /etc/hosts gets one extra
# line "127.0.0.1 mail.example.net <hostname>", and /etc/nsswitch.conf says
# "hosts: files" (no DNS even for libc reverse lookups); both files are put
# back at exit.
#
# Usage (as root, on a disposable Debian 12 machine):
#   tools/lab/sendmail_lab.sh [OUTDIR]       # default OUTDIR: sample_logs/sendmail
# Environment: RUN_SECONDS (default 660), SPREAD (default 240), SKIP_INSTALL=1.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${1:-$REPO/sample_logs/sendmail}
WORK=${LAB_WORK:-/var/tmp/maillog-lab/sendmail}
RUN_SECONDS=${RUN_SECONDS:-660}
SPREAD=${SPREAD:-240}
PY=${PYTHON:-python3}
OUT=$(realpath -m "$OUT")
cd /   # MTAs may log their working directory (Exim +arguments): keep it neutral

log() { echo "[sendmail-lab $(date -u +%H:%M:%S)] $*" >&2; }

mkdir -p "$WORK" "$OUT"
SERVER_PID=""
RSYSLOG_PIDFILE="$WORK/rsyslogd.pid"
MTA_PIDFILE=/run/sendmail/mta/sendmail.pid
HOSTS_BACKUP="$WORK/hosts.orig"
NSS_BACKUP="$WORK/nsswitch.conf.orig"

stop_mta() {
    if [ -f "$MTA_PIDFILE" ]; then
        kill "$(head -1 "$MTA_PIDFILE")" 2>/dev/null || true
        sleep 2
    fi
}
cleanup() {
    set +e
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill "$SERVER_PID"; fi
    stop_mta
    if [ -f "$RSYSLOG_PIDFILE" ]; then kill "$(cat "$RSYSLOG_PIDFILE")" 2>/dev/null; rm -f "$RSYSLOG_PIDFILE"; fi
    if [ -f "$HOSTS_BACKUP" ]; then cat "$HOSTS_BACKUP" > /etc/hosts; rm -f "$HOSTS_BACKUP"; fi
    if [ -f "$NSS_BACKUP" ]; then cat "$NSS_BACKUP" > /etc/nsswitch.conf; rm -f "$NSS_BACKUP"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP   # so that a kill still runs cleanup

# ------------------------------------------------------------ hostname fix
cp /etc/hosts "$HOSTS_BACKUP"
# (inserted just before the first line naming this host, so that 127.0.0.1
# still maps back to "localhost")
awk -v h="$(hostname)" 'BEGIN{done=0}
    !done { for (i = 2; i <= NF; i++) if ($i == h) { print "127.0.0.1 mail.example.net " h; done=1; break } }
    { print }
    END { if (!done) print "127.0.0.1 mail.example.net " h }' "$HOSTS_BACKUP" > /etc/hosts

# ---------------------------------------------------------------- install
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
    log "installing sendmail and rsyslog (removes other MTAs)"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q sendmail-bin sendmail-cf sendmail m4 rsyslog
fi
# no DNS at all while the lab runs: libc host lookups (e.g. reverse lookups of
# 127.0.0.x) use /etc/hosts only; restored at exit (after the
# install: apt needs DNS to reach the archive)
cp /etc/nsswitch.conf "$NSS_BACKUP"
sed -i 's/^hosts:.*/hosts:          files/' /etc/nsswitch.conf
# the package's init script may have started daemons: stop them
/etc/init.d/sendmail stop >/dev/null 2>&1 || true
stop_mta

# ---------------------------------------------------------------- configure
cat > /etc/mail/lab-service.switch <<'EOF'
hosts files
aliases files
EOF
cat > /etc/mail/lab-aliases <<'EOF'
postmaster: postmaster@sender.test
MAILER-DAEMON: postmaster
root: postmaster@sender.test
EOF
cat > /etc/mail/mailertable <<'EOF'
ok.test          esmtp:[127.0.0.2]
greylist.test    esmtp:[127.0.0.3]
greymilter.test  esmtp:[127.0.0.4]
greyplain.test   esmtp:[127.0.0.5]
throttle.test    esmtp:[127.0.0.6]
ratelimit.test   esmtp:[127.0.0.7]
split.test       esmtp:[127.0.0.8]
bounce.test      esmtp:[127.0.0.9]
busy.test        esmtp:[127.0.0.10]
down.test        esmtp:[127.0.0.11]
slow.test        esmtp:[127.0.0.12]
expire.test      esmtp:[127.0.0.13]
sender.test      esmtp:[127.0.0.14]
.                error:5.7.1:550 lab only
EOF
makemap hash /etc/mail/mailertable < /etc/mail/mailertable
printf 'localhost\nmail.example.net\n' > /etc/mail/local-host-names
cat > /etc/mail/lab.mc <<'EOF'
divert(-1)dnl
# maillog-diag loopback lab -- nothing may leave 127.0.0.0/8
divert(0)dnl
include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(`maillog-diag lab')dnl
OSTYPE(`debian')dnl
DOMAIN(`debian-mta')dnl
define(`confDOMAIN_NAME', `mail.example.net')dnl
define(`confPID_FILE', `/run/sendmail/mta/sendmail.pid')dnl
define(`confBIND_OPTS', `-DNSRCH -DEFNAMES')dnl
define(`confSERVICE_SWITCH_FILE', `/etc/mail/lab-service.switch')dnl
define(`ALIAS_FILE', `/etc/mail/lab-aliases')dnl
define(`confHOST_STATUS_DIRECTORY', `/var/lib/sendmail/host_status')dnl
define(`confTO_HOSTSTATUS', `1m')dnl
define(`confTO_QUEUEWARN', `2m')dnl
define(`confTO_QUEUERETURN', `6m')dnl
define(`confTO_ICONNECT', `5s')dnl
define(`confTO_CONNECT', `5s')dnl
define(`confTO_INITIAL', `10s')dnl
define(`confTO_IDENT', `0')dnl
define(`confPRIVACY_FLAGS', `authwarnings,noexpn,novrfy')dnl
FEATURE(`nocanonify')dnl
FEATURE(`accept_unresolvable_domains')dnl
FEATURE(`no_default_msa')dnl
FEATURE(`mailertable', `hash -o /etc/mail/mailertable')dnl
FEATURE(`use_cw_file')dnl
DAEMON_OPTIONS(`Family=inet, Name=MTA-v4, Port=smtp, Addr=127.0.0.1')dnl
DAEMON_OPTIONS(`Family=inet, Name=MSA-v4, Port=submission, M=Ea, Addr=127.0.0.1')dnl
MAILER(`local')dnl
MAILER(`smtp')dnl
EOF
mkdir -p /var/lib/sendmail/host_status /run/sendmail/mta
chown smmta:smmsp /var/lib/sendmail/host_status
m4 /etc/mail/lab.mc > /etc/mail/sendmail.cf
/usr/sbin/sendmail-mta -bi
# the submission program (MSP, used by "sendmail -t") gets the same no-DNS treatment
cat > /etc/mail/lab-submit.mc <<'EOF'
divert(-1)dnl
divert(0)dnl
define(`_USE_ETC_MAIL_')dnl
include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(`maillog-diag lab submit')dnl
OSTYPE(`debian')dnl
DOMAIN(`debian-msp')dnl
define(`confDOMAIN_NAME', `mail.example.net')dnl
define(`confBIND_OPTS', `-DNSRCH -DEFNAMES')dnl
define(`confSERVICE_SWITCH_FILE', `/etc/mail/lab-service.switch')dnl
FEATURE(`nocanonify')dnl
FEATURE(`msp', `[127.0.0.1]', `25')dnl
EOF
m4 /etc/mail/lab-submit.mc > /etc/mail/submit.cf

start_rsyslog() {
    mkdir -p "$WORK/rsyslog-spool"
    rm -f "$WORK/maillog" "$WORK/maillog.rfc3339"
    cat > "$WORK/rsyslog.conf" <<EOF
global(workDirectory="$WORK/rsyslog-spool")
module(load="imuxsock" SysSock.Name="/dev/log" SysSock.RateLimit.Interval="0")
mail.* action(type="omfile" file="$WORK/maillog" template="RSYSLOG_TraditionalFileFormat")
mail.* action(type="omfile" file="$WORK/maillog.rfc3339" template="RSYSLOG_FileFormat")
EOF
    rsyslogd -f "$WORK/rsyslog.conf" -i "$RSYSLOG_PIDFILE"
    sleep 1
}

queue_empty() { ! ls /var/spool/mqueue/ 2>/dev/null | grep -q '^qf'; }

# ---------------------------------------------------------------- run
rm -f /var/spool/mqueue/* /var/spool/mqueue-client/* 2>/dev/null || true
rm -rf /var/lib/sendmail/host_status/*
truth="$WORK/truth.jsonl"; manifest="$WORK/workload.jsonl"
rm -f "$truth" "$manifest"
start_rsyslog
"$PY" "$HERE/smtp_server.py" --truth "$truth" >"$WORK/server.err" 2>&1 &
SERVER_PID=$!
sleep 1
kill -0 "$SERVER_PID"
/usr/sbin/sendmail-mta -L sm-mta -bd -q30s
sleep 2
t0=$(date +%s)
log "workload over ${SPREAD}s"
"$PY" "$HERE/send_workload.py" --tag "sm" --spread "$SPREAD" --manifest "$manifest" >/dev/null
while :; do
    el=$(( $(date +%s) - t0 ))
    if queue_empty; then log "queue empty after ${el}s"; break; fi
    if [ "$el" -ge "$RUN_SECONDS" ]; then log "time limit, queue not empty"; break; fi
    sleep 10
done
mailq > "$WORK/queue-at-end.txt" 2>&1 || true
stop_mta
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
sleep 1
kill "$(cat "$RSYSLOG_PIDFILE")"; rm -f "$RSYSLOG_PIDFILE"
sleep 1
cp "$WORK/maillog" "$OUT/maillog"
cp "$WORK/maillog.rfc3339" "$OUT/maillog.rfc3339"
cp "$truth" "$OUT/truth.jsonl"
cp "$manifest" "$OUT/workload.jsonl"
log "done; outputs in $OUT"
wc -l "$OUT"/* >&2
