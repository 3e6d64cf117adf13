#!/bin/sh
# evrec_resume.sh: session resume.  kill -9 of the recorder mid-stream and
# a restart within the resume window: nothing lost, nothing doubled;
# connections dropped by the gateway: resumed, nothing lost; a gateway
# that forgets its sessions: a GAP marker, and recording goes on.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
if [ ! -x "$EVSIM" ]; then
	echo "ok 1 # skip evsim is not built"
	done_testing
	exit
fi
echo "pw-$$" >"$T/pw"

# 1. kill -9 mid-stream, restart.
start_sim sim --user u --password-file "$T/pw" --rate 4000 --events 16000 \
    --seed 3 --log-sent "$T/sent"
sim=$SIM_PID
start_rec r1 --archive "$T/a" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
wait_events "$T/a" 3000
checkl $? "recording before the kill" "$T/r1.log"
kill -9 $REC_PID
wait $REC_PID 2>/dev/null
start_rec r2 --archive "$T/a" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
waitfor 1000 grep -q "generation done" "$T/sim.out"
check $? "evsim generated everything"
wait_events "$T/a" 16000
checkl $? "all 16000 events recorded after the restart" "$T/r2.log"
stop_pid $REC_PID
check $RC "SIGTERM: exit 0"
t "the restarted recorder resumed the session" grep -q "resumed after event" "$T/r2.log"
t "nothing lost, nothing doubled, in order" same_events "$T/sent" "$T/a"
check $([ "$(info_field "$T/a" gaps)" -eq 0 ]; echo $?) "no gap recorded"
t "verify" $EVTOOL verify "$T/a"
kill -TERM $sim
wait $sim 2>/dev/null

# 2. The gateway drops the connection every 1000 events.
start_sim sim2 --user u --password-file "$T/pw" --rate 0 --events 12000 \
    --seed 4 --drop-every 1000 --log-sent "$T/sent2"
start_rec r3 --archive "$T/b" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
wait_events "$T/b" 12000
checkl $? "all events recorded through the drops" "$T/r3.log"
stop_pid $REC_PID
check $RC "exit 0"
n=$(grep -c "resumed after event" "$T/r3.log")
check $([ "$n" -ge 5 ]; echo $?) "the sessions were resumed ($n times)"
t "nothing lost, nothing doubled" same_events "$T/sent2" "$T/b"
check $([ "$(info_field "$T/b" gaps)" -eq 0 ]; echo $?) "no gap recorded"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# 3. The gateway forgets its sessions (a recycle) every 3000 events.
start_sim sim3 --user u --password-file "$T/pw" --rate 3000 --events 9000 \
    --seed 5 --forget-every 3000
start_rec r4 --archive "$T/c" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
waitfor 1000 grep -q "gap recorded" "$T/r4.log"
checkl $? "a refused resume is logged" "$T/r4.log"
waitfor 1000 grep -q "generation done" "$T/sim3.out"
n1=$(events_in "$T/c")
sleep 0 # the archive goes on growing while the recorder runs:
stop_pid $REC_PID
check $RC "exit 0"
check $([ "$(info_field "$T/c" gaps)" -ge 1 ]; echo $?) "a GAP marker is in the archive"
n2=$(events_in "$T/c")
check $([ "$n2" -gt 3000 ] && [ "$n2" -ge "$n1" ]; echo $?) \
    "recording went on after the gap ($n2 events)"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
done_testing
