#!/bin/sh
# bench/merge.sh: `evtool merge OUT A B` of two archives of MERGE_EVENTS
# (default 5,000,000) evgen events each that overlap 90 % (the same
# frames, the same receive times: a redundant pair), against `evtool cat`
# of both inputs to /dev/null in the same run (reading and rendering every
# event, which the merge does too, before writing what is new).  Events/s
# count the events read (both inputs).  Wall time, CPU time (user +
# system: a loaded, shared machine disturbs it less) and peak RSS, best of
# 3, interleaved.  Prints figures, never fails on them.
set -eu
BUILD=${BUILD:-build}
EVTOOL=$BUILD/evtool
EVGEN=$BUILD/evgen
N=${MERGE_EVENTS:-5000000}
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-bench-merge.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM

secs_rss() { # CMD...: "seconds cpu_seconds maxrss_kb" of CMD
	t0=$(date +%s%N)
	/usr/bin/time -f "%U %S %M" -o "$W/kb" "$@" >/dev/null 2>"$W/err"
	t1=$(date +%s%N)
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }') $(awk '{ printf "%.2f %d", $1 + $2, $3 }' "$W/kb")"
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }

# 10/9 N events: A the first N (10/11 of the frames), B the last N.
$EVGEN --seed 5 --events $((N * 10 / 9)) >"$W/all.tsv"
lines=$(wc -l <"$W/all.tsv")
head -n $((lines * 10 / 11)) "$W/all.tsv" >"$W/a.tsv"
tail -n $((lines * 10 / 11)) "$W/all.tsv" >"$W/b.tsv"
rm "$W/all.tsv"
$EVTOOL import "$W/a" "$W/a.tsv" 2>/dev/null
$EVTOOL import "$W/b" "$W/b.tsv" 2>/dev/null
rm "$W/a.tsv" "$W/b.tsv"
na=$($EVTOOL info "$W/a" | awk '/^events:/ {print $2}')
nb=$($EVTOOL info "$W/b" | awk '/^events:/ {print $2}')
sm= sc= cm= cc= kbm=
for pass in 1 2 3; do
	rm -rf "$W/m"
	read -r s c kb <<E
$(secs_rss $EVTOOL merge "$W/m" "$W/a" "$W/b")
E
	[ "$(min "$sm" "$s")" = "$s" ] && kbm=$kb
	sm=$(min "$sm" "$s")
	cm=$(min "$cm" "$c")
	read -r s c kb <<E
$(secs_rss sh -c "$EVTOOL cat $W/a && $EVTOOL cat $W/b")
E
	sc=$(min "$sc" "$s")
	cc=$(min "$cc" "$c")
done
nm=$($EVTOOL info "$W/m" | awk '/^events:/ {print $2}')
awk -v na="$na" -v nb="$nb" -v nm="$nm" -v sm="$sm" -v sc="$sc" \
    -v cm="$cm" -v cc="$cc" -v kb="$kbm" 'BEGIN {
	printf "merge: %d + %d events (90 %% overlap) -> %d in %.2f s: " \
	    "%.0f events/s read (CPU %.2f s: %.0f events per CPU-second), " \
	    "peak RSS %d MiB   goal >= 1000000\n", na, nb, nm, sm,
	    (na + nb) / sm, cm, (na + nb) / cm, kb / 1024
	printf "       cat of both inputs: %.2f s (%.0f events/s; CPU %.2f " \
	    "s); merge/cat = %.2f wall, %.2f CPU\n", sc, (na + nb) / sc, cc,
	    sm / sc, cm / cc }'
