#!/bin/sh
# evplay_order.sh: what a client of evplay --listen sees at the start of
# a replay and at recorded frames that were not events messages.
#   getState first  a client that asks for the state right after
#                   subscribing (the official samples) gets the answer
#                   before any event, though the archive's first events
#                   are due at once, and the state is the start point's;
#                   a client that never asks gets the events anyway
#   RAW frames      a recorded frame that was not JSON is sent verbatim,
#                   in its place between the events messages, if it is
#                   valid UTF-8; one that is not (a text frame cannot
#                   carry it) is left out and logged
#   GAP markers     nothing is sent (tested in evrec_dedupe.sh, whose
#                   copy holds a GAP)
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
EVPLAY=$BUILD/evplay
need_websockets

# Archive A: a getState answer, 600 events, and two frames that were not
# JSON after the 200th line: text, and bytes that are not UTF-8.
$EVGEN --seed 5 --events 600 --rate 200 --cameras 10 >"$T/a.ev"
first=$(head -n 1 "$T/a.ev" | cut -f1)
printf '%s\t{"commandId":3,"status":200,"states":%s}\n' $((first - 1)) \
    "$($EVGEN --seed 5 --cameras 10 --states)" >"$T/a.in"
head -n 200 "$T/a.ev" >>"$T/a.in"
rx=$(sed -n 200p "$T/a.ev" | cut -f1)
printf '%s\tgateway said: this is not JSON {\n' "$rx" >>"$T/a.in"
printf '%s\tnot UTF-8: \377\376\n' "$rx" >>"$T/a.in"
tail -n +201 "$T/a.ev" >>"$T/a.in"
$EVTOOL import "$T/a" "$T/a.in" 2>/dev/null
check $([ "$(info_field "$T/a" "raw frames")" = 2 ]; echo $?) \
    "archive A holds two raw frames"
NA=$(events_in "$T/a")
BEFORE=$(head -n 200 "$T/a.ev" | $PYTHON -c 'import json, sys
print(sum(len(json.loads(l.split("\t", 1)[1])["events"]) for l in sys.stdin))')
NSTATES=$($EVGEN --seed 5 --cameras 10 --states | $PYTHON -c 'import json, sys
print(len(json.load(sys.stdin)))')

start_srv "$EVPLAY" play --any-user --speed 1 "$T/a"
check $? "evplay --listen started" || { done_testing; exit 1; }
for round in 1 2 3; do
	$PYTHON "$HERE/evplay_order.py" "$SRV_PORT" official "$NA" \
	    "$T/o$round" 2>"$T/o$round.err"
	check $? "official flow $round: every event" || sed 's/^/#   /' "$T/o$round.err"
	check $([ "$(head -n 1 "$T/o$round")" = "STATES $NSTATES" ]; echo $?) \
	    "official flow $round: the getState answer (the start point's $NSTATES states) comes before any event"
done
$PYTHON - "$T/o1" "$BEFORE" <<'PYEOF'
import sys
lines = open(sys.argv[1]).read().splitlines()
n, raws = 0, []
for l in lines:
    if l.startswith("EVENTS "):
        n += len(l.split()) - 1
    elif l.startswith("OTHER "):
        raws.append((n, l[6:]))
want = [(int(sys.argv[2]), "gateway said: this is not JSON {")]
if raws != want:
    print("# raw frames seen %r, want %r" % (raws, want))
    sys.exit(1)
PYEOF
check $? "the valid raw frame arrives verbatim after the $BEFORE events before it; the non-UTF-8 one is not sent"
waitfor 500 grep -q "not valid UTF-8: not sent" "$T/play.out"
check $? "evplay logs the raw frame it cannot send" || show "$T/play.out"
$PYTHON "$HERE/evplay_order.py" "$SRV_PORT" nostate "$NA" "$T/n" 2>"$T/n.err"
check $? "a client that never asks for the state gets every event" ||
    sed 's/^/#   /' "$T/n.err"
stop_pid "$SRV_PID"
check $RC "evplay: SIGTERM exit 0"
# Under `make asan` a leak or memory error makes a program print a report.
check $(cat "$T"/*.out "$T"/*.log 2>/dev/null | grep -q "Sanitizer\|runtime error"
    [ $? -ne 0 ]; echo $?) "no sanitizer report from any server or recorder"
done_testing
