#!/bin/sh
# evsim.sh: the simulated gateway end to end, driven by essclient.py (the
# way the official Milestone samples talk to a gateway): IDP token
# endpoint, WebSocket upgrade and authentication, sessions, filters,
# getState, commandId echo, resume (left, dropped, recycled), garbage
# frames, a misbehaving client, delayed getState, REST, discovery, TLS with
# a test CA, usage errors and SIGTERM.  Only 127.0.0.1, free ports.
. "$(dirname "$0")/lib.sh"
EVSIM=$BUILD/evsim

# A python3 with the websockets module (Debian: python3-websockets).
PY=$PYTHON
need_websockets
C="$PY $HERE/essclient.py"
MOTION=6eb95dd6-7ccc-4bce-99f8-af0d0b582d77
echo secret >"$T/pw"
echo static-token-0123456789abcdef0123456789 >"$T/tok"

pids=""
# sim NAME ARGS...: starts evsim in the background with a ready file;
# sets PORT and PID once it listens (stderr goes to $T/NAME.err).
sim() {
	sn=$1
	shift
	rm -f "$T/$sn.ready"
	$EVSIM --ready-file "$T/$sn.ready" "$@" 2>"$T/$sn.err" &
	PID=$!
	pids="$pids $PID"
	if waitfor 500 test -s "$T/$sn.ready"; then
		PORT=$(cat "$T/$sn.ready")
	else
		PORT=0
		sed 's/^/#   /' "$T/$sn.err"
	fi
}
# stop PID: SIGTERM, then the exit status.
stop() {
	kill -TERM "$1" 2>/dev/null
	wait "$1"
}
cleanup() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

# --- usage ---------------------------------------------------------------
$EVSIM -h >"$T/usage" 2>&1
check $? "-h exits 0"
t "usage names the options" grep -q -- "--drop-every" "$T/usage"
$EVSIM --rate fast >/dev/null 2>"$T/e"
check $([ $? -eq 2 ]; echo $?) "a bad number exits 2"
t "and says which option" grep -q -- "--rate" "$T/e"
$EVSIM --no-such-option >/dev/null 2>&1
check $([ $? -eq 2 ]; echo $?) "an unknown option exits 2"
$EVSIM --user alice >/dev/null 2>&1
check $([ $? -eq 2 ]; echo $?) "--user without --password-file exits 2"
$EVSIM --tls-cert /nonexistent --tls-key /nonexistent \
    --ready-file "$T/x.ready" >/dev/null 2>&1
check $([ $? -eq 3 ] && [ ! -e "$T/x.ready" ]; echo $?) \
    "unreadable TLS files: exit 3 (failure), no ready file"
$EVSIM --history-bytes 4X >/dev/null 2>"$T/e"
check $([ $? -eq 2 ] && grep -q -- '--history-bytes: "4X" is not a size' "$T/e"; echo $?) \
    "--history-bytes 4X: exit 2 with the common message"
$EVSIM --state-delay 1x >/dev/null 2>"$T/e"
check $([ $? -eq 2 ] && grep -q -- '--state-delay: "1x" is not a duration' "$T/e"; echo $?) \
    "--state-delay 1x: exit 2 with the common message"
$EVSIM --cameras 0 >/dev/null 2>"$T/e"
check $([ $? -eq 2 ] && grep -q -- '--cameras: "0" is out of range' "$T/e"; echo $?) \
    "--cameras 0: exit 2, out of range"

# --- the token endpoint, upgrades, REST, discovery, sessions --------------
sim a --user alice --password-file "$T/pw" --token-file "$T/tok" \
    --rate 2000 --cameras 300 --token-lifetime 600
A=$PID
check $([ "$PORT" -gt 0 ]; echo $?) "evsim writes its port to the ready file"
P="--port $PORT"
t "token: good credentials give a Bearer token" \
    $C $P token --expires-in 600
t "token: /IDP/connect/token, any case" \
    $C $P --token-path /idp/Connect/TOKEN token
t "token: a bad password is 400 invalid_grant" \
    $C $P --password wrong token --expect 400 --error invalid_grant
t "token: a bad user is 400 invalid_grant" \
    $C $P --user bob token --expect 400 --error invalid_grant
t "token: another grant is 400 unsupported_grant_type" \
    $C $P token --grant client_credentials --expect 400 \
    --error unsupported_grant_type
TOK=$($C $P token --print)
t "upgrade with a valid Bearer: 101, accept key, no subprotocol" \
    $C $P upgrade --bearer="$TOK" --expect 101
t "upgrade with a trailing slash: 101" \
    $C $P --path /api/ws/events/v1/ upgrade --bearer="$TOK" --expect 101
t "upgrade with the static token: 101" \
    $C $P upgrade --bearer="$(cat "$T/tok")" --expect 101
t "upgrade with a bad Bearer: 401 + WWW-Authenticate" \
    $C $P upgrade --bearer not-a-token --expect 401
t "upgrade without a header: 101 (authenticate command later)" \
    $C $P upgrade --expect 101
t "upgrade on another path: 404" \
    $C $P --path /api/ws/events upgrade --bearer="$TOK" --expect 404
t "REST without a token: 401" $C $P http /api/rest/v1/cameras --expect 401
t "REST cameras: one per generator camera" \
    $C $P http /api/rest/v1/cameras --bearer="$TOK" --count-array 300 \
    --has '"Camera 0001"'
CAM=$($C $P http /api/rest/v1/cameras --bearer="$TOK" --print |
    $PY -c 'import json,sys; print(json.load(sys.stdin)["array"][7]["id"])')
t "REST cameras/<id>: its data" \
    $C $P http "/api/rest/v1/cameras/$CAM" --bearer="$TOK" --has "$CAM" \
    --has '"Camera 0008"'
t "REST eventTypes: motion started with its state group" \
    $C $P http /api/rest/v1/eventTypes --bearer="$TOK" --has "$MOTION" \
    --has 720ef62a-78be-418a-8e4c-ee04ffca6429 --has '"Motion Started"'
t "REST eventTypes/<id>" \
    $C $P http "/api/rest/v1/eventTypes/$MOTION" --bearer="$TOK" \
    --has '"data"'
t "REST stateGroups" \
    $C $P http /api/rest/v1/stateGroups --bearer="$TOK" --has '"No Motion"'
t "REST unknown resource: 404" \
    $C $P http /api/rest/v1/nothingHere --bearer="$TOK" --expect 404
t "REST unknown camera: 404" \
    $C $P http /api/rest/v1/cameras/00000000-0000-4000-8000-000000000000 \
    --bearer="$TOK" --expect 404
t "discovery: /api/.well-known/uris" \
    $C $P http /api/.well-known/uris --has IdentityProvider \
    --has "http://127.0.0.1:$PORT/API/"
t "discovery: /IDP/.well-known/openid-configuration" \
    $C $P http /IDP/.well-known/openid-configuration --oauth-version \
    --has "http://127.0.0.1:$PORT/IDP/connect/token"
t "session: 201, filtered subscription, getState, commandId types, events" \
    $C $P session --count 60
t "authenticate command: 401 before and with a bad token, then 200" \
    $C $P auth-command
t "a client sending garbage is closed with 1007, another keeps receiving" \
    $C $P bad-peer
t "a session resumed while held: 200 there, 1008 for the old connection" \
    $C $P steal
stop $A
check $? "SIGTERM: exit 0"
t "SIGTERM: one-line summary" grep -q "events generated" "$T/a.err"
check $(grep -ci "secret\|static-token\|$TOK" "$T/a.err" | grep -q '^0$'; echo $?) \
    "no password or token in the log"

# --- resume after the client left ---------------------------------------
sim b --rate 3000 --events 4000 --log-sent "$T/b.log"
t "resume within the window: 200, same id, every later event once, in order" \
    $C --port $PORT follow --log "$T/b.log" --total 4000 --leave-after 500 \
    --pause 0.4 --expect-resume --min-resumes 1
stop $PID
check $? "exit 0"
t0=$(($(date +%s%N) / 1000))
sim b2 --rate 3000 --events 3000 --log-sent "$T/b2.log" \
    --log-sent-times "$T/b2.times"
t "resume from an older eventId: the events after it are sent again" \
    $C --port $PORT follow --log "$T/b2.log" --total 3000 --leave-after 400 \
    --claim-back 150 --pause 0.2 --expect-resume --min-resumes 1
stop $PID
# --log-sent-times: "WALL_US ID" per message of --log-sent, in its order
# (its first event's id), the times ascending within the run.
t1=$(($(date +%s%N) / 1000))
$PY - "$T/b2.log" "$T/b2.times" "$t0" "$t1" <<'EOF2'
import json, sys
ids = [json.loads(l)["events"][0]["id"] for l in open(sys.argv[1])]
t = [l.split() for l in open(sys.argv[2])]
us = [int(x[0]) for x in t]
ok = ([x[1] for x in t] == ids and us == sorted(us) and
      int(sys.argv[3]) <= us[0] and us[-1] <= int(sys.argv[4]))
sys.exit(0 if ok and len(ids) > 0 else 1)
EOF2
check $? "--log-sent-times: each message's send time and first id, in order"
sim b3 --rate 4000 --history-bytes 20000 --log-sent "$T/b3.log"
t "resume after the eventId left the bounded history: 201" \
    $C --port $PORT follow --log "$T/b3.log" --total 1000 --leave-after 100 \
    --pause 0.5 --min-refused 1 --no-compare
stop $PID

# --- --drop-every ---------------------------------------------------------
sim c --rate 5000 --events 3000 --drop-every 400 --log-sent "$T/c.log"
t "--drop-every: abrupt drops, resumes lose and repeat nothing" \
    $C --port $PORT follow --log "$T/c.log" --total 3000 --expect-resume \
    --min-resumes 3 --min-abnormal 3 --max-garbage 0
stop $PID
t "the summary counts the drops" grep -q "[1-9][0-9]* drops" "$T/c.err"

# --- --garbage-every ------------------------------------------------------
sim d --rate 3000 --events 1000 --garbage-every 100 --log-sent "$T/d.log"
t "--garbage-every: non-JSON frames arrive, events intact" \
    $C --port $PORT follow --log "$T/d.log" --total 1000 --min-garbage 5
stop $PID

# --- --forget-every (gateway recycle) -------------------------------------
sim e --rate 2000 --forget-every 200
t "--forget-every: closed with 1001, resume gets 201 and a new id" \
    $C --port $PORT forgotten
stop $PID

# --- --state-delay ---------------------------------------------------------
sim f --rate 500 --state-delay 0.5
t "--state-delay: getState late, pipelined command answered after it" \
    $C --port $PORT state-delay --delay 0.5
stop $PID

# --- HTTP keep-alive and pipelining; connection limit ---------------------
sim i --max-conns 3
t "pipelined requests on one connection: answered in order" \
    $C --port $PORT pipeline
t "--max-conns: the connection over the limit is refused, later served" \
    $C --port $PORT conn-limit --n 3
stop $PID

# --- HTTP request timeout (slowloris) --------------------------------------
sim k --http-timeout 1
t "--http-timeout: a partial request line is closed, others are served" \
    $C --port $PORT slowloris
stop $PID

# --- --refuse-tokens ------------------------------------------------------
sim g --refuse-tokens
t "--refuse-tokens: 400 invalid_grant" \
    $C --port $PORT token --expect 400 --error invalid_grant
stop $PID

# --- top speed with back-pressure ------------------------------------------
sim h --rate 0 --events 60000 --log-sent "$T/h.log"
t "--rate 0: 60000 events at top speed, none lost" \
    $C --port $PORT follow --log "$T/h.log" --total 60000 --max-conns 1
stop $PID

# --- TLS with a test CA -----------------------------------------------------
if openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=evtape-test-ca \
    -keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1 &&
    openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
    -keyout "$T/srv.key" -out "$T/srv.csr" >/dev/null 2>&1 &&
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$T/ext" &&
    openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
    -CAcreateserial -days 2 -extfile "$T/ext" -out "$T/srv.pem" \
    >/dev/null 2>&1; then
	check 0 "openssl made a test CA and server certificate"
	sim tls --tls-cert "$T/srv.pem" --tls-key "$T/srv.key" \
	    --user alice --password-file "$T/pw" --rate 2000
	TP="--port $PORT --tls --cafile $T/ca.pem"
	t "https token endpoint trusted through the test CA" $C $TP token
	t "wss session with filters and getState" $C $TP session --count 30
	t "wss upgrade with a bad Bearer: 401" \
	    $C $TP upgrade --bearer nope --expect 401
	t "without the test CA the certificate is refused" \
	    $C --port $PORT --tls tls-refused
	stop $PID
	check $? "TLS evsim: SIGTERM exit 0"
else
	check 1 "openssl made a test CA and server certificate"
fi

# Under `make asan` a leak or memory error makes evsim print a report.
check $(cat "$T"/*.err | grep -q "Sanitizer\|runtime error"; [ $? -ne 0 ]; echo $?) \
    "no sanitizer report from any evsim"

done_testing
