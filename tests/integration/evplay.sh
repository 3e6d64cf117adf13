#!/bin/sh
# evplay.sh: the replayer end to end on archives made by evgen + evtool
# import: output equals `evtool cat` (events, --messages, --tsv), from/to,
# from-id, --state at a mid point (against a reference computed from the
# TSV), evtool state, loop N, speed honoured (inter-arrival times measured
# by a timestamping reader), a damaged archive, SIGUSR1 pause/resume.
. "$(dirname "$0")/lib.sh"
EVPLAY=$BUILD/evplay

# An archive with a getState answer first, then ~4,000 events at
# ~2,500/s over 1.6 s, in several segments.
make_archive "$T/a" 5 4000 2500 40 --block-size 4k --segment-size 32k
first=$(sed -n 2p "$T/a.in" | cut -f1)
t "several segments" sh -c "[ \$(ls $T/a/seg-*.evt | wc -l) -gt 1 ]"

for m in "" --messages --tsv; do
	$EVTOOL cat $m "$T/a" >"$T/cat.out"
	$EVPLAY -q --top-speed $m "$T/a" >"$T/play.out"
	check $? "evplay --top-speed $m exits 0"
	t "evplay --top-speed $m output == evtool cat $m" \
	    cmp "$T/cat.out" "$T/play.out"
done

last=$(tail -n 1 "$T/a.in" | cut -f1)
mid=$(( (first + last) / 2 ))
to=$(( mid + 300000 ))
$EVTOOL cat --tsv --from $mid --to $to "$T/a" >"$T/cat.out"
$EVPLAY -q --top-speed --tsv --from $mid --to $to "$T/a" >"$T/play.out"
t "--from/--to == evtool cat --from/--to" cmp "$T/cat.out" "$T/play.out"
check $([ -s "$T/play.out" ]; echo $?) "--from/--to window not empty"

# --from-id: an event in the middle of a message (not its first).
$EVTOOL cat --messages "$T/a" >"$T/msgs.out"
id=$($PYTHON -c "
import json,sys
for l in open('$T/msgs.out'):
    ev=json.loads(l)['events']
    if len(ev) >= 3 and l.find('stategroupid') > 0:
        print(ev[1]['id']); break")
$EVTOOL cat "$T/a" >"$T/cat.out"
n=$(grep -n "\"id\":\"$id\"" "$T/cat.out" | head -n 1 | cut -d: -f1)
tail -n +"$n" "$T/cat.out" >"$T/want.out"
$EVPLAY -q --top-speed --from-id "$id" "$T/a" >"$T/play.out"
t "--from-id starts at that event, inside its message" \
    cmp "$T/want.out" "$T/play.out"
$EVPLAY -q --top-speed --messages --from-id "$id" "$T/a" | head -n 1 \
    >"$T/m1.out"
t "--from-id --messages: the first message starts at that event" \
    $PYTHON -c "
import json,sys
e=json.load(open('$T/m1.out'))['events']
sys.exit(0 if e[0]['id']=='$id' else 1)"
$EVPLAY -q --top-speed --from-id 00000000-0000-0000-0000-000000000000 \
    "$T/a" >/dev/null 2>&1
check $([ $? -eq 1 ]; echo $?) "--from-id of an unknown id exits 1"

# State at a mid point: evplay --state prints the states of the frames
# before the start; evtool state --at includes the frames at the time.
$EVTOOL cat --tsv "$T/a" >"$T/all.tsv"
$PYTHON "$HERE/stateref.py" "$T/all.tsv" $mid excl >"$T/ref.ids"
$EVPLAY -q --top-speed --state --from $mid --to $((mid + 1)) "$T/a" |
    head -n 1 >"$T/st.out"
$PYTHON -c "
import json
for s in json.load(open('$T/st.out'))['states']: print(s['id'])" |
    sort >"$T/st.ids"
t "--state: the state at the start point" cmp "$T/ref.ids" "$T/st.ids"
check $([ "$(wc -l <"$T/ref.ids")" -gt 40 ]; echo $?) \
    "the reference state is not trivial"
$PYTHON "$HERE/stateref.py" "$T/all.tsv" $mid incl >"$T/ref2.ids"
$EVTOOL state --at $mid "$T/a" | $PYTHON -c "
import json,sys
for l in sys.stdin: print(json.loads(l)['id'])" | sort >"$T/st2.ids"
t "evtool state --at: the state at that time" cmp "$T/ref2.ids" "$T/st2.ids"
$PYTHON "$HERE/stateref.py" "$T/all.tsv" $((first - 1)) >"$T/ref3.ids"
$EVTOOL state --at $((first - 1)) "$T/a" | $PYTHON -c "
import json,sys
for l in sys.stdin: print(json.loads(l)['id'])" | sort >"$T/st3.ids"
t "evtool state at the getState answer: the snapshot" \
    cmp "$T/ref3.ids" "$T/st3.ids"
src=$(head -n 1 "$T/st3.ids" | xargs -I{} grep -o '"id":"{}","source":"[^"]*"' "$T/all.tsv" | head -n 1 | sed 's/.*"source":"//; s/"$//')
$EVTOOL state --source "$src" "$T/a" >"$T/src.out"
t "evtool state --source: only that source" sh -c \
    "[ -s $T/src.out ] && ! grep -v '\"source\":\"$src\"' $T/src.out"

# A later getState answer in the middle of a many-segment archive: the
# state lookup goes back only to the last snapshot (segments whose index
# has no getState answer are passed over) and must still equal the
# reference everywhere: before it, at it, after it, at the end.
nl=$(wc -l <"$T/a.ev")
head -n $((nl / 2)) "$T/a.ev" >"$T/s.tsv"
half=$(tail -n 1 "$T/s.tsv" | cut -f1)
printf '%s\t{"commandId":9,"status":200,"states":%s}\n' $((half + 1)) \
    "$($EVGEN --seed 9 --cameras 40 --states)" >>"$T/s.tsv"
tail -n +$((nl / 2 + 1)) "$T/a.ev" >>"$T/s.tsv"
$EVTOOL import --block-size 4k --segment-size 16k "$T/s" "$T/s.tsv" \
    2>/dev/null
$EVTOOL cat --tsv "$T/s" >"$T/s.all"
ok=0
for at in $((first + (half - first) / 2)) $half $((half + 1)) \
    $((half + 2)) $((half + (last - half) / 2)) $last; do
	$PYTHON "$HERE/stateref.py" "$T/s.all" $at incl >"$T/r.ids"
	$EVTOOL state --at $at "$T/s" | $PYTHON -c "
import json,sys
for l in sys.stdin: print(json.loads(l)['id'])" | sort >"$T/o.ids"
	cmp -s "$T/r.ids" "$T/o.ids" || { echo "# evtool state --at $at"; ok=1; }
	# evplay starts at the first event at or after $at: frames before it
	# (the snapshot at half + 1) are its start state.
	ev0=$(awk -F'\t' -v a=$at '$1 >= a && $2 ~ /^{"events"/ {print $1; exit}' \
	    "$T/s.all")
	$PYTHON "$HERE/stateref.py" "$T/s.all" $ev0 excl >"$T/r.ids"
	$EVPLAY -q --top-speed --state --from $at --to $((at + 1)) "$T/s" |
	    head -n 1 | $PYTHON -c "
import json,sys
for s in json.load(sys.stdin)['states']: print(s['id'])" | sort >"$T/o.ids"
	cmp -s "$T/r.ids" "$T/o.ids" || { echo "# evplay --state --from $at"; ok=1; }
done
check $ok "state lookups around a mid-archive snapshot == the reference"
check $([ $(ls "$T"/s/seg-*.evt | wc -l) -gt 4 ]; echo $?) \
    "the snapshot archive has many segments"

# Loops.
$EVTOOL cat --messages "$T/a" >"$T/cat.out"
cat "$T/cat.out" "$T/cat.out" "$T/cat.out" >"$T/want.out"
$EVPLAY -q --top-speed --messages --loop 3 "$T/a" >"$T/play.out"
t "--loop 3 plays three times" cmp "$T/want.out" "$T/play.out"
$EVPLAY -q --top-speed --messages --loop=2 --from $mid "$T/a" \
    >"$T/play.out"
$EVTOOL cat --messages --from $mid "$T/a" >"$T/c1.out"
cat "$T/c1.out" "$T/c1.out" >"$T/want.out"
t "--loop=2 --from: each pass from the start point" \
    cmp "$T/want.out" "$T/play.out"

# Speed: at 2x no frame reaches the reader earlier than
# start + (rx - rx0) / 2, start taken (same monotonic clock) before evplay
# runs: the scheduler's guarantee, so this cannot be flaky.  The grouping
# and order are kept.
mkfifo "$T/fifo"
$PYTHON "$HERE/stamp.py" "$T/fifo" >"$T/stamped" &
spid=$!
t0=$($PYTHON -c 'import time; print(time.monotonic_ns() // 1000)')
$EVPLAY -q --speed 2 --tsv --stats "$T/a" >"$T/fifo" 2>"$T/stats.err"
wait $spid
t "--speed 2: the frames in order, grouping kept" sh -c \
    "cut -f2- $T/stamped | cmp - $T/all.tsv"
t "--speed 2: no frame earlier than start + (rx - rx0) / 2" $PYTHON -c "
import sys
rows=[l.split('\t',2) for l in open('$T/stamped')]
r0=int(rows[0][1])
bad=[(a,r) for a,r,_ in rows if int(a) < $t0 + (int(r)-r0)/2.0]
print('# span/2', (int(rows[-1][1])-r0)/2.0, 'last arrival', int(rows[-1][0])-$t0, 'early', len(bad))
sys.exit(1 if bad else 0)"
t "--stats prints lateness, rate and drift" \
    grep -q 'lateness p50 .* p99 .* max .*end drift' "$T/stats.err"
$EVPLAY -q --max-gap 0.001 --tsv "$T/a" >"$T/play.out"
t "--max-gap keeps the output" cmp "$T/all.tsv" "$T/play.out"

# A damaged archive still replays, with a warning.
cp -r "$T/a" "$T/d"
seg=$(ls "$T"/d/seg-*.evt | head -n 1)
size=$(wc -c <"$seg")
printf '\377\377\377\377' | dd of="$seg" bs=1 seek=$((size / 2)) \
    conv=notrunc 2>/dev/null
$EVPLAY -q --top-speed "$T/d" >"$T/play.out" 2>"$T/play.err"
rc=$?
check $([ $rc -eq 1 ]; echo $?) "damaged archive: exit 1 (got $rc)"
t "damaged archive: the place (FILE: offset N: what)" \
    grep -q "^evplay: .*seg-.*: offset [0-9]*: " "$T/play.err"
$EVTOOL cat "$T/d" >"$T/cat.out" 2>/dev/null
t "damaged archive: what reads is replayed (== evtool cat)" \
    cmp "$T/cat.out" "$T/play.out"
check $([ "$(wc -l <"$T/play.out")" -gt 2000 ]; echo $?) \
    "damaged archive: most events still replayed"

# SIGUSR1 pauses and resumes; SIGUSR2 prints a status line.
$EVPLAY -v --tsv "$T/a" >"$T/p.out" 2>"$T/p.err" &
pid=$!
waitfor 300 test -s "$T/p.out"
kill -USR1 $pid
waitfor 300 grep -q paused "$T/p.err"
t "SIGUSR1: paused" grep -q paused "$T/p.err"
n1=$(wc -l <"$T/p.out")
sleep 0.3
n2=$(wc -l <"$T/p.out")
check $([ "$n1" -eq "$n2" ]; echo $?) "no output while paused ($n1, $n2)"
kill -USR2 $pid
waitfor 300 sh -c "grep -c paused $T/p.err | grep -q 2"
t "SIGUSR2: a status line" sh -c "[ \$(grep -c paused $T/p.err) -ge 2 ]"
kill -USR1 $pid
wait $pid
check $? "resumed and finished (exit 0)"
t "after pause and resume: the whole output" cmp "$T/all.tsv" "$T/p.out"

$EVPLAY --bogus "$T/a" >/dev/null 2>&1
check $([ $? -eq 2 ]; echo $?) "unknown option: exit 2"
$EVPLAY --speed 0 "$T/a" >/dev/null 2>&1
check $([ $? -eq 2 ]; echo $?) "--speed 0: exit 2"
$EVPLAY "$T/nonexistent" >/dev/null 2>&1
check $([ $? -eq 3 ]; echo $?) "missing archive: exit 3 (failure)"
# The shared parsers (cli.h): units and times as in every program.
$EVPLAY -q --top-speed --max-gap 250ms --loop 2 --from 1970-01-01T00:00:00Z \
    --to "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$T/a" >/dev/null 2>&1
check $? "--max-gap 250ms --loop 2 --from/--to ISO-8601: accepted"
$EVPLAY --loop=1.5 "$T/a" >/dev/null 2>"$T/e"
check $([ $? -eq 2 ] && grep -q -- '--loop: "1.5" is not a count' "$T/e"; echo $?) \
    "--loop=1.5: exit 2 with the common message"
$EVPLAY --from yesterday "$T/a" >/dev/null 2>"$T/e"
check $([ $? -eq 2 ] && grep -q -- '--from: "yesterday" is not a time' "$T/e"; echo $?) \
    "--from yesterday: exit 2 with the common message"
# A reader that goes away: evplay ends at once, quietly, with status 3.
$EVPLAY -q --top-speed --loop "$T/a" 2>"$T/e" | head -c 1 >/dev/null
check $([ "$(cat "$T/e")" = "" ]; echo $?) "stdout reader gone: no message"
t "--version" sh -c "$EVPLAY --version | grep -q '^evplay '"

done_testing
