#!/bin/sh
# bench/report.sh: what `evtool report` costs (README, "evtool report").
# Prints figures, never fails on them; CPU seconds (user + system) and
# wall seconds, best of REPORT_RUNS (3) interleaved with their baselines.
#
# 1. A report over a window of REPORT_EVENTS (default 1,000,000) events
#    against `evtool stats` (summaries and indexes where they answer) and
#    `stats --scan` (every event read) of the same window, in the same run
#    (the goal: report < 3x stats --scan); and the report's size for one
#    hour at 200 events/s.  The archive: test_report --write-archive (5
#    sources, 200 events/s, a gap every 100 s).
# 2. A report of a 15-minute window around an event in the middle of an
#    archive of REPORT_BIG (10,000,000) evgen events (evgen --seed 46,
#    imported with hourly segments), against `stats --scan` of the same
#    window (the goal: < 2 s and < 2 MiB).  The archive is built once and
#    kept in REPORT_BIG_DIR (/tmp/evtape-bench-report-$REPORT_BIG; about
#    220 MB), reused when present; REPORT_BIG=0 skips this part.
set -eu
BUILD=${BUILD:-build}
EVTOOL=$BUILD/evtool
N=${REPORT_EVENTS:-1000000}
BIG=${REPORT_BIG:-10000000}
BIGDIR=${REPORT_BIG_DIR:-${TMPDIR:-/tmp}/evtape-bench-report-$BIG}
RUNS=${REPORT_RUNS:-3}
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-bench-report.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
T0=1767600000000000

if [ ! -x "$BUILD/tests/test_report" ]; then
	echo "report: skipped (make tests builds test_report, which writes the archive)"
	exit 0
fi

# run ARGS...: "cpu wall" seconds of `evtool ARGS`.
run() {
	/usr/bin/time -f "%U %S %e" -o "$W/t" $EVTOOL "$@" >/dev/null
	awk '{ printf "%.2f %.2f", $1 + $2, $3 }' "$W/t"
}
# best VAR "cpu wall": keeps in VAR the smaller CPU time (with its wall).
best() {
	eval "cur=\${$1:-}"
	if [ -z "$cur" ] || awk -v a="${cur% *}" -v b="${2% *}" \
	    'BEGIN { exit !(b < a) }'; then
		eval "$1=\"\$2\""
	fi
}

# 1. A 1M-event window.
"$BUILD/tests/test_report" --write-archive "$W/a" "$N" 200
FROM=$T0
TO=$((T0 + 2000000 + N * 5000 + 1))
HOUR=$((T0 + 3600000000))
s= c= r=
for pass in $(seq "$RUNS"); do
	best s "$(run stats --from $FROM --to $TO "$W/a")"
	best c "$(run stats --scan --from $FROM --to $TO "$W/a")"
	best r "$(run report --from $FROM --to $TO -o "$W/r.html" "$W/a")"
done
n=$($EVTOOL stats --json --from $FROM --to $TO "$W/a" |
    sed -n 's/.*"events":\([0-9]*\).*/\1/p')
$EVTOOL report --from $FROM --to $HOUR -o "$W/h.html" "$W/a"
$EVTOOL report --around $((T0 + N * 2500)) -o "$W/q.html" "$W/a"
awk -v n="$n" -v s="${s% *}" -v c="${c% *}" -v r="${r% *}" \
    -v sz="$(wc -c <"$W/r.html")" -v h="$(wc -c <"$W/h.html")" \
    -v q="$(wc -c <"$W/q.html")" 'BEGIN {
    printf "report (%d events in the window): report %.2f s CPU " \
        "(%.0f ev/s, %d bytes); stats %.2f s; stats --scan %.2f s\n",
        n, r, n / (r > 0 ? r : 0.01), sz, s, c
    printf "report / stats --scan of the same window: %.2fx   goal < 3x\n",
        r / (c > 0 ? c : 0.01)
    printf "report size: 1 h at 200 events/s %d bytes (%.2f MiB); " \
        "a 15 min --around window %d bytes\n", h, h / 1048576, q }'

# 2. 15 minutes around an event of a 10M-event archive.
[ "$BIG" -gt 0 ] || exit 0
if [ ! -f "$BIGDIR/a/CATALOG" ]; then
	echo "report: building the $BIG-event archive in $BIGDIR (kept) ..."
	mkdir -p "$BIGDIR"
	rm -rf "$BIGDIR/a.part"
	"$BUILD/evgen" --seed 46 --events "$BIG" |
	    $EVTOOL import --segment-age 1h "$BIGDIR/a.part" >/dev/null
	mv "$BIGDIR/a.part" "$BIGDIR/a"
fi
MID=$((T0 + BIG * 2500))	# evgen: 200 events/s from T0
ID=$($EVTOOL cat --from $MID "$BIGDIR/a" | head -n 1 |
    sed 's/.*"id":"\([^"]*\)".*/\1/')
AT=$($EVTOOL get --meta "$BIGDIR/a" "$ID" |
    sed -n 's/.*"received_us":\([0-9]*\).*/\1/p')
[ -n "$AT" ] || AT=$MID
b= k=
for pass in $(seq "$RUNS"); do
	best b "$(run report --around "$ID" -o "$W/big.html" "$BIGDIR/a")"
	best k "$(run stats --scan --from $((AT - 450000000)) \
	    --to $((AT + 450000000)) "$BIGDIR/a")"
done
awk -v big="$BIG" -v segs="$(ls "$BIGDIR"/a/seg-*.evt | wc -l)" \
    -v b="$b" -v k="$k" -v sz="$(wc -c <"$W/big.html")" 'BEGIN {
    split(b, x, " "); split(k, y, " ")
    printf "report --around ID (15 min) in a %d-event archive (%d " \
        "segments): %.2f s CPU, %.2f s wall, %d bytes (%.2f MiB)   " \
        "goal < 2 s, < 2 MiB\n", big, segs, x[1], x[2], sz, sz / 1048576
    printf "  baseline: stats --scan of the same window %.2f s CPU, " \
        "%.2f s wall (report %.2fx)\n", y[1], y[2],
        x[1] / (y[1] > 0 ? y[1] : 0.01) }'
