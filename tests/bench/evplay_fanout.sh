#!/bin/sh
# bench/evplay_fanout.sh: the CPU and memory of `evplay --listen --follow`
# (the fan-out gateway) serving CLIENTS wscount clients (default 100,
# everything subscribed) live, against an idle `evplay --listen --follow`
# on the same archive in the same run: evsim at RATE events/s (default
# 200) -> evrec -> archive; both evplays follow it; CPU (user+sys from
# /proc/PID/stat) of each over SECONDS (default 20) once every client has
# its session, and each one's peak RSS (VmHWM of /proc/PID/status) at the
# end.  Prints ms of CPU per second and % of a core for both, per client;
# and, as what N readers of the archive cost for reading alone, the CPU of
# CLIENTS `evtool cat -f` followers (to /dev/null) over the same window.
# Goal (issue 15): 100 clients at 200 events/s cost < 5 % of a core.
# Never fails on a figure.
# Usage: sh tests/bench/evplay_fanout.sh [SECONDS] [RATE] [CLIENTS]
set -eu
BUILD=${BUILD:-build}
SECS=${1:-20}
RATE=${2:-200}
NC=${3:-100}
EVSIM=$BUILD/evsim
EVREC=$BUILD/evrec
EVPLAY=$BUILD/evplay
EVTOOL=$BUILD/evtool
WSCOUNT=$BUILD/bench/wscount
PYTHON=${PYTHON:-/usr/bin/python3}
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-fanout.XXXXXX")
. "$(dirname "$0")/serve.inc"
PIDS=
trap 'for p in $PIDS $SRVPID; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT INT TERM

echo pw >"$W/pw"
serve "$EVSIM" --quiet --rate "$RATE" --seed 5 --user u --password-file "$W/pw"
SIM=$SRVPID
SIMPORT=$PORT
PIDS="$SIM"
"$EVREC" --summary-interval 0 --archive "$W/a" --user u --password-file \
    "$W/pw" "http://127.0.0.1:$SIMPORT" 2>"$W/rec.err" &
PIDS="$PIDS $!"
i=0
while ! ls "$W/a" 2>/dev/null | grep -q '^seg-' && [ $i -lt 1000 ]; do
	sleep 0.01
	i=$((i + 1))
done
serve "$EVPLAY" --quiet --any-user --max-conns $((NC + 16)) --follow "$W/a"
IDLE=$SRVPID
PIDS="$PIDS $IDLE"
serve "$EVPLAY" --quiet --any-user --max-conns $((NC + 16)) --follow "$W/a"
FAN=$SRVPID
PIDS="$PIDS $FAN"
n=0
while [ $n -lt "$NC" ]; do
	"$WSCOUNT" "$PORT" "$W/tok" 100000000 >/dev/null 2>&1 &
	PIDS="$PIDS $!"
	n=$((n + 1))
done
CATS=
n=0
while [ $n -lt "$NC" ]; do
	"$EVTOOL" cat -f "$W/a" >/dev/null 2>&1 &
	CATS="$CATS $!"
	n=$((n + 1))
done
PIDS="$PIDS $CATS"
# cats_cpu: the followers' CPU seconds, summed.
cats_cpu() {
	for p in $CATS; do cpu_s "$p" 2>/dev/null; echo; done | awk '{ t += $1 } END { printf "%.2f", t }'
}
# status PORT NAME: a number of GET /evplay/status.
status() {
	$PYTHON -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen(urllib.request.Request(
    "http://127.0.0.1:%s/evplay/status" % sys.argv[1], headers={
    "Authorization": "Bearer " + open(sys.argv[2]).read().strip()})))[
    sys.argv[3]])' "$1" "$W/tok" "$2"
}
sent() { status "$1" events_sent; }
# peak_kb PID: the process's peak RSS so far, KiB.
peak_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
# Every client has its session (bounded: 60 s).
i=0
while [ "$(status "$PORT" sessions)" -lt "$NC" ] && [ $i -lt 600 ]; do
	sleep 0.1
	i=$((i + 1))
done
e0=$(sent "$PORT")
i0=$(cpu_s "$IDLE"); f0=$(cpu_s "$FAN"); s0=$(cpu_s "$SIM"); c0=$(cats_cpu)
sleep "$SECS"
i1=$(cpu_s "$IDLE"); f1=$(cpu_s "$FAN"); s1=$(cpu_s "$SIM"); c1=$(cats_cpu)
e1=$(sent "$PORT")
ik=$(peak_kb "$IDLE"); fk=$(peak_kb "$FAN")
echo "events sent to the clients meanwhile: $((e1 - e0)) ($NC x $RATE/s x $SECS s = $((NC * RATE * SECS)))"
awk -v s="$SECS" -v r="$RATE" -v n="$NC" -v i0="$i0" -v i1="$i1" \
    -v f0="$f0" -v f1="$f1" -v s0="$s0" -v s1="$s1" -v c0="$c0" \
    -v c1="$c1" -v ik="$ik" -v fk="$fk" 'BEGIN {
	idle = (i1 - i0) * 1000 / s; fan = (f1 - f0) * 1000 / s
	printf "== evplay --follow fan-out, %d events/s, %d s, %d clients\n", r, s, n
	printf "evplay idle (no client): %.1f ms CPU/s (%.2f %% of a core), peak RSS %.1f MiB\n", idle, idle / 10, ik / 1024
	printf "evplay with %d clients:  %.1f ms CPU/s (%.2f %% of a core; +%.1f ms/s, %.2f ms/s per client), peak RSS %.1f MiB (+%.1f)   goal < 5 %% of a core\n", n, fan, fan / 10, fan - idle, (fan - idle) / n, fk / 1024, (fk - ik) / 1024
	printf "%d evtool cat -f followers: %.1f ms CPU/s in all\n", n, (c1 - c0) * 1000 / s
	printf "evsim (the source, 1 client: evrec): %.1f ms CPU/s\n", (s1 - s0) * 1000 / s
}'
