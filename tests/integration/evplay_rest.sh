#!/bin/sh
# evplay_rest.sh: evplay --listen serves the Config REST API from the
# archive's CONFIG markers, so clients see the recorded names.  evrec
# records evsim (with its CONFIG snapshot: names, displayName, state);
# evplay replays that archive: the official Python sample's name lookups
# (names.py) give evplay the same answers as evsim, none "Unknown"; an
# evrec recording evplay gets a CONFIG marker with the same names; without
# a token REST is 401; an archive without CONFIG answers 404.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
EVPLAY=$BUILD/evplay
echo secret >"$T/pw"
AUTH="--user alice --password-file $T/pw"

# The original: evsim recorded by evrec until 2,000 events are on disk.
start_sim sim $AUTH --rate 1000 --cameras 40
check $? "evsim started" || { done_testing; exit 1; }
EVREC_PASSWORD=secret start_rec rec --archive "$T/a" --user alice \
    "http://127.0.0.1:$SIM_PORT"
wait_events "$T/a" 2000
check $? "evrec recorded evsim" || show "$T/rec.log"
stop_pid "$REC_PID"
"$EVTOOL" cat "$T/a" >"$T/a.jsonl"
"$EVTOOL" cat --markers "$T/a" | grep '	CONFIG	' >"$T/a.cfg"
check $(grep -q '"displayName":"Motion Started","state":"Motion"' \
    "$T/a.cfg"; echo $?) "the CONFIG marker keeps displayName and state of event types"

# The names the official sample shows, from evsim (the truth) ...
$PYTHON "$HERE/names.py" "$SIM_PORT" "$T/a.jsonl" "$T/want.names" 60
check $? "names from evsim"
stop_pid "$SIM_PID"
# ... and from evplay replaying the recording.
start_srv "$EVPLAY" play $AUTH --speed 1 "$T/a"
check $? "evplay --listen started" || { done_testing; exit 1; }
PLAY_PID=$SRV_PID
PLAY_PORT=$SRV_PORT
$PYTHON "$HERE/names.py" "$PLAY_PORT" "$T/a.jsonl" "$T/got.names" 60
check $? "names from evplay"
# Stateless types have no state (Unknown from evsim too): sources, types
# and state groups must all be known.
awk -F' [|] ' '$1 ~ / Unknown$/ || $2 == "Unknown" || $4 == "Unknown"' \
    "$T/got.names" >"$T/unknown"
sed 's/^/# /' "$T/unknown" | head -n 3
check $([ ! -s "$T/unknown" ] && [ -s "$T/got.names" ]; echo $?) \
    "evplay: no source, event type or state group name is Unknown"
check $(cmp -s "$T/want.names" "$T/got.names"; echo $?) \
    "evplay answers the names evsim gave (source, type, state, state group)"
cmp "$T/want.names" "$T/got.names" 2>&1 | head -n 3 | sed 's/^/# /'
$PYTHON - "$PLAY_PORT" <<'PYEOF' >"$T/noauth"
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen("http://127.0.0.1:%s/api/rest/v1/cameras"
                           % sys.argv[1], timeout=10)
    print(200)
except urllib.error.HTTPError as e:
    print(e.code)
PYEOF
check $(grep -qx 401 "$T/noauth"; echo $?) "evplay REST without a token: 401"

# An evrec recording evplay gets the names too.
EVREC_PASSWORD=secret start_rec rec2 --archive "$T/b" --user alice \
    "http://127.0.0.1:$PLAY_PORT"
waitfor 3000 grep -q 'configuration snapshot: [0-9]* items' "$T/rec2.log"
check $? "evrec from evplay took a configuration snapshot" || show "$T/rec2.log"
wait_events "$T/b" 500
stop_pid "$REC_PID"
"$EVTOOL" cat --markers "$T/b" | grep '	CONFIG	' | cut -f3 >"$T/b.cfg"
$PYTHON - "$T/a.cfg" "$T/b.cfg" <<'PYEOF'
import json, sys
a = json.loads(open(sys.argv[1]).readline().split("\t")[2])
b = json.loads(open(sys.argv[2]).readline())
def names(c):
    return sorted((k, i["id"], i.get("name"), i.get("displayName"),
                   i.get("state")) for k in c for i in c[k])
sys.exit(0 if names(a) == names(b) and names(a) else 1)
PYEOF
check $? "the copy's CONFIG marker holds the original's names"
stop_pid "$PLAY_PID"

# An archive without CONFIG markers: 404, as before.
make_archive "$T/g" 3 200 100 5
start_srv "$EVPLAY" play2 $AUTH "$T/g"
"$EVTOOL" cat "$T/g" | head -n 1 >"$T/g1.jsonl"
$PYTHON "$HERE/names.py" "$SRV_PORT" "$T/g1.jsonl" "$T/g.names" 1
check $(grep -q '^[^ ]* Unknown | Unknown' "$T/g.names"; echo $?) \
    "an archive without CONFIG: Unknown (404), no failure"
stop_pid "$SRV_PID"
# Under `make asan` a leak or memory error makes a program print a report.
check $(cat "$T"/*.out "$T"/*.log 2>/dev/null | grep -q "Sanitizer\|runtime error"
    [ $? -ne 0 ]; echo $?) "no sanitizer report from any server or recorder"
done_testing
