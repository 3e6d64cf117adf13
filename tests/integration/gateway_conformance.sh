#!/bin/sh
# gateway_conformance.sh: the gateway module (through evsim) against
# clients written the way Milestone's official samples are
# (sample_ess.py: Python, Bearer header, resume loop; sample_ess.mjs:
# browser-style JavaScript, authenticate command, run with node >= 20),
# protocol details (conformance.py protocol), misbehaving clients each
# closed with a clear reason while a well-behaved client on the same
# server receives every event in order, slow clients (one that stops
# reading is closed with 1008, one that reads in bursts is not; at top
# speed a small history never closes a client that keeps up), SIGTERM
# after a client was killed -9 at top speed, commands in the wrong order
# (answered with errors, the connection stays usable), per-session
# timelines (--clock session) and the control-path hook (/evsim/stats,
# /evsim/forget).  Only 127.0.0.1, free ports, a private temp dir.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
PY=$PYTHON
C="$PY $HERE/essclient.py"
K="$PY $HERE/conformance.py"
need_websockets
echo secret >"$T/pw"
AUTH="--user alice --password-file $T/pw"

# log_ids LOG: the event ids of an evsim --log-sent file, one per line.
log_ids() {
	$PY -c 'import json, sys
for line in open(sys.argv[1]):
    for e in json.loads(line)["events"]:
        print(e["id"])' "$1"
}
# is_prefix A B: file A's lines are the first lines of file B.
is_prefix() {
	n=$(wc -l <"$1")
	[ "$n" -gt 0 ] && head -n "$n" "$2" | cmp -s - "$1"
}
# stat_of PORT NAME: a counter of GET /evsim/stats.
stat_of() {
	$PY -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen(
    "http://127.0.0.1:%s/evsim/stats" % sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
stat_ge() { [ "$(stat_of "$1" "$2")" -ge "$3" ]; }
# watcher NAME PORT TOTAL WHAT: a well-behaved client (essclient follow)
# that must get the first TOTAL events of $T/NAME.sent in order on one
# connection; it subscribes first, so generation starts with it.  Sets
# WATCH; its report goes to $T/NAME.watch.
watcher() {
	$C --port "$2" follow --log "$T/$1.sent" --total "$3" --max-conns 1 \
	    --timeout 120 >"$T/$1.watch" 2>&1 &
	WATCH=$!
	waitfor 1000 stat_ge "$2" events_generated 1
	check $? "$4the watcher subscribed and generation started"
}
# slow_closes PORT N WHAT: exactly N clients were closed as too slow.
slow_closes() {
	check $([ "$(stat_of "$1" slow_closes)" -eq "$2" ]; echo $?) \
	    "$3: $2 client(s) closed as too slow"
}

# --- usage of the new options ----------------------------------------------
$EVSIM --clock sideways >/dev/null 2>"$T/e"
check $([ $? -eq 2 ] && grep -q -- --clock "$T/e"; echo $?) \
    "--clock with a bad value exits 2"
$EVSIM --clock session --rate 100 >/dev/null 2>&1
check $([ $? -eq 2 ]; echo $?) "--clock session needs --rate 0"
$EVSIM --max-frame 10 >/dev/null 2>&1
check $([ $? -eq 2 ]; echo $?) "--max-frame below 1024 exits 2"

# --- the official Python sample's way, with drops and resumes --------------
start_sim s $AUTH --rate 3000 --events 6000 --cameras 300 \
    --drop-every 1500 --log-sent "$T/s.sent"
S=$SIM_PORT
t "Python sample client: 6000 events over dropped connections, resumed" \
    $PY "$HERE/sample_ess.py" --port "$S" --total 6000 --out "$T/s.ids" \
    --min-resumes 2 --reconnect-delay 0.1
log_ids "$T/s.sent" >"$T/s.sent.ids"
t "Python sample client: every event once, in the order sent" \
    is_prefix "$T/s.ids" "$T/s.sent.ids"
t "GET /evsim/stats through the control-path hook" \
    $C --port "$S" http /evsim/stats --has events_generated --has resumes
check $([ "$(stat_of "$S" resumes)" -ge 2 ]; echo $?) \
    "the gateway counted the resumes"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    "http://127.0.0.1:$S/evsim/forget")
check $([ "$code" = 401 ]; echo $?) "POST /evsim/forget without a token: 401"
TOK=$($C --port "$S" token --print)
code=$(curl -s -o "$T/forget" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $TOK" "http://127.0.0.1:$S/evsim/forget")
check $([ "$code" = 200 ] && grep -q forgotten "$T/forget"; echo $?) \
    "POST /evsim/forget with a Bearer token: 200"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S/evsim/nothing")
check $([ "$code" = 404 ]; echo $?) "a path neither served nor hooked: 404"
stop_pid "$SIM_PID"
check $RC "evsim (sample) exits 0"

# --- one server: a watcher, conformance checks, bad clients ----------------
start_sim b $AUTH --rate 2000 --cameras 300 \
    --log-sent "$T/b.sent" --http-timeout 1 --http-idle 1 \
    --ws-session-timeout 1 --sub-timeout 1 --history-bytes 300000
B=$SIM_PORT
# The watcher must get all 40000 events (20 s) while the others misbehave.
watcher b "$B" 40000 ""

t "a token of another gateway: 401 at the upgrade" $C --port "$B" \
    upgrade --bearer="$TOK" --expect 401
TOKB=$($C --port "$B" token --print)
t "upgrade at /api/ws/events/v1" $C --port "$B" upgrade --bearer="$TOKB"
t "upgrade at /api/ws/events/v1/" $C --port "$B" --path /api/ws/events/v1/ \
    upgrade --bearer="$TOKB"
t "upgrade without a token (authenticate command later): 101" \
    $C --port "$B" upgrade
t "/api/ws/events (no version): 404" $C --port "$B" --path /api/ws/events \
    upgrade --bearer="$TOKB" --expect 404
t "/api/ws/events/v2: 404" $C --port "$B" --path /api/ws/events/v2 \
    upgrade --bearer="$TOKB" --expect 404
t "any other path: 404" $C --port "$B" http /api/nothing --expect 404
t "protocol: pipelined commands in order, commandId echo (0, string, 2^53+1), Include, no sessionId/eventId, unknown command, getState, pings, no subprotocol" \
    $K --port "$B" protocol --count 50
if command -v node >/dev/null 2>&1 &&
    [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]; then
	t "JavaScript sample client (authenticate, Include, getState): 300 events" \
	    node --experimental-websocket "$HERE/sample_ess.mjs" "$B" 300 \
	    "$T/js.ids"
	log_ids "$T/b.sent" >"$T/b.sent.ids"
	first=$(head -n 1 "$T/js.ids")
	grep -A 100000 -x -- "$first" "$T/b.sent.ids" >"$T/b.from"
	t "JavaScript sample client: a gapless run of the events sent" \
	    is_prefix "$T/js.ids" "$T/b.from"
else
	echo "ok $((tn + 1)) # SKIP node >= 20 not found"
	echo "ok $((tn + 2)) # SKIP node >= 20 not found"
	tn=$((tn + 2))
fi
t "malformed JSON: closed with 1007" $K --port "$B" bad json
t "a frame over the size limit: closed with 1009" $K --port "$B" bad big
t "a binary frame: closed with 1003" $K --port "$B" bad binary
t "addSubscription/getState before startSession: 400, then 1008 no session" \
    $K --port "$B" bad order
t "a session without a subscription: 1008 after --sub-timeout" \
    $K --port "$B" bad nosub
t "slowloris on HTTP: 408 and closed" $K --port "$B" bad slow-http
t "slowloris on the WebSocket upgrade: 408 and closed" \
    $K --port "$B" bad slow-upgrade
t "an idle keep-alive connection is closed" $K --port "$B" bad idle-http
t "a client that stops reading: closed with 1008 client too slow" \
    $K --port "$B" bad no-read
wait $WATCH
check $? "the well-behaved client got all 40000 events in order on one connection"
sed 's/^/#   /' "$T/b.watch" | head -n 5
t "closes are logged with the peer: 1007" \
    grep -q "127.0.0.1:[0-9]*: .*1007" "$T/b.out"
t "closes are logged with the peer: 1009" \
    grep -q "127.0.0.1:[0-9]*: .*1009" "$T/b.out"
t "closes are logged with the peer: 408" \
    grep -q "127.0.0.1:[0-9]*: HTTP request not complete.*408" "$T/b.out"
t "closes are logged with the peer: too slow" \
    grep -q "127.0.0.1:[0-9]*: client too slow" "$T/b.out"
t "closes are logged with the peer: no session" \
    grep -q "127.0.0.1:[0-9]*: no session started" "$T/b.out"
check $([ "$(stat_of "$B" idle_closes)" -ge 5 ]; echo $?) \
    "idle_closes counted (408 x2, keep-alive, no session, no subscription)"
stop_pid "$SIM_PID"
check $RC "evsim (bad clients) exits 0"

# --- slow clients at a fixed rate: the one that stops is closed, the one ---
# that keeps up on average is not, a watcher gets everything.  A stopped
# client falls behind without bound, so the overflow of its history (2 MB,
# about 3 s at this rate) is certain; the bursty client pauses 0.05 s after
# every 500 events (a quarter of a second's worth), so it only falls behind
# by that much if it reads at all (the margin is for a loaded machine).
start_sim d $AUTH --rate 2000 --events 30000 --cameras 300 \
    --history-bytes 2000000 --log-sent "$T/d.sent"
D=$SIM_PORT
watcher d "$D" 30000 "fixed rate: "
$K --port "$D" slow burst --log "$T/d.sent" --total 30000 --burst 500 \
    --pause 0.05 >"$T/dburst.out" 2>&1 &
BURST=$!
t "fixed rate: a client that stops reading is closed with 1008 client too slow, after a gapless run, logged with its address" \
    $K --port "$D" slow stop --log "$T/d.sent" --sim-log "$T/d.out"
wait $BURST
check $? "fixed rate: a client reading in bursts with pauses is not closed and gets every event in order"
sed 's/^/#   /' "$T/dburst.out" | head -n 5
wait $WATCH
check $? "fixed rate: the watcher got all 30000 events in order on one connection"
sed 's/^/#   /' "$T/d.watch" | head -n 5
slow_closes "$D" 1 "fixed rate"
stop_pid "$SIM_PID"
check $RC "evsim (slow clients) exits 0"

# --- top speed with a small history: back-pressure, not "too slow" ---------
# The producer stops at the backlog mark; with a history below that mark a
# client that kept up was closed as too slow at once.
start_sim e $AUTH --rate 0 --events 60000 --cameras 300 \
    --history-bytes 300000 --log-sent "$T/e.sent"
t "top speed, 300 kB history: a bursty reader gets all 60000 events, not closed" \
    $K --port "$SIM_PORT" slow burst --log "$T/e.sent" --total 60000 \
    --burst 2000 --pause 0.02 --from-first
slow_closes "$SIM_PORT" 0 "top speed, 300 kB history"
stop_pid "$SIM_PID"
check $RC "evsim (top speed, small history) exits 0"
start_sim f $AUTH --rate 0 --clock session --events 30000 --cameras 300 \
    --history-bytes 300000
t "--clock session, 300 kB history: 30000 events while another client does not read" \
    $K --port "$SIM_PORT" timeline --total 30000 --stall-events 5000 \
    --out "$T/f.ids"
slow_closes "$SIM_PORT" 0 "--clock session, 300 kB history"
stop_pid "$SIM_PID"
check $RC "evsim (--clock session, small history) exits 0"

# --- SIGTERM after a client was killed -9 at top speed ---------------------
# With the reader gone and another WebSocket still without a session (as
# when evrec restarts), the top-speed producer spun without polling: 100 %
# CPU, and neither the new client's commands nor SIGTERM were read.
start_sim k $AUTH --rate 0 --cameras 300
KP=$SIM_PORT
$K --port "$KP" reader >/dev/null 2>&1 &
READER=$!
waitfor 1000 stat_ge "$KP" events_sent 10000
check $? "kill -9: a reader receives at top speed"
$K --port "$KP" idle >"$T/kidle.out" 2>&1 &
IDLE=$!
waitfor 1000 stat_ge "$KP" ws_upgrades 2
check $? "kill -9: a second WebSocket without a session is open"
kill -9 "$READER"
wait "$READER" 2>/dev/null
waitfor 1000 grep -q "WebSocket closed: 1006" "$T/k.out"
check $? "kill -9: evsim saw the reader go"
# Now the producer runs with nobody to take its events (the log line comes
# just before): the signal must still be read.
kill -TERM "$SIM_PID"
waitfor 2000 grep -q "events generated" "$T/k.out"
gone=$?
check $gone "kill -9: SIGTERM ends evsim (its summary line)"
[ $gone -eq 0 ] || kill -9 "$SIM_PID"
wait "$SIM_PID"
check $? "kill -9: evsim exits 0"
wait "$IDLE"
check $([ $? -eq 0 ] && grep -q 1001 "$T/kidle.out"; echo $?) \
    "kill -9: the waiting WebSocket was closed with 1001"

# --- commands in the wrong order: an error answer, the connection lives ----
start_sim o $AUTH --rate 2000 --cameras 300
t "wrong order (before authenticate, before startSession): 401/400 with errorText and commandId, then the connection works" \
    $K --port "$SIM_PORT" order --count 20
stop_pid "$SIM_PID"
check $RC "evsim (wrong order) exits 0"

# --- per-session timelines: a stalled client stalls only itself ------------
start_sim c $AUTH --rate 0 --clock session --events 40000 --cameras 300
t "--clock session: 40000 events while another client does not read" \
    $K --port "$SIM_PORT" timeline --total 40000 --stall-events 10000 \
    --out "$T/c.ids"
stop_pid "$SIM_PID"
check $RC "evsim (--clock session) exits 0"

# Under `make asan` a leak or memory error makes evsim print a report.
check $(cat "$T"/*.out | grep -q "Sanitizer\|runtime error"; [ $? -ne 0 ]; echo $?) \
    "no sanitizer report from any evsim"
done_testing
