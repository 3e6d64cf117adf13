#!/bin/sh
# evplay_fanout50.sh: the fan-out gateway (evplay --listen --follow) with
# many clients, real processes: evsim (--log-sent; cameras and hardware
# sources) -> evrec rotating every 2 s -> archive -> evplay --listen
# --follow with a small --history-bytes (a resume after events its
# history no longer holds catches up from the archive).
#   fan50    50 clients of ten kinds of filters (types, sources, a resource
#            type, excludes, two includes), connecting one after the other
#            mid-stream; ten drop (close the socket) and resume with their
#            session, two of them twice: once evsim sent every event, each
#            client got exactly the sent events of its filter from its
#            first on, none lost, none twice, in order
#   samples  meanwhile the official-sample-style clients, unchanged:
#            sample_ess.py (Bearer header, trailing slash, resume loop) and
#            sample_ess.mjs (node >= 20; authenticate command) get live
#            events, a gapless run of those evsim sent
# Only 127.0.0.1, free ports; waits poll files or sockets, bounded.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
need_evsim
need_websockets
EVPLAY=$BUILD/evplay
echo "pw-$$" >"$T/pw"
AUTH="--user u --password-file $T/pw"
N=7500
FP="$PYTHON $HERE/evplay_follow.py"

start_sim sim $AUTH --log-sent "$T/sent" --rate 250 --events $N --seed 21 \
    --cameras 24 --resource-types cameras,hardware
start_rec rec --archive "$T/a" --segment-age 2s $AUTH \
    "http://127.0.0.1:$SIM_PORT"
wait_events "$T/a" 200
checkl $? "recording" "$T/rec.log"
start_srv "$EVPLAY" play --any-user --history-bytes 64K --follow "$T/a"
checkl $? "evplay --listen --follow serves" "$T/play.out"
PLAY_PID=$SRV_PID
P=$SRV_PORT

$FP --port "$P" --sent "$T/sent" --total $N --timeout 90 fan50 \
    >"$T/fan50.out" 2>&1 &
FAN=$!
$PYTHON "$HERE/sample_ess.py" --port "$P" --total 1500 --out "$T/py.ids" \
    >"$T/py.out" 2>&1
check $? "Python sample client against the fan-out gateway: 1500 events: \
$(cat "$T/py.out")"
t "Python sample client: live events, a gapless run of those sent" \
    $FP --port "$P" --sent "$T/sent" --total $N gapless --ids "$T/py.ids" \
    --min 1500
if command -v node >/dev/null 2>&1 &&
    [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]; then
	t "JavaScript sample client against the fan-out gateway: 500 events" \
	    node --experimental-websocket "$HERE/sample_ess.mjs" "$P" 500 \
	    "$T/js.ids"
	t "JavaScript sample client: live events, a gapless run of those sent" \
	    $FP --port "$P" --sent "$T/sent" --total $N gapless \
	    --ids "$T/js.ids" --min 500
else
	echo "ok $((tn + 1)) # SKIP node >= 20 not found"
	echo "ok $((tn + 2)) # SKIP node >= 20 not found"
	tn=$((tn + 2))
fi
wait $FAN
rc=$?
check $rc "50 clients of ten filters, ten dropping and resuming: each every \
sent event of its filter from its first, once, in order"
sed 's/^/# /' "$T/fan50.out" | { [ $rc -eq 0 ] && tail -n 1 || cat; }
# Resumes within the 64 KiB history resend from it; those of clients away
# longer catch up from the archive.
checkl $(grep -q "resumed session .*, [1-9][0-9]* events to send again" \
    "$T/play.out" && grep -q "resumed after an event of the archive" \
    "$T/play.out" && [ "$(grep -c "resumed session" "$T/play.out")" -ge 12 ]
    echo $?) "12 resumes served, from the history and from the archive" \
    "$T/play.out"
stop_pid $REC_PID
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
stop_pid $PLAY_PID
check $RC "SIGTERM stops evplay, its recorder gone: exit 0"
done_testing
