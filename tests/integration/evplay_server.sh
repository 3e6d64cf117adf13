#!/bin/sh
# evplay_server.sh: evplay as a gateway (--listen) end to end.  Archives
# made by evgen + evtool import serve as the reference:
#   round trip  a real evrec records evplay's replay of A into B: the same
#               events, order and message grouping, the same initial state,
#               the recorded pace (deviation printed; only a generous bound
#               on the span asserted); --any-user and --user/--password-file
#   conformance conformance.py, essclient.py (resume, authenticate command,
#               static token) and the official-style sample clients
#               (sample_ess.py, sample_ess.mjs with node >= 20) run unchanged
#               against evplay; include/exclude filters against the archive
#   state       getState = the archive's state at that client's position,
#               from a --from start in the middle of an archive
#   timelines   --clock session: two clients each get the whole replay, a
#               stalled one delays only itself; --clock shared: a late
#               client joins mid-stream
#   bad clients each closed with a clear code and a log line naming the
#               peer, while a well-behaved client receives every event
#   control     /evplay/status, pause/resume/speed/seek (401, 400, 404),
#               SIGTERM (1001 to clients, exit 0), wss with a test CA
# evplay_server.py holds the client scenarios.  Only 127.0.0.1, free ports.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
EVPLAY=$BUILD/evplay
PY=$PYTHON
S="$PY $HERE/evplay_server.py"
C="$PY $HERE/essclient.py"
K="$PY $HERE/conformance.py"
need_websockets
echo secret >"$T/pw"
echo static-token-0123456789abcdef0123456789 >"$T/tok"
AUTH="--user alice --password-file $T/pw"

# start_play NAME ARGS...: evplay --listen on a free port; sets PLAY_PID
# and PLAY_PORT (0 if it did not start), its log in $T/NAME.out.
start_play() {
	start_srv "$EVPLAY" "$@"
	_rc=$?
	PLAY_PID=$SRV_PID
	PLAY_PORT=$SRV_PORT
	return $_rc
}
# gone PID: the process has exited (for waitfor).
gone() { ! kill -0 "$1" 2>/dev/null; }
# ids FILE: the event ids of JSON lines of events (evtool cat), one a line.
ids() {
	$PY -c 'import json, sys
for line in open(sys.argv[1]):
    print(json.loads(line)["id"])' "$1"
}
# status_is PORT EXPR: the Python expression EXPR over d, the document of
# GET /evplay/status (with a token of alice), is true (for waitfor).
status_is() {
	$PY -c 'import json, sys, urllib.parse, urllib.request
u = "http://127.0.0.1:%s" % sys.argv[1]
tok = json.load(urllib.request.urlopen(u + "/API/IDP/connect/token",
    urllib.parse.urlencode({"grant_type": "password", "username": "alice",
    "password": "secret"}).encode(), timeout=5))["access_token"]
d = json.load(urllib.request.urlopen(urllib.request.Request(
    u + "/evplay/status", headers={"Authorization": "Bearer " + tok}),
    timeout=5))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}

# Two archives: S, 3,000 events in ~3 s; L, 6,000 events in ~20 s; each
# with a getState answer first.  Their frames, messages and events are the
# references.
make_archive "$T/S" 21 3000 1000 40
make_archive "$T/L" 22 6000 300 40
for a in S L; do
	$EVTOOL cat --tsv "$T/$a" >"$T/$a.tsv"
	$EVTOOL cat --messages "$T/$a" >"$T/$a.msgs"
	$EVTOOL cat "$T/$a" >"$T/$a.events"
	ids "$T/$a.events" >"$T/$a.ids"
done
NS=$(wc -l <"$T/S.ids")
NL=$(wc -l <"$T/L.ids")
check $([ "$NS" -ge 3000 ] && [ "$NL" -ge 6000 ]; echo $?) \
    "the reference archives ($NS and $NL events)"

# --- usage ------------------------------------------------------------------
$EVPLAY --listen 127.0.0.1:0 "$T/S" >/dev/null 2>"$T/e"
check $([ $? -eq 2 ] && grep -q -- "--any-user" "$T/e"; echo $?) \
    "--listen without --user or --any-user: exit 2, naming the options"
$EVPLAY --listen 127.0.0.1:0 --any-user --clock sideways "$T/S" \
    >/dev/null 2>"$T/e"
check $([ $? -eq 2 ] && grep -q -- "--clock" "$T/e"; echo $?) \
    "--clock with a bad value: exit 2"

# --- round trip: record(replay(A)) == A ----------------------------------------
# roundtrip NAME: evrec records $PLAY_PORT into $T/NAME.b until it holds
# every event of S, then the comparisons.
roundtrip() {
	start_rec "$1" --archive "$T/$1.b" --user alice --password-file "$T/pw" \
	    --no-config-snapshot "http://127.0.0.1:$PLAY_PORT"
	wait_events "$T/$1.b" "$NS" 60
	checkl $? "$1: evrec recorded all $NS events from evplay" "$T/$1.log"
	stop_pid $REC_PID
	checkl $RC "$1: evrec exits 0" "$T/$1.log"
	$EVTOOL cat --messages "$T/$1.b" >"$T/$1.msgs"
	t "$1: the same events, in the same order and messages" \
	    $PY "$HERE/jsoncmp.py" "$T/S.msgs" "$T/$1.msgs"
	$EVTOOL cat --tsv "$T/$1.b" >"$T/$1.b.tsv"
	t "$1: evrec's getState answer is the archive's state at its position" \
	    $S snapshot "$T/S.tsv" "$T/$1.b.tsv"
	t "$1: inter-arrival times kept (the pace of --speed 4)" \
	    $S timing "$T/S.tsv" "$T/$1.b.tsv" --speed 4
	sed -n 's/^\([0-9]* messages.*\)/#   \1/p' "$T/.out"
}
start_play rt1 --any-user --speed 4 --exit-when-done "$T/S"
check $? "evplay --listen --any-user starts and writes the ready file"
roundtrip rt1
waitfor 1000 gone "$PLAY_PID"
check $? "--exit-when-done: evplay exits once the client got everything"
wait "$PLAY_PID"
check $? "--exit-when-done: exit 0"

start_play rt2 $AUTH --speed 4 "$T/S"
t "--user/--password-file: a wrong password is 400 invalid_grant" \
    $C --port "$PLAY_PORT" --password wrong token --expect 400 \
    --error invalid_grant
t "--user/--password-file: another user is 400" \
    $C --port "$PLAY_PORT" --user bob token --expect 400
roundtrip rt2
stop_pid "$PLAY_PID"
check $RC "SIGTERM: exit 0"
check $(grep -q "secret" "$T/rt2.out" "$T/rt2.log"; [ $? -ne 0 ]; echo $?) \
    "the password is not in the logs"

# --- conformance against evplay ---------------------------------------------------
start_play cf $AUTH --token-file "$T/tok" --speed 4 "$T/S"
P="--port $PLAY_PORT"
t "protocol (conformance.py): pipelined commands, commandId echo, Include, unknown command, getState, pings" \
    $K $P protocol --count 50
# essclient's session wants motion-started states in the getState answer
# right after subscribing: the state at the start point (it comes before
# the events), so the replay starts in the middle of S, where cameras are
# in motion.
SMID=$(($(sed -n 300p "$T/S.in" | cut -f1) + 1))
CF_PID=$PLAY_PID
CF_PORT=$PLAY_PORT
start_play cfm $AUTH --speed 4 --from "$SMID" "$T/S"
t "session (essclient.py): 201, filtered subscription, getState, commandId types" \
    $C --port "$PLAY_PORT" session --count 60
stop_pid "$PLAY_PID"
PLAY_PID=$CF_PID
PLAY_PORT=$CF_PORT
t "authenticate command instead of the Bearer header" $C $P auth-command
t "OIDC discovery: server_version has the OAuth major (>= 21) clients read" \
    $C $P http /IDP/.well-known/openid-configuration --oauth-version
t "upgrade with the static --token-file token: 101" \
    $C $P upgrade --bearer="$(cat "$T/tok")"
t "upgrade with a bad token: 401" $C $P upgrade --bearer=not-a-token \
    --expect 401
t "resume with an older eventId: every event after it again, once, in order" \
    $C $P follow --log "$T/S.msgs" --total "$NS" --leave-after 500 \
    --claim-back 100 --pause 0.3 --expect-resume --min-resumes 1
t "include and exclude filters: exactly the matching events, grouped as recorded" \
    $S $P --tsv "$T/S.tsv" filters
t "getState pipelined behind the subscription at the archive's start, and after every 300 events == the archive's state there" \
    $S $P --tsv "$T/S.tsv" state --checks 3 --every 300
t "Python sample client: every event of the archive" \
    $PY "$HERE/sample_ess.py" $P --total "$NS" --out "$T/py.ids"
t "Python sample client: the archive's events in order" \
    cmp "$T/py.ids" "$T/S.ids"
if command -v node >/dev/null 2>&1 &&
    [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]; then
	t "JavaScript sample client (authenticate, Include, getState): 500 events" \
	    node --experimental-websocket "$HERE/sample_ess.mjs" \
	    "$PLAY_PORT" 500 "$T/js.ids"
	t "JavaScript sample client: the archive's first 500 events" \
	    sh -c "head -n 500 $T/S.ids | cmp - $T/js.ids"
else
	echo "ok $((tn + 1)) # SKIP node >= 20 not found"
	echo "ok $((tn + 2)) # SKIP node >= 20 not found"
	tn=$((tn + 2))
fi
t "--clock session: two clients subscribing at different times each get the whole replay" \
    $S $P --tsv "$T/S.tsv" timelines --late-after 500
t "--clock session: a client that stops reading delays only itself, and loses nothing" \
    $S $P --tsv "$T/S.tsv" stall
stop_pid "$PLAY_PID"
check $RC "evplay (conformance) exits 0"

# Per-session timelines never drop, whatever --history-bytes: ~9 MB at top
# speed to a client that stops reading, with a history of 200 kB.
start_play hist --any-user --top-speed --loop 10 --history-bytes 200000 \
    "$T/S"
t "--clock session, --history-bytes 200000: a stalled client at top speed is slowed, not closed" \
    $S --port "$PLAY_PORT" --tsv "$T/S.tsv" --timeout 60 stall --loops 10
check $(grep -q "too slow" "$T/hist.out"; [ $? -ne 0 ]; echo $?) \
    "... no client closed as too slow"
stop_pid "$PLAY_PID"
check $RC "evplay (--history-bytes) exits 0"

# --- getState at the client's position, from the middle of an archive --------
mid=$(($(sed -n 1000p "$T/L.in" | cut -f1) + 1))
start_play st --any-user --speed 4 --from "$mid" "$T/L"
P="--port $PLAY_PORT"
t "getState right after subscribing and after every 100 events == evtool state at the position (10 sources)" \
    $S $P --tsv "$T/L.tsv" --from-us "$mid" state --sources 10 --checks 4 \
    --every 100
t "... for all sources" \
    $S $P --tsv "$T/L.tsv" --from-us "$mid" state --checks 3 --every 500
t "--from: filters applied from the start point" \
    $S $P --tsv "$T/L.tsv" --from-us "$mid" filters
t "--from: two timelines each from the start point" \
    $S $P --tsv "$T/L.tsv" --from-us "$mid" timelines --late-after 300
stop_pid "$PLAY_PID"
check $RC "evplay (--from) exits 0"
$EVTOOL state --at $((mid - 1)) "$T/L" | wc -l >"$T/n"
check $([ "$(cat "$T/n")" -gt 20 ]; echo $?) \
    "the state at the start point is not trivial ($(cat "$T/n") states)"

# --- replay options in server mode: exactly these events, then 1001 -----------
# window NAME IDS OPTIONS...: one client of evplay --exit-when-done OPTIONS
# gets exactly the ids in file IDS, then the close; evplay exits 0.
window() {
	_w=$1
	_i=$2
	shift 2
	start_play "$_w" --any-user --top-speed --exit-when-done "$@" "$T/S"
	t "$_w: exactly the expected events, then closed with 1001" \
	    $S --port "$PLAY_PORT" until-close --ids "$_i"
	waitfor 1000 gone "$PLAY_PID"
	wait "$PLAY_PID"
	check $? "$_w: evplay exits 0 once done"
}
cat "$T/S.ids" "$T/S.ids" >"$T/loop.ids"
window "--loop 2" "$T/loop.ids" --loop 2
to=$(sed -n 500p "$T/S.in" | cut -f1)
$EVTOOL cat --to "$to" "$T/S" >"$T/to.events"
ids "$T/to.events" >"$T/to.ids"
window "--to" "$T/to.ids" --to "$to"
id=$(sed -n 1200p "$T/S.ids")
sed -n '1200,$p' "$T/S.ids" >"$T/fid.ids"
window "--from-id (inside a message)" "$T/fid.ids" --from-id "$id"

# --- shared clock ----------------------------------------------------------------
start_play sh --any-user --clock shared --speed 2 "$T/S"
t "--clock shared: a late client joins mid-stream, then gapless" \
    $S --port "$PLAY_PORT" --tsv "$T/S.tsv" timelines --shared \
    --late-after 500
stop_pid "$PLAY_PID"
check $RC "evplay (--clock shared) exits 0"
start_play sh2 --any-user --clock shared --speed 4 "$T/S"
t "--clock shared: getState (pipelined) and after every 300 events == the archive's state at the shared position" \
    $S --port "$PLAY_PORT" --tsv "$T/S.tsv" state --checks 3 --every 300
stop_pid "$PLAY_PID"
check $RC "evplay (--clock shared, getState) exits 0"
# ~12 MB in ~5 s: more than the socket buffers and the history of the
# stalled client hold; the reading client may fall behind by up to 2 MB
# (0.8 s) before it is closed too.
start_play sh3 --any-user --clock shared --speed 8 --loop 14 \
    --exit-when-done --history-bytes 2000000 "$T/S"
t "--clock shared at a fixed speed: a client that stops reading does not hold the others" \
    $S --port "$PLAY_PORT" --tsv "$T/S.tsv" --timeout 60 stall --shared \
    --loops 14
t "... it is closed as too slow, the log names the peer" \
    grep -q "127.0.0.1:[0-9]*: .*too slow" "$T/sh3.out"
waitfor 1000 gone "$PLAY_PID"
wait "$PLAY_PID"
check $? "evplay (--clock shared, stalled client) exits 0 once done"

# --- bad clients while a well-behaved one receives every event ----------------
start_play bad $AUTH --speed 4 --max-frame 65536 --http-timeout 1 \
    --ws-session-timeout 1 --sub-timeout 1 "$T/L"
P="--port $PLAY_PORT"
$C $P follow --log "$T/L.msgs" --total "$NL" --max-conns 1 --timeout 60 \
    >"$T/watch.out" 2>&1 &
WATCH=$!
waitfor 1000 status_is "$PLAY_PORT" 'd["timelines"]'
check $? "the well-behaved client subscribed"
bad_pids=""
for kind in json big binary order nosub slow-http slow-upgrade; do
	$K $P bad $kind --size 70000 >"$T/bad.$kind" 2>&1 &
	bad_pids="$bad_pids $!"
done
set -- json big binary order nosub slow-http slow-upgrade
for p in $bad_pids; do
	wait "$p"
	check $? "bad client ($1) closed as expected: $(tail -n 1 "$T/bad.$1")"
	shift
done
wait $WATCH
check $? "meanwhile the well-behaved client got all $NL events in order on one connection"
sed 's/^/#   /' "$T/watch.out" | head -n 5
t "closes are logged with the peer: 1007" \
    grep -q "127.0.0.1:[0-9]*: .*1007" "$T/bad.out"
t "closes are logged with the peer: 1009" \
    grep -q "127.0.0.1:[0-9]*: .*1009" "$T/bad.out"
t "closes are logged with the peer: 1003" \
    grep -q "127.0.0.1:[0-9]*: .*1003" "$T/bad.out"
t "closes are logged with the peer: 408" \
    grep -q "127.0.0.1:[0-9]*: HTTP request not complete.*408" "$T/bad.out"
t "closes are logged with the peer: no session" \
    grep -q "127.0.0.1:[0-9]*: no session started" "$T/bad.out"
t "closes are logged with the peer: no subscription" \
    grep -q "127.0.0.1:[0-9]*: .*no subscription" "$T/bad.out"
stop_pid "$PLAY_PID"
check $RC "evplay (bad clients) exits 0"

# --- control path, SIGTERM --------------------------------------------------------
start_play ctl $AUTH --stats "$T/L"
P="--port $PLAY_PORT"
t "control: status fields, pause/resume/speed/seek with a token (401 without, 400, 404)" \
    $S $P --tsv "$T/L.tsv" control
kill -USR1 "$PLAY_PID"
waitfor 1000 status_is "$PLAY_PORT" \
    'd["timelines"] and all(t["paused"] for t in d["timelines"])'
check $? "SIGUSR1: every timeline paused (/evplay/status)"
kill -USR2 "$PLAY_PID"
waitfor 1000 grep -q "session .* paused x" "$T/ctl.out"
check $? "SIGUSR2: a status line per timeline"
kill -USR1 "$PLAY_PID"
waitfor 1000 status_is "$PLAY_PORT" \
    'd["timelines"] and not any(t["paused"] for t in d["timelines"])'
check $? "SIGUSR1 again: playing"
$S $P closed --ready "$T/closed.ready" >"$T/closed.out" 2>&1 &
CL=$!
waitfor 1000 test -s "$T/closed.ready"
check $? "a client subscribed before SIGTERM"
stop_pid "$PLAY_PID"
check $RC "SIGTERM with a client connected: exit 0"
wait $CL
check $? "... the client was closed with 1001: $(tail -n 1 "$T/closed.out")"
t "--stats: per-timeline stats on SIGTERM" grep -q "lateness" "$T/ctl.out"

# --- wss -------------------------------------------------------------------------------
if make_certs; then
	start_play tls $AUTH --speed 4 --tls-cert "$T/srv.pem" \
	    --tls-key "$T/srv.key" --from "$SMID" "$T/S"
	TP="--port $PLAY_PORT --tls --cafile $T/ca.pem"
	t "https token endpoint, verified through the test CA" $C $TP token
	t "wss session with filters and getState, verified" \
	    $C $TP session --count 30
	t "without the test CA the certificate is refused" \
	    $C --port "$PLAY_PORT" --tls tls-refused
	stop_pid "$PLAY_PID"
	check $RC "evplay (TLS) exits 0"
else
	check 1 "openssl made a test CA and server certificate"
fi

# Under `make asan` a leak or memory error makes evplay print a report.
check $(cat "$T"/*.out | grep -q "Sanitizer\|runtime error"; [ $? -ne 0 ]; echo $?) \
    "no sanitizer report from any evplay"
done_testing
