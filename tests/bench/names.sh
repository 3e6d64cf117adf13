#!/bin/sh
# bench/names.sh: what names cost the reading tools (README, "Names"):
# `evtool cat --names` and `cat -o text --utc` against plain `cat` of the
# same archive in the same run, CPU seconds (user + system, which a
# shared machine disturbs less than wall time), best of 5, interleaved.
# Two archives: NAMES_EVENTS (default 2,000,000) small events with CONFIG
# markers (test_names --write-archive: every lookup finds a name), and
# the evgen input of run.sh when given as $1 (no CONFIG: every lookup
# misses).  Prints figures, never fails on them.
set -eu
BUILD=${BUILD:-build}
EVTOOL=$BUILD/evtool
N=${NAMES_EVENTS:-2000000}
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-bench-names.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM

cpu() { # ARGS...: CPU seconds of `evtool cat ARGS` to /dev/null
	/usr/bin/time -f "%U %S" -o "$W/t" $EVTOOL cat "$@" >/dev/null
	awk '{ printf "%.2f", $1 + $2 }' "$W/t"
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }
one() { # LABEL DIR
	n=$($EVTOOL cat "$2" | wc -l)
	p= j= x=
	for pass in 1 2 3 4 5; do
		p=$(min "$p" "$(cpu "$2")")
		j=$(min "$j" "$(cpu --names "$2")")
		x=$(min "$x" "$(cpu -o text --utc "$2")")
	done
	awk -v l="$1" -v n="$n" -v p="$p" -v j="$j" -v x="$x" 'BEGIN {
	    printf "names (%s, %d events): cat %.2f s CPU (%.0f ev/s); " \
	        "--names %.2f s (%.0f ev/s, %.2fx); -o text %.2f s " \
	        "(%.0f ev/s, %.2fx)\n", l, n, p, n / p, j, n / j, j / p, x,
	        n / x, x / p }'
}

if [ -x "$BUILD/tests/test_names" ]; then
	"$BUILD/tests/test_names" --write-archive "$W/names" "$N"
	one "CONFIG markers, names found" "$W/names"
else
	echo "names: skipped (make tests builds test_names, which writes the archive)"
fi
if [ $# -gt 0 ]; then
	$EVTOOL import "$W/gen" "$1" 2>/dev/null
	one "evgen, no CONFIG: names not found" "$W/gen"
fi
