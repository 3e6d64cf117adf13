#!/bin/sh
# evrec_hostile.sh: peers that try to take what the recorder needs.
# 1. More idle connections to --metrics than it keeps (8), evrec limited
#    to 64 descriptors and rotating small segments: recording goes on, an
#    idle connection is closed, metrics still answer, and the log stays
#    short (no accept() error loop).  With 24 descriptors the metrics
#    connections are refused (they would leave the recorder short).
# 2. A gateway that starts a message and sends empty continuation frames
#    forever: that is not liveness; evrec gives up after --dead-timeout and
#    reconnects.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
need_evsim
need_websockets
echo "pw-$$" >"$T/pw"
H="$PYTHON $HERE/hostile.py"

# limited_rec NAME DIR FDS: evrec with FDS descriptors and files up to
# 100 MB (a log in an error loop would otherwise fill the disk: 2.6 GB in
# 90 s before the fix), small segments (rotation needs descriptors),
# metrics on $mport; log in $T/NAME.log; waits for 1000 events.
limited_rec() {
	(
		ulimit -n "$3" && ulimit -f 204800 && exec "$EVREC" \
		    --summary-interval 0 --archive "$2" --user u \
		    --password-file "$T/pw" --segment-size 64k \
		    --metrics "127.0.0.1:$mport" "http://127.0.0.1:$SIM_PORT"
	) >>"$T/$1.log" 2>&1 &
	REC_PID=$!
	PIDS="$PIDS $REC_PID"
	wait_events "$2" 1000
	checkl $? "recording with $3 descriptors" "$T/$1.log"
}

# hog N: N idle connections to the metrics port, held until release.
hog() {
	rm -f "$T/ready" "$T/release"
	$H hog "$mport" "$1" "$T/ready" "$T/release" 2>"$T/hog.err" &
	hog=$!
	PIDS="$PIDS $hog"
	waitfor 3000 test -s "$T/ready"
	check $? "$1 idle connections to the metrics port ($(cat "$T/ready" 2>/dev/null) connected)"
}

# unhog: releases them.
unhog() {
	: >"$T/release"
	wait $hog
}

# goes_on DIR LOG: 4000 more events arrive while the connections are
# held; then they are released.
goes_on() {
	n0=$(events_in "$1")
	wait_events "$1" $((n0 + 4000))
	checkl $? "recording goes on while they are held" "$2"
	unhog
	check $(kill -0 $REC_PID 2>/dev/null; echo $?) "evrec is still running"
}

# stops_clean DIR LOG: evrec stops cleanly, its log stays short and no
# write failed.
stops_clean() {
	stop_pid $REC_PID
	check $RC "and stops with status 0"
	lines=$(wc -l <"$2")
	check $([ "$lines" -lt 200 ]; echo $?) "the log stays short ($lines lines)"
	[ "$lines" -lt 200 ] || head -n 100000 "$2" | cut -c 25- | sort |
	    uniq -c | sort -rn | head -n 5 | sed 's/^/#   /'
	t "no descriptor ran out for the recorder" sh -c "! grep -q 'cannot write to the archive' '$2'"
	t "verify" $EVTOOL verify "$1"
}

# 1. The metrics port, 64 descriptors: 8 connections kept, idle ones
# closed, metrics answer throughout.
start_sim sim --user u --password-file "$T/pw" --rate 2000 --events 40000 \
    --seed 31
mport=$(free_port)
limited_rec r1 "$T/a" 64
hog 100
t "an idle metrics connection is closed by evrec" $H idle "$mport"
$H get "$mport" metrics >"$T/m.out" 2>&1
check $([ "$(head -n 1 "$T/m.out")" = 200 ] &&
    grep -q '^evrec_events_total [1-9]' "$T/m.out"; echo $?) \
    "metrics still answer while they are held"
$H get "$mport" other >"$T/m2.out" 2>&1
check $([ "$(head -n 1 "$T/m2.out")" = 404 ]; echo $?) "other paths: 404"
goes_on "$T/a" "$T/r1.log"
$H get "$mport" metrics >"$T/m3.out" 2>&1
check $([ "$(head -n 1 "$T/m3.out")" = 200 ]; echo $?) \
    "metrics answer after they are gone"
stops_clean "$T/a" "$T/r1.log"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# 1b. 24 descriptors: metrics connections would leave the recorder short;
# they are refused, recording goes on.
start_sim sim2 --user u --password-file "$T/pw" --rate 2000 --events 40000 \
    --seed 32
limited_rec r2 "$T/a2" 24
hog 100
t "a metrics connection is closed at once" $H idle "$mport"
goes_on "$T/a2" "$T/r2.log"
stops_clean "$T/a2" "$T/r2.log"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# 2. A message that never ends.
echo "tok-$$" >"$T/tok"
$H fragments "$T/frag.port" "$T/frag.count" 2>"$T/frag.err" &
frag=$!
PIDS="$PIDS $frag"
waitfor 1000 test -s "$T/frag.port"
check $? "the hostile gateway listens"
start_rec r3 --archive "$T/b" --token-file "$T/tok" --dead-timeout 1 \
    --ping 600 --connect-timeout 600 "http://127.0.0.1:$(cat "$T/frag.port")"
waitfor 3000 sh -c "[ \"\$(cat '$T/frag.count' 2>/dev/null)\" -ge 2 ]"
checkl $? "evrec gives up on a gateway that only sends empty fragments, and reconnects" "$T/r3.log"
t "saying the gateway does not respond" grep -q "peer not responding" "$T/r3.log"
stop_pid $REC_PID
check $RC "exit 0"
kill $frag 2>/dev/null
wait $frag 2>/dev/null
# Under `make asan` a leak or memory error makes a program print a report.
check $(cat "$T"/*.out "$T"/*.log 2>/dev/null | grep -q "Sanitizer\|runtime error"
    [ $? -ne 0 ]; echo $?) "no sanitizer report from any server or recorder"
done_testing
