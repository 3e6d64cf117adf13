#!/bin/sh
# bench/run.sh: the archive benchmarks (`make bench`).  Prints figures and
# ratios against baselines measured in the same run: zstd -3 / -19 of the
# same JSON lines for size, zstd -d of those for read speed, json.loads for
# JSON parsing.  What each figure means: docs/measurements.md.  Never fails
# on a figure; timing thresholds do not belong in tests.
#   EVENTS   events of the realistic input (default 1,000,000)
#   BIG      events of the archive for the `get` benchmark (default 10,000,000)
#   SCALE_EVENTS, SCALE_RUNS: scale.sh's (segments against cost)
#   FOLLOW_SECS, FOLLOW_RATES, FOLLOW_FLUSH: follow.sh's (cat -f delay)
#   FANOUT_SECS, FANOUT_CLIENTS: evplay_fanout.sh's (default 20 s, 100
#            clients at 200 events/s)
#   NATS_EVENTS, NATS_LIVE_SECS, NATS_WINDOW: nats.sh's (default EVENTS,
#            30 s, 4096)
set -eu
BUILD=${BUILD:-build}
EVENTS=${EVENTS:-1000000}
BIG=${BIG:-10000000}
EVTOOL=$BUILD/evtool
EVGEN=$BUILD/evgen
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM

# secs_rss CMD...: runs CMD, leaves "seconds maxrss_kb" in $W/tr.
secs_rss() {
	t0=$(date +%s%N)
	/usr/bin/time -f "%M" -o "$W/tr.kb" "$@"
	t1=$(date +%s%N)
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }') $(cat "$W/tr.kb")" >"$W/tr"
}
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo "== evtape archive benchmarks ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores)"
$EVGEN --seed 42 --events "$EVENTS" >"$W/in.tsv"
n=$(grep -o '"id":"' "$W/in.tsv" | wc -l)
cut -f2- "$W/in.tsv" >"$W/in.jsonl"
raw=$(wc -c <"$W/in.jsonl")
echo "input: $n events, $(wc -l <"$W/in.tsv") messages, $(ratio "$raw" "$n") bytes/event of JSON"

# Import, beside the layout of revision 1.2 (row blocks) in the same run;
# best of 3 passes each, alternating, as the machine is shared.
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }
si= so= kbi= kbo=
for pass in 1 2 3; do
	rm -rf "$W/a" "$W/a12"
	secs_rss $EVTOOL import "$W/a" "$W/in.tsv" 2>/dev/null
	read -r s kbi <"$W/tr"
	si=$(best "$si" "$s")
	secs_rss $EVTOOL import --layout 1.2 "$W/a12" "$W/in.tsv" 2>/dev/null
	read -r s kbo <"$W/tr"
	so=$(best "$so" "$s")
done
echo "import:      $(rate "$n" "$si") events/s  ($si s, peak RSS $((kbi / 1024)) MiB)   goal >= 500000"
echo "             layout 1.2: $(rate "$n" "$so") events/s ($so s)   new/1.2 = $(ratio "$so" "$si")   goal >= 0.90"
# Into small segments (--segment-age 500ms: ~1 per 100 events), the same.
head -n $(($(wc -l <"$W/in.tsv") / 10)) "$W/in.tsv" >"$W/small.tsv"
ns=$(grep -o '"id":"' "$W/small.tsv" | wc -l)
si= so=
for pass in 1 2 3; do
	rm -rf "$W/s" "$W/s12"
	secs_rss $EVTOOL import --segment-age 500ms "$W/s" "$W/small.tsv" 2>/dev/null
	si=$(best "$si" "$(cut -d' ' -f1 "$W/tr")")
	secs_rss $EVTOOL import --segment-age 500ms --layout 1.2 "$W/s12" "$W/small.tsv" 2>/dev/null
	so=$(best "$so" "$(cut -d' ' -f1 "$W/tr")")
done
echo "import --segment-age 500ms: $(rate "$ns" "$si") events/s into $(ls "$W/s" | grep -c '^seg-') segments ($si s); layout 1.2: $(rate "$ns" "$so") events/s   new/1.2 = $(ratio "$so" "$si")"
rm -rf "$W/s" "$W/s12" "$W/small.tsv"

# Size, every archive file counted, against zstd of the JSON lines.
bytes=$(cat "$W"/a/* | wc -c)
bytes12=$(cat "$W"/a12/* | wc -c)
z3=$(zstd -q -3 -T1 -c "$W/in.jsonl" | wc -c)
zstd -q -19 -T1 -c "$W/in.jsonl" >"$W/in.jsonl.zst"
z19=$(wc -c <"$W/in.jsonl.zst")
echo "size:        $(ratio "$bytes" "$n") bytes/event (all files)   zstd -3: $(ratio "$z3" "$n")   zstd -19: $(ratio "$z19" "$n")   goal <= 28 and < zstd -19"
echo "             archive/zstd-19 = $(ratio "$bytes" "$z19")   archive/zstd-3 = $(ratio "$bytes" "$z3")"
echo "             layout 1.2: $(ratio "$bytes12" "$n") bytes/event   new/1.2 = $(ratio "$bytes" "$bytes12")   goal <= 24 (every file counted)"
python3 "$(dirname "$0")/bytesplit.py" "$W"/a/seg-*.evt | sed 's/^/             /'
echo "             + the id index (idx-*.evi): $(ratio "$(cat "$W"/a/idx-*.evi | wc -c)" "$n") bytes/event"

# Read back, beside the layout of revision 1.2, best of 5 each.
si= so=
for pass in 1 2 3 4 5; do
	secs_rss $EVTOOL cat "$W/a" >/dev/null
	read -r s kb <"$W/tr"
	si=$(best "$si" "$s")
	secs_rss $EVTOOL cat "$W/a12" >/dev/null
	read -r s kbo <"$W/tr"
	so=$(best "$so" "$s")
done
echo "cat:         $(rate "$n" "$si") events/s  ($si s, peak RSS $((kb / 1024)) MiB)   goal >= 2000000"
echo "             layout 1.2: $(rate "$n" "$so") events/s ($so s)   ratio $(ratio "$so" "$si")"
secs_rss $EVTOOL cat --tsv "$W/a" >/dev/null
read -r s kb <"$W/tr"
echo "cat --tsv:   $(rate "$n" "$s") events/s  ($s s, peak RSS $((kb / 1024)) MiB)"
secs_rss $EVTOOL stats --scan "$W/a" >/dev/null
read -r s kb <"$W/tr"
echo "stats --scan: $(rate "$n" "$s") events/s  ($s s, peak RSS $((kb / 1024)) MiB)   baseline: cat above"
secs_rss zstd -q -d -c "$W/in.jsonl.zst" >/dev/null
read -r s kb <"$W/tr"
echo "baseline:    zstd -d of the JSON lines: $(rate "$n" "$s") events/s ($s s)"

# JSON parsing: our tokenizer, and on to msgpack records, beside Python's
# json.loads on the same lines.
BUILD=$BUILD sh "$(dirname "$0")/jsonrate.sh" "$W/in.tsv"
rm -f "$W/in.jsonl" "$W/in.jsonl.zst" "$W/in.tsv"

# get on a big archive (built by piping the generator into import).
echo "building a $BIG-event archive for get ..."
$EVGEN --seed 43 --events "$BIG" >"$W/pipe.tsv.part"
lines=$(wc -l <"$W/pipe.tsv.part")
awk -v k=$((lines / 20)) 'NR % k == 7' "$W/pipe.tsv.part" | cut -f2- |
    grep -o '"id":"[^"]*"' | awk 'NR % 2 == 1' | cut -d'"' -f4 | head -n 20 >"$W/ids"
secs_rss $EVTOOL import "$W/big" "$W/pipe.tsv.part" 2>/dev/null
read -r s kb <"$W/tr"
rm -f "$W/pipe.tsv.part"
nb=$(cat "$W"/big/* | wc -c)
echo "big import:  $(rate "$BIG" "$s") events/s  ($s s, peak RSS $((kb / 1024)) MiB, $(ratio "$nb" "$BIG") bytes/event, $(ls "$W"/big/seg-*.evt | wc -l) segments)"
set -- $(cat "$W/ids")
hyperfine -N --warmup 3 --runs 20 --export-json "$W/h.json" \
    "$EVTOOL get $W/big $1" "$EVTOOL get $W/big $2" "$EVTOOL get $W/big $3" \
    "$EVTOOL get $W/big 00000000-0000-4000-8000-000000000000" -i \
    "$EVTOOL help" \
    >/dev/null 2>&1 || true
python3 - "$W/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
for x in r:
    if x["command"].endswith(" help"):
        print("baseline:    %.2f ms mean: start-up of the same binary doing nothing (evtool help)" % (x["mean"] * 1e3))
        continue
    kind = "absent id" if "00000000-0000" in x["command"] else "present id"
    print("get:         %.2f ms mean, %.2f ms max (%s, whole process)   goal < 10 ms" % (x["mean"] * 1e3, x["max"] * 1e3, kind))
PY
secs_rss $EVTOOL get "$W/big" "$1" >/dev/null
read -r s kb <"$W/tr"
echo "get peak RSS: $((kb / 1024)) MiB"
found=0
for id in "$@"; do $EVTOOL get "$W/big" "$id" >/dev/null && found=$((found + 1)); done
echo "get found $found of $# sampled ids"

# stats of the big archive from the segments' summaries, beside --scan
# (every event read) in the same run: best of 5 and of 2.
best() {
	_b=
	_n=$1
	shift
	for _i in $(seq "$_n"); do
		secs_rss "$@" >/dev/null
		read -r _s _kb <"$W/tr"
		_b=$(awk -v a="$_s" -v b="${_b:-$_s}" 'BEGIN { print (a < b ? a : b) }')
	done
	echo "$_b"
}
s1=$(best 5 $EVTOOL stats "$W/big")
s2=$(best 2 $EVTOOL stats --scan "$W/big")
echo "stats:       $(awk -v s="$s1" 'BEGIN { printf "%.1f", s * 1e3 }') ms from summaries, $BIG events   baseline: stats --scan $(awk -v s="$s2" 'BEGIN { printf "%.1f", s * 1e3 }') ms -> $(ratio "$s2" "$s1")x   goal < 100 ms"

# Cost against the number of segments: the same 10M events in 1, ~1,000
# and ~10,000 segments.  Its zstd -19 baseline is the one above: the input
# above is the same stream's first $n events.
BUILD=$BUILD Z19_BYTES=$z19 SCALE_ZPREFIX=$n sh "$(dirname "$0")/scale.sh"

# Damage: events lost per flipped 16 bytes / zeroed 4 KiB, today's layout
# beside the layout before dictionary units; bytes/event by unit size.
BUILD=$BUILD EVENTS=$EVENTS sh "$(dirname "$0")/damage.sh"

# The recorder: ingest vs a Python recorder, idle CPU/RSS, restart.
BUILD=$BUILD sh "$(dirname "$0")/recorder.sh"

# The recorder's --flush-interval: bytes/event at 100ms against 1s.
BUILD=$BUILD sh "$(dirname "$0")/flush.sh"

# Following: evtool cat -f's delay from evsim's send, beside a direct
# WebSocket client, at 200 and 10,000 events/s, both flush settings.
BUILD=$BUILD sh "$(dirname "$0")/follow.sh"

# The gateway side: events/s to one WebSocket client (evsim --rate 0).
BUILD=$BUILD sh "$(dirname "$0")/gateway.sh"

# The fan-out gateway (evplay --listen --follow): CPU and peak RSS with
# 100 clients at 200 events/s against an idle one.
BUILD=$BUILD sh "$(dirname "$0")/evplay_fanout.sh" "${FANOUT_SECS:-20}" 200 \
    "${FANOUT_CLIENTS:-100}"

# Replay: top speed to stdout, lateness at 1x.
BUILD=$BUILD sh "$(dirname "$0")/replay.sh"

# Rewritten replays: --retime, --fresh-ids, --map-source, --source
# against the plain replay.
BUILD=$BUILD sh "$(dirname "$0")/rewrite.sh"

# Names: cat --names and -o text against plain cat.
BUILD=$BUILD sh "$(dirname "$0")/names.sh" "$W/in.tsv"

echo
BUILD=$BUILD sh "$(dirname "$0")/report.sh"

echo
echo "== merge (bench/merge.sh)"
BUILD=$BUILD sh "$(dirname "$0")/merge.sh"

# cut: 15 minutes out of 10M events, against cat of the same window.
echo
BUILD=$BUILD sh "$(dirname "$0")/cut.sh"

# NATS JetStream: the publishing baseline (libnats directly), evrec
# --publish catching up an archive, the central archiver, live CPU.
echo
BUILD=$BUILD NATS_EVENTS=${NATS_EVENTS:-$EVENTS} sh "$(dirname "$0")/nats.sh"
