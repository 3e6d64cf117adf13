#!/bin/sh
# bench/recorder.sh: the recorder benchmarks (part of `make bench`).
#   ingest   evsim at top speed -> evrec -> archive, events/s end to end,
#            beside a Python recorder built the way Milestone's sample works
#            (tests/bench/pyrec.py: websockets, json.loads, JSON lines into
#            zstd -3), measured in the same run against the same evsim;
#   idle     CPU % of one core and RSS of evrec at 200 events/s over IDLE_SECS
#            (default 60) seconds, RSS sampled every 10 s;
#   restart  evrec on an archive of 1,000 segments (or RESTART_ARCHIVE, an
#            archive the caller built; evrec adds to it): from exec to the
#            session being established again (log time stamps), after a
#            clean stop and after kill -9.
# Prints figures; never fails on a figure.
#   INGEST_EVENTS  events of the ingest runs (default 2,000,000)
#   RBENCH         the parts to run, a space- or comma-separated list of
#                  ingest, idle and restart (default all of them)
set -eu
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
N=${INGEST_EVENTS:-2000000}
IDLE=${IDLE_SECS:-60}
PY=/usr/bin/python3
PARTS=$(echo "${RBENCH:-ingest idle restart}" | tr ',' ' ')
# part NAME: true if NAME was selected.
part() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-rbench.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT INT TERM
umask 077
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/pw"
umask 022

now_ns() { date +%s%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# ticks PID: utime + stime of a process in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# sim ARGS...: starts evsim on a free port; sets $sim and $url.
sim() {
	rm -f "$W/port"
	"$BUILD/evsim" --listen 127.0.0.1:0 --ready-file "$W/port" \
	    --user bench --password-file "$W/pw" --quiet "$@" &
	sim=$!
	pids="$pids $sim"
	i=0
	while [ ! -s "$W/port" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
	url="http://127.0.0.1:$(cat "$W/port")"
}
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# metric PORT NAME: the value of one evrec metric (empty if unreachable).
metric() {
	$PY - "$1" "$2" <<'PY' 2>/dev/null || true
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=2).read().decode()
for line in body.splitlines():
    if line.startswith(sys.argv[2] + " "):
        print(int(float(line.split()[1])))
PY
}
# wait_events PORT N: polls evrec's metrics until N events are recorded.
wait_events() {
	$PY - "$1" "$2" <<'PY'
import sys, time, urllib.request
port, n = sys.argv[1], int(sys.argv[2])
while True:
    try:
        body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=2).read().decode()
        v = [l for l in body.splitlines() if l.startswith("evrec_events_total ")]
        if v and float(v[0].split()[1]) >= n:
            break
    except OSError:
        pass
    time.sleep(0.005)
PY
}

echo "== evtape recorder benchmarks ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores)"

hz=$(getconf CLK_TCK)

# --- ingest: the Python baseline, then evrec, against the same evsim.
if part ingest; then
sim --rate 0 --events "$N"
out=$($PY "$HERE/pyrec.py" "$url" "$W/pw" "$W/py.zst" "$N")
stop "$sim"
set -- $out
pyn=$1
pys=$2
pyrate=$(rate "$pyn" "$pys")
echo "baseline:    Python recorder (websockets + json + zstd -3): $pyrate events/s ($pyn events, $pys s, $(ratio "$(wc -c <"$W/py.zst")" "$pyn") bytes/event)"

sim --rate 0 --events "$N"
mp=$(free_port)
t0=$(now_ns)
"$BUILD/evrec" --archive "$W/rec" --user bench --password-file "$W/pw" \
    --metrics "127.0.0.1:$mp" --summary-interval 0 -q "$url" &
rec=$!
pids="$pids $rec"
wait_events "$mp" "$N"
t1=$(now_ns)
cpu=$(ticks "$rec")
simcpu=$(ticks "$sim")
rss=$(rss_kb "$rec")
stop "$rec"
t2=$(now_ns)
stop "$sim"
s1=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
s2=$(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
evrate=$(rate "$N" "$s1")
echo "ingest:      evrec $evrate events/s end to end ($N events in $s1 s; $(rate "$N" "$s2") events/s including the final seal, $s2 s)"
echo "             evrec CPU $(awk -v t="$cpu" -v hz="$hz" -v s="$s1" 'BEGIN { printf "%.0f", 100 * t / hz / s }') % of one core (evsim $(awk -v t="$simcpu" -v hz="$hz" -v s="$s1" 'BEGIN { printf "%.0f", 100 * t / hz / s }') %: near 100 % the producer is the limit), RSS $((rss / 1024)) MiB, archive $(ratio "$(cat "$W"/rec/* | wc -c)" "$N") bytes/event"
echo "             evrec / Python = $(ratio "$evrate" "$pyrate")   goal >= 500000 events/s and >= 4x"
rm -rf "$W/rec" "$W/py.zst"
fi

# --- idle: a real site's rate.
if part idle; then
sim --rate 200
"$BUILD/evrec" --archive "$W/idle" --user bench --password-file "$W/pw" \
    --summary-interval 0 -q "$url" &
rec=$!
pids="$pids $rec"
sleep 5
c0=$(ticks "$rec")
series="$(rss_kb "$rec")"
i=0
while [ $i -lt "$IDLE" ]; do
	sleep 10
	i=$((i + 10))
	series="$series $(rss_kb "$rec")"
done
c1=$(ticks "$rec")
stop "$rec"
stop "$sim"
ev=$("$BUILD/evtool" info "$W/idle" | awk '/^events:/ { print $2 }')
echo "idle:        evrec at 200 events/s for $IDLE s: CPU $(awk -v t=$((c1 - c0)) -v hz="$hz" -v s="$IDLE" 'BEGIN { printf "%.2f", 100 * t / hz / s }') % of one core; RSS (KiB, every 10 s): $series; $ev events   goal < 1 %, < 16 MiB, flat"
rm -rf "$W/idle"
fi

# --- restart on 1,000 segments, or on the caller's archive.
if part restart; then
RA=${RESTART_ARCHIVE:-$W/big}
if [ -z "${RESTART_ARCHIVE:-}" ]; then
	"$BUILD/evgen" --seed 7 --events 600000 >"$W/in.tsv"
	"$BUILD/evtool" import --segment-size 16K "$RA" "$W/in.tsv" 2>/dev/null
	rm -f "$W/in.tsv"
fi
sim --rate 0
# established LOG T0: milliseconds from T0 (ns) to the log's "session" line.
established() {
	$PY - "$1" "$2" <<'PY'
import datetime, sys
t0 = int(sys.argv[2]) / 1e9
for line in open(sys.argv[1]):
    if "new session " in line or " resumed after " in line:
        ts = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
        ts = ts.replace(tzinfo=datetime.timezone.utc).timestamp()
        print("%.1f" % ((ts - t0) * 1000))
        break
else:
    print("?")
PY
}
# run_rec LOG: starts evrec on the big archive; waits for its session.
run_rec() {
	t0=$(now_ns)
	"$BUILD/evrec" --archive "$RA" --user bench --password-file "$W/pw" \
	    --summary-interval 0 "$url" 2>"$1" &
	rec=$!
	pids="$pids $rec"
	i=0
	while ! grep -qs -e "new session" -e " resumed after" "$1" && [ $i -lt 2000 ]; do
		sleep 0.005
		i=$((i + 1))
	done
}
run_rec "$W/r1.log"
sleep 2 # record ~1 s of top-speed traffic into the newest segment
stop "$rec"
nseg=$(ls "$RA"/seg-*.evt | wc -l)
run_rec "$W/r2.log"
clean=$(established "$W/r2.log" "$t0")
sleep 2
kill -9 "$rec"
wait "$rec" 2>/dev/null || true
newest=$(ls "$RA"/seg-*.evt | tail -n 1) # the unsealed one (names sort by number)
run_rec "$W/r3.log"
killed=$(established "$W/r3.log" "$t0")
stop "$rec"
stop "$sim"
echo "restart:     $nseg segments: recording again after a clean stop in $clean ms, after kill -9 in $killed ms (newest segment unsealed, $(($(wc -c <"$newest") / 1048576)) MiB; $(grep -q 'left unsealed by a crash' "$W/r3.log" && echo "left to the sealing thread" || echo "rescanned"))   goal < 100 ms"
fi
