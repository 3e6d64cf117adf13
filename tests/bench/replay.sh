#!/bin/sh
# bench/replay.sh: the replay benchmarks (part of `make bench`).
#   top speed  evplay --top-speed to JSON lines on stdout (to /dev/null and
#              through a pipe), events/s by wall time and by CPU time
#              (user+sys), beside `evtool cat` of the same archive in the
#              same run (the same decoding without a scheduler);
#   lateness   evplay at 1x for 200 and 10,000 events/s, measured at a
#              receiving reader process that timestamps lines
#              (tests/integration/stamp.py through a FIFO); the archive's
#              receive times give the intended schedule.  Lateness of a
#              line = arrival - (first arrival baseline + (rx - rx0)), the
#              baseline being the least late line (so the figures exclude
#              the constant pipe latency); evplay's own --stats beside.
#   server     the same over WebSocket (evplay --listen) to one C client:
#              lateness at 1x for both archives, top speed beside evsim
#              --rate 0 to the same client.
# Prints figures; never fails on a figure.
#   REPLAY_EVENTS  events of the top-speed archive (default 1,000,000)
#   LATE_SECS      seconds of each lateness run (default 10)
set -eu
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
N=${REPLAY_EVENTS:-1000000}
SECS=${LATE_SECS:-10}
PY=/usr/bin/python3
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-pbench.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM

# cpu CMD...: runs CMD (sh -c), leaves "wall user sys" in $W/cpu.
cpu() {
	/usr/bin/time -f "%e %U %S" -o "$W/cpu" sh -c "$1"
}
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }

echo "== evtape replay benchmarks ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores)"
$BUILD/evgen --seed 44 --events "$N" >"$W/in.tsv"
$BUILD/evtool import "$W/a" "$W/in.tsv" 2>/dev/null
rm -f "$W/in.tsv"
n=$($BUILD/evtool cat "$W/a" | wc -l)
echo "archive: $n events"
for how in "/dev/null" "pipe"; do
	if [ "$how" = pipe ]; then sink="| cat >/dev/null"; else sink=">/dev/null"; fi
	cpu "$BUILD/evtool cat $W/a $sink"
	read -r bw bu bs <"$W/cpu"
	cpu "$BUILD/evplay -q --top-speed $W/a $sink"
	read -r pw pu ps <"$W/cpu"
	bc=$(awk -v a="$bu" -v b="$bs" 'BEGIN { print a + b }')
	pc=$(awk -v a="$pu" -v b="$ps" 'BEGIN { print a + b }')
	echo "top speed to $how: evplay $(rate "$n" "$pw") events/s wall, $(rate "$n" "$pc") events/s CPU ($pw s, ${pc} s CPU)   goal >= 1000000"
	echo "             baseline evtool cat: $(rate "$n" "$bw") events/s wall, $(rate "$n" "$bc") events/s CPU ($bw s, ${bc} s CPU)"
done

# Lateness at 1x, measured at a reader.
for r in 200 10000; do
	ev=$((r * SECS))
	$BUILD/evgen --seed 45 --rate "$r" --events "$ev" >"$W/l$r.tsv"
	$BUILD/evtool import "$W/l$r" "$W/l$r.tsv" 2>/dev/null
	rm -f "$W/l$r.tsv" "$W/fifo"
	mkfifo "$W/fifo"
	$PY "$HERE/../integration/stamp.py" "$W/fifo" >"$W/stamped" &
	spid=$!
	$BUILD/evplay -q --tsv --stats "$W/l$r" >"$W/fifo" 2>"$W/stats.err"
	wait $spid
	$PY - "$W/stamped" "$r" <<'PY'
import sys
rows = []
for l in open(sys.argv[1], "rb"):
    a, rx, _ = l.split(b"\t", 2)
    rows.append((int(a), int(rx)))
rx0 = rows[0][1]
base = min(a - (rx - rx0) for a, rx in rows)
late = sorted(a - (rx - rx0) - base for a, rx in rows)
q = lambda p: late[min(len(late) - 1, int(p * len(late)))]
print("1x %5s events/s: %d messages, lateness at the reader p50 %d us, p99 %d us, max %d us   goal p99 < 1000 us at 10000/s"
      % (sys.argv[2], len(late), q(0.5), q(0.99), late[-1]))
PY
	sed 's/^evplay: stats:/             evplay --stats:/' "$W/stats.err"
done

# The server mode (evplay --listen), measured at one WebSocket client
# (wscount, C: it timestamps each message on arrival with the monotonic
# clock and writes the stamps at the end).  Lateness of an event = its
# arrival offset from the first event's arrival - its recorded offset from
# the first event's receive time (negative when the first one came late).
# Top speed: evplay --top-speed to the client, beside evsim --rate 0 to
# the same client in the same run (the gateway module without an archive)
# and the evtool cat figures above (the archive without a gateway).
WSCOUNT=$BUILD/bench/wscount
. "$HERE/serve.inc"
for r in 200 10000; do
	ev=$($BUILD/evtool cat "$W/l$r" | wc -l)
	serve $BUILD/evplay -q --any-user "$W/l$r"
	"$WSCOUNT" "$PORT" "$W/tok" "$ev" "$W/stamps" >/dev/null
	unserve
	$BUILD/evtool cat --tsv "$W/l$r" >"$W/l.tsv"
	$PY - "$W/l.tsv" "$W/stamps" "$r" <<'PY'
import sys
rx = [int(l.split(b"\t", 1)[0]) for l in open(sys.argv[1], "rb")
      if b'"events"' in l]
st = [tuple(map(int, l.split())) for l in open(sys.argv[2])]
if len(st) != len(rx):
    print("1x %5s events/s over WebSocket: %d messages arrived, %d recorded"
          % (sys.argv[3], len(st), len(rx)))
# Offsets from the first event (as asked), and the same with the least
# late event as the baseline (as for stdout above: a late first event
# shows as negative lateness in the first, as a shift in the second).
late = []
for (a, n), r in zip(st, rx):
    late += [(a - st[0][0]) - (r - rx[0])] * n
late.sort()
q = lambda p, d=0: late[min(len(late) - 1, int(p * len(late)))] - d
print("1x %5s events/s over WebSocket: %d events, lateness at the client p50 %d us, p99 %d us, max %d us (min %d)   goal p99 < 1000 us at 10000/s"
      % (sys.argv[3], len(late), q(0.5), q(0.99), late[-1], late[0]))
print("             least late as the baseline: p50 %d us, p99 %d us, max %d us"
      % (q(0.5, late[0]), q(0.99, late[0]), late[-1] - late[0]))
PY
done
rm -f "$W/l.tsv" "$W/stamps"

# report NAME EVENTS SECONDS MESSAGES SERVERCPU
report() {
	awk -v name="$1" -v n="$2" -v s="$3" -v m="$4" -v c="$5" 'BEGIN {
	    printf "%-31s %7.0f events/s, %7.0f messages/s wall (%d events in %d messages, %.2f s); server CPU %.2f s = %.0f events per CPU-second\n",
	        name, (s > 0 ? n / s : 0), (s > 0 ? m / s : 0), n, m, s, c, (c > 0 ? n / c : 0) }'
}
# top NAME PROGRAM ARGS...: serves, counts $n events at one client, reports.
top() {
	_name=$1
	shift
	serve "$@"
	c0=$(cpu_s "$SRVPID")
	set -- $("$WSCOUNT" "$PORT" "$W/tok" "$n")
	c1=$(cpu_s "$SRVPID")
	unserve
	report "$_name" "$1" "$2" "$3" "$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')"
}
top "top speed evplay -> WebSocket:" $BUILD/evplay -q --any-user --top-speed \
    --history-bytes 16777216 "$W/a"
top "baseline evsim --rate 0:" $BUILD/evsim --quiet --rate 0 \
    --history-bytes 16777216
