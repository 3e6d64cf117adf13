#!/bin/sh
# evrec_dedupe.sh: a restarted evrec does not store a redelivery twice.
# evrec records evplay --listen (a replay of archive A); evrec is killed
# (kill -9) mid-stream; once evplay has let the session expire (a short
# --resume-window), the restarted evrec's resume is refused, its new
# session replays A from the start, and the ids evrec loads from its own
# archive at start drop every event it already holds: the copy B holds
# every event of A exactly once, in order; replayed in turn, B's GAP
# marker sends nothing.  (evrec is killed after the
# replay finished: a session that expires while its timeline runs is
# issue 10 item 1, not this test's subject.)
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
EVPLAY=$BUILD/evplay

make_archive "$T/a" 11 4000 400 20 2>/dev/null
"$EVTOOL" cat "$T/a" >"$T/a.jsonl"
LAST=$(tail -n 1 "$T/a.jsonl" | $PYTHON -c 'import json,sys; print(json.load(sys.stdin)["id"])')

# last_is DIR ID: the archive's last event is ID.
last_is() {
	[ "$("$EVTOOL" cat "$1" 2>/dev/null | tail -n 1 | $PYTHON -c 'import json,sys
try: print(json.load(sys.stdin)["id"])
except Exception: pass')" = "$2" ]
}
# wait_last DIR ID: polls (0.1 s, at most 60 s) until last_is DIR ID.
wait_last() {
	_i=0
	while [ $_i -lt 600 ]; do
		last_is "$1" "$2" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}
# seen_all LOG N: evrec's latest summary line counts N events stored or
# dropped as duplicates in this run.
seen_all() {
	grep 'summary:' "$1" | tail -n 1 | awk -v n="$2" '{
	    for (i = 1; i <= NF; i++) {
	        if ($(i + 1) == "events") e = $i
	        if ($(i + 1) == "duplicates,") d = $i
	    }
	    seen = 1 }
	    END { exit !(seen && e + d >= n) }'
}
# poll N CMD...: polls CMD every 0.1 s, at most N times.
poll() {
	_n=$1
	shift
	while [ "$_n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	return 1
}
NA=$(wc -l <"$T/a.jsonl" | tr -d ' ')

start_srv "$EVPLAY" play --any-user --resume-window 1 --speed 4 "$T/a"
check $? "evplay --listen started" || { done_testing; exit 1; }
PLAY_PID=$SRV_PID
URL=http://127.0.0.1:$SRV_PORT
# The whole replay recorded, then evrec killed: its session expires, and
# the next one replays A from the start.
EVREC_PASSWORD=x start_rec rec --archive "$T/b" --user any "$URL"
wait_last "$T/b" "$LAST"
check $? "evrec recorded the whole replay" || show "$T/rec.log"
kill -9 "$REC_PID"
wait "$REC_PID" 2>/dev/null
waitfor 1000 grep -q "session .* expired" "$T/play.out"
check $? "evplay let the session expire" || show "$T/play.out"
EVREC_PASSWORD=x start_rec rec --archive "$T/b" --user any \
    --summary-interval 1 "$URL"
waitfor 3000 grep -q "did not resume session" "$T/rec.log"
check $? "the restarted evrec's resume was refused (a new session replays A from the start)" ||
    show "$T/rec.log"
check $(grep -q "archive .*: $NA newest event ids loaded" "$T/rec.log"; echo $?) \
    "evrec loaded its archive's newest ids at start" || show "$T/rec.log"
poll 600 seen_all "$T/rec.log" "$NA"
check $? "the restarted evrec got the whole replay again" || show "$T/rec.log"
stop_pid "$REC_PID"
check $RC "evrec: SIGTERM exit 0"
"$EVTOOL" cat "$T/b" >"$T/b.jsonl"
$PYTHON "$HERE/jsoncmp.py" "$T/a.jsonl" "$T/b.jsonl" >"$T/cmp" 2>&1
check $? "B holds every event of A exactly once, in order ($(wc -l <"$T/b.jsonl" | tr -d ' ') of $NA)" ||
    sed 's/^/#   /' "$T/cmp" | head -n 5
grep 'summary:' "$T/rec.log" | tail -n 1 | sed 's/^/# /'
kill -0 "$PLAY_PID" 2>/dev/null
check $? "evplay still serving" || show "$T/play.out"
stop_pid "$PLAY_PID"

# B holds a GAP marker (the refused resume).  Replayed, the GAP sends
# nothing: the official-style Python sample, which fails on any message
# that is not an events message or its awaited answer, gets every event.
check $([ "$(info_field "$T/b" gaps)" -ge 1 ]; echo $?) "B holds a GAP marker"
start_srv "$EVPLAY" playb --any-user --top-speed "$T/b"
$PYTHON "$HERE/sample_ess.py" --port "$SRV_PORT" --total "$NA" \
    --out "$T/b.ids" >"$T/s.out" 2>&1
check $? "a replay across the GAP: the sample client gets every event, nothing else" ||
    show "$T/s.out"
$PYTHON -c 'import json, sys
print("\n".join(json.loads(l)["id"] for l in open(sys.argv[1])))' \
    "$T/b.jsonl" | cmp -s - "$T/b.ids"
check $? "... the events of B, in order"
stop_pid "$SRV_PID"
# Under `make asan` a leak or memory error makes a program print a report.
check $(cat "$T"/*.out "$T"/*.log 2>/dev/null | grep -q "Sanitizer\|runtime error"
    [ $? -ne 0 ]; echo $?) "no sanitizer report from any server or recorder"
done_testing
