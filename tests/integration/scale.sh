#!/bin/sh
# scale.sh: an archive of ~3,000 small sealed segments answers every
# reading command exactly as the same events in one segment do: cat (all
# forms, time ranges on and off segment edges, --source/--type), get
# (present ids at the ends and in the middle, an absent id), state, stats
# and info (from summaries and --scan), ls, verify, evplay to stdout
# (--from-id, --from) and prune.  Outputs and exit statuses are compared;
# the archive's name is replaced by DIR.
# Timings are `make bench`'s (tests/bench/scale.sh).
. "$(dirname "$0")/lib.sh"
EVPLAY=$BUILD/evplay
M=$T/m
O=$T/o

many_segments "$M" 3000
$EVTOOL import --segment-size 1T --segment-age 3650d "$O" "$M.in" 2>/dev/null
nm=$(ls "$M" | grep -c '^seg-')
no=$(ls "$O" | grep -c '^seg-')
[ "$nm" -ge 2000 ] && [ "$no" -eq 1 ]
check $? "the many-segment archive has thousands of segments ($nm), the other one ($no)"

# run DIR PROG ARGS...: PROG with @ in ARGS replaced by DIR; leaves stdout,
# stderr and the exit status, DIR replaced by the word DIR, in $T/out.X.
run() {
	_dir=$1
	_prog=$2
	shift 2
	_n=$#
	while [ "$_n" -gt 0 ]; do
		_a=$1
		shift
		[ "$_a" = @ ] && _a=$_dir
		set -- "$@" "$_a"
		_n=$((_n - 1))
	done
	"$_prog" "$@" >"$T/raw.1" 2>"$T/raw.2"
	echo "exit $?" >"$T/out.$(basename "$_dir")"
	sed "s|$_dir|DIR|g" "$T/raw.1" "$T/raw.2" >>"$T/out.$(basename "$_dir")"
}
# same DESCRIPTION PROG ARGS...: PROG gives the same output and exit
# status on both archives (@ in ARGS is the archive).
same() {
	_d=$1
	shift
	run "$M" "$@"
	run "$O" "$@"
	cmp -s "$T/out.m" "$T/out.o"
	_rc=$?
	check $_rc "$_d"
	[ $_rc -eq 0 ] && return 0
	diff "$T/out.o" "$T/out.m" | head -n 10 | sed 's/^/#   /'
	return 1
}

# Times: segment edges from ls (the first event of the 1000th and the
# 2000th segment), the same plus 1 us (inside a segment).
$EVTOOL ls "$M" >"$T/ls.m"
$EVTOOL ls "$O" >"$T/ls.o"
tb=$(awk 'NR == 1001 { print $6 }' "$T/ls.m")
tc=$(awk 'NR == 2001 { print $6 }' "$T/ls.m")
$EVTOOL cat "$O" >"$T/cat.o"
n=$(wc -l <"$T/cat.o")
id_of() { field "$T/cat.o" "$1" id; }
src=$(field "$T/cat.o" 2 source)
typ=$(field "$T/cat.o" 2 type)
bump() { $PYTHON -c 'import sys, datetime as d
t = d.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ") + d.timedelta(microseconds=1)
print(t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))' "$1"; }
tb1=$(bump "$tb")
tc1=$(bump "$tc")
[ -n "$tb" ] && [ -n "$tc" ] && [ -n "$src" ] && [ -n "$typ" ] && [ "$n" -gt 1000 ]
check $? "test inputs: edge times $tb, $tc; source, type; $n events"

same "cat" $EVTOOL cat @
same "cat --messages" $EVTOOL cat --messages @
same "cat --tsv" $EVTOOL cat --tsv @
same "cat --markers" $EVTOOL cat --markers @
same "cat --from/--to on segment edges" $EVTOOL cat --from "$tb" --to "$tc" @
same "cat --from/--to inside segments" $EVTOOL cat --from "$tb1" --to "$tc1" @
same "cat --from only" $EVTOOL cat --from "$tc1" @
same "cat --to only" $EVTOOL cat --to "$tb" @
same "cat --source --type" $EVTOOL cat --source "$src" --type "$typ" @
for i in 1 2 $((n / 3)) $((n / 2)) $((n - 1)) "$n"; do
	id=$(id_of "$i")
	same "get: event $i ($id)" $EVTOOL get @ "$id"
done
# get --meta: the same but for where the event is (segment, offsets).
id=$(id_of $((n / 2)))
for a in m o; do
	$EVTOOL get --meta "$T/$a" "$id" >"$T/meta.$a"
	echo "exit $?" >>"$T/meta.$a"
done
sed 's/"segment":.*"event"/"event"/' "$T/meta.m" | cmp -s - "$T/meta.o.cmp" 2>/dev/null ||
    sed 's/"segment":.*"event"/"event"/' "$T/meta.o" >"$T/meta.o.cmp"
sed 's/"segment":.*"event"/"event"/' "$T/meta.m" | cmp -s - "$T/meta.o.cmp"
check $? "get --meta: the same but for the segment and offsets"
seg=$(grep -o '"segment":"[^"]*"' "$T/meta.m" | cut -d'"' -f4)
rx=$(grep -o '"received":"[^"]*"' "$T/meta.m" | cut -d'"' -f4)
awk -v s="$seg" -v t="$rx" '$1 == s && $6 <= t && t <= $7 { f = 1 } END { exit !f }' "$T/ls.m"
check $? "get --meta: names the segment ($seg) whose span holds the event"
same "get: an absent id (exit status 1)" $EVTOOL get @ 00000000-0000-4000-8000-000000000000
grep -q "^exit 1" "$T/out.m"
check $? "get of the absent id exits 1"
same "state" $EVTOOL state @
same "state --at a segment edge" $EVTOOL state --at "$tb" @
same "state --at inside a segment" $EVTOOL state --at "$tb1" @
same "state --at --source" $EVTOOL state --at "$tc1" --source "$src" @
same "stats" $EVTOOL stats @
same "stats --json" $EVTOOL stats --json @
same "stats --from/--to on segment edges" $EVTOOL stats --from "$tb" --to "$tc" @
same "stats --from/--to inside segments" $EVTOOL stats --from "$tb1" --to "$tc1" @
same "stats --source --bucket" $EVTOOL stats --source "$src" --bucket 1s @
same "stats --scan" $EVTOOL stats --scan @
same "stats --scan --from/--to inside segments" $EVTOOL stats --scan --from "$tb1" --to "$tc1" @

# info (and info --scan): the same but for the lines that count files
# and bytes.
for scan in "" --scan; do
	for a in m o; do
		$EVTOOL info $scan "$T/$a" >"$T/info.$a"
		echo "exit $?" >>"$T/info.$a"
		grep -v -e '^archive:' -e '^segments:' -e '^blocks:' \
		    -e '^bytes' "$T/info.$a" >"$T/info.$a.cmp"
	done
	cmp -s "$T/info.m.cmp" "$T/info.o.cmp"
	check $? "info $scan: the same events, messages, times, snapshots, sessions, gaps"
done
grep -q "^segments: *$nm ($nm sealed, 0 open, 0 unreadable)" "$T/info.m"
check $? "info: $nm segments, all sealed"

# ls: a line per segment, adding up to the one segment's line.
tail -n +2 "$T/ls.m" | awk -v n="$nm" '
	NR == 1 { first = $6 } { ev += $4; last = $7; rows++ }
	END { if (rows != n) exit 1; print ev, first, last }' >"$T/ls.m.sum"
check $? "ls: one line per segment"
tail -n 1 "$T/ls.o" | awk '{ print $4, $6, $7 }' | cmp -s - "$T/ls.m.sum"
check $? "ls: events add up, first and last times are the one segment's"

run "$M" $EVTOOL verify @
grep -qx "exit 0" "$T/out.m" && grep -qx "DIR: $nm segments ok" "$T/out.m"
check $? "verify: $nm segments ok, exit 0"

same "evplay --from-id to stdout" $EVPLAY --top-speed -q --from-id "$(id_of $((n / 2)))" @
same "evplay --from/--to to stdout" $EVPLAY --top-speed -q --from "$tb1" --to "$tc" @
same "evplay --from-id of an absent id" $EVPLAY --top-speed -q --from-id 00000000-0000-4000-8000-000000000000 @

# prune: what is left is the one-segment archive's events from the first
# one of the oldest segment kept; deleted ids are gone, kept ones found.
cp -r "$M" "$T/p"
total=$(cat "$M"/seg-* | wc -c)
$EVTOOL prune "$T/p" --max-bytes $((total / 2)) >"$T/prune.out" 2>&1
check $? "prune --max-bytes half the archive: exit 0"
np=$(ls "$T/p" | grep -c '^seg-')
kept=$($EVTOOL ls "$T/p" | awk 'NR == 2 { print $6 }')
$EVTOOL cat "$T/p" >"$T/cat.p"
$EVTOOL cat --from "$kept" "$O" | cmp -s - "$T/cat.p"
check $? "prune: $np of $nm segments kept, holding the events from $kept on"
$EVTOOL get "$T/p" "$(id_of 1)" >/dev/null 2>&1
[ $? -eq 1 ]
check $? "prune: a deleted event is not found"
$EVTOOL get "$T/p" "$(id_of "$n")" >/dev/null
check $? "prune: the last event is found"

done_testing
