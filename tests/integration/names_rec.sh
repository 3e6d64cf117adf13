#!/bin/sh
# names_rec.sh: evrec records a name for every source (issue 13, item 1).
# Real evsim and evrec on 127.0.0.1.  evsim generates sources of four
# resource types and sources that appear only after the session started
# (after evrec's configuration snapshot); evrec's snapshot lists the types
# and it looks the late ones up (CONFIG delta markers).  Read back from the
# markers alone by the rule of formats/records.md (cfgnames.py): every
# source has a name; lookups are paced (4/s) and each id is asked once; a
# lookup that gets 404 or never an answer costs only that name, not an
# event; a source renamed during the recording keeps its old name for its
# old events; the password never reaches the log or the archive.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
PW=pw-Zq81xNames
echo "$PW" >"$T/pw"
TOKEN=tok-Hq27cNamesStatic
echo "$TOKEN" >"$T/token"
KINDS=cameras,inputEvents,outputs,userDefinedEvents

# stats PORT KEY: a counter of evsim's /evsim/stats.
stats() {
	$PYTHON -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen("http://127.0.0.1:%s/evsim/stats"
      % sys.argv[1], timeout=10))[sys.argv[2]])' "$1" "$2"
}

# names DIR OUT: cfgnames.py over DIR's markers and frames (summary OUT).
names() {
	"$EVTOOL" cat --markers "$1" >"$1.markers" &&
	    "$EVTOOL" cat --tsv "$1" >"$1.tsv" &&
	    $PYTHON "$HERE/cfgnames.py" "$1.markers" "$1.tsv" "$1.named" >"$2"
}

# field OUT KEY: a number of a cfgnames.py summary.
field() {
	awk -v k="$2" '$1 == k && NF == 2 {print $2}' "$1"
}

# 0. Bad values of evsim's name options: status 2 and a line naming them.
"$EVSIM" --resource-types 'cameras,in/put' >"$T/bad1" 2>&1
check $([ $? -eq 2 ] && grep -q -- "--resource-types" "$T/bad1"; echo $?) \
    "evsim: a resource type that is not letters is refused"
"$EVSIM" --late-sources 2 --late-404 2 --late-hang 1 >"$T/bad2" 2>&1
check $([ $? -eq 2 ] && grep -q -- "--late-404" "$T/bad2"; echo $?) \
    "evsim: more unknown late sources than late sources is refused"

# 1. Four resource types, 8 late sources: every source gets a name.  The
# stream starts (SIGUSR2) once evrec's snapshot is written, so the late
# sources are new to it; they appear within the first 160 events, so
# their lookups queue up and the pacing shows.
start_sim sim --user alice --password-file "$T/pw" --rate 1000 \
    --events 5000 --cameras 40 --resource-types "$KINDS" \
    --late-sources 8 --late-every 20 --log-sent "$T/sent1" --paused
check $? "evsim started" || { done_testing; exit 1; }
start_rec rec --archive "$T/a" --user alice --password-file "$T/pw" -v \
    "http://127.0.0.1:$SIM_PORT"
waitfor 3000 grep -q "configuration snapshot: [0-9]* items" "$T/rec.log"
checkl $? "evrec took its configuration snapshot" "$T/rec.log"
kill -USR2 "$SIM_PID"
wait_events "$T/a" 5000
checkl $? "evrec recorded 5,000 events" "$T/rec.log"
# A "names:" line per delta marker, once the answers are in.
waitfor 3000 sh -c '[ "$(grep -c "^.*name lookup " "$1")" -ge 8 ] &&
    [ "$(grep -o "[0-9]* named so far" "$1" | tail -n 1)" = "8 named so far" ]' \
    _ "$T/rec.log"
checkl $? "evrec looked up and named the 8 late sources" "$T/rec.log"
ITEMS=$(stats "$SIM_PORT" rest_item_gets)
SPAN=$(stats "$SIM_PORT" rest_item_span_us)
stop_pid "$REC_PID"
check $RC "evrec stopped cleanly (status $RC)"
names "$T/a" "$T/a.sum"
check $? "the markers and events read back"
sed 's/^/# /' "$T/a.sum" | head -n 8
check $([ "$(field "$T/a.sum" events)" -eq 5000 ] &&
    [ "$(field "$T/a.sum" sources)" -ge 44 ]; echo $?) \
    "5,000 events of at least 44 sources (cameras and late ones)"
check $([ "$(field "$T/a.sum" unnamed)" = 0 ]; echo $?) \
    "every source has a name in a CONFIG marker"
check $(grep -q -e ' ?|' -e '|?$' "$T/a.named"
    [ $? -ne 0 ]; echo $?) "every event's source and type are named"
for k in inputEvents outputs userDefinedEvents; do
	check $(grep -q "^[0-9]* $k/[^ ]* $k [0-9]*|" "$T/a.named"; echo $?) \
	    "events of $k sources carry evsim's names"
done
check $([ "$(field "$T/a.sum" snapshots)" -ge 1 ] &&
    [ "$(field "$T/a.sum" deltas)" -ge 1 ]; echo $?) \
    "a snapshot, then delta markers for the late sources"
# The late sources (the last 8 in evsim's order) are in no snapshot.
$PYTHON - "$T/a.markers" <<'PYEOF'
import json, sys
snap, delta = set(), set()
for line in open(sys.argv[1]):
    rx, kind, body = line.rstrip("\n").split("\t", 2)
    if kind == "CONFIG":
        c = json.loads(body)
        (delta if c.get("kind") == "delta" else snap).update(
            i["id"] for i in c.get("sources", []))
sys.exit(0 if len(delta) == 8 and not delta & snap else 1)
PYEOF
check $? "the 8 late sources are named by deltas only, each once"
# Paced: 4 lookups a second at most (one more for the first, one of slack
# for the network), each id asked once.
check $([ "$ITEMS" -eq 8 ] &&
    [ "$ITEMS" -le $(( SPAN * 4 / 1000000 + 2 )) ]; echo $?) \
    "8 item GETs at evsim over ${SPAN} us: at most 4 a second"
check $(grep "name lookup " "$T/rec.log" | awk '{print $NF}' | sort |
    uniq -d | grep -q .; [ $? -ne 0 ]; echo $?) "each id asked once"
stop_pid "$SIM_PID"

# 2. A lookup that gets 404, one that is never answered, and a rename
# (evsim sends "System configuration changed", evrec takes a snapshot
# again); everything sent is recorded all the same.
start_sim sim2 --user alice --password-file "$T/pw" --rate 1000 \
    --events 4000 --cameras 30 --resource-types "$KINDS" \
    --late-sources 6 --late-every 400 --late-404 1 --late-hang 1 \
    --rename-after 1500 --log-sent "$T/sent2" --token-file "$T/token"
check $? "evsim with unknown and hanging sources started" ||
    { done_testing; exit 1; }
start_rec rec2 --archive "$T/b" --token-file "$T/token" -v \
    --connect-timeout 2 "http://127.0.0.1:$SIM_PORT"
wait_events "$T/b" 4000
checkl $? "evrec recorded 4,000 events" "$T/rec2.log"
waitfor 3000 grep -q "name lookup [a-zA-Z]*/[-0-9a-f]*: .*tim" "$T/rec2.log"
checkl $? "the lookup that is never answered timed out" "$T/rec2.log"
waitfor 3000 grep -q "name lookup .*: not found" "$T/rec2.log"
checkl $? "the lookup of an unknown source got 404" "$T/rec2.log"
waitfor 3000 sh -c '"$1" cat --markers "$2" | grep -q "(renamed)"' \
    _ "$EVTOOL" "$T/b"
checkl $? "a later snapshot holds the new name" "$T/rec2.log"
check $(grep -q "configuration changed: a new configuration snapshot" \
    "$T/rec2.log"; echo $?) "taken because the gateway said so"
stop_pid "$REC_PID"
check $RC "evrec stopped cleanly (status $RC)"
same_events "$T/sent2" "$T/b"
check $? "every event evsim sent is in the archive, once, in order"
names "$T/b" "$T/b.sum"
sed 's/^/# /' "$T/b.sum" | head -n 8
check $([ "$(field "$T/b.sum" unnamed)" = 2 ]; echo $?) \
    "only the two sources that REST does not name are unnamed"
# The two unnamed are late sources that evsim's REST lists nowhere.
grep '^unnamed-source ' "$T/b.sum" | cut -d' ' -f2 >"$T/b.unnamed"
check $(grep -c . "$T/b.unnamed" | grep -qx 2 &&
    ! grep -qFf "$T/b.unnamed" "$T/b.markers"; echo $?) \
    "the unnamed sources are in no marker"
# The renamed source: its events before the new snapshot keep the old
# name, the later ones have the new one.
FIRST=$(grep -o '"id":"[a-zA-Z]*/[-0-9a-f]*","name":"Camera 0001 (renamed)"' \
    "$T/b.markers" | head -n 1 | cut -d'"' -f4)
check $([ -n "$FIRST" ] &&
    grep -q " $FIRST Camera 0001|" "$T/b.named" &&
    grep -q " $FIRST Camera 0001 (renamed)|" "$T/b.named"; echo $?) \
    "the renamed source: old events under the old name, later ones the new"
check $(awk -v s="$FIRST" '$2 == s {n = ($3 " " $4 ~ /renamed/)
    if (seen && !n) bad = 1; if (n) seen = 1} END {exit bad}' \
    "$T/b.named"; echo $?) "the old name never follows the new one"
stop_pid "$SIM_PID"

# 3. Tokens that live 2 s: a lookup long after the connection's token
# expired renews it first (the WebSocket outlives its token, REST does
# not), so late sources are still named.
start_sim sim3 --user alice --password-file "$T/pw" --rate 500 \
    --events 3500 --cameras 20 --late-sources 3 --late-every 1000 \
    --token-lifetime 2
check $? "evsim with 2 s tokens started" || { done_testing; exit 1; }
start_rec rec3 --archive "$T/c" --user alice --password-file "$T/pw" -v \
    "http://127.0.0.1:$SIM_PORT"
waitfor 3000 grep -q "3 named so far" "$T/rec3.log"
checkl $? "the 3 late sources named, 2 s apart" "$T/rec3.log"
check $([ "$(stats "$SIM_PORT" tokens_issued)" -ge 3 ] &&
    ! grep -q "name lookup .*HTTP" "$T/rec3.log"; echo $?) \
    "tokens renewed for the lookups, none refused"
stop_pid "$REC_PID"
stop_pid "$SIM_PID"

# Secrets: the password (part 1) and the token (part 2, --token-file)
# are in no log and no record.
check $(cat "$T"/*.log "$T"/*.out "$T/a.tsv" "$T/a.markers" "$T/b.tsv" \
    "$T/b.markers" | grep -q -e "$PW" -e "$TOKEN" -e "access_token"
    [ $? -ne 0 ]; echo $?) "no password or token in the logs or the archive"
check $(cat "$T"/*.out "$T"/*.log 2>/dev/null |
    grep -q "Sanitizer\|runtime error"; [ $? -ne 0 ]; echo $?) \
    "no sanitizer report"
done_testing
