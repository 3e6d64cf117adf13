#!/bin/sh
# evtool_stats.sh: `evtool stats` against a reference computed in Python
# (statsref.py) from `evtool cat --tsv` and `cat --markers` of the same
# archive: counts by type and source, messages, span, rates, buckets,
# markers, raw frames; --from/--to/--source/--top/--bucket; the text form;
# the same checks of --scan, which reads every event where the others
# take sealed segments from their summaries;
# names from a CONFIG marker recorded by evrec from evsim; a damaged
# archive (exit 1, still a report).  Real binaries, real files.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
REF="$PYTHON $HERE/statsref.py"

# An imported archive with a raw frame, a getState answer, odd items (an
# object without source or type, a number) and an empty message.
$EVGEN --seed 5 --events 20000 >"$T/in.tsv"
{
	head -n 100 "$T/in.tsv"
	odd_frames 1767600000100000
	tail -n +101 "$T/in.tsv"
} >"$T/input.tsv"
$EVTOOL import --block-size 16k --segment-size 256k "$T/a" "$T/input.tsv" \
    2>/dev/null
$EVTOOL cat --tsv "$T/a" >"$T/a.tsv"
$EVTOOL cat --markers "$T/a" >"$T/a.markers"
nev=$($EVTOOL cat "$T/a" | wc -l)

$EVTOOL stats --json "$T/a" >"$T/s.json"
check $? "stats --json exits 0"
t "stats --json agrees with the reference (types, top 10 sources, buckets, counts)" \
    $REF "$T/a.tsv" "$T/a.markers" "$T/s.json"
$EVTOOL stats --scan --json "$T/a" >"$T/scan.json"
t "stats --scan --json agrees with the reference too" \
    $REF "$T/a.tsv" "$T/a.markers" "$T/scan.json"
t "... which counts every event cat prints ($nev)" $PYTHON -c "
import json, sys
sys.exit(json.load(open('$T/s.json'))['events'] != $nev)"
$PYTHON -c "
import json
d = json.load(open('$T/s.json'))
d['types'][0]['count'] += 1
d['activity'][-1]['count'] -= 1
json.dump(d, open('$T/bad.json', 'w'))"
$REF "$T/a.tsv" "$T/a.markers" "$T/bad.json" >"$T/bad.out"
check $([ $? -eq 1 ] && grep -q '^types:' "$T/bad.out" &&
    grep -q '^activity:' "$T/bad.out"; echo $?) \
    "the reference notices a wrong count"
$EVTOOL stats --json --top 100000 "$T/a" >"$T/all.json"
t "--top 100000: every source, counted as the reference" \
    $REF --top 100000 "$T/a.tsv" "$T/a.markers" "$T/all.json"
$EVTOOL stats --json --top 0 "$T/a" >"$T/top0.json"
t "--top 0: no source rows, all of them in sources_other" \
    $REF --top 0 "$T/a.tsv" "$T/a.markers" "$T/top0.json"

# Filters: a time window and two sources (one as a bare upper-case GUID).
from=1767600020000000
to=1767600060000000
s1=$(cut -f2 "$T/in.tsv" | grep -o '"source":"cameras/[^"]*"' | sed -n 10p |
    cut -d'"' -f4)
s2=$(cut -f2 "$T/in.tsv" | sed -n '/17676000[345]/p' |
    grep -o '"source":"cameras/[^"]*"' | sed -n 3p | cut -d'"' -f4)
g2=$(echo "${s2#cameras/}" | tr a-f A-F)
$EVTOOL stats --json --from $from --to $to --source "$s1" --source "$g2" \
    --top 5 "$T/a" >"$T/f.json"
t "--from/--to/--source agree with the reference" \
    $REF --from $from --to $to --source "$s1" --source "$g2" --top 5 \
    "$T/a.tsv" "$T/a.markers" "$T/f.json"
nf=$($EVTOOL cat --from $from --to $to --source "$s1" --source "$g2" "$T/a" |
    wc -l)
t "... and with cat's filters ($nf events)" $PYTHON -c "
import json, sys
d = json.load(open('$T/f.json'))
sys.exit(not (d['events'] == $nf > 0 and len(d['sources']) <= 2))"
$EVTOOL stats --json --from 2026-01-05T08:00:20Z --to 2026-01-05T08:01:00Z \
    "$T/a" >"$T/iso.json"
t "--from/--to as ISO-8601 select the same range" \
    $REF --from $from --to $to "$T/a.tsv" "$T/a.markers" "$T/iso.json"
$EVTOOL stats --json --bucket 7s "$T/a" >"$T/b.json"
t "--bucket 7s: every 7 s bucket, as the reference" \
    $REF --bucket 7 "$T/a.tsv" "$T/a.markers" "$T/b.json"
$EVTOOL stats --json --bucket 1s "$T/a" >"$T/b1.json"
t "--bucket 1s: more than 48 rows when asked for" $PYTHON -c "
import json, sys
sys.exit(len(json.load(open('$T/b1.json'))['activity']) <= 48)"
$EVTOOL stats --json --from 1767700000000000 "$T/a" >"$T/empty.json"
t "an empty range: zero events, no buckets" \
    $REF --from 1767700000000000 "$T/a.tsv" "$T/a.markers" "$T/empty.json"

# The text form: the same figures for people.
$EVTOOL stats "$T/a" >"$T/s.txt"
check $? "stats (text) exits 0"
t "text: the events line" grep -q "^events: *$nev\$" "$T/s.txt"
t "text: the raw frame and the state snapshot" sh -c "
grep -q '^raw frames: *1\$' $T/s.txt && grep -q '^state snapshots: *1\$' $T/s.txt"
t "text: activity rows with bars add up to the events" sh -c "
awk '/^events per /{on=1; next} on && NF==3 && \$3 ~ /^#+\$/ {n+=\$2; r++}
END {exit !(n == $nev && r > 1 && r <= 48)}' $T/s.txt"
t "text: ten source rows and an (other) row" sh -c "
awk '/^sources /{on=1; getline; next} on && /^\$/ {on=0} on {n++}
on && /\\(other\\)\$/ {o=1} END {exit !(n == 11 && o)}' $T/s.txt"
t "text: events without a type are shown as (none)" \
    grep -q '^ *2 .*(none)$' "$T/s.txt"

# More distinct sources than are counted by name (2^20): the rest as other.
$PYTHON -c '
import sys
n = (1 << 20) + 5000
for m in range(0, n, 100):
    ev = ",".join("{\"source\":\"s/%d\",\"type\":\"t\"}" % i
                  for i in range(m, min(n, m + 100)))
    print("%d\t{\"events\":[%s]}" % (1767600000000000 + m * 1000, ev))
' | $EVTOOL import "$T/many" 2>/dev/null
$EVTOOL stats --json "$T/many" >"$T/many.json"
t "2^20 + 5000 distinct sources: 2^20 counted by name, every event counted" \
    $PYTHON -c "
import json, sys
d = json.load(open('$T/many.json'))
n = (1 << 20) + 5000
sys.exit(not (d['events'] == n and d['sources_distinct'] == 1 << 20 and
    d['sources_other'] == n - 10 and len(d['sources']) == 10 and
    d['types'] == [{'type': 't', 'name': None, 'count': n,
    'percent': 100.0}]))"

# Long spans: the auto width goes past 1d (x10); a --bucket that would
# take more than 100,000 rows is doubled until it fits, with a warning.
{
	printf '1767600000000000\t{"events":[{"source":"a","type":"t"}]}\n'
	printf '1767686400000000\t{"events":[{"source":"b","type":"t"}]}\n'
	printf '1776240000000000\t{"events":[{"source":"a","type":"u"}]}\n'
} | $EVTOOL import "$T/long" 2>/dev/null
$EVTOOL cat --tsv "$T/long" >"$T/long.tsv"
: >"$T/long.markers"
$EVTOOL stats --json "$T/long" >"$T/long.json"
t "100 days: 10d buckets, as the reference" $REF "$T/long.tsv" \
    "$T/long.markers" "$T/long.json"
t "... bucket_s is 10 days" $PYTHON -c "
import json, sys
sys.exit(json.load(open('$T/long.json'))['bucket_s'] != 864000)"
$EVTOOL stats --json --bucket 1m "$T/long" >"$T/long1.json" 2>"$T/long1.err"
t "--bucket 1m over 100 days: widened to 2m, said on stderr" sh -c "
grep -q 'widened to 120 s' $T/long1.err"
t "... and counted as the reference" $REF --bucket 120 "$T/long.tsv" \
    "$T/long.markers" "$T/long1.json"

# Usage errors exit 2.
$EVTOOL stats --bucket 0.5s "$T/a" >/dev/null 2>&1
check $([ $? -eq 2 ]; echo $?) "--bucket below a second exits 2"
$EVTOOL stats --top x "$T/a" >/dev/null 2>&1
check $([ $? -eq 2 ]; echo $?) "--top x exits 2"
$EVTOOL stats >/dev/null 2>&1
check $([ $? -eq 2 ]; echo $?) "no archive exits 2"
t "evtool --help lists stats" sh -c "$EVTOOL --help | grep -q '^  stats '"

# A damaged segment: warnings naming file and offset, exit 1, and still
# the report of everything that reads (what cat reads).  --scan: a sealed
# segment is otherwise counted from its summary, without reading the
# damaged block (summary.sh).
cp -r "$T/a" "$T/d"
seg=$(ls "$T/d"/seg-*.evt | sed -n 2p)
size=$(stat -c %s "$seg")
printf '\377' | dd of="$seg" bs=1 seek=$((size / 3)) conv=notrunc 2>/dev/null
$EVTOOL stats --scan --json "$T/d" >"$T/d.json" 2>"$T/d.err"
check $([ $? -eq 1 ]; echo $?) "a damaged archive: exit 1"
t "... a warning naming the file and offset" \
    grep -q "$(basename "$seg"): offset [0-9]*:" "$T/d.err"
nd=$($EVTOOL cat "$T/d" 2>/dev/null | wc -l)
t "... and the report of what reads ($nd of $nev events), damage counted" \
    $PYTHON -c "
import json, sys
d = json.load(open('$T/d.json'))
sys.exit(not (0 < d['events'] == $nd < $nev and d['damaged'] >= 1 and
    sum(x['count'] for x in d['activity']) == $nd))"

# Names from the CONFIG marker that evrec records from evsim's Config REST
# answers (9 event types, 40 cameras named "Camera NNNN").
if [ ! -x "$EVSIM" ]; then
	echo "ok $((tn + 1)) # skip evsim is not built"
	tn=$((tn + 1))
	done_testing
	exit
fi
umask 077
echo "pw-$$" >"$T/pw"
umask 022
start_sim sim --user rec --password-file "$T/pw" --rate 3000 --events 3000 \
    --seed 4 --cameras 40
start_rec rec --archive "$T/r" --user rec --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
wait_events "$T/r" 3000
checkl $? "evrec recorded evsim's 3000 events" "$T/rec.log"
stop_pid $REC_PID
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
$EVTOOL cat --tsv "$T/r" >"$T/r.tsv"
$EVTOOL cat --markers "$T/r" >"$T/r.markers"
t "the archive has a CONFIG marker" grep -q '	CONFIG	' "$T/r.markers"
$EVTOOL stats --json --top 100 "$T/r" >"$T/r.json"
t "stats of the recording agree with the reference, names from CONFIG" \
    $REF --top 100 "$T/r.tsv" "$T/r.markers" "$T/r.json"
t "... every type and source has its name" $PYTHON -c "
import json, sys
d = json.load(open('$T/r.json'))
sys.exit(not (d['events'] == 3000 and d['sessions'] >= 1 and d['configs'] >= 1 and
    all(x['name'] for x in d['types'] + d['sources']) and
    any(x['name'] == 'Motion Started' for x in d['types'])))"
cfg=$(awk -F'\t' '$2 == "CONFIG" {print $1}' "$T/r.markers" | tail -n 1)
$EVTOOL stats --json --top 100 --from $((cfg + 1)) "$T/r" >"$T/r2.json"
t "--from after the CONFIG marker: still its names" \
    $REF --top 100 --from $((cfg + 1)) "$T/r.tsv" "$T/r.markers" "$T/r2.json"
t "... for the events after it" $PYTHON -c "
import json, sys
d = json.load(open('$T/r2.json'))
sys.exit(not (d['events'] > 0 and d['configs'] == 0 and
    all(x['name'] for x in d['types'])))"
$EVTOOL stats "$T/r" >"$T/r.txt"
# The displayName, as every reading tool and XProtect's own clients show.
t "text: a type shown by its displayName with its GUID" \
    grep -Eq '%  Motion Started \([0-9a-f-]{36}\)$' "$T/r.txt"
t "text: a source shown by name" grep -Eq '%  Camera [0-9]{4} \(cameras/' \
    "$T/r.txt"
done_testing
