#!/bin/sh
# bench/report.sh: what `evtool report` costs (README, "evtool report"):
# a report over a window of REPORT_EVENTS (default 1,000,000) events
# against `evtool stats` (summaries and indexes where they answer) and
# `stats --scan` (every event read) of the same window, in the same run,
# CPU seconds (user + system), best of REPORT_RUNS (3), interleaved; and
# the report's size for one hour at 200 events/s.  The archive:
# test_report --write-archive (5 sources, 200 events/s, a gap every
# 100 s).  Prints figures, never fails on them.
set -eu
BUILD=${BUILD:-build}
EVTOOL=$BUILD/evtool
N=${REPORT_EVENTS:-1000000}
RUNS=${REPORT_RUNS:-3}
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-bench-report.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
T0=1767600000000000

if [ ! -x "$BUILD/tests/test_report" ]; then
	echo "report: skipped (make tests builds test_report, which writes the archive)"
	exit 0
fi
"$BUILD/tests/test_report" --write-archive "$W/a" "$N" 200
FROM=$T0
TO=$((T0 + 2000000 + N * 5000 + 1))
HOUR=$((T0 + 3600000000))

cpu() { # ARGS...: CPU seconds of `evtool ARGS`
	/usr/bin/time -f "%U %S" -o "$W/t" $EVTOOL "$@" >/dev/null
	awk '{ printf "%.2f", $1 + $2 }' "$W/t"
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }
s= c= r=
for pass in $(seq "$RUNS"); do
	s=$(min "$s" "$(cpu stats --from $FROM --to $TO "$W/a")")
	c=$(min "$c" "$(cpu stats --scan --from $FROM --to $TO "$W/a")")
	r=$(min "$r" "$(cpu report --from $FROM --to $TO -o "$W/r.html" "$W/a")")
done
n=$($EVTOOL stats --json --from $FROM --to $TO "$W/a" |
    sed -n 's/.*"events":\([0-9]*\).*/\1/p')
$EVTOOL report --from $FROM --to $HOUR -o "$W/h.html" "$W/a"
$EVTOOL report --around $((T0 + N * 2500)) -o "$W/q.html" "$W/a"
awk -v n="$n" -v s="$s" -v c="$c" -v r="$r" -v sz="$(wc -c <"$W/r.html")" \
    -v h="$(wc -c <"$W/h.html")" -v q="$(wc -c <"$W/q.html")" 'BEGIN {
    printf "report (%d events in the window): report %.2f s CPU " \
        "(%.0f ev/s, %d bytes); stats %.2f s (report %.2fx); stats " \
        "--scan %.2f s (report %.2fx)\n", n, r, n / r, sz, s,
        r / (s > 0 ? s : 0.01), c, r / (c > 0 ? c : 0.01)
    printf "report size: 1 h at 200 events/s %d bytes (%.2f MiB); " \
        "a 15 min --around window %d bytes\n", h, h / 1048576, q }'
