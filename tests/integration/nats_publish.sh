#!/bin/sh
# nats_publish.sh: evrec --publish (formats/nats.md): evsim -> evrec ->
# JetStream; the stream holds exactly the archive's events (count, ids,
# order, payloads byte-equal to `evtool cat`; subjects and headers as the
# contract says; every Nats-Msg-Id once) and its markers.  Faults: the
# server killed (kill -9) during recording and restarted on the same port
# and store; evrec killed (kill -9) during a catch-up and restarted; a
# wrong password; a server certificate the client does not trust; a
# stream whose limits refuse writes; the leader of an R3 stream killed.
# In every case recording goes on, nothing is lost and nothing doubled.  The archive's readers pass over
# the position file.
. "$(dirname "$0")/lib.sh"
. "$HERE/natslib.sh"
need_nats
need_evsim
umask 077
echo "pw-$$" >"$T/pw"
echo "nats-$$-secret" >"$T/npw"
echo "wrong-$$-secret" >"$T/badpw"
umask 022
# caught_up PORT [N]: evrec's metrics say every message recorded was
# acknowledged (at least N, default 12000); they stay in $T/metrics.
caught_up() {
	_nats_http "$1" metrics >"$T/metrics" && $PYTHON -c '
import sys
m = {}
for l in open(sys.argv[1]):
    if not l.startswith("#") and l.strip():
        k, v = l.split()
        m[k] = float(v)
ok = m["evrec_nats_acknowledged_total"] >= int(sys.argv[2]) and \
    m["evrec_nats_published_total"] == m["evrec_nats_acknowledged_total"] and \
    m["evrec_nats_pending"] == 0 and m["evrec_nats_lag_events"] == 0 and \
    m["evrec_nats_lag_seconds"] == 0 and m["evrec_nats_connected"] == 1
sys.exit(0 if ok else 1)' "$T/metrics" "${2:-12000}"
}

# quiet_readers DIR: verify and info read the archive (with its position
# file) without a word about it.
quiet_readers() {
	"$EVTOOL" verify "$1" >"$T/v.out" 2>&1 &&
	    "$EVTOOL" info "$1" >>"$T/v.out" 2>&1 &&
	    "$EVTOOL" cat "$1" >/dev/null 2>>"$T/v.out" &&
	    ! grep -q "nats-publish\|not a segment" "$T/v.out"
}

# 1. Publishing as the recorder records.
nats_start a --conf "max_payload: 8MB"
checkl $? "nats-server starts" "$T/nats/a/log"
start_sim sim --user u --password-file "$T/pw" --rate 4000 --events 12000 \
    --seed 3
mp=$(free_port)
start_rec r1 --archive "$T/a" --user u --password-file "$T/pw" \
    --publish "$NATS_URL" --site "s1" --stream EV --metrics "127.0.0.1:$mp" \
    "http://127.0.0.1:$SIM_PORT"
wait_events "$T/a" 12000
checkl $? "12000 events recorded" "$T/r1.log"
wait_stream EV xprotect.s1 12000
checkl $? "... and published to stream EV" "$T/r1.log"
waitfor 1000 caught_up "$mp"
checkl $? "metrics: published = acknowledged, nothing pending, lag 0 events and 0 s" "$T/r1.log"
stop_pid $REC_PID
check $RC "evrec stops (exit 0)"
t "the stream holds exactly the archive's events, in order, once, as the contract heads them" \
    same_stream EV xprotect.s1 s1 "$T/a"
check $(grep -q '"subject":"xprotect.s1.mk.session"' "$T/dump.jsonl" &&
    grep -q '"subject":"xprotect.s1.mk.states"' "$T/dump.jsonl" &&
    grep -q '"subject":"xprotect.s1.mk.config"' "$T/dump.jsonl"; echo $?) \
    "markers on xprotect.s1.mk.session, .states, .config"
n_cam=$(grep -c '"source":"cameras/' "$T/cat.jsonl")
check $([ "$(ndump --subject 'xprotect.s1.ev.cameras.>' "$NATS_URL" EV |
    wc -l)" -eq "$n_cam" ]; echo $?) \
    "a wildcard filter xprotect.s1.ev.cameras.> gives the $n_cam camera events"
ty=$(grep -o '"type":"[^"]*"' "$T/cat.jsonl" | head -n 1 | cut -d'"' -f4)
n_ty=$(grep -c "\"type\":\"$ty\"" "$T/cat.jsonl")
check $([ "$(ndump --subject "xprotect.s1.ev.*.$ty" "$NATS_URL" EV |
    wc -l)" -eq "$n_ty" ]; echo $?) \
    "xprotect.s1.ev.*.<type> gives that type's $n_ty events"
check $($PYTHON -c '
import json, sys
p = json.load(open(sys.argv[1]))
ok = p["stream"] == "EV" and p["prefix"] == "xprotect.s1" and \
    isinstance(p["segment"], int) and isinstance(p["frame"], int) and \
    isinstance(p["rxUs"], int) and isinstance(p["id"], str)
print(0 if ok else 1)' "$T/a/nats-publish.json" 2>/dev/null || echo 1) \
    "the position file nats-publish.json holds stream, prefix, id, rxUs, segment, frame"
t "verify, info and cat pass over the position file without a word" \
    quiet_readers "$T/a"
n1=$(nats_info EV messages)
start_rec r1b --archive "$T/a" --user u --password-file "$T/pw" \
    --publish "$NATS_URL" --site "s1" --stream EV "http://127.0.0.1:$SIM_PORT"
waitfor 1000 grep -q "resumed after event" "$T/r1b.log"
checkl $? "a restart resumes the gateway session" "$T/r1b.log"
stop_pid $REC_PID
t "... and publishes only what came after the position" \
    same_stream EV xprotect.s1 s1 "$T/a"
check $([ "$(nats_info EV messages)" -gt "$n1" ]; echo $?) \
    "... (its SESSION markers)"
# Without the position file: the stream's last message is the position
# (what a duplicate window expired in a long outage would not catch).
rm "$T/a/nats-publish.json"
n2=$(nats_info EV messages)
mp=$(free_port)
start_rec r1c --archive "$T/a" --user u --password-file "$T/pw" \
    --publish "$NATS_URL" --site "s1" --stream EV --metrics "127.0.0.1:$mp" \
    "http://127.0.0.1:$SIM_PORT"
waitfor 1000 grep -q "stream EV already holds this archive up to" "$T/r1c.log"
checkl $? "no position file: resumed after the stream's last message" "$T/r1c.log"
waitfor 1000 caught_up "$mp" 0
checkl $? "... caught up" "$T/r1c.log"
pub=$(awk '$1 == "evrec_nats_published_total" { print $2 }' "$T/metrics")
check $([ "$pub" -le $(($(nats_info EV messages) - n2)) ] &&
    [ "$pub" -lt 10 ]; echo $?) \
    "... publishing only the new session's markers ($pub messages), not the archive again"
stop_pid $REC_PID
t "... and the stream still holds the archive once" \
    same_stream EV xprotect.s1 s1 "$T/a"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# 2. The server is killed (kill -9) while evrec records, restarted later
# on the same port and store: recording goes on; the publisher catches up.
start_sim sim2 --user u --password-file "$T/pw" --rate 3000 --events 24000 \
    --seed 4
start_rec r2 --archive "$T/b" --user u --password-file "$T/pw" \
    --publish "$NATS_URL" --site s2 --stream EV2 "http://127.0.0.1:$SIM_PORT"
wait_stream EV2 xprotect.s2 2000
checkl $? "publishing" "$T/r2.log"
nats_kill a
n_at_kill=$(events_in "$T/b")
wait_events "$T/b" $((n_at_kill + 3000))
checkl $? "recording goes on while the server is down ($n_at_kill at the kill)" "$T/r2.log"
waitfor 1000 grep -q "NATS.*disconnected" "$T/r2.log"
checkl $? "the disconnection is logged" "$T/r2.log"
nats_restart a
checkl $? "the server restarts on the same port and store" "$T/nats/a/log"
wait_events "$T/b" 24000
checkl $? "all 24000 events recorded" "$T/r2.log"
wait_stream EV2 xprotect.s2 24000
checkl $? "the publisher caught up after the restart" "$T/r2.log"
stop_pid $REC_PID
check $RC "evrec exit 0"
t "0 lost, 0 duplicated across the server's crash" \
    same_stream EV2 xprotect.s2 s2 "$T/b"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# 3. evrec killed (kill -9) during a catch-up: an archive recorded while
# NATS was unreachable, then published through a small window.
start_sim sim3 --user u --password-file "$T/pw" --rate 0 --events 30000 \
    --seed 5
start_rec r3 --archive "$T/c" --user u --password-file "$T/pw" \
    --publish "nats://127.0.0.1:$(free_port)" --site s3 --stream EV3 \
    "http://127.0.0.1:$SIM_PORT"
wait_events "$T/c" 30000
checkl $? "30000 events recorded while NATS is unreachable" "$T/r3.log"
waitfor 1000 grep -q "cannot connect.*recording goes on" "$T/r3.log"
checkl $? "... which is logged" "$T/r3.log"
stop_pid $REC_PID
start_rec r3b --archive "$T/c" --user u --password-file "$T/pw" \
    --publish "$NATS_URL" --site s3 --stream EV3 --nats-window 2 \
    "http://127.0.0.1:$SIM_PORT"
wait_stream EV3 xprotect.s3 3000
checkl $? "catching up" "$T/r3b.log"
kill -9 $REC_PID
wait $REC_PID 2>/dev/null
n_kill=$(stream_events EV3 xprotect.s3)
check $([ "$n_kill" -lt 30000 ]; echo $?) "kill -9 during the catch-up ($n_kill published)"
start_rec r3c --archive "$T/c" --user u --password-file "$T/pw" \
    --publish "$NATS_URL" --site s3 --stream EV3 "http://127.0.0.1:$SIM_PORT"
wait_stream EV3 xprotect.s3 30000
checkl $? "the restart catches up" "$T/r3c.log"
stop_pid $REC_PID
check $RC "evrec exit 0"
t "0 lost, 0 duplicated across evrec's kill -9" \
    same_stream EV3 xprotect.s3 s3 "$T/c"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# 4. A stream whose limits refuse writes: reported with the server's
# words, recording goes on, the stream holds the archive's first messages.
ndump --mkstream --max-msgs 40 --discard-new "$NATS_URL" FULL \
    --subjects 'xprotect.s4.>' >/dev/null
check $? "a stream FULL of at most 40 messages, discard new"
start_sim sim4 --user u --password-file "$T/pw" --rate 0 --events 3000 \
    --seed 6
start_rec r4 --archive "$T/d" --user u --password-file "$T/pw" \
    --publish "$NATS_URL" --site s4 --stream FULL "http://127.0.0.1:$SIM_PORT"
wait_events "$T/d" 3000
checkl $? "all 3000 events recorded" "$T/r4.log"
waitfor 1000 grep -q "publish failed: maximum messages exceeded" "$T/r4.log"
checkl $? "the refusal is logged with the server's words" "$T/r4.log"
stop_pid $REC_PID
check $RC "evrec exit 0"
t "the stream holds exactly the archive's first 40 messages" \
    same_stream FULL xprotect.s4 s4 "$T/d" --limit 40
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
nats_stop a

# 5. A wrong password: said, naming the server; recording goes on.
start_sim sim5 --user u --password-file "$T/pw" --rate 0 --events 2000 \
    --seed 7
nats_start b --user nu --password-file "$T/npw"
checkl $? "a server with user and password" "$T/nats/b/log"
start_rec r5 --archive "$T/e" --user u --password-file "$T/pw" \
    --publish "$NATS_URL" --nats-user nu --nats-password-file "$T/badpw" \
    --site s5 --stream EV5 "http://127.0.0.1:$SIM_PORT"
wait_events "$T/e" 2000
checkl $? "all events recorded with a wrong NATS password" "$T/r5.log"
waitfor 1000 grep -q "NATS $NATS_URL: cannot connect: Authorization Violation" "$T/r5.log"
checkl $? "the refusal is logged, naming the server" "$T/r5.log"
stop_pid $REC_PID
check $RC "evrec exit 0"
check $(grep -q "wrong-$$" "$T/r5.log"; [ $? -ne 0 ]; echo $?) \
    "the password is not in the log"
start_rec r5b --archive "$T/e" --user u --password-file "$T/pw" \
    --publish "$NATS_URL" --nats-user nu --nats-password-file "$T/npw" \
    --site s5 --stream EV5 "http://127.0.0.1:$SIM_PORT"
wait_stream EV5 xprotect.s5 2000
checkl $? "the right password: the archive is published" "$T/r5b.log"
stop_pid $REC_PID
t "... exactly" same_stream EV5 xprotect.s5 s5 "$T/e"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
nats_stop b
unset NATS_USER NATS_PWFILE

# 6. TLS with a certificate the client does not trust: said, recording
# goes on; with --nats-cacert it is trusted.
nats_start c --tls
checkl $? "a server requiring TLS" "$T/nats/c/log"
start_sim sim6 --user u --password-file "$T/pw" --rate 0 --events 1000 \
    --seed 8
tls_url=$(echo "$NATS_URL" | sed 's|^nats://|tls://|')
start_rec r6 --archive "$T/f" --user u --password-file "$T/pw" \
    --publish "$tls_url" --site s6 --stream EV6 "http://127.0.0.1:$SIM_PORT"
waitfor 1000 grep -q "resumed after event\|new session" "$T/r6.log"
checkl $? "recording with an untrusted NATS server" "$T/r6.log"
waitfor 1000 grep -q "NATS $tls_url: cannot connect: .*certificate" "$T/r6.log"
checkl $? "the TLS failure is logged, naming the server" "$T/r6.log"
stop_pid $REC_PID
check $RC "evrec exit 0"
start_rec r6b --archive "$T/f" --user u --password-file "$T/pw" \
    --publish "$tls_url" --nats-cacert "$NATS_CACERT" --site s6 --stream EV6 \
    "http://127.0.0.1:$SIM_PORT"
wait_events "$T/f" 1000
wait_stream EV6 xprotect.s6 1000
checkl $? "--nats-cacert: published over TLS" "$T/r6b.log"
stop_pid $REC_PID
t "... exactly" same_stream EV6 xprotect.s6 s6 "$T/f"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
nats_stop c
unset NATS_CACERT

# 7. A JetStream leader change: an R3 stream on a 3-server cluster, its
# leader killed (kill -9) while evrec records and publishes, restarted.
nats_cluster_start 3
checkl $? "a 3-server JetStream cluster" "$T/nats/c1/log"
start_sim sim7 --user u --password-file "$T/pw" --rate 3000 --events 15000 \
    --seed 9
start_rec r7 --archive "$T/g" --user u --password-file "$T/pw" \
    --publish "$NATS_URL" --site s7 --stream EV7 --replicas 3 \
    "http://127.0.0.1:$SIM_PORT"
wait_stream EV7 xprotect.s7 2000
checkl $? "publishing to an R3 stream" "$T/r7.log"
nats_kill_leader EV7
check $? "the stream's leader ($NATS_KILLED) killed"
nats_wait_leader EV7 "$NATS_KILLED" >/dev/null
check $? "another leader is elected"
nats_restart "$NATS_KILLED"
checkl $? "the killed server restarts" "$T/nats/$NATS_KILLED/log"
wait_events "$T/g" 15000
checkl $? "all 15000 events recorded" "$T/r7.log"
wait_stream EV7 xprotect.s7 15000
checkl $? "... and published" "$T/r7.log"
stop_pid $REC_PID
check $RC "evrec exit 0"
t "0 lost, 0 duplicated across the leader change" \
    same_stream EV7 xprotect.s7 s7 "$T/g"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
done_testing
