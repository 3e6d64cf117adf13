#!/bin/sh
# evplay_rewrite.sh: replays rewritten for test systems (README,
# "Rewritten replays"), stdout and server mode, real binaries and sockets:
#   retime      every timestamp (time, data.startTime/endTime, getState
#               states) shifted by one offset, the first event at or after
#               the moment evplay started (no clock threshold: ordering and
#               equal offsets only), form and precision kept; with --loop
#               each pass has its own offset, never smaller
#   fresh ids   unique over 3 passes, deterministic across two runs, keyed;
#               --from-id by a fresh id of pass 2 starts at that event and
#               goes on with pass 2's ids
#   map-source  OLD=NEW (GUID, type/GUID, a name, @FILE), errors; --names
#               shows the old names under the new ids
#   filters     --source/--type == evtool cat --source/--type (events and
#               --messages, whose other members are kept); --tsv refuses
#               them
#   round trip  rewrite (--retime --map-source) -> import -> --shift -D
#               --map-source NEW=OLD == the original, byte for byte
#   server      a client subscribed to NEW gets OLD's events renamed,
#               retimed and with fresh ids, getState under NEW, resumes
#               by a fresh id at the right event; Config REST under NEW;
#               --source/--type: exactly the selected events; --fresh-ids
#               --loop 2: the fresh ids of stdout's two passes
# evplay_rewrite.py holds the checks.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
EVPLAY=$BUILD/evplay
RW="$PYTHON $HERE/evplay_rewrite.py"
now_us() { $PYTHON -c 'import time; print(time.time_ns() // 1000)'; }

make_archive "$T/a" 7 3000 2000 20 --block-size 4k --segment-size 32k
$EVTOOL cat "$T/a" >"$T/a.ev"
$EVTOOL cat --tsv "$T/a" >"$T/a.tsv"
N=$(wc -l <"$T/a.ev")
check $([ "$N" -ge 3000 ] && grep -q startTime "$T/a.ev"; echo $?) \
    "the archive: $N events, some with data.startTime"

# --retime: the first event is now, one offset for every timestamp.
t0=$(now_us)
$EVPLAY --top-speed --retime "$T/a" >"$T/r.ev" 2>"$T/r.err"
check $? "--retime exits 0"
t "--retime: one offset, first event at or after the start, form kept" \
    $RW retime "$T/a.ev" "$T/r.ev" "$t0" 1
t "--retime says the shift" grep -q 'pass 1: event times shifted by +' \
    "$T/r.err"
t0=$(now_us)
$EVPLAY -q --top-speed --retime --loop 3 "$T/a" >"$T/r3.ev"
t "--retime --loop 3: one offset a pass, each from now again" \
    $RW retime "$T/a.ev" "$T/r3.ev" "$t0" 3
t0=$(now_us)
$EVPLAY -q --top-speed --retime --state "$T/a" | head -n 1 >"$T/st.json"
$EVPLAY -q --top-speed --state "$T/a" | head -n 1 >"$T/st0.json"
t "--retime --state: the states shifted too, by one offset" $PYTHON -c "
import json, sys
sys.path.insert(0, '$HERE')
from evplay_rewrite import ns
a = json.load(open('$T/st0.json'))['states']
b = json.load(open('$T/st.json'))['states']
offs = {ns(y['time']) - ns(x['time']) for x, y in zip(a, b)}
sys.exit(not (len(a) == len(b) > 10 and len(offs) == 1
              and min(offs) > 0))"

# --fresh-ids: unique over three passes, deterministic, keyed.
$EVPLAY -q --top-speed --fresh-ids --loop 3 "$T/a" >"$T/f3.ev"
t "--fresh-ids --loop 3: only ids changed, none twice, GUIDs" \
    $RW fresh "$T/a.ev" "$T/f3.ev" 3
$EVPLAY -q --top-speed --fresh-ids --loop 3 "$T/a" >"$T/f3b.ev"
t "--fresh-ids: the same ids in a second run" cmp "$T/f3.ev" "$T/f3b.ev"
$EVPLAY -q --top-speed --fresh-ids-key other "$T/a" >"$T/fk.ev"
check $(head -n 1 "$T/fk.ev" | cut -c1-50 | grep -qF \
    "$(head -n 1 "$T/f3.ev" | cut -c1-50)"; [ $? -ne 0 ]; echo $?) \
    "--fresh-ids-key: other ids"
# --from-id by a fresh id of the second pass: that event, then the rest
# of pass 2 with its ids.
k=$((N + 100))
fid=$(sed -n "${k}p" "$T/f3.ev" | cut -d'"' -f4)
sed -n "${k},$((2 * N))p" "$T/f3.ev" >"$T/want.ev"
$EVPLAY --top-speed --fresh-ids --from-id "$fid" "$T/a" >"$T/from.ev" \
    2>"$T/from.err"
t "--from-id by a fresh id of pass 2: the rest of pass 2" \
    cmp "$T/want.ev" "$T/from.ev"
t "... and it says which event it was" grep -q 'fresh id of pass 2' \
    "$T/from.err"

# --map-source: by GUID, by type/GUID, from a file.
OLD=$(field "$T/a.ev" 1 source)
OLD2=$(awk -v o="\"source\":\"$OLD\"" 'index($0, o) == 0' "$T/a.ev" |
    head -n 1 | grep -o '"source":"[^"]*"' | cut -d'"' -f4)
NEW=cameras/00000000-1111-4222-8333-444444444444
$EVPLAY -q --top-speed --map-source "${OLD#cameras/}=${NEW#cameras/}" \
    "$T/a" >"$T/m.ev"
t "--map-source GUID=GUID: only OLD's sources renamed" \
    $RW mapped "$T/a.ev" "$T/m.ev" "$OLD" "$NEW"
printf '# test map\n\n%s=%s\n' "$OLD" "$NEW" >"$T/map"
$EVPLAY -q --top-speed --map-source @"$T/map" "$T/a" >"$T/m2.ev"
t "--map-source @FILE (type/GUID, a comment)" cmp "$T/m.ev" "$T/m2.ev"
$EVPLAY -q --top-speed --map-source nonsense "$T/a" >/dev/null 2>"$T/e"
check $([ $? -eq 2 ] && grep -q 'not OLD=NEW' "$T/e"; echo $?) \
    "--map-source without '=': exit 2"
printf '%s=%s\n%s=x\n' "$OLD" "$NEW" "$OLD" >"$T/map2"
$EVPLAY -q --top-speed --map-source @"$T/map2" "$T/a" >/dev/null 2>"$T/e"
check $([ $? -eq 2 ] && grep -q "map2:2:" "$T/e"; echo $?) \
    "a source mapped twice: exit 2, FILE:LINE"

# --source/--type as evtool cat.
TYPE=$(field "$T/a.ev" 1 type)
for m in "" --messages; do
	$EVTOOL cat $m --source "$OLD" --source "${OLD2#cameras/}" \
	    --type "$TYPE" "$T/a" >"$T/cs.out"
	$EVPLAY -q --top-speed $m --source "$OLD" --source "${OLD2#cameras/}" \
	    --type "$TYPE" "$T/a" >"$T/ps.out"
	t "--source/--type $m == evtool cat" cmp "$T/cs.out" "$T/ps.out"
done
check $([ -s "$T/ps.out" ]; echo $?) "... selecting some"
# Messages with other members beside "events": --messages with a filter
# keeps them (only the events array is narrowed), as evtool cat does.
sed 's/^\([0-9]*\)\t{"events":\(.*\)}$/\1\t{"seq":7,"events":\2,"more":{"a":[1,"]"]}}/' \
    "$T/a.tsv" >"$T/env.tsv"
$EVTOOL import "$T/env" "$T/env.tsv" 2>/dev/null
$EVTOOL cat --messages --source "$OLD" "$T/env" >"$T/ce.out"
$EVPLAY -q --top-speed --messages --source "$OLD" "$T/env" >"$T/pe.out"
t "--messages --source: messages keep their other members (== evtool cat)" \
    cmp "$T/ce.out" "$T/pe.out"
check $([ -s "$T/pe.out" ] && [ "$(grep -c '^{"seq":7,"events":\[.*\],"more":{"a":\[1,"\]"\]}}$' "$T/pe.out")" -eq "$(wc -l <"$T/pe.out")" ] &&
    [ "$(grep -o '"id":' "$T/pe.out" | wc -l)" -lt "$(grep -o '"id":' "$T/env.tsv" | wc -l)" ]; echo $?) \
    "... every one, with only the selected events"
$EVPLAY -q --top-speed --tsv --source "$OLD" "$T/a" >/dev/null 2>&1
check $([ $? -eq 2 ]; echo $?) "--tsv --source: exit 2"

# The round trip: rewritten, recorded, rewritten back == the original.
$EVPLAY --top-speed --tsv --retime --map-source "$OLD=$NEW" "$T/a" \
    >"$T/rt.tsv" 2>"$T/rt.err"
D=$(sed -n 's/.*shifted by \([-+][0-9.]*\) s.*/\1/p' "$T/rt.err")
$EVTOOL import "$T/b" "$T/rt.tsv" 2>/dev/null
check $(cmp -s "$T/rt.tsv" "$T/a.tsv"; [ $? -ne 0 ]; echo $?) \
    "the rewritten recording differs from the original"
case $D in +*) UNDO="-${D#+}s" ;; *) UNDO="${D#-}s" ;; esac
$EVPLAY -q --top-speed --tsv --shift "$UNDO" --map-source "$NEW=$OLD" \
    "$T/b" >"$T/back.tsv"
t "round trip: --shift $UNDO --map-source NEW=OLD gives the original" \
    cmp "$T/a.tsv" "$T/back.tsv"
$EVPLAY --shift 1.5 "$T/a" >/dev/null 2>&1
check $? "--shift 1.5 (seconds) accepted"
$EVPLAY --shift 1.0000000001s "$T/a" >/dev/null 2>"$T/e"
check $([ $? -eq 2 ] && grep -q 'finer than 1 ns' "$T/e"; echo $?) \
    "--shift finer than 1 ns: exit 2"

# Names: map by name; --names shows the old names under the new id.
need_built test_names
"$BUILD/tests/test_names" --write-archive "$T/n" >/dev/null
$EVTOOL cat --names "$T/n" >"$T/n.ev"
NOLD=cameras/aaaaaaaa-0000-0000-0000-000000000001
NNEW=cameras/bbbbbbbb-0000-4000-8000-000000000001
$EVPLAY -q --top-speed --names --map-source "Lobby East=$NNEW" "$T/n" \
    >"$T/nm.ev"
t "--map-source NAME=NEW --names: renamed, names as before" \
    $RW mapped "$T/n.ev" "$T/nm.ev" "$NOLD" "$NNEW"
$EVPLAY -q --top-speed --map-source "Garage=$NNEW" "$T/n" >/dev/null \
    2>"$T/e"
check $([ $? -eq 2 ] && grep -q ambiguous "$T/e"; echo $?) \
    "--map-source by an ambiguous name: exit 2, candidates"

# Server mode.
need_websockets
$EVPLAY -q --top-speed --fresh-ids "$T/a" | cut -d'"' -f4 >"$T/f.ids"
t0=$(now_us)
start_srv "$EVPLAY" srv --any-user --top-speed --retime --fresh-ids \
    --map-source "$OLD=$NEW" "$T/a"
PORT=$SRV_PORT
t "server: subscribed to NEW, OLD's events renamed, retimed, fresh ids; \
getState under NEW; resumed by a fresh id" \
    $RW --port "$PORT" server --expect "$T/a.ev" --ids "$T/f.ids" \
    --old "$OLD" --new "$NEW" --t0 "$t0" --cut 20
stop_pid "$SRV_PID"
# --source/--type in server mode: exactly the selected events, then 1001.
$EVTOOL cat --source "$OLD" --source "${OLD2#cameras/}" --type "$TYPE" \
    "$T/a" | cut -d'"' -f4 >"$T/sel.ids"
start_srv "$EVPLAY" srvs --any-user --top-speed --exit-when-done \
    --source "$OLD" --source "${OLD2#cameras/}" --type "$TYPE" "$T/a"
t "server --source/--type: exactly the selected events" \
    $PYTHON "$HERE/evplay_server.py" --port "$SRV_PORT" until-close \
    --ids "$T/sel.ids"
stop_pid "$SRV_PID"
# --fresh-ids --loop 2 in server mode: the ids of stdout's two passes.
head -n $((2 * N)) "$T/f3.ev" | cut -d'"' -f4 >"$T/loop.ids"
start_srv "$EVPLAY" srvl --any-user --top-speed --exit-when-done \
    --fresh-ids --loop 2 "$T/a"
t "server --fresh-ids --loop 2: the fresh ids of stdout's passes 1 and 2" \
    $PYTHON "$HERE/evplay_server.py" --port "$SRV_PORT" until-close \
    --ids "$T/loop.ids"
stop_pid "$SRV_PID"
start_srv "$EVPLAY" srvn --any-user --map-source "Lobby East=$NNEW" "$T/n"
C="$PYTHON $HERE/essclient.py --port $SRV_PORT"
TOK=$($C token --print)
t "server: Config REST answers the new id with the old name" \
    $C http "/api/rest/v1/$NNEW" --bearer="$TOK" --has "Lobby East"
t "server: the old id is not served" \
    $C http "/api/rest/v1/$NOLD" --bearer="$TOK" --expect 404
stop_pid "$SRV_PID"

done_testing
