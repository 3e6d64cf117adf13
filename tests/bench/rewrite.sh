#!/bin/sh
# bench/rewrite.sh: the cost of rewritten replays (part of `make bench`):
# evplay --top-speed to JSON lines on /dev/null, without rewriting (the
# same-run baseline: frames go out as the cursor gives them) and with
# --retime, --fresh-ids, --map-source (one source), --source (a selection
# of most sources) and all of them at once; events/s by CPU time
# (user+sys), best of RW_PASSES passes, alternating, with the ratio to the
# baseline.  Prints figures; never fails on a figure.
#   RW_EVENTS  events of the archive (default 1,000,000)
#   RW_PASSES  passes of each (default 5)
set -eu
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
N=${RW_EVENTS:-1000000}
P=${RW_PASSES:-5}
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-rwbench.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM

echo "== evtape rewritten replays ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $N events, best of $P)"
$BUILD/evgen --seed 46 --events "$N" >"$W/in.tsv"
$BUILD/evtool import "$W/a" "$W/in.tsv" 2>/dev/null
rm -f "$W/in.tsv"
n=$($BUILD/evtool cat "$W/a" | wc -l)
src=$($BUILD/evtool cat "$W/a" | head -n 1 | grep -o '"source":"[^"]*"' |
    cut -d'"' -f4)
other=$($BUILD/evtool cat "$W/a" | head -n 200 | grep -o '"source":"[^"]*"' |
    cut -d'"' -f4 | grep -v "$src" | head -n 1)
set -- "" \
    "--retime" \
    "--fresh-ids" \
    "--map-source $src=cameras/00000000-0000-4000-8000-000000000001" \
    "--source $src --source $other" \
    "--retime --fresh-ids --map-source $src=cameras/00000000-0000-4000-8000-000000000001"
i=0
for o in "$@"; do
	echo 999999 >"$W/best.$i"
	i=$((i + 1))
done
p=0
while [ $p -lt "$P" ]; do
	i=0
	for o in "$@"; do
		/usr/bin/time -f "%U %S" -o "$W/cpu" $BUILD/evplay -q \
		    --top-speed $o "$W/a" >/dev/null
		awk -v b="$(cat "$W/best.$i")" '{ c = $1 + $2; print (c < b ? c : b) }' \
		    "$W/cpu" >"$W/b" && mv "$W/b" "$W/best.$i"
		i=$((i + 1))
	done
	p=$((p + 1))
done
base=$(cat "$W/best.0")
i=0
for o in "$@"; do
	c=$(cat "$W/best.$i")
	awk -v n="$n" -v c="$c" -v b="$base" -v o="${o:-(no rewriting: baseline)}" \
	    'BEGIN { printf "evplay --top-speed %-40.40s %9.0f events/s CPU (%.2f s)  x%.2f of the baseline\n",
	        o, (c > 0 ? n / c : 0), c, (b > 0 ? c / b : 0) }'
	i=$((i + 1))
done
