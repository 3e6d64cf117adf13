#!/bin/sh
# evplay_publish.sh: evplay --publish (README "evplay --publish",
# formats/nats.md) with a real nats-server (natslib.sh), real processes:
#   jetstream   a replay into a stream: the stream holds exactly the
#               replayed events (count, ids, order, payloads == evplay's
#               stdout lines), subjects and headers of the contract, the
#               getState answer on mk.states; acknowledged == published;
#               the same replay again: all duplicates, nothing stored twice;
#               evrec --publish of a recording and evplay --publish of its
#               archive: the same messages, markers included
#   rewriting   --fresh-ids --map-source --source --type --shift == stdout
#               of the same options; --retime: one offset, from now;
#               --loop 2 --fresh-ids: distinct ids, pass 2 with its ids;
#               --loop 2 without: pass 2 stored too (":p2" ids)
#   core        a subscriber on the bus gets every event in the replay's
#               order, as stdout prints them
#   failures    a killed server: a clear error and exit 3 within
#               --nats-timeout, not a hang (JetStream and core); bad or
#               missing credentials; a stream that rejects (full): exit 3
#               naming the reason; SIGTERM: what was published is
#               acknowledged and counted; usage errors: exit 2
# evplay_publish.py holds the checks on what the bus got; natssub.py is a
# test-only core subscriber (the NATS protocol on a socket).
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
. "$HERE/natslib.sh"
need_nats
EVPLAY=$BUILD/evplay
CHK="$PYTHON $HERE/evplay_publish.py"

nats_start n1 || { check 1 "nats-server starts"; done_testing; exit 1; }
make_archive "$T/a" 7 2000 2000 20 --block-size 4k --segment-size 32k
$EVTOOL cat --tsv "$T/a" >"$T/a.tsv"
$EVPLAY -q --top-speed "$T/a" >"$T/a.ev"
N=$(wc -l <"$T/a.ev")
check $([ "$N" -ge 2000 ]; echo $?) "the archive: $N events, several segments"

# pub NAME ARGS...: evplay --publish to NATS_URL, stderr in $T/NAME.err,
# the status in RC.
pub() {
	_n=$1
	shift
	$EVPLAY --top-speed --publish "$NATS_URL" "$@" >"$T/$_n.out" \
	    2>"$T/$_n.err"
	RC=$?
}
# stream_has STREAM N: the stream holds more than N messages.
stream_has() {
	[ "$(nats_info "$1" messages 2>/dev/null || echo 0)" -gt "$2" ]
}
# dump NAME STREAM: the stream's messages into $T/NAME.msgs.
dump() {
	ndump "$NATS_URL" "$2" >"$T/$1.msgs"
}

# A replay into a stream (created by evplay).
pub js --stream EVP --subject-prefix p1 --site "Site One" "$T/a"
checkl $RC "--publish --stream: exit 0" "$T/js.err"
dump js EVP
t "the stream holds exactly the replayed events, as stdout prints them" \
    $CHK events "$T/js.msgs" p1 "$T/a.ev" "$T/a.tsv"
t "... and the getState answer on p1.mk.states" \
    $CHK marks "$T/js.msgs" p1 "$T/a.tsv"
t "... every Nats-Msg-Id once" $CHK ids "$T/js.msgs"
M=$(wc -l <"$T/js.msgs")
t "... every acknowledged, the counts on stderr" grep -q \
    "published $M messages ($N events) to stream EVP: $M acknowledged (0 duplicates not stored again), 0 rejected, 0 unacknowledged" \
    "$T/js.err"
t "... the site as given in Evtape-Site" grep -q '"Evtape-Site":"Site One"' \
    "$T/js.msgs"
t "... it said the stream was created" grep -q 'stream EVP (created)' \
    "$T/js.err"
check $([ ! -s "$T/js.out" ]; echo $?) "... nothing on stdout"
pub js2 --stream EVP --subject-prefix p1 --site "Site One" "$T/a"
dump js2 EVP
check $([ $RC -eq 0 ] && cmp -s "$T/js.msgs" "$T/js2.msgs" &&
    grep -q "$M acknowledged ($M duplicates" "$T/js2.err"; echo $?) \
    "the same replay again: all duplicates, the stream unchanged"

# A window of 1: every message waits for the one before it to be
# acknowledged (the timeline waits, wakes on each ack); nothing is lost.
pub w1 --stream W1 --subject-prefix pw --nats-window 1 "$T/a"
dump w1 W1
checkl $RC "--nats-window 1: exit 0" "$T/w1.err"
t "... the stream holds exactly the replayed events" \
    $CHK events "$T/w1.msgs" pw "$T/a.ev" "$T/a.tsv"

# Rewriting and selection, as stdout does them.
OLD=$(field "$T/a.ev" 1 source)
NEW=cameras/00000000-1111-4222-8333-444444444444
TYPE=$(field "$T/a.ev" 1 type)
OLD2=$(awk -v o="\"source\":\"$OLD\"" 'index($0, o) == 0' "$T/a.ev" |
    head -n 1 | grep -o '"source":"[^"]*"' | cut -d'"' -f4)
set -- --fresh-ids --map-source "$OLD=$NEW" --source "$OLD" \
    --source "$OLD2" --type "$TYPE" --shift 1h
$EVPLAY -q --top-speed "$@" "$T/a" >"$T/rw.ev"
pub rw --stream RW --subject-prefix p2 "$@" "$T/a"
dump rw RW
check $([ $RC -eq 0 ] && [ -s "$T/rw.ev" ] && grep -q "$NEW" "$T/rw.ev"
    echo $?) "--fresh-ids --map-source --source --type --shift: exit 0"
t "... the stream holds stdout's events of the same options" \
    $CHK events "$T/rw.msgs" p2 "$T/rw.ev"
check $(grep -q '\.mk\.' "$T/rw.msgs"; [ $? -ne 0 ]; echo $?) \
    "... a selection publishes no mk message"
t0=$($PYTHON -c 'import time; print(time.time_ns() // 1000)')
pub rt --stream RT --subject-prefix p3 --retime "$T/a"
dump rt RT
$PYTHON -c '
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if ".ev." in m["subject"]:
        print(m["data"])' "$T/rt.msgs" >"$T/rt.ev"
t "--retime: one offset, the first event at or after the start" \
    $PYTHON "$HERE/evplay_rewrite.py" retime "$T/a.ev" "$T/rt.ev" "$t0" 1
$EVPLAY -q --top-speed --fresh-ids --loop 2 "$T/a" >"$T/l2.ev"
pub l2 --stream L2 --subject-prefix p4 --fresh-ids --loop 2 "$T/a"
dump l2 L2
t "--loop 2 --fresh-ids: both passes, stdout's ids" \
    $CHK events "$T/l2.msgs" p4 "$T/l2.ev" "" 2
t "... no id twice" $CHK ids "$T/l2.msgs"
cat "$T/a.ev" "$T/a.ev" >"$T/a2.ev"
pub l2b --stream L2B --subject-prefix p5 --loop 2 "$T/a"
dump l2b L2B
t "--loop 2 without --fresh-ids: pass 2 stored too, its ids with :p2" \
    $CHK events "$T/l2b.msgs" p5 "$T/a2.ev" "" 2

# The same messages as evrec --publish: a recording published live by
# evrec, then replayed by evplay into another stream: every event and
# marker with the same subject, payload, Nats-Msg-Id, Evtape-Frame,
# Evtape-Item, Evtape-Rx and Evtape-Kind.
echo "pw-$$" >"$T/recpw"
start_sim sim --any-user --events 400 --rate 2000 --cameras 7
start_rec rec --archive "$T/live" --user u --password-file "$T/recpw" \
    --segment-size 16k --publish "$NATS_URL" --stream REC \
    --subject-prefix rec "http://127.0.0.1:$SIM_PORT"
wait_events "$T/live" 400
stop_pid $REC_PID
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
pub fromrec --stream PLAY "$T/live"
dump rec REC
dump play PLAY
t "evrec --publish and evplay --publish of its archive: the same messages" \
    $CHK same "$T/rec.msgs" rec "$T/play.msgs" xprotect.127_0_0_1
t "... the site: the recorded gateway's host, as evrec's" \
    grep -q '"Evtape-Site":"127.0.0.1"' "$T/play.msgs"

# Core NATS: a subscriber on the bus.
rm -f "$T/sub.ready"
$PYTHON "$HERE/natssub.py" "${NATS_URL#nats://}" 'p6.>' "$T/sub.msgs" \
    "$T/sub.ready" "$((N + 1))" &
SUB=$!
PIDS="$PIDS $SUB"
waitfor 500 test -s "$T/sub.ready"
$EVPLAY --speed 50 --publish "$NATS_URL" --subject-prefix p6 "$T/a" \
    >/dev/null 2>"$T/core.err"
checkl $? "core NATS (no --stream): exit 0" "$T/core.err"
wait $SUB
check $? "... the subscriber got every message"
t "... every event in the replay's order, as stdout prints them" \
    $CHK events "$T/sub.msgs" p6 "$T/a.ev" "$T/a.tsv"
t "... and the counts" grep -q "published $((N + 1)) messages ($N events) to core NATS, flushed" \
    "$T/core.err"

# SIGTERM: what went out is acknowledged and counted.
$EVPLAY --loop --publish "$NATS_URL" --stream TERM --subject-prefix p7 \
    "$T/a" >/dev/null 2>"$T/term.err" &
P1=$!
PIDS="$PIDS $P1"
waitfor 1000 stream_has TERM 10
stop_pid $P1
sent=$(sed -n 's/.*published \([0-9]*\) messages.* \([0-9]*\) acknowledged.*/\1 \2/p' "$T/term.err")
stored=$(nats_info TERM messages)
check $([ $RC -eq 0 ] && [ -n "$sent" ] && [ "$sent" = "$stored $stored" ]
    echo $?) "SIGTERM: exit 0, every message published acknowledged ($sent; $stored stored)"

# --follow: the archive to its end, then waiting for more; SIGTERM.
$EVPLAY --follow --top-speed --publish "$NATS_URL" --stream FOL \
    --subject-prefix p12 "$T/a" >/dev/null 2>"$T/fol.err" &
P1=$!
PIDS="$PIDS $P1"
waitfor 2000 stream_has FOL "$N"
stop_pid $P1
dump fol FOL
checkl $RC "--follow: SIGTERM ends it, exit 0" "$T/fol.err"
t "... the archive's events were all published, as stdout prints them" \
    $CHK events "$T/fol.msgs" p12 "$T/a.ev" "$T/a.tsv"

# A stream that rejects: full, discarding new messages.
ndump --mkstream "$NATS_URL" FULL --subjects 'p8.>' --max-msgs 5 \
    --discard-new >/dev/null
pub full --stream FULL --subject-prefix p8 "$T/a"
check $([ $RC -eq 3 ] && grep -q 'stream FULL rejected a message: subject p8\.' \
    "$T/full.err" && grep -qi 'maximum messages' "$T/full.err"; echo $?) \
    "a full stream: exit 3, the rejection and its reason"

# A getState answer (some 5 KB) over the server's max_payload: published
# as parts (formats/nats.md, "Parts"; nats_parts.sh joins them), the
# events all published, exit 0.
nats_start big --conf "max_payload: 3000" || check 1 "a server with max_payload 3000"
pub big --stream BIG --subject-prefix p11 "$T/a"
dump big BIG
check $([ $RC -eq 0 ] && ! grep -q 'not published' "$T/big.err" &&
    [ "$(grep -c '"Evtape-Part":"' "$T/big.msgs")" -ge 2 ] &&
    [ "$(grep -c '"p11.ev.' "$T/big.msgs")" -eq "$N" ]
    echo $?) "a getState answer over max_payload: sent as parts, exit 0"
nats_stop big
NATS_URL=$(nats_url n1)

# Credentials.
printf 'sesame\n' >"$T/pw"
printf 'wrong\n' >"$T/bad"
nats_start n2 --user evp --password-file "$T/pw" || check 1 "a server with a user"
pub auth --stream AU --subject-prefix p9 --nats-user evp \
    --nats-password-file "$T/pw" "$T/a"
checkl $RC "user and password file: exit 0" "$T/auth.err"
pub bad --nats-user evp --nats-password-file "$T/bad" "$T/a"
check $([ $RC -eq 3 ] && grep -q "$NATS_URL.*[Aa]uthorization" "$T/bad.err" &&
    ! grep -q wrong "$T/bad.err"; echo $?) \
    "a wrong password: exit 3, the server and the reason, no password"
pub none "$T/a"
check $([ $RC -eq 3 ] && grep -qi "authorization" "$T/none.err"; echo $?) \
    "no credentials: exit 3, the reason"

# A killed server: a clear error, not a hang (JetStream and core; each on
# a server of its own, started for it).
for mode in "--stream KILL" ""; do
	nats_start "k${mode:+js}" || check 1 "a server to kill"
	# shellcheck disable=SC2086
	$EVPLAY --loop --nats-timeout 2s --publish "$NATS_URL" $mode \
	    --subject-prefix p10 "$T/a" >/dev/null 2>"$T/kill.err" &
	P2=$!
	PIDS="$PIDS $P2"
	waitfor 1000 grep -q 'publishing to' "$T/kill.err"
	nats_kill "k${mode:+js}"
	wait $P2
	RC=$?
	check $([ $RC -eq 3 ] && grep -q "NATS nats://127.0.0.1:[0-9]*: unreachable for 2 s: giving up" \
	    "$T/kill.err"; echo $?) "a killed server (${mode:-core}): exit 3, unreachable, giving up"
	[ $RC -eq 3 ] && grep -q giving "$T/kill.err" || sed "s/^/#   /" "$T/kill.err" | tail -n 5
done

# Usage.
$EVPLAY --publish "$NATS_URL" --listen 127.0.0.1:0 --any-user "$T/a" \
    >/dev/null 2>"$T/u.err"
check $([ $? -eq 2 ] && grep -q 'not with' "$T/u.err"; echo $?) \
    "--publish with --listen: exit 2"
$EVPLAY --stream X "$T/a" >/dev/null 2>"$T/u.err"
check $([ $? -eq 2 ] && grep -q 'need --publish' "$T/u.err"; echo $?) \
    "--stream without --publish: exit 2"
$EVPLAY --publish "$NATS_URL" --tsv "$T/a" >/dev/null 2>"$T/u.err"
check $([ $? -eq 2 ] && grep -q 'not with' "$T/u.err"; echo $?) \
    "--publish with --tsv: exit 2"
done_testing
