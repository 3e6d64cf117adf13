#!/bin/sh
# evrec_resume.sh: session resume.  kill -9 of the recorder mid-stream and
# a restart within the resume window: nothing lost, nothing doubled;
# connections dropped by the gateway: resumed, nothing lost; a gateway
# that forgets its sessions: a GAP marker, and recording goes on; kill -9
# after a new session started but before its first event: the restart
# resumes that session from its start (no false GAP); kill -9 with more
# than 1 MiB in the unsealed segment: the restart reads its resume point
# from the segment's last blocks, seals it in the background and records
# into a new segment, and nothing is lost or doubled.
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
# 4. kill -9 between a new session's SESSION marker and its first event.
# Session 1 on gateway A leaves events in the archive; gateway B (--paused:
# no event until SIGUSR2) does not know it: a GAP (right), a new session;
# kill -9; the restart must resume the new session from its start, not
# after session 1's last event (which B would refuse: a false GAP).
start_sim sim4 --user u --password-file "$T/pw" --rate 0 --events 500 \
    --seed 6 --log-sent "$T/sent4a"
start_rec r5 --archive "$T/d" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
wait_events "$T/d" 500
checkl $? "session 1: 500 events" "$T/r5.log"
stop_pid $REC_PID
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
start_sim sim5 --user u --password-file "$T/pw" --rate 0 --events 3000 \
    --seed 7 --paused --log-sent "$T/sent4b"
start_rec r6 --archive "$T/d" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
waitfor 1000 grep -q "new session" "$T/r6.log"
checkl $? "gateway B: a new session" "$T/r6.log"
kill -9 $REC_PID
wait $REC_PID 2>/dev/null
check $([ "$(info_field "$T/d" gaps)" -eq 1 ]; echo $?) \
    "one GAP so far (session 1 unknown to gateway B)"
start_rec r7 --archive "$T/d" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
waitfor 1000 grep -q "resumed after event (none)" "$T/r7.log"
checkl $? "the restart resumes the new session from its start" "$T/r7.log"
kill -USR2 $SIM_PID
wait_events "$T/d" 3500
checkl $? "all 3500 events recorded" "$T/r7.log"
stop_pid $REC_PID
check $RC "exit 0"
cat "$T/sent4a" "$T/sent4b" >"$T/sent4"
t "nothing lost, nothing doubled, in order" same_events "$T/sent4" "$T/d"
check $([ "$(info_field "$T/d" gaps)" -eq 1 ]; echo $?) \
    "no second GAP after the restart"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
# 5. A gateway that drops every connection right after one event: the
# backoff must not start over at every handshake.  The delays evrec logs
# for its first four reconnects grow (0, ~0.5, ~1, ~2 s, jitter bands that
# do not overlap); before the fix every one was 0.0 s, a tight loop.
start_sim sim6 --user u --password-file "$T/pw" --rate 0 --events 50 \
    --seed 8 --drop-every 1
start_rec r8 --archive "$T/e" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
waitfor 1500 sh -c "[ \$(grep -c 'reconnecting in' $T/r8.log) -ge 4 ]"
checkl $? "four reconnects logged" "$T/r8.log"
stop_pid $REC_PID
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
grep 'reconnecting in' "$T/r8.log" | head -n 4 |
    sed 's/.*reconnecting in \([0-9.]*\) s.*/\1/' >"$T/delays"
check $(awk 'NR == 1 {ok = ($1 == 0)} NR > 1 {ok = ok && ($1 > prev)}
    {prev = $1} END {exit !(ok && NR == 4)}' "$T/delays"; echo $?) \
    "backoff grows: $(tr '\n' ' ' <"$T/delays")s"
# WebSocket connections: the configuration snapshot's Config REST requests
# (taken at the first resumed session too) are connections of their own.
conns=$(sed -n 's/.* connections (\([0-9]*\) WebSocket).*/\1/p' "$T/sim6.out")
n=$(grep -c 'reconnecting in' "$T/r8.log")
check $([ -n "$conns" ] && [ "$conns" -le $((n + 2)) ]; echo $?) \
    "evsim saw no more connections than evrec's attempts ($conns for $n retries)"
# 6. kill -9 with a large unsealed segment (over evrec's 1 MiB resume
# scan): the restart does not scan it but reads the last event id and
# SESSION marker from its last blocks, leaves it to the sealing thread and
# starts a new segment.
start_sim sim7 --user u --password-file "$T/pw" --rate 40000 --events 160000 \
    --seed 9 --log-sent "$T/sent7"
start_rec r9 --archive "$T/f" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
waitfor 3000 sh -c "find '$T/f' -name 'seg-*.evt' -size +1536k | grep -q ."
checkl $? "more than 1.5 MiB in the open segment" "$T/r9.log"
kill -9 $REC_PID
wait $REC_PID 2>/dev/null
n1=$(events_in "$T/f")
start_rec r10 --archive "$T/f" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
waitfor 1000 grep -q "resumed after event" "$T/r10.log"
checkl $? "the restart resumed the session" "$T/r10.log"
t "the crashed segment was not rescanned but left to the sealing thread" \
    grep -q "seg-000000000001.evt: left unsealed by a crash" "$T/r10.log"
waitfor 3000 grep -q "generation done" "$T/sim7.out"
check $? "evsim generated everything"
wait_events "$T/f" 160000
checkl $? "all 160000 events recorded ($n1 before the kill)" "$T/r10.log"
stop_pid $REC_PID
check $RC "SIGTERM: exit 0"
t "the crashed segment was sealed" grep -q "sealed 1 older segment" "$T/r10.log"
check $([ "$(ls "$T/f" | grep -c '^seg-')" -eq 2 ]; echo $?) \
    "recording went on in a new segment"
check $([ "$n1" -lt 160000 ]; echo $?) "the kill came mid-recording ($n1 events)"
t "nothing lost, nothing doubled, in order" same_events "$T/sent7" "$T/f"
check $([ "$(info_field "$T/f" gaps)" -eq 0 ]; echo $?) "no gap recorded"
t "verify" $EVTOOL verify "$T/f"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
done_testing
