#!/bin/sh
# bench/scale.sh: cost against the number of segments (part of `make
# bench`).  One stream of evgen events (seed 42), generated once and piped,
# is imported into three archives that hold the same events: one segment,
# ~1,000 and ~10,000 (--segment-age).  On each, in the same run: `get`
# whole-process time for an id from the middle of the stream and for an
# absent one, with the ratio to the one-segment archive (goal <= 1.5),
# best of runs and, in alternating rounds, best and median;
# `info`; get and a 5 s `cat --from/--to` with and without the archive
# catalog (EVTAPE_NO_CATALOG=1); `stats` (from summaries where the tool has them) beside
# `stats --scan`; `cat` events/s; bytes/event with every file counted,
# beside zstd -19 of the same JSON lines on a prefix.  Then evrec's restart
# after kill -9 on the ~10,000-segment archive (recorder.sh, RBENCH=restart).
# Prints figures; never fails on a figure.  Touches only its temporary
# directory, removed at the end.
#   SCALE_EVENTS   events of the stream (default 10,000,000)
#   SCALE_RUNS     timed runs of each short command; the best is printed
#                  with the mean (default 20)
#   SCALE_ALT      alternating rounds of get on s1 and s10k (default 300)
#   SCALE_ZPREFIX  events of the prefix zstd -19 compresses (default
#                  1,000,000: ~5 min on one core)
#   Z19_BYTES      zstd -19 bytes of that prefix's JSON lines, if the
#                  caller measured them in this run (run.sh does: its input
#                  is the same prefix); skips compressing it again
#   SCALE_RESTART  0 skips the restart figure (default 1)
set -eu
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
N=${SCALE_EVENTS:-10000000}
RUNS=${SCALE_RUNS:-20}
ZPREFIX=${SCALE_ZPREFIX:-1000000}
EVTOOL=$BUILD/evtool
EVGEN=$BUILD/evgen
ABSENT=00000000-0000-4000-8000-000000000000
US=$(printf '\037')	# separates a command's words for alt()
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-sbench.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM

rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
now_ns() { date +%s%N; }
secs_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
nseg() { ls "$1" | grep -c '^seg-[0-9]*\.evt$' || true; }
bytes_per_event() { ratio "$(cat "$1"/* | wc -c)" "$2"; }

# best RUNS CMD...: "best_ms mean_ms" of the whole process CMD (output
# discarded), by hyperfine if installed, else by a loop on Python's
# monotonic clock (its own spawning cost, ~1 ms, is then included).  Two
# warm-up runs first, none for 3 runs or fewer (commands of seconds,
# whose files are in the page cache since the import).
best() {
	_r=$1
	_w=$([ "$1" -le 3 ] && echo 0 || echo 2)
	shift
	if command -v hyperfine >/dev/null 2>&1; then
		hyperfine -N -i --warmup "$_w" --runs "$_r" --export-json "$W/h.json" \
		    -- "$*" >/dev/null 2>&1
		/usr/bin/python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print("%.2f %.2f" % (r["min"] * 1e3, r["mean"] * 1e3))' "$W/h.json"
	else
		/usr/bin/python3 -c 'import subprocess, sys, time
t = []
for i in range(int(sys.argv[1]) + int(sys.argv[2])):
    t0 = time.monotonic()
    subprocess.run(sys.argv[3:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t.append(time.monotonic() - t0)
t = t[int(sys.argv[2]):]
print("%.2f %.2f" % (min(t) * 1e3, sum(t) / len(t) * 1e3))' "$_r" "$_w" "$@"
	fi
}

echo "== evtape scale benchmarks ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores)"

# The three archives from one pass of the generator: tee feeds two FIFOs,
# the third import reads the pipe.  Each rotates by receive time: the
# stream is ~200 events/s, so SPAN/1000 and SPAN/10000 seconds per segment.
"$EVGEN" --seed 42 --events 1000 >"$W/head.tsv"
span_s=$(awk -v n="$N" 'BEGIN { printf "%d", n / 200 }')
age1k=$(awk -v s="$span_s" 'BEGIN { printf "%dms", s * 1000 / 1000 }')
age10k=$(awk -v s="$span_s" 'BEGIN { printf "%dms", s * 1000 / 10000 }')
mkfifo "$W/f1" "$W/f2"
t0=$(now_ns)
"$EVTOOL" import --segment-size 1T --segment-age 3650d "$W/s1" "$W/f1" 2>/dev/null &
p1=$!
"$EVTOOL" import --segment-age "$age1k" "$W/s1k" "$W/f2" 2>/dev/null &
p2=$!
"$EVGEN" --seed 42 --events "$N" | tee "$W/f1" "$W/f2" |
    "$EVTOOL" import --segment-age "$age10k" "$W/s10k" 2>/dev/null
wait "$p1"
wait "$p2"
n=$("$EVTOOL" info "$W/s1" | awk '/^events:/ { print $2 }')
echo "archives:    $n events (evgen --seed 42 --events $N, generated once, piped), imported three ways at once in $(secs_since "$t0") s"
for a in s1 s1k s10k; do
	echo "             $a: $(nseg "$W/$a") segments, $(bytes_per_event "$W/$a" "$n") bytes/event (all files)"
done

# The ids: the last event of the first half of the stream (evgen's stream
# is the same for every --events up to the point it stops).
mid=$("$EVGEN" --seed 42 --events $((N / 2)) | tail -n 1 | cut -f2- |
    grep -o '"id":"[^"]*"' | tail -n 1 | cut -d'"' -f4)
for a in s1 s1k s10k; do
	"$EVTOOL" get "$W/$a" "$mid" >/dev/null ||
	    echo "             $a: the present id $mid is NOT found"
	! "$EVTOOL" get "$W/$a" "$ABSENT" >/dev/null 2>&1 ||
	    echo "             $a: the absent id $ABSENT is found"
done

# get, info, stats: best of RUNS whole-process times; ratios to s1.
set -- $(best "$RUNS" "$EVTOOL" help)
echo "baseline:    evtool help: $1 ms best, $2 ms mean (start-up of the same binary doing nothing)"
for what in present absent info; do
	for a in s1 s1k s10k; do
		case $what in
		present) set -- $(best "$RUNS" "$EVTOOL" get "$W/$a" "$mid") ;;
		absent) set -- $(best "$RUNS" "$EVTOOL" get "$W/$a" "$ABSENT") ;;
		info) set -- $(best "$RUNS" "$EVTOOL" info "$W/$a") ;;
		esac
		[ "$a" = s1 ] && base=$1
		case $what in
		info) label="info:" ;;
		*) label="get:" ;;
		esac
		printf '%-12s %s ms best, %s ms mean (%s%s, %s segments)   %s/s1 = %s%s\n' \
		    "$label" "$1" "$2" "$what" "$([ "$what" = info ] || echo " id")" \
		    "$(nseg "$W/$a")" "$a" "$(ratio "$1" "$base")" \
		    "$([ "$what" = info ] || echo "   goal <= 1.5")"
	done
done

# The goal's ratio on a loaded machine: get on s10k and on s1 in
# alternating rounds (SCALE_ALT of them, each command once a round, so
# that both see the same load), best and median of each, and their
# ratios.
# alt ROUNDS CMD1 CMD2 (words joined by $US): "best1 median1 best2
# median2 best2/best1 median2/median1", times in ms.
alt() {
	/usr/bin/python3 -c 'import subprocess, sys, time, statistics
n = int(sys.argv[1]); cmds = [a.split("\x1f") for a in sys.argv[2:]]
t = [[] for c in cmds]
for r in range(n + 2):
    for i, c in enumerate(cmds):
        t0 = time.monotonic()
        subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r >= 2:
            t[i].append(time.monotonic() - t0)
b = [min(x) * 1e3 for x in t]; m = [statistics.median(x) * 1e3 for x in t]
print("%.2f %.2f %.2f %.2f %.2f %.2f" % (b[0], m[0], b[1], m[1], b[1] / b[0], m[1] / m[0]))' "$@"
}
for what in absent present; do
	id=$([ $what = absent ] && echo "$ABSENT" || echo "$mid")
	set -- $(alt "${SCALE_ALT:-300}" "$EVTOOL${US}get$US$W/s1$US$id" \
	    "$EVTOOL${US}get$US$W/s10k$US$id")
	printf '%-12s %s ms best, %s ms median (%s id, s1); %s / %s ms (s10k, %s segments), %s rounds alternating   s10k/s1 = %s best, %s median   goal <= 1.5\n' \
	    "get:" "$1" "$2" "$what" "$3" "$4" "$(nseg "$W/s10k")" \
	    "${SCALE_ALT:-300}" "$5" "$6"
done

# Without the catalog (EVTAPE_NO_CATALOG=1: the directory listed, every
# segment opened by a time seek; formats/catalog.md): get, and cat of a
# 5 s window in the middle of the stream (~1,000 events), with it beside.
tw=$(($(head -n 1 "$W/head.tsv" | cut -f1) + span_s * 500000))
for what in present absent window; do
	for a in s1 s1k s10k; do
		for nc in "" 1; do
			[ -n "$nc" ] && export EVTAPE_NO_CATALOG=1
			case $what in
			present) set -- $(best "$RUNS" "$EVTOOL" get "$W/$a" "$mid") ;;
			absent) set -- $(best "$RUNS" "$EVTOOL" get "$W/$a" "$ABSENT") ;;
			window) set -- $(best 5 "$EVTOOL" cat --from "$tw" --to $((tw + 5000000)) "$W/$a") ;;
			esac
			unset EVTAPE_NO_CATALOG
			[ -z "$nc" ] && c=$1 && continue
			printf '%-12s %s ms best with the catalog, %s ms without (%s, %s segments)   without/with = %s\n' \
			    "catalog:" "$c" "$1" "$what" "$(nseg "$W/$a")" "$(ratio "$1" "$c")"
		done
	done
done

# stats: the tool's default (from summaries once it has them) beside
# --scan (every event read), where the tool has that option.
if "$EVTOOL" stats --scan "$W/s1k" >/dev/null 2>&1; then scan=1; else scan=0; fi
for a in s1 s1k s10k; do
	set -- $(best 3 "$EVTOOL" stats "$W/$a")
	d=$1
	if [ $scan = 1 ]; then
		set -- $(best 2 "$EVTOOL" stats --scan "$W/$a")
		sc="$1 ms best"
		r="   scan/default = $(ratio "$1" "$d")"
	else
		sc="n/a (no --scan in this evtool)"
		r=""
	fi
	echo "stats:       $d ms best ($a, $(nseg "$W/$a") segments, $n events)   --scan: $sc$r   goal < 100 ms"
done

# The roll-up (formats/rollup.md; the default above) beside the segments'
# own summaries (EVTAPE_NO_ROLLUP=1) and info --scan.
for a in s1 s1k s10k; do
	set -- $(best 5 "$EVTOOL" stats "$W/$a") $(best 5 env \
	    EVTAPE_NO_ROLLUP=1 "$EVTOOL" stats "$W/$a") $(best 5 "$EVTOOL" \
	    info "$W/$a") $(best 5 env EVTAPE_NO_ROLLUP=1 "$EVTOOL" info \
	    "$W/$a") $(best 2 "$EVTOOL" info --scan "$W/$a")
	echo "rollup:      stats $1 ms, info $5 ms best ($a, $(nseg "$W/$a") segments, $(ls "$W/$a" | grep -c '^sum-') runs)   summaries: stats $3 ms, info $7 ms   info --scan: $9 ms   goal < 100 ms"
done

# cat: events/s, best of two.
for a in s1 s1k s10k; do
	b=""
	for i in 1 2; do
		t0=$(now_ns)
		"$EVTOOL" cat "$W/$a" >/dev/null
		s=$(secs_since "$t0")
		b=$(awk -v a="$b" -v s="$s" 'BEGIN { print (a == "" || s < a) ? s : a }')
	done
	[ "$a" = s1 ] && base=$b
	echo "cat:         $(rate "$n" "$b") events/s ($a, $(nseg "$W/$a") segments, $b s)   $a/s1 time = $(ratio "$b" "$base")"
done

# Size beside zstd -19 of the same JSON lines, on a prefix: zstd -19 of all
# of them would take ~50 min on one core.
if [ -n "${Z19_BYTES:-}" ]; then
	z19=$Z19_BYTES
	zn=$ZPREFIX
	how="Z19_BYTES, measured by the caller"
else
	"$EVGEN" --seed 42 --events "$ZPREFIX" | cut -f2- >"$W/p.jsonl"
	zn=$(grep -o '"id":"' "$W/p.jsonl" | wc -l)
	z19=$(zstd -q -19 -T1 -c "$W/p.jsonl" | wc -c)
	rm -f "$W/p.jsonl"
	how="$zn events"
fi
echo "baseline:    zstd -19 of the first $zn events' JSON lines: $(ratio "$z19" "$zn") bytes/event ($how; of all $n: not measured, ~5 min per million events on one core)"
for a in s1 s1k s10k; do
	echo "size:        $(bytes_per_event "$W/$a" "$n") bytes/event ($a, $(nseg "$W/$a") segments, all files)   goal <= 24"
done

# Restart after kill -9 on the ~10,000-segment archive, last: evrec adds
# segments to it.
rm -rf "$W/s1" "$W/s1k"
if [ "${SCALE_RESTART:-1}" != 0 ]; then
	BUILD=$BUILD RBENCH=restart RESTART_ARCHIVE="$W/s10k" sh "$HERE/recorder.sh" |
	    grep -v '^=='
fi
