#!/bin/sh
# evtool.sh: the archive tool end to end: import, cat (all modes and
# filters), get, info, ls, verify, repair, prune, locking, stray files,
# a writer killed with SIGKILL and resumed.  Real binaries, real files.
. "$(dirname "$0")/lib.sh"

# A realistic input with a few special frames mixed in.
$EVGEN --seed 11 --events 30000 >"$T/in.tsv"
{
	head -n 100 "$T/in.tsv"
	printf '1767600000100000\tthis is not JSON {\n'
	printf '1767600000100001\t{"commandId":3,"status":200,"states":[{"id":"0b5c4f1e-8a3d-4b52-9d0e-6f1c2a7e9b13","source":"cameras/a8a8b9dc-3995-49ed-9b00-62caac2ce74a","specversion":"1.0","stategroupid":"720ef62a-78be-418a-8e4c-ee04ffca6429","time":"2025-10-27T15:03:52.8070000Z","type":"6eb95dd6-7ccc-4bce-99f8-af0d0b582d77"}]}\n'
	printf '1767600000100002\t{"x":1,"events":[{"id":"AB5C4F1E-8A3D-4B52-9D0E-6F1C2A7E9B13","n":123456789012345678901234567890,"f":1.50e+300,"s":"tab\\there \\u00e9\\ud83d\\ude00"},7],"y":[true,false,null]}\n'
	printf '1767600000100003\t{"events":[]}\n'
	tail -n +101 "$T/in.tsv"
} >"$T/input.tsv"
nev=$(grep -o '"id":"' "$T/input.tsv" | wc -l)
nev=$((nev - 1)) # the state in the getState response is not an event
nitems=$((nev + 1)) # plus the non-object item 7 in an events array

t "import exits 0" $EVTOOL import --block-size 16k --segment-size 256k \
    "$T/a" "$T/input.tsv"
t "several segments were written" sh -c "[ \$(ls $T/a/seg-*.evt | wc -l) -gt 2 ]"
$EVTOOL cat --tsv "$T/a" >"$T/out.tsv"
t "cat --tsv gives back the input (JSON-equal, same receive times)" \
    python3 "$HERE/jsoncmp.py" --tsv "$T/input.tsv" "$T/out.tsv"
$EVTOOL cat "$T/a" >"$T/events.jsonl"
check $([ "$(wc -l <"$T/events.jsonl")" -eq "$nitems" ]; echo $?) \
    "cat prints every event once, and the non-object item ($nitems)"
grep -v '"states"' "$T/input.tsv" | grep '"events"' | cut -f2- |
    grep -v '"events":\[\]' >"$T/msgs.jsonl"
$EVTOOL cat --messages "$T/a" >"$T/outmsgs.jsonl"
t "cat --messages keeps the message grouping" \
    python3 "$HERE/jsoncmp.py" "$T/msgs.jsonl" "$T/outmsgs.jsonl"
$EVTOOL info "$T/a" >"$T/info.txt"
t "info counts the events" grep -q "^events: *$nev\$" "$T/info.txt"
t "info counts the raw frame" grep -q "^raw frames: *1\$" "$T/info.txt"
t "info counts the state snapshot" grep -q "^state snapshots: *1\$" "$T/info.txt"
t "ls lists sealed segments" sh -c "$EVTOOL ls $T/a | grep -c sealed | grep -qv '^0\$'"

# get: ids from the input, in any letter case; absent ids.
sed -n '50p;5000p;9999p;20000p' "$T/in.tsv" | cut -f2- |
    grep -o '"id":"[^"]*"' | cut -d'"' -f4 >"$T/ids"
bad=0
for id in $(cat "$T/ids"); do
	want=$(grep -o "{\"id\":\"$id\"[^}]*}" "$T/input.tsv")
	got=$($EVTOOL get "$T/a" "$id")
	[ "$got" = "$want" ] || bad=$((bad + 1))
	up=$(echo "$id" | tr a-f A-F)
	got=$($EVTOOL get "$T/a" "$up")
	[ "$got" = "$want" ] || bad=$((bad + 1))
done
check $bad "get finds events by id, upper or lower case"
$EVTOOL get "$T/a" 00000000-0000-4000-8000-000000000000 >/dev/null 2>&1
check $([ $? -eq 1 ]; echo $?) "get exits 1 for an absent id"
t "get finds a non-canonical (upper-case) id stored as text" \
    sh -c "$EVTOOL get $T/a ab5c4f1e-8a3d-4b52-9d0e-6f1c2a7e9b13 | grep -q 123456789012345678901234567890"
$EVTOOL get --meta "$T/a" "$(head -n1 "$T/ids")" >"$T/meta.json"
t "get --meta wraps the event with receive time, segment and offsets" \
    python3 -c "import json,sys; d=json.load(open('$T/meta.json')); sys.exit(0 if {'received','received_us','segment','block_offset','event'} <= set(d) else 1)"

# Filters.
src=$(sed -n 7p "$T/in.tsv" | grep -o '"source":"[^"]*"' | head -n1 | cut -d'"' -f4)
want=$(grep -o "\"source\":\"$src\"" "$T/input.tsv" | wc -l)
got=$($EVTOOL cat --source "$src" "$T/a" | wc -l)
check $([ "$got" -eq "$want" ] && [ "$want" -gt 0 ]; echo $?) "cat --source selects that source's events ($want)"
guid=${src#cameras/}
got=$($EVTOOL cat --source "$(echo "$guid" | tr a-f A-F)" "$T/a" | wc -l)
check $([ "$got" -eq "$want" ]; echo $?) "--source takes a bare GUID in any case"
ty=6f55a7a7-d21c-4629-ac18-af1975e395a2
want=$(grep -o "\"type\":\"$ty\"" "$T/input.tsv" | wc -l)
got=$($EVTOOL cat --type "$ty" "$T/a" | wc -l)
check $([ "$got" -eq "$want" ] && [ "$want" -gt 0 ]; echo $?) "cat --type selects one event type ($want)"
from=$(sed -n 3000p "$T/input.tsv" | cut -f1)
to=$(sed -n 6000p "$T/input.tsv" | cut -f1)
awk -F'\t' -v f="$from" -v t="$to" '$1 >= f && $1 < t' "$T/input.tsv" >"$T/range.tsv"
$EVTOOL cat --tsv --from "$from" --to "$to" "$T/a" >"$T/outrange.tsv"
t "cat --from/--to (microseconds) selects [from, to)" \
    python3 "$HERE/jsoncmp.py" --tsv "$T/range.tsv" "$T/outrange.tsv"
iso=$(python3 -c "import datetime;print(datetime.datetime.fromtimestamp($from/1e6, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ'))")
$EVTOOL cat --tsv --from "$iso" --to "$to" "$T/a" >"$T/outrange2.tsv"
t "cat --from takes ISO-8601" cmp "$T/outrange.tsv" "$T/outrange2.tsv"

t "verify passes on a clean archive" $EVTOOL verify "$T/a"

# Damage one byte in the middle of a sealed segment.
cp -r "$T/a" "$T/d"
seg=$(ls "$T/d"/seg-*.evt | sed -n 2p)
size=$(stat -c %s "$seg")
printf '\377' | dd of="$seg" bs=1 seek=$((size / 3)) conv=notrunc 2>/dev/null
$EVTOOL verify "$T/d" >"$T/v.out" 2>"$T/v.err"
check $([ $? -eq 1 ]; echo $?) "verify exits 1 on a damaged archive"
t "verify names the file and offset" grep -q "$(basename "$seg"): offset [0-9]*:" "$T/v.err"
n1=$($EVTOOL cat "$T/d" 2>/dev/null | wc -l)
check $([ "$n1" -gt 0 ] && [ "$n1" -lt "$nitems" ]; echo $?) "cat reads past the damage ($n1 of $nitems events)"
# A window that ends where the damaged block begins: cat --to does not
# read the blocks received after it.  The block (verify's offset) holds
# the first frame the damage spoils (the first receive time of the clean
# --tsv missing from the damaged one's, or tagged there) and the frames
# before it back to line k of the clean --tsv, whose first events are in
# it (get --meta): the window ends at line k-1's receive time, the
# block's first (a frame may run into the next block).
dblk="\"segment\":\"$(basename "$seg")\",\"block_offset\":$(grep -o "$(basename "$seg"): offset [0-9]*" "$T/v.err" | head -n 1 | awk '{ print $3 }'),"
blk_of() { $EVTOOL get --meta "$T/a" "$(sed -n "$1p" "$T/out.tsv" | grep -o '"id":"[^"]*"' | head -n 1 | cut -d'"' -f4)" 2>/dev/null | grep -c "$dblk"; }
$EVTOOL cat --tsv "$T/d" 2>/dev/null | cut -f1 >"$T/d.rx"
k=$(cut -f1 "$T/out.tsv" | grep -nvxF -f "$T/d.rx" | head -n 1 | cut -d: -f1)
while [ "$k" -gt 2 ] && [ "$(blk_of $((k - 1)))" -eq 1 ]; do k=$((k - 1)); done
to=$(sed -n "$((k - 1))p" "$T/out.tsv" | cut -f1)
$EVTOOL cat --tsv --from $((to - 2000000)) --to "$to" "$T/d" >"$T/dwin.tsv" \
    2>"$T/dwin.err"
check $([ $? -eq 0 ] && [ -s "$T/dwin.tsv" ] && [ ! -s "$T/dwin.err" ]; echo $?) \
    "cat --to stops before a damaged block received after it ($(wc -l <"$T/dwin.tsv") frames, nothing reported)"
t "repair exits 0" sh -c '"$1" repair "$2" 2>"$3"' - "$EVTOOL" "$T/d" "$T/r.err"
# The verifier inside repair reports each damaged block; the rewrite that
# reads the same blocks again does not report them a second time.
nv=$(grep -c ": offset [0-9]*:" "$T/v.err")
nr=$(grep -c ": offset [0-9]*:" "$T/r.err")
check $([ "$nv" -gt 0 ] && [ "$nr" -eq "$nv" ]; echo $?) \
    "repair reports each damaged block once, as verify does ($nr, $nv)"
t "verify passes after repair" $EVTOOL verify "$T/d"
n2=$($EVTOOL cat "$T/d" | wc -l)
check $([ "$n2" -eq "$n1" ]; echo $?) "repair keeps every readable event ($n2)"

# Stray files are ignored with a warning.
echo junk >"$T/a/notes.txt"
$EVTOOL info "$T/a" >/dev/null 2>"$T/stray.err"
t "a stray file gives a warning" grep -q "notes.txt: not a segment file" "$T/stray.err"
rm "$T/a/notes.txt"

# Locking: a second writer is refused while one runs.
mkfifo "$T/fifo"
$EVTOOL import "$T/l" "$T/fifo" 2>"$T/l1.err" &
p1=$!
exec 7>"$T/fifo"
head -n 10 "$T/in.tsv" >&7
waitfor 500 test -f "$T/l/LOCK"
$EVTOOL import "$T/l" /dev/null 2>"$T/l2.err"
rc=$?
check $([ $rc -ne 0 ] && grep -q locked "$T/l2.err"; echo $?) "a second writer is refused: archive locked"
exec 7>&-
wait $p1

# A writer killed with SIGKILL loses at most its open block; resuming
# cuts the torn tail and keeps everything written.
rm -f "$T/fifo"
mkfifo "$T/fifo"
$EVTOOL import --block-size 4k "$T/k" "$T/fifo" 2>/dev/null &
p=$!
exec 7>"$T/fifo"
head -n 5000 "$T/in.tsv" >&7
segsize() { s=$(cat "$T"/k/seg-*.evt 2>/dev/null | wc -c); [ "$s" -gt 200000 ]; }
waitfor 1000 segsize
kill -9 $p
wait $p 2>/dev/null
exec 7>&-
# A torn write: append half a block header.
seg=$(ls "$T"/k/seg-*.evt | tail -n1)
printf '\236EBK\100\000\001\001garbage' >>"$seg"
$EVTOOL cat --tsv "$T/k" >"$T/k1.tsv" 2>"$T/k1.err"
kept=$(wc -l <"$T/k1.tsv")
head -n "$kept" "$T/in.tsv" >"$T/kwant.tsv"
check $([ "$kept" -gt 0 ] && [ "$kept" -le 5000 ]; echo $?) "the killed writer's data reads ($kept messages)"
t "what was written is a prefix of the input" python3 "$HERE/jsoncmp.py" --tsv "$T/kwant.tsv" "$T/k1.tsv"
t "the torn tail is reported with file and offset" grep -q "$(basename "$seg"): offset [0-9]*:" "$T/k1.err"
tail -n +5001 "$T/in.tsv" | head -n 1000 >"$T/rest.tsv"
$EVTOOL import "$T/k" "$T/rest.tsv" 2>"$T/k2.err"
t "resume warns that it cut the torn tail" grep -q "cut a torn tail" "$T/k2.err"
cat "$T/kwant.tsv" "$T/rest.tsv" >"$T/kall.tsv"
$EVTOOL cat --tsv "$T/k" >"$T/k2.tsv"
t "after resume: kept messages then the new ones, nothing doubled" \
    python3 "$HERE/jsoncmp.py" --tsv "$T/kall.tsv" "$T/k2.tsv"
t "verify passes after resume" $EVTOOL verify "$T/k"

# A writer killed between creating its next segment and writing the
# header leaves a file shorter than a header: it holds nothing, so the
# next writer removes it (and says so) instead of leaving verify to
# report it for good.
last=$(ls "$T"/k/seg-*.evt | tail -n 1)
nseq=$(basename "$last" .evt | sed 's/^seg-0*//')
torn=$(printf '%s/k/seg-%012d.evt' "$T" $((nseq + 1)))
head -c 20 "$last" >"$torn"
$EVTOOL verify "$T/k" >"$T/torn-v.out" 2>&1
check $([ $? -ne 0 ] && grep -q "shorter than a segment header" \
    "$T/torn-v.out"; echo $?) "verify reports a segment torn at its creation"
tail -n +6001 "$T/in.tsv" | head -n 100 >"$T/more.tsv"
$EVTOOL import "$T/k" "$T/more.tsv" 2>"$T/k3.err"
t "the next writer says it removed the torn segment" \
    grep -q "$(basename "$torn"): removed: 20 bytes" "$T/k3.err"
tsize=0
[ -e "$torn" ] && tsize=$(wc -c <"$torn")
check $([ ! -e "$torn" ] || [ "$tsize" -ge 64 ]; echo $?) \
    "the torn file is gone or a whole new segment ($tsize bytes)"
cat "$T/kall.tsv" "$T/more.tsv" >"$T/kall3.tsv"
$EVTOOL cat --tsv "$T/k" >"$T/k3.tsv"
t "after the torn segment: every message once, in order" \
    python3 "$HERE/jsoncmp.py" --tsv "$T/kall3.tsv" "$T/k3.tsv"
t "verify passes after the torn segment is removed" $EVTOOL verify "$T/k"

# Compaction: segments written in small blocks (a recorder at a low rate
# closes blocks by age) are rewritten in large blocks when sealed.
$EVTOOL import --block-size 2k --segment-size 512k "$T/c" "$T/in.tsv" 2>/dev/null
$EVTOOL ls "$T/c" | awk 'NR > 1 { print $5 }' >"$T/cblocks"
big=$(awk '$1 > 20' "$T/cblocks" | wc -l)
check $([ "$(wc -l <"$T/cblocks")" -gt 1 ] && [ "$big" -eq 0 ]; echo $?) \
    "sealed segments written in 2k blocks are compacted into large blocks"
$EVTOOL cat --tsv "$T/c" >"$T/cout.tsv"
t "compacted segments give back the input" python3 "$HERE/jsoncmp.py" --tsv "$T/in.tsv" "$T/cout.tsv"
t "compacted segments verify" $EVTOOL verify "$T/c"

# Retention.
before=$(ls "$T/a"/seg-*.evt | wc -l)
newest=$(ls "$T/a"/seg-*.evt | tail -n1)
t "prune --max-bytes exits 0" $EVTOOL prune --max-bytes 600k "$T/a"
after=$(ls "$T/a"/seg-*.evt | wc -l)
total=$(cat "$T/a"/seg-*.evt | wc -c)
check $([ "$after" -lt "$before" ] && [ "$total" -le 614400 ] && [ -f "$newest" ]; echo $?) \
    "prune deletes the oldest segments down to the limit, never the newest ($before -> $after)"
t "prune --max-age deletes segments older than the age" $EVTOOL prune --max-age 1d "$T/a"
check $([ "$(ls "$T/a"/seg-*.evt | wc -l)" -eq 1 ]; echo $?) "only the newest segment is left (its events are from 2026-01)"
$EVTOOL prune "$T/a" >/dev/null 2>&1
check $([ $? -eq 2 ]; echo $?) "prune without a limit is a usage error"

# Bad usage and missing archives.
$EVTOOL cat "$T/nonexistent" >/dev/null 2>"$T/ne.err"
check $([ $? -eq 3 ] && grep -q "no such archive" "$T/ne.err"; echo $?) "a missing archive is a clear error"
$EVTOOL frobnicate >/dev/null 2>&1
check $([ $? -eq 2 ]; echo $?) "an unknown command is a usage error"

# import's reports: the first ten raw frames by line, then once that there
# are more; a refused line by number, counted, exit 1.
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	printf '%d\tnot JSON %d\n' $((1767600000000000 + i)) $i
done >"$T/raw.tsv"
printf '5:bogus\tx\n' >>"$T/raw.tsv"
$EVTOOL import "$T/raw" "$T/raw.tsv" 2>"$T/raw.err"
check $([ $? -eq 1 ] &&
    [ "$(grep -c ': line [0-9]*: invalid JSON at byte 1; kept as a raw frame$' "$T/raw.err")" -eq 10 ] &&
    [ "$(grep -c 'raw.tsv: more raw frames; not reporting each$' "$T/raw.err")" -eq 1 ] &&
    grep -q -x "evtool: $T/raw.tsv: line 13: unknown tag after the receive time; line not imported" "$T/raw.err" &&
    grep -q -x 'evtool: imported 13 lines: 0 messages, 0 states, 0 other JSON, 12 raw (not JSON)' "$T/raw.err" &&
    grep -q -x "evtool: $T/raw.tsv: 1 line(s) not imported" "$T/raw.err"; echo $?) \
    "import: ten raw frames by line, then one line for the rest; the refused line by number; exit 1"

# The values of the shared command-line layer (src/cli.c): one message
# form, status 2, nothing done.
nseg=$(ls "$T/a"/seg-*.evt | wc -l)
usage_is() { # DESCRIPTION MESSAGE ARGS...: evtool ARGS exits 2 saying MESSAGE
	_d=$1 _m=$2
	shift 2
	$EVTOOL "$@" >"$T/u.out" 2>"$T/u.err"
	_rc=$([ $? -eq 2 ] && grep -q -x -F "evtool: $_m" "$T/u.err" &&
	    grep -q -x "Try 'evtool --help'." "$T/u.err" && [ ! -s "$T/u.out" ] &&
	    [ "$(ls "$T/a"/seg-*.evt | wc -l)" -eq "$nseg" ]; echo $?)
	check $_rc "$_d"
	[ $_rc -eq 0 ] || sed 's/^/#   /' "$T/u.err" | head -n 3
}
usage_is "prune --max-bytes -5 is refused (status 2), nothing deleted" \
    '--max-bytes: "-5" is not a size (digits with k, M, G or T, e.g. 64M)' \
    prune --max-bytes -5 "$T/a"
usage_is "prune --max-age 1x is refused" \
    "$($EVTOOL prune --max-age 1x "$T/a" 2>&1 | head -n 1 | sed 's/^evtool: //')" \
    prune --max-age 1x "$T/a"
grep -q -F -e '--max-age: "1x" is not a duration' "$T/u.err"
check $? "... with the common duration message"
usage_is "import --level 5x is refused (atoi once took it as 5)" \
    '--level: "5x" is not a count (digits only, e.g. 100)' \
    import --level 5x "$T/a" /dev/null
usage_is "import --level 23 is out of range" \
    '--level: "23" is out of range (1..22)' import --level 23 "$T/a" /dev/null
usage_is "stats --top -1 is refused" \
    '--top: "-1" is not a count (digits only, e.g. 100)' stats --top -1 "$T/a"
usage_is "cat --from with a bad time is refused" \
    "$($EVTOOL cat --from yesterday "$T/a" 2>&1 | head -n 1 | sed 's/^evtool: //')" \
    cat --from yesterday "$T/a"
grep -q -F -e '--from: "yesterday" is not a time' "$T/u.err"
check $? "... with the common time message"
usage_is "an unknown option is a usage error" "--frob: unknown option" \
    stats --frob "$T/a"
usage_is "a missing operand prints the usage" \
    "usage: evtool get [--meta] [--names] [-o json|text [--utc] [-v]] DIR ID" \
    get "$T/a"
done_testing
