#!/bin/sh
# bench/damage.sh: what damage costs, and what that costs in bytes (`make
# bench`).  Prints figures and ratios, never fails on a figure.
#
# 1. Events lost per damage (damage.py): 16 flipped bytes and a zeroed
#    4 KiB range at TRIALS seeded random positions, in the archive as
#    written (sealed) and read as open segments (index and trailer cut
#    off), for the layout of revision 1.1 (`import --layout 1.1`: one
#    dictionary unit per segment, 256 KiB blocks, no check lists) beside
#    the default layout, in the same run.
# 2. Bytes/event of dictionary unit and block sizes on EVENTS events.
#
#   DEVENTS  events of the damaged archive (default 200,000)
#   TRIALS   damages per case (default 100)
#   EVENTS   events of the size table (default 1,000,000)
#   LAYOUTS  extra "name=import,options" layouts to damage, e.g.
#            "u1M=--dict-unit,1M nochk=--layout,1.1,--block-size,64k"
set -eu
BUILD=${BUILD:-build}
EVTOOL=$BUILD/evtool
EVGEN=$BUILD/evgen
DEVENTS=${DEVENTS:-200000}
TRIALS=${TRIALS:-100}
EVENTS=${EVENTS:-1000000}
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-damage.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo "== damage: events lost per damage, $TRIALS seeded positions each, $DEVENTS events"
$EVGEN --seed 42 --events "$DEVENTS" >"$W/in.tsv"
# import DIR OPTIONS...: imports the input into $W/DIR.
import() {
	_d=$1
	shift
	$EVTOOL import "$@" "$W/$_d" "$W/in.tsv" 2>/dev/null
}
for l in "before=--layout,1.1" "default=" ${LAYOUTS:-}; do
	name=${l%%=*}
	# The options split at commas.
	import "$name" $(echo "${l#*=}" | tr , ' ')
	bytes=$(cat "$W/$name"/seg-* | wc -c)
	/usr/bin/python3 "$(dirname "$0")/damage.py" "$EVTOOL" "$W/$name" \
	    "$TRIALS" 1 | while read -r state kind total mean median max none; do
		echo "$name $state $kind $total $mean $median $max $none $(ratio "$bytes" "$total")"
	done >"$W/$name.res"
	rm -rf "$W/$name"
done
printf '%-8s %-7s %-7s %10s %8s %8s %9s %6s\n' layout archive damage "mean lost" median max "none lost" B/ev
for f in "$W"/*.res; do
	while read -r name state kind total mean median max none bpe; do
		printf '%-8s %-7s %-7s %10s %8s %8s %5s/%-3s %6s\n' "$name" "$state" \
		    "$kind" "$mean" "$median" "$max" "$none" "$TRIALS" "$bpe"
	done <"$f"
done
while read -r name state kind total mean median max none bpe; do
	d=$(awk -v s="$state" -v k="$kind" '$2 == s && $3 == k { print $5 }' "$W/default.res")
	echo "before/default, $state, $kind: mean lost $(ratio "$mean" "$d")x"
done <"$W/before.res"
echo "default/before: bytes/event $(ratio "$(awk 'NR == 1 { print $9 }' "$W/default.res")" "$(awk 'NR == 1 { print $9 }' "$W/before.res")")x"
rm -f "$W/in.tsv"

echo "== damage: bytes/event by dictionary unit and block size, $EVENTS events"
$EVGEN --seed 42 --events "$EVENTS" >"$W/in.tsv"
printf '%-8s' "unit"
for b in 64k 256k; do printf '  block %-6s' $b; done
echo
for u in 256k 1M 4M 8M segment; do
	printf '%-8s' $u
	for b in 64k 256k; do
		import s --dict-unit "$u" --block-size "$b"
		printf '  %-12s' "$(ratio "$(cat "$W"/s/seg-* | wc -c)" "$EVENTS")"
		rm -rf "$W/s"
	done
	echo
done
