#!/bin/sh
# bench/jsonrate.sh: JSON parsing speed on gateway traffic (`make bench`,
# from run.sh with its input).  Our tokenizer alone and tokenizer ->
# msgpack records (build/bench/jsonrate, the recorder's path) beside
# Python's json.loads on the same JSON lines in the same run, each the best
# of PASSES passes over data in memory.  Prints one line; never fails on a
# figure (docs/measurements.md, "JSON parsing").
#   jsonrate.sh [TSV]   import-format lines; without one, EVENTS evgen
#                       events (default 1,000,000, seed 42, as run.sh)
#   PASSES              passes of each parser (default 3)
set -eu
BUILD=${BUILD:-build}
EVENTS=${EVENTS:-1000000}
PASSES=${PASSES:-3}
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-json.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
mbs() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s / 1e6 : 0) }'; }

tsv=${1:-}
if [ -z "$tsv" ]; then
	tsv=$W/in.tsv
	"$BUILD/evgen" --seed 42 --events "$EVENTS" >"$tsv"
fi
if ! "$BUILD/bench/jsonrate" "$tsv" "$PASSES" >"$W/c"; then
	echo "json:        build/bench/jsonrate failed (above); no figure"
	exit 0
fi
read -r n msgs bytes tok rec <"$W/c"
cut -f2- "$tsv" >"$W/in.jsonl"
if python3 - "$W/in.jsonl" "$PASSES" >"$W/py" <<'PY'
import json, sys, time
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
best = None
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter()
    for s in lines:
        try:
            json.loads(s)
        except ValueError:  # kept raw by the recorder; timed all the same
            pass
    t = time.perf_counter() - t0
    best = t if best is None or t < best else best
print("%.6f" % best)
PY
then
	read -r py <"$W/py"
	base="Python json.loads: $(rate "$n" "$py") events/s, $(mbs "$bytes" "$py") MB/s   tokenizer/json.loads = $(ratio "$py" "$tok"), records/json.loads = $(ratio "$py" "$rec")"
else
	base="Python json.loads: failed (above)"
fi
echo "json:        $(rate "$n" "$tok") events/s, $(mbs "$bytes" "$tok") MB/s tokenizer; $(rate "$n" "$rec") events/s, $(mbs "$bytes" "$rec") MB/s to msgpack records ($n events, $msgs messages)   $base"
