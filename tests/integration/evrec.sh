#!/bin/sh
# evrec.sh: the recorder against the simulated gateway: everything sent is
# recorded once, in order, identical; state snapshot and session markers;
# SIGTERM seals (exit 0, verify); SIGHUP rotates; the archive lock; the
# config file and the metrics endpoint; non-JSON frames kept raw; a
# refused connect logged as such.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
if [ ! -x "$EVSIM" ]; then
	echo "ok 1 # skip evsim is not built"
	done_testing
	exit
fi
umask 077
echo "s3cret-Pa55-$$" >"$T/pw"
umask 022

# 1. Everything recorded, identical, in order.
start_sim sim --user rec --password-file "$T/pw" --rate 0 --events 20000 \
    --seed 7 --log-sent "$T/sent"
start_rec r1 --archive "$T/a" --user rec --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
wait_events "$T/a" 20000
checkl $? "evrec recorded 20000 events at top speed" "$T/r1.log"
stop_pid $REC_PID
checkl $RC "SIGTERM: evrec exits 0" "$T/r1.log"
t "the archive is sealed and verifies" $EVTOOL verify "$T/a"
t "every event sent is recorded once, in order, identical" \
    same_events "$T/sent" "$T/a"
check $([ "$(info_field "$T/a" "state snapshots")" -ge 1 ]; echo $?) \
    "the getState answer is stored as a state snapshot"
check $([ "$(info_field "$T/a" sessions)" -ge 1 ]; echo $?) \
    "SESSION markers written"
t "the log names the new session" grep -q "new session" "$T/r1.log"
# The CONFIG marker holds evsim's names (evsim serves 9 event types, 3
# state groups and --cameras 2659 cameras named "Camera NNNN").
config_names() {
	$EVTOOL cat --markers "$1" | awk -F'\t' '$2 == "CONFIG" {print $3; exit}' |
	    $PYTHON -c '
import json, sys
d = json.load(sys.stdin)
t, g, s = d["eventTypes"], d["stateGroups"], d["sources"]
assert len(t) == 9 and all(x["name"] for x in t), t
assert any(x["name"] == "MotionStarted" for x in t), t
assert len(g) == 3 and any(x["name"] == "Motion" for x in g), g
assert len(s) == '"$2"', len(s)
assert s[0]["id"].startswith("cameras/") and s[0]["name"] == "Camera 0001", s[0]
'
}
t "the CONFIG marker holds evsim's event types, state groups and cameras" \
    config_names "$T/a" 2659
check $(! grep -q "s3cret-Pa55" "$T/r1.log" && ! grep -rq "s3cret-Pa55" "$T/a"; echo $?) \
    "the password is neither in the log nor in the archive"

# 2. A second writer is refused: exit 3 naming the directory.
start_rec lock --archive "$T/a" --user rec --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
waitfor 500 grep -q "recording http" "$T/lock.log"
"$EVREC" --archive "$T/a" --user rec --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT" >"$T/r2.log" 2>&1
check $([ $? -eq 3 ]; echo $?) "a second evrec on the same archive exits 3 (failure)"
t "... saying the archive is locked, naming it" \
    grep -q "archive $T/a is locked" "$T/r2.log"
stop_pid $REC_PID
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# 3. Config file with every setting, metrics, SIGHUP rotation, raw frames.
port=$(free_port)
cat >"$T/evrec.conf" <<CONF
; evrec configuration (long option names)
[evrec]
archive = $T/b
url = http://127.0.0.1:@PORT@
user = rec
password-file = $T/pw
include = resourceTypes=cameras
metrics = 127.0.0.1:$port
fsync = always
summary-interval = 0
CONF
start_sim sim2 --user rec --password-file "$T/pw" --rate 2000 \
    --garbage-every 500 --seed 8 --log-sent "$T/sent2"
sed -i "s/@PORT@/$SIM_PORT/" "$T/evrec.conf"
start_rec r3 --config "$T/evrec.conf"
wait_events "$T/b" 1000
check $? "--config: recording with the settings of the file"
t "CONFIG marker with names under --config and --include" \
    config_names "$T/b" 2659
metrics() {
	$PYTHON -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$port/metrics', timeout=5).read().decode())"
}
metrics >"$T/metrics" 2>&1
t "metrics: evrec_events_total counts" \
    sh -c "awk '/^evrec_events_total / {exit !(\$2 > 0)}' $T/metrics"
for m in evrec_bytes_total evrec_reconnects_total evrec_resumes_total \
    evrec_gaps_total evrec_raw_frames_total evrec_duplicates_total \
    evrec_seconds_since_last_event; do
	grep -q "^$m " "$T/metrics" || echo "# missing $m"
done
check $(for m in evrec_bytes_total evrec_reconnects_total evrec_resumes_total \
    evrec_gaps_total evrec_raw_frames_total evrec_duplicates_total \
    evrec_seconds_since_last_event; do grep -q "^$m " "$T/metrics" || exit 1; done; echo 0) \
    "metrics: every counter is exported"
nseg=$(ls "$T/b"/seg-*.evt | wc -l)
kill -HUP $REC_PID
waitfor 500 sh -c "[ \$(ls $T/b/seg-*.evt | wc -l) -gt $nseg ]"
check $? "SIGHUP rotates to a new segment"
waitfor 500 grep -q "not JSON; stored raw" "$T/r3.log"
check $? "a non-JSON frame is logged as stored raw"
stop_pid $REC_PID
check $RC "SIGTERM after SIGHUP: exit 0"
t "rotated archive verifies" $EVTOOL verify "$T/b"
check $([ "$(info_field "$T/b" "raw frames")" -ge 1 ]; echo $?) \
    "raw frames are kept in the archive"
$EVTOOL cat --tsv "$T/b" | cut -f2- | grep -v '^{' >"$T/raw.txt"
check $([ -s "$T/raw.txt" ]; echo $?) "cat --tsv shows the raw frames"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# 3b. Periodic getState snapshots (--state-interval): several in the
# archive while one session runs, and the state lookup from the last one
# equals the reference computed over the whole recording.
start_sim snap --user rec --password-file "$T/pw" --rate 500 --seed 11
start_rec r4 --archive "$T/d" --user rec --password-file "$T/pw" \
    --state-interval 0.2 "http://127.0.0.1:$SIM_PORT"
waitfor 1000 sh -c "[ \"\$($EVTOOL info $T/d 2>/dev/null |
    awk -F': *' '\$1 == \"state snapshots\" {print \$2}')\" -ge 4 ]"
checkl $? "--state-interval: snapshots recorded while the session runs" \
    "$T/r4.log"
stop_pid $REC_PID
check $RC "SIGTERM: exit 0 (snapshots)"
check $([ "$(grep -c 'new session\|resumed' "$T/r4.log")" -eq 1 ]; echo $?) \
    "the snapshots came within one session (no reconnects)"
$EVTOOL cat --tsv "$T/d" >"$T/d.tsv"
$PYTHON "$HERE/stateref.py" "$T/d.tsv" 9223372036854775806 >"$T/d.ref"
$EVTOOL state "$T/d" | $PYTHON -c "
import json,sys
for l in sys.stdin: print(json.loads(l)['id'])" | sort >"$T/d.got"
t "evtool state from the last periodic snapshot == the reference" \
    cmp "$T/d.ref" "$T/d.got"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# 3c. A slow getState on a quiet gateway (no events: --paused) is awaited
# past --dead-timeout: no reconnect loop, the snapshot is recorded.
start_sim slow --user rec --password-file "$T/pw" --paused --state-delay 2
start_rec r5 --archive "$T/e" --user rec --password-file "$T/pw" \
    --dead-timeout 0.5 "http://127.0.0.1:$SIM_PORT"
waitfor 1000 grep -q "state snapshot" "$T/r5.log"
checkl $? "a getState answer slower than --dead-timeout is awaited" "$T/r5.log"
check $(! grep -q "lost\|dead" "$T/r5.log"; echo $?) \
    "no dead-peer reconnect while getState was pending"
stop_pid $REC_PID
check $RC "SIGTERM: exit 0 (slow getState)"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# 4. Usage errors exit 2.
$EVREC --archive "$T/c" >/dev/null 2>&1
check $([ $? -eq 2 ]; echo $?) "no URL: exit 2"
$EVREC --archive "$T/c" --fsync sometimes http://127.0.0.1:1 >/dev/null 2>&1
check $([ $? -eq 2 ]; echo $?) "bad --fsync: exit 2"
$EVREC --archive "$T/c" --user x http://127.0.0.1:1 >/dev/null 2>&1 </dev/null
check $([ $? -eq 2 ]; echo $?) "--user without a password source: exit 2"

# 5. Nobody listens on the gateway's port: the log says the connect was
# refused, and where, not that a token request failed.
port=$(free_port)
start_rec r6 --archive "$T/d" --user rec --password-file "$T/pw" \
    "http://127.0.0.1:$port"
waitfor 1000 grep -q "connect to 127.0.0.1:$port refused" "$T/r6.log"
checkl $? "a refused connect: \"connect to 127.0.0.1:$port refused\"" \
    "$T/r6.log"
check $(grep -c "token request failed" "$T/r6.log") \
    "... not \"token request failed\""
stop_pid $REC_PID
check $RC "... and SIGTERM stops it (exit 0)"
done_testing
