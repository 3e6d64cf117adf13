#!/bin/sh
# evplay_follow.sh: evplay --follow, real processes.  evsim (--log-sent)
# -> evrec rotating every 2 s -> archive.
#   stdout   evplay --follow started after some events were recorded plays
#            them (--top-speed), then every event evrec adds, across
#            rotations: at the end its output is exactly every event evsim
#            sent, once, in order; a --type follower gets exactly that
#            type's; --retime rewrites the live part too; SIGTERM exits 0
#   refusals --follow with --to, --loop
#   server   evplay --listen --follow (fan-out): clients with different
#            filters started mid-stream each get exactly the sent events of
#            their filter from their start on, none twice; one drops and
#            resumes mid-stream, is caught up from the archive and misses
#            nothing; another resumes after the first event sent, which its
#            session never had, and gets every later one of its filter
#            from the archive; a client that stops reading for a while
#            misses nothing either; getState is answered within each filter;
#            with --top-speed --from 0, a client gets every event sent from
#            the first, then live (one written after the live timeline's
#            start but received before it included)
# Only 127.0.0.1, free ports; waits poll files, bounded.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
need_evsim
EVPLAY=$BUILD/evplay
echo "pw-$$" >"$T/pw"
AUTH="--user u --password-file $T/pw"

# play NAME ARGS...: starts evplay ARGS (stdout mode), its output in
# $T/NAME.out and $T/NAME.err; sets PPID_.
play() {
	_n=$1
	shift
	"$EVPLAY" -q "$@" >"$T/$_n.out" 2>"$T/$_n.err" &
	PPID_=$!
	PIDS="$PIDS $PPID_"
}

# lines FILE: its line count.
lines() {
	wc -l <"$1" | tr -d ' '
}

# has_lines FILE N: FILE has at least N lines (for waitfor).
has_lines() {
	[ "$(lines "$1")" -ge "$2" ]
}

# recording NAME DIR EVSIM-ARGS...: evsim (its --log-sent in $T/NAME.sent)
# -> evrec rotating every 2 s into DIR, until 300 events are recorded
# (one check); TYPE is the first event's type.
recording() {
	_n=$1
	_d=$2
	shift 2
	start_sim "sim$_n" $AUTH --log-sent "$T/$_n.sent" "$@"
	start_rec "rec$_n" --archive "$_d" --segment-age 2s $AUTH \
	    "http://127.0.0.1:$SIM_PORT"
	wait_events "$_d" 300
	checkl $? "recording" "$T/rec$_n.log"
	"$EVTOOL" cat "$_d" >"$T/$_n.first" 2>/dev/null
	TYPE=$(field "$T/$_n.first" 1 type)
}

# 1. stdout mode.
N=3000
recording 1 "$T/a" --rate 300 --events $N --seed 11
play all --follow "$T/a"; P_ALL=$PPID_
play ty --follow --top-speed --type "$TYPE" "$T/a"; P_TY=$PPID_
play rt --follow --top-speed --retime "$T/a"; P_RT=$PPID_
waitfor 6000 grep -q "generation done" "$T/sim1.out"
check $? "evsim generated everything"
sent_events "$T/1.sent" "$T/want.jsonl" 2>/dev/null
check $? "the events sent"
waitfor 3000 has_lines "$T/all.out" "$(lines "$T/want.jsonl")"
check $? "the follower printed as many events as were sent"
segs=$(ls "$T/a" | grep -c '^seg-')
check $([ "$segs" -ge 3 ]; echo $?) "evrec rotated meanwhile ($segs segments)"
t "--follow: every event sent, once, in order" \
    $PYTHON "$HERE/jsoncmp.py" "$T/want.jsonl" "$T/all.out"
grep "\"type\":\"$TYPE\"" "$T/want.jsonl" >"$T/want.ty"
waitfor 3000 has_lines "$T/ty.out" "$(lines "$T/want.ty")"
t "--follow --type: every event of the type sent, once, in order" \
    $PYTHON "$HERE/jsoncmp.py" "$T/want.ty" "$T/ty.out"
waitfor 3000 has_lines "$T/rt.out" "$(lines "$T/want.jsonl")"
t "--follow --retime: as many events, the same ids" sh -c \
    "cmp '$T/rt.out' '$T/all.out' >/dev/null && exit 1;
    $PYTHON -c 'import json, sys
a = [json.loads(l)[\"id\"] for l in open(sys.argv[1])]
b = [json.loads(l)[\"id\"] for l in open(sys.argv[2])]
sys.exit(a != b)' '$T/rt.out' '$T/all.out'"
kill -TERM $P_ALL $P_TY
kill -INT $P_RT
ok=0
for p in $P_ALL $P_TY $P_RT; do
	wait $p || ok=1
done
check $ok "SIGTERM and SIGINT stop the followers: exit 0"
check $([ -s "$T/all.err" ]; [ $? -ne 0 ]; echo $?) "nothing reported"
[ -s "$T/all.err" ] && show "$T/all.err"

# --from-id: from that event on (the 1000th), then following.
"$EVTOOL" cat "$T/a" >"$T/cat.jsonl"
ID=$(field "$T/cat.jsonl" 1000 id)
tail -n +1000 "$T/cat.jsonl" >"$T/fid.want"
play fid --follow --top-speed --from-id "$ID" "$T/a"
waitfor 3000 has_lines "$T/fid.out" "$(lines "$T/fid.want")"
kill -TERM $PPID_
wait $PPID_
check $? "--follow --from-id: SIGTERM, exit 0"
t "--follow --from-id: what cat prints from that event on" \
    cmp "$T/fid.want" "$T/fid.out"

# 2. Refusals.
"$EVPLAY" --follow --to 2026-01-01T00:00:00Z "$T/a" >/dev/null 2>"$T/r1.err"
check $([ $? -eq 2 ] && grep -q -- "--follow" "$T/r1.err"; echo $?) \
    "--follow --to: usage error"
"$EVPLAY" --follow --loop 2 "$T/a" >/dev/null 2>"$T/r2.err"
check $([ $? -eq 2 ]; echo $?) "--follow --loop: usage error"

stop_pid $REC_PID
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# 3. Server mode: the fan-out gateway.  A history of 768 KiB makes the
# client that drops leave the live stream (at half of it unsent) and
# catch up from the archive after its resume.
need_websockets
N=8000
recording 2 "$T/b" --rate 400 --events $N --seed 12
start_srv "$EVPLAY" play --any-user --history-bytes 768K --follow "$T/b"
checkl $? "evplay --listen --follow serves" "$T/play.out"
PLAY_PID=$SRV_PID
PLAY_PORT=$SRV_PORT
# A second one whose clients start at the first event (--from), at top
# speed, and join the live stream where they meet it.
start_srv "$EVPLAY" whole --any-user --top-speed --from 0 --follow "$T/b"
checkl $? "evplay --listen --follow --from 0 serves" "$T/whole.out"
WHOLE_PID=$SRV_PID
$PYTHON "$HERE/evplay_follow.py" --port "$SRV_PORT" --sent "$T/2.sent" \
    --total $N whole >"$T/whole.py.out" 2>&1 &
WHOLE_PY=$!
t "clients with different filters, one dropping and resuming, one stalled: each gets \
exactly the events sent of its filter from its start, once; getState" \
    $PYTHON "$HERE/evplay_follow.py" --port "$PLAY_PORT" --sent "$T/2.sent" \
    --total $N fanout --type "$TYPE" --away 3000
sed 's/^/# /' "$T/.out"
check $(grep -q "behind: catching up from the archive" "$T/play.out" &&
    grep -q "resumed session" "$T/play.out" &&
    [ "$(grep -c "on the live stream" "$T/play.out")" -ge 7 ]; echo $?) \
    "the resumed clients caught up from the archive, then went live again"
check $(grep -q "resumed after an event of the archive" "$T/play.out"; echo $?) \
    "a resume after an event its session never had: from the archive"
wait $WHOLE_PY
check $? "--from 0: a client gets every event sent from the first, once, \
then live: $(cat "$T/whole.py.out")"
check $(grep -q "on the live stream" "$T/whole.out"; echo $?) \
    "--from 0: ... joining the live stream"
stop_pid $WHOLE_PID
stop_pid $PLAY_PID
check $RC "SIGTERM stops the server: exit 0"
stop_pid $REC_PID
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
done_testing
