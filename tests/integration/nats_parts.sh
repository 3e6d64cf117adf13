#!/bin/sh
# nats_parts.sh: frames larger than the server's max_payload go as parts
# (formats/nats.md, "Parts").  README's three processes (evsim -> evrec
# --publish -> evrec --from-nats) on servers with max_payload 256 KiB:
# evsim's getState answer (its 5,318 states, 1.4 MB) is published as parts, each
# under the limit, that join into the frame byte for byte
# (natsparts.py, from the format text alone); the central archive's STATES
# frames and `evtool state --at` are the site's.  An archiver killed
# (kill -9) while it holds some parts of a frame gives, restarted, the
# frame once.  A publisher restarted on a stream whose last message is a
# part that is not the last publishes the frame again from its first
# part, nothing twice.  evplay --publish of the archive sends the same
# parts.
. "$(dirname "$0")/lib.sh"
. "$HERE/natslib.sh"
need_nats
need_evsim
(umask 077 && echo "pw-$$" >"$T/pw")
PARTS="$PYTHON $HERE/natsparts.py"
MAXP=262144

# caught_up PORT: evrec's metrics say every message was acknowledged.
caught_up() {
	_nats_http "$1" metrics | $PYTHON -c '
import sys
m = {}
for l in sys.stdin:
    if not l.startswith("#") and l.strip():
        k, v = l.split()
        m[k] = float(v)
sys.exit(0 if m["evrec_nats_published_total"] ==
         m["evrec_nats_acknowledged_total"] > 0 and
         m["evrec_nats_pending"] == 0 and m["evrec_nats_lag_events"] == 0
         else 1)'
}
# held DURABLE N: every message delivered, N of them not acknowledged.
held() {
	[ "$(nats_consumer "$NSRV" "$1" num_pending)" = 0 ] &&
	    [ "$(nats_consumer "$NSRV" "$1" num_ack_pending)" = "$2" ]
}
# archiver NAME DIR STREAM DURABLE: evrec --from-nats; sets REC_PID.
archiver() {
	: >"$T/$1.log"
	start_rec "$1" --archive "$2" --from-nats "$NATS_URL" --stream "$3" \
	    --durable "$4" --flush-interval 50ms --ack-wait 2s
	waitfor 1000 grep -q "consuming stream" "$T/$1.log"
}
# states DIR OUT: the STATES frames of evtool cat --tsv (JSON objects
# with "states").
states() {
	$EVTOOL cat --tsv "$1" | $PYTHON -c '
import json, sys
for l in sys.stdin:
    v = json.loads(l.split("\t", 1)[1])
    if isinstance(v, dict) and "states" in v:
        sys.stdout.write(l)' >"$2"
}
# same_states SITE CENTRAL: the STATES frames (times and texts) and the
# states as of the end are the site's; the events too.
same_states() {
	states "$1" "$T/want.st" && states "$2" "$T/got.st" &&
	    [ -s "$T/want.st" ] && cmp "$T/want.st" "$T/got.st" &&
	    $EVTOOL state "$1" >"$T/want.state" &&
	    $EVTOOL state "$2" >"$T/got.state" &&
	    [ -s "$T/want.state" ] && cmp "$T/want.state" "$T/got.state" &&
	    $EVTOOL state --at "$AT" "$1" >"$T/want.at" &&
	    $EVTOOL state --at "$AT" "$2" >"$T/got.at" &&
	    cmp "$T/want.at" "$T/got.at" &&
	    $EVTOOL cat "$1" >"$T/want.ev" &&
	    $EVTOOL cat --site s1 "$2" >"$T/got.ev" &&
	    cmp "$T/want.ev" "$T/got.ev"
}

# 1. The site: evsim's default states, recorded and published.
# server NAME: a fresh nats-server with max_payload MAXP (a stream per
# server: their subjects overlap); sets NSRV and PORT.
server() {
	nats_start "$1" --conf "max_payload: $MAXP"
	checkl $? "nats-server $1 starts with max_payload $MAXP" "$T/nats/$1/log"
	NSRV=$1
	PORT=${NATS_URL##*:}
}
server p
start_sim sim --user u --password-file "$T/pw" --rate 4000 --events 3000 \
    --seed 9
mp=$(free_port)
start_rec site --archive "$T/site" --user u --password-file "$T/pw" \
    --publish "$NATS_URL" --site s1 --stream EV --metrics "127.0.0.1:$mp" \
    "http://127.0.0.1:$SIM_PORT"
wait_events "$T/site" 3000
checkl $? "3000 events recorded" "$T/site.log"
waitfor 3000 caught_up "$mp"
checkl $? "... all published and acknowledged" "$T/site.log"
stop_pid $REC_PID
check $RC "evrec stops (exit 0)"
check $(grep -q "not published" "$T/site.log"; [ $? -ne 0 ]; echo $?) \
    "nothing 'not published' in its log"
states "$T/site" "$T/site.st"
big=$(awk -F'\t' -v m=$MAXP 'length($2) > m' "$T/site.st" | wc -l)
check $([ "$big" -ge 1 ]; echo $?) "the archive holds $big STATES frames over $MAXP bytes"
ndump "$NATS_URL" EV >"$T/ev.jsonl"
check $([ "$(wc -l <"$T/ev.jsonl")" -eq "$(nats_info EV messages)" ] &&
    [ "$(grep -c '"Evtape-Kind":"event"' "$T/ev.jsonl")" -eq 3000 ]; echo $?) \
    "the stream holds the 3000 events (dumped: $(wc -l <"$T/ev.jsonl") messages)"
t "the stream holds them as parts under $MAXP bytes that join into each frame byte for byte" \
    $PARTS check "$T/ev.jsonl" $MAXP "$T/site.st"
sed 's/^/# /' "$T/.out"
AT=$($PYTHON -c '
import sys
l = open(sys.argv[1]).readlines()
print(int(l[0].split()[0]) + 1000000)' "$T/site.st")

# 2. The centre: the same STATES frames, the same states.
archiver c1 "$T/central" EV c1
checkl $? "the archiver consumes" "$T/c1.log"
waitfor 3000 held c1 0
checkl $? "... everything, acknowledged" "$T/c1.log"
stop_pid $REC_PID
check $RC "... and stops (exit 0)"
t "the central archive's STATES frames, states (now and --at) and events are the site's" \
    same_states "$T/site" "$T/central"

# 3. An archiver killed while it holds parts 1 and 2 of the frame: the
# stream EV2 gets the messages up to part 2, then the frame's other parts,
# and the rest once the restarted archiver has the frame (the server
# delivers what a killed consumer held again after AckWait, 2 s: messages
# published meanwhile would be archived before it, in the order of
# arrival, which `evtool state` follows).
server q
$PYTHON "$HERE/natsfeed.py" "$PORT" create EV2 'xprotect.>'
i2=$($PARTS index "$T/ev.jsonl" 3)
i3=$(($($PARTS index "$T/ev.jsonl" last) + 1))
nmsg=$(wc -l <"$T/ev.jsonl")
t "EV2: the messages before part 3" $PARTS pub "$PORT" "$T/ev.jsonl" 0 "$i2"
archiver c2 "$T/central2" EV2 c2
checkl $? "an archiver on EV2 consumes" "$T/c2.log"
waitfor 3000 held c2 2
checkl $? "... and holds parts 1 and 2 unacknowledged" "$T/c2.log"
kill -9 $REC_PID
wait $REC_PID 2>/dev/null
t "EV2: the frame's other parts" $PARTS pub "$PORT" "$T/ev.jsonl" "$i2" "$i3"
archiver c2b "$T/central2" EV2 c2
checkl $? "the archiver restarted after kill -9" "$T/c2b.log"
waitfor 3000 held c2 0
checkl $? "... has every part" "$T/c2b.log"
t "EV2: the rest" $PARTS pub "$PORT" "$T/ev.jsonl" "$i3" "$nmsg"
wait_events "$T/central2" 3000 && waitfor 3000 held c2 0
checkl $? "... consumes everything" "$T/c2b.log"
stop_pid $REC_PID
check $RC "... stops (exit 0)"
t "... the frame once, joined: STATES frames, states and events are the site's" \
    same_states "$T/site" "$T/central2"

# 3b. A consumer whose MaxAckPending (4) the held parts would fill: the
# archiver writes the parts as they are, each a STATES frame, and says so.
t "a consumer of EV2 with MaxAckPending 4" \
    $PARTS consumer "$PORT" EV2 c4 4
archiver c4 "$T/central4" EV2 c4
wait_events "$T/central4" 3000 && waitfor 3000 held c4 0
checkl $? "an archiver on it consumes everything" "$T/c4.log"
stop_pid $REC_PID
check $RC "... stops (exit 0)"
t "... logged the parts written as they are" \
    grep -q "held .* reach half the consumer's MaxAckPending: written as they are" "$T/c4.log"
$EVTOOL cat --tsv "$T/central4" >"$T/c4.tsv"
t "... each a STATES frame: their states, in order, are the frame's" \
    $PARTS asis "$T/site.st" "$T/c4.tsv"

# 4. A publisher restarted on a stream that ends inside a split frame
# (its position file gone: the stream's last message is the guard).
server r
$PYTHON "$HERE/natsfeed.py" "$PORT" create EV3 'xprotect.>'
t "EV3: the messages before part 3" $PARTS pub "$PORT" "$T/ev.jsonl" 0 "$i2"
rm -f "$T/site/nats-publish.json"
mp=$(free_port)
start_rec site2 --archive "$T/site" --user u --password-file "$T/pw" \
    --publish "$NATS_URL" --site s1 --stream EV3 --metrics "127.0.0.1:$mp" \
    "http://127.0.0.1:$SIM_PORT"
waitfor 3000 grep -q "already holds this archive up to part 2 of" "$T/site2.log"
checkl $? "evrec --publish sees the stream ends inside a frame" "$T/site2.log"
waitfor 3000 caught_up "$mp"
checkl $? "... and catches up" "$T/site2.log"
stop_pid $REC_PID
check $RC "... stops (exit 0)"
states "$T/site" "$T/site.st"
ndump "$NATS_URL" EV3 >"$T/ev3.jsonl"
t "... every part once, each frame joined byte for byte" \
    $PARTS check "$T/ev3.jsonl" $MAXP "$T/site.st"
archiver c3 "$T/central3" EV3 c3
waitfor 3000 held c3 0
checkl $? "an archiver of EV3 consumes everything" "$T/c3.log"
stop_pid $REC_PID
check $RC "... stops (exit 0)"
t "... the same STATES frames, states and events as the site" \
    same_states "$T/site" "$T/central3"

# 5. evplay --publish of the archive: the same parts.
server s
$BUILD/evplay --top-speed --publish "$NATS_URL" --stream EVP \
    --subject-prefix xprotect.s1 --site s1 "$T/site" >"$T/play.out" \
    2>"$T/play.err"
checkl $? "evplay --publish of the archive: exit 0" "$T/play.err"
ndump "$NATS_URL" EVP >"$T/evp.jsonl"
t "... its STATES frames as parts that join byte for byte" \
    $PARTS check "$T/evp.jsonl" $MAXP "$T/site.st"
check $(grep -q "not published" "$T/play.err"; [ $? -ne 0 ]; echo $?) \
    "... nothing 'not published'"

kill $SIM_PID 2>/dev/null
done_testing
