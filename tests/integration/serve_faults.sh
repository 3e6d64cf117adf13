#!/bin/sh
# serve_faults.sh: the serving side under peers that leave, flood or pry
# (issue 10 items 1, 5, 10).  Real evplay, evsim and evrec processes on
# 127.0.0.1, free ports; peers.py holds the misbehaving peers.
#   leave       --clock session: clients leave a running replay (clean
#               close, dropped TCP connection) and never come back; their
#               sessions expire while their timelines still run; another
#               client receives every event through the expiries, and a
#               third one is served afterwards
#   pings       a client that floods pings and never reads is closed with
#               1008 and a log line naming it (evplay, evsim) while another
#               client is served; a gateway that floods evrec with pings
#               is dropped, evrec reconnects and loses nothing
#   auth        /evplay/status needs the Bearer token; a session can only
#               be resumed by the user that started it
#   usage       bad --listen values exit 2; a port that cannot be bound
#               gives one clear error line
#   options     the gateway-server options are one set in both programs
#               (gw_opts.c): the same names, values with units (4M, 30s),
#               the same errors; --max-clients is an alias of --max-conns
#   descriptors evsim out of file descriptors pauses accepting (no accept
#               loop) and accepts again once connections are gone
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
EVPLAY=$BUILD/evplay
PY=$PYTHON
C="$PY $HERE/essclient.py"
PEER="$PY $HERE/peers.py"
need_websockets
echo secret >"$T/pw"

alive() { kill -0 "$1" 2>/dev/null; }
gone() { ! alive "$1"; }

# 6,000 events in ~20 s (5 s at --speed 4), a getState answer first.
make_archive "$T/L" 22 6000 300 40
$EVTOOL cat --messages "$T/L" >"$T/L.msgs"
NL=$($EVTOOL cat "$T/L" | wc -l)

# --- leave: clients leave running session-clock replays ----------------------
start_srv "$EVPLAY" leave --any-user --speed 4 --resume-window 0.5 "$T/L"
PLAY_PID=$SRV_PID
P="--port $SRV_PORT"
$C $P follow --log "$T/L.msgs" --total "$NL" --max-conns 1 --timeout 60 \
    >"$T/stay.out" 2>&1 &
STAY=$!
t "a client leaves after 200 events with a clean close (1000)" \
    $PEER $P leave --after 200 --how close
t "a client leaves after 200 events by dropping the TCP connection" \
    $PEER $P leave --after 200 --how drop
waitfor 1000 sh -c "[ \$(grep -c 'session .* expired' '$T/leave.out') -ge 2 ]"
check $? "both sessions expire while their replays run"
wait $STAY
check $? "meanwhile another client got all $NL events in order: $(tail -n 1 "$T/stay.out")"
alive "$PLAY_PID"
check $? "evplay is still running after the expiries"
t "a third client is served afterwards (60 events)" \
    $PEER $P leave --after 60 --how close
stop_pid "$PLAY_PID"
check $RC "evplay (clients leaving) exits 0 on SIGTERM"

# --- pings: a peer that pings and never reads ----------------------------------
# flood NAME PORT LOG: a ping-flooding client of the server on PORT is
# dropped with 1008, the server's LOG naming it.
flood() {
	t "$1: a client that floods pings and never reads is dropped" \
	    $PEER --port "$2" ping-flood --timeout 60
	t "$1: ... closed with 1008, the log names the peer and the pings" \
	    grep -q "127.0.0.1:[0-9]*: WebSocket closed: 1008 peer does not read: .* pings" "$3"
}
start_srv "$EVPLAY" pflood --any-user --speed 4 "$T/L"
PLAY_PID=$SRV_PID
$C --port "$SRV_PORT" follow --log "$T/L.msgs" --total "$NL" --max-conns 1 \
    --timeout 60 >"$T/stay.out" 2>&1 &
STAY=$!
flood evplay "$SRV_PORT" "$T/pflood.out"
wait $STAY
check $? "evplay: meanwhile another client got all $NL events on one connection"
stop_pid "$PLAY_PID"
check $RC "evplay (ping flood) exits 0 on SIGTERM"

start_sim sflood --rate 2000 --log-sent "$T/sflood.sent"
$C --port "$SIM_PORT" follow --log "$T/sflood.sent" --total 20000 \
    --max-conns 1 --timeout 60 >"$T/stay.out" 2>&1 &
STAY=$!
flood evsim "$SIM_PORT" "$T/sflood.out"
wait $STAY
check $? "evsim: meanwhile another client got 20,000 events on one connection"
stop_pid "$SIM_PID"
check $RC "evsim (ping flood) exits 0 on SIGTERM"

# A gateway whose first connection sends 300 events, then floods pings and
# reads nothing more; the next connection sends 300 more and behaves.
rm -f "$T/mg.port"
$PEER gateway --ready "$T/mg.port" --log-sent "$T/mg.sent" >"$T/mg.out" 2>&1 &
MG=$!
PIDS="$PIDS $MG"
waitfor 1000 test -s "$T/mg.port"
check $? "the ping-flooding gateway listens"
start_rec mg --archive "$T/mg.a" --user u --password-file "$T/pw" \
    --no-config-snapshot "http://127.0.0.1:$(cat "$T/mg.port")"
wait_events "$T/mg.a" 600 60
checkl $? "evrec records the events of both connections" "$T/mg.log"
checkl $(grep -q "lost: 1008 peer does not read: .* pings" "$T/mg.log"; echo $?) \
    "evrec dropped the flooding connection with 1008 and said why" "$T/mg.log"
checkl $(grep -q "dropped by evrec" "$T/mg.out"; echo $?) \
    "the gateway saw its connection dropped" "$T/mg.out"
stop_pid "$REC_PID"
checkl $RC "evrec exits 0" "$T/mg.log"
kill "$MG" 2>/dev/null
t "every event the gateway sent is in the archive, in order, once" \
    same_events "$T/mg.sent" "$T/mg.a"

# --- auth: the status needs a token; sessions belong to their user ---------
echo static-token-0123456789abcdef0123456789 >"$T/tok"
start_srv "$EVPLAY" auth --any-user --token-file "$T/tok" --speed 4 "$T/L"
PLAY_PID=$SRV_PID
P="--port $SRV_PORT"
t "GET /evplay/status without a token: 401 with WWW-Authenticate: Bearer" \
    $C $P http /evplay/status --expect 401 --has "Bearer token required"
t "GET /evplay/status with a bad token: 401" \
    $C $P http /evplay/status --bearer not-a-token-0123456789abcdef \
    --expect 401
TOK=$($C $P token --print)
t "GET /evplay/status with a token: 200" \
    $C $P http /evplay/status --bearer="$TOK" --has timelines
t "a session cannot be resumed by another user (201); its own user resumes it" \
    $PEER $P other-user --other bob
t "... nor with the static --token-file token" \
    $PEER $P other-user --other-token "$(cat "$T/tok")"
t "... the refusal is logged with the peer" \
    grep -q "127.0.0.1:[0-9]*: cannot resume session .*another user" \
    "$T/auth.out"
stop_pid "$PLAY_PID"
check $RC "evplay (auth) exits 0 on SIGTERM"
start_sim sauth
t "evsim: a session cannot be resumed by another user" \
    $PEER --port "$SIM_PORT" other-user --other bob
stop_pid "$SIM_PID"

# --- usage: --listen -------------------------------------------------------------
# one_line PROG STATUS WHAT ARGS...: PROG ARGS exits STATUS with one
# stderr line matching WHAT (and the usage hint).
one_line() {
	_p=$1
	_s=$2
	_w=$3
	shift 3
	$_p "$@" >/dev/null 2>"$T/e"
	_rc=$?
	_n=$(grep -cv "^Try '" "$T/e")
	[ "$_rc" -eq "$_s" ] && [ "$_n" -eq 1 ] && grep -q -- "$_w" "$T/e" || {
		echo "# exit $_rc (wanted $_s), stderr:"
		sed 's/^/#   /' "$T/e"
		return 1
	}
}
for prog in "$EVPLAY --any-user" "$BUILD/evsim"; do
	name=$(basename "${prog%% *}")
	arch=""
	[ "$name" = evplay ] && arch="$T/L"
	for bad in foo:8080 localhost:8080 1.2.3:80 "[::1:80" 127.0.0.1:65536 \
	    127.0.0.1:; do
		one_line "$prog" 2 "--listen" --listen "$bad" $arch
		check $? "$name --listen $bad: exit 2, one line"
	done
	# A port that is taken: one line naming the step and the address.
	start_sim taken
	one_line "$prog" 3 "cannot listen on 127.0.0.1:$SIM_PORT: bind failed: Address already in use" \
	    --quiet --listen "127.0.0.1:$SIM_PORT" $arch
	check $? "$name on a port in use: exit 3, one line saying bind failed and why"
	stop_pid "$SIM_PID"
	# Port 80 without privileges (as nobody when run as root).
	asuser=""
	[ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
	    asuser="setpriv --reuid=65534 --regid=65534 --clear-groups"
	if [ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)" -gt 80 ] &&
	    { [ "$(id -u)" -ne 0 ] || [ -n "$asuser" ]; }; then
		[ "$name" = evplay ] && arch=$(cd "$HERE/../golden" && pwd)/v1-basic
		one_line "$asuser $prog" 3 "cannot listen on 127.0.0.1:80: bind failed: Permission denied" \
		    --quiet --listen 80 $arch
		check $? "$name --listen 80 without privileges: exit 3, one clear line"
	else
		check 0 "# SKIP $name --listen 80: unprivileged ports start below 80 here"
	fi
done

# --- options: one set of gateway-server options in evsim and evplay ---------
for prog in "$EVPLAY --any-user" "$BUILD/evsim"; do
	name=$(basename "${prog%% *}")
	arch=""
	[ "$name" = evplay ] && arch="$T/L"
	bin=${prog%% *}
	extra=${prog#"$bin"}
	# Sizes and durations with units, and a limit that shows: --max-conns.
	start_srv "$bin" opt$name $extra --max-conns 3 --history-bytes 4M \
	    --max-queue 1M --max-frame 64k --resume-window 30s --ping 1m \
	    --dead-timeout 2m --http-idle 15s --token-lifetime 1h $arch
	check $? "$name takes the shared options with units (--history-bytes 4M, --resume-window 30s, ...)"
	t "$name --max-conns 3: the connection over the limit is refused, later served" \
	    $C --port "$SRV_PORT" conn-limit --n 3
	stop_pid "$SRV_PID"
	check $RC "$name (--max-conns) exits 0 on SIGTERM"
	start_srv "$bin" alias$name $extra --max-clients 2 $arch
	t "$name --max-clients 2 (the deprecated alias) limits as --max-conns" \
	    $C --port "$SRV_PORT" conn-limit --n 2
	stop_pid "$SRV_PID"
	# --dead-timeout (new in both): a WebSocket that sends nothing is
	# closed with 1006 (no session timeout to close it first).
	start_srv "$bin" dead$name $extra --dead-timeout 1 \
	    --ws-session-timeout 0 $arch
	timeout 60 $PY "$HERE/conformance.py" --port "$SRV_PORT" idle \
	    >"$T/dead$name.idle" 2>&1
	check $? "$name --dead-timeout 1: a silent WebSocket is closed"
	waitfor 500 grep -q "127.0.0.1:[0-9]*: .*1006 peer not responding" \
	    "$T/dead$name.out"
	checkl $? "$name --dead-timeout: the close is logged with the peer" \
	    "$T/dead$name.out"
	stop_pid "$SRV_PID"
	for bad in "--max-conns 0" "--max-conns x" "--history-bytes 4X" \
	    "--max-frame 10" "--resume-window 0" "--ping -1" \
	    "--dead-timeout soon" "--max-queue 1"; do
		one_line "timeout 10 $prog" 2 "${bad%% *}: " $bad --listen 0 $arch
		check $? "$name $bad: exit 2, one line naming the option"
	done
done
$EVPLAY --max-conns 3 "$T/L" >/dev/null 2>"$T/e"
check $([ $? -eq 2 ] && grep -q -- "--listen" "$T/e"; echo $?) \
    "evplay: a gateway option without --listen exits 2"
$BUILD/evsim --help >"$T/h.evsim"
$EVPLAY --help >"$T/h.evplay"
for o in --max-conns --history-bytes --max-queue --ping --dead-timeout \
    --http-idle --token-lifetime --any-user --clock; do
	check $(grep -q -- "^  $o " "$T/h.evsim" && grep -q -- "^  $o " \
	    "$T/h.evplay"; echo $?) "both usages list $o"
done

# --- descriptors: out of them, the gateway pauses accepting -----------------
# evsim limited to 24 descriptors (and a 10 MB log: the loop wrote 800 MB
# a minute) and held connections beyond that: each
# accept() fails with EMFILE while the connection waits in the kernel's
# queue.  The listener pauses for a second per failure (it used to retry
# at once, spinning) and accepts again once the connections are gone.
printf '#!/bin/sh\nulimit -n 24 && ulimit -f 20480 && exec "%s" "$@"\n' "$BUILD/evsim" >"$T/lim.sh"
chmod +x "$T/lim.sh"
start_srv "$T/lim.sh" fdcap --max-conns 200 --http-timeout 120
FD_PID=$SRV_PID
rm -f "$T/ready" "$T/release"
$PY "$HERE/hostile.py" hog "$SRV_PORT" 60 "$T/ready" "$T/release" 2>"$T/hog.err" &
HOG=$!
waitfor 3000 test -s "$T/ready"
check $? "60 idle connections to evsim limited to 24 descriptors ($(cat "$T/ready" 2>/dev/null) connected)"
waitfor 3000 grep -q "accept: .*not accepting for 1 s" "$T/fdcap.out"
checkl $? "evsim out of descriptors: stops accepting for a second" "$T/fdcap.out"
: >"$T/release"
wait $HOG
t "evsim accepts again once they are gone (a client takes 60 events)" \
    $PEER --port "$SRV_PORT" leave --after 60 --how close
stop_pid "$FD_PID"
check $RC "evsim (out of descriptors) exits 0 on SIGTERM"

# Under `make asan` a leak or memory error makes a server print a report.
check $(cat "$T"/*.out | grep -q "Sanitizer\|runtime error"; [ $? -ne 0 ]; echo $?) \
    "no sanitizer report from any server"
done_testing
