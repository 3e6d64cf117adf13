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
t "a third client is served afterwards" $C $P session --count 60
stop_pid "$PLAY_PID"
check $RC "evplay (clients leaving) exits 0 on SIGTERM"

# Under `make asan` a leak or memory error makes a server print a report.
check $(cat "$T"/*.out | grep -q "Sanitizer\|runtime error"; [ $? -ne 0 ]; echo $?) \
    "no sanitizer report from any server"
done_testing
