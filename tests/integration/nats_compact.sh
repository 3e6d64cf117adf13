#!/bin/sh
# nats_compact.sh: evrec --publish over segments that compaction rewrites
# (formats/archive.md, "Compaction"; formats/nats.md, "Frame references",
# "The position file"): small segments of small blocks (a low rate, blocks
# closed by age) are rewritten at rotation while the publisher follows
# them or has its position in them, and evrec is killed (kill -9) at
# several points: publishing live, while NATS is down (the position then
# lies in segments compacted since), and twice during the catch-up
# through compacted segments.  After the last run the stream holds the
# archive's events once each, in order (natspubcheck.py), and every
# message's Nats-Msg-Id, Evtape-Frame and Evtape-Item are what a fresh
# reader of the final archive gives them (evplay --publish of it into a
# second stream, compared message by message by evplay_publish.py).
. "$(dirname "$0")/lib.sh"
. "$HERE/natslib.sh"
need_nats
need_evsim
EVPLAY=$BUILD/evplay
umask 077
echo "pw-$$" >"$T/pw"
umask 022
N=9000

# stream_events: the events (xprotect.s1.ev.>) stream EV holds.
stream_events() {
	ndump --subject "xprotect.s1.ev.>" "$NATS_URL" EV 2>/dev/null | wc -l |
	    tr -d ' '
}

# stream_at_least N: stream EV holds N events or more (for waitfor).
stream_at_least() {
	[ "$(stream_events)" -ge "$1" ]
}

# rec NAME ARGS...: evrec --publish of the gateway into $T/a, in blocks of
# 10 ms and segments of 32 KiB.
rec() {
	_n=$1
	shift
	start_rec "$_n" --archive "$T/a" --user u --password-file "$T/pw" \
	    --publish "$NATS_URL" --site s1 --stream EV \
	    --flush-interval 10ms --segment-size 32k "$@" \
	    "http://127.0.0.1:$SIM_PORT"
}

# kill9: kill -9 of the running evrec.
kill9() {
	kill -9 $REC_PID
	wait $REC_PID 2>/dev/null
}

# compacted DIR: sealed segments of many events in few blocks, as the
# compaction leaves them (a recorder closing blocks every 10 ms at this
# rate writes dozens); their count.
compacted() {
	"$EVTOOL" ls "$1" 2>/dev/null | awk '$2 == "sealed" && $4 >= 200 &&
	    $5 <= 4 { n++ } END { print n + 0 }'
}

nats_start a
checkl $? "nats-server starts" "$T/nats/a/log"
start_sim sim --user u --password-file "$T/pw" --rate 1500 --events $N \
    --seed 21 --cameras 40
checkl $? "evsim starts" "$T/sim.out"

# 1. Killed while publishing live.
rec r1
waitfor 3000 stream_at_least 1200 &&
    waitfor 3000 test -s "$T/a/nats-publish.json"
checkl $? "publishing live, the position file written" "$T/r1.log"
kill9
# 2. Killed while NATS is down: the archive goes on for several segments
# (each compacted at its rotation) past the position.
nats_kill a
at=$(events_in "$T/a")
rec r2
wait_events "$T/a" $((at + 2500))
checkl $? "recording goes on while NATS is down" "$T/r2.log"
kill9
nats_restart a
checkl $? "nats-server restarts" "$T/nats/a/log"
n_c=$(compacted "$T/a")
check $([ "$n_c" -ge 3 ]; echo $?) \
    "segments behind the position were compacted ($n_c)"
# 3. Killed twice during the catch-up through compacted segments (a small
# window: the position moves a few messages at a time).
for r in 3 4; do
	n=$(stream_events)
	rec r$r --nats-window 2
	waitfor 3000 stream_at_least $((n + 400))
	checkl $? "run $r: resumed from the position file, catching up" \
	    "$T/r$r.log"
	kill9
done
# 4. The last run: everything, then a clean stop.
rec r5
wait_events "$T/a" $N
checkl $? "all $N events recorded" "$T/r5.log"
waitfor 3000 stream_at_least $N
checkl $? "... and published" "$T/r5.log"
stop_pid $REC_PID
check $RC "evrec stops (exit 0)"
# Where runs 3, 4 and 5 resumed (their logs say): in segments compacted
# since, at least one of them (a kill -9 between a rotation and its
# compaction leaves a segment of small blocks: not all of them).
resumed_in=$(for r in 3 4 5; do
	sed -n 's/.*publishing resumes after segment \([0-9]*\) frame.*/\1/p' \
	    "$T/r$r.log" | head -n 1
done)
check $([ "$(echo $resumed_in | wc -w)" -eq 3 ]; echo $?) \
    "runs 3, 4 and 5 resumed from the position file (segments $(echo $resumed_in))"
n_in=$("$EVTOOL" ls "$T/a" | awk -v l="$resumed_in" '
    BEGIN { n = split(l, s, " "); for (i = 1; i <= n; i++)
        want[sprintf("seg-%012d.evt", s[i])]++ }
    ($1 in want) && $4 >= 200 && $5 <= 4 { c += want[$1] }
    END { print c + 0 }')
check $([ "$n_in" -ge 1 ]; echo $?) \
    "... $n_in of them in a segment compacted since"
[ "$n_in" -ge 1 ] || "$EVTOOL" ls "$T/a" | sed 's/^/#   /'
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

ndump "$NATS_URL" EV >"$T/ev.msgs"
"$EVTOOL" cat "$T/a" >"$T/cat.jsonl"
t "0 lost, 0 duplicated: the stream holds the archive's events once, in order" \
    $PYTHON "$HERE/natspubcheck.py" "$T/ev.msgs" "$T/cat.jsonl" xprotect.s1 s1
$EVPLAY -q --top-speed --publish "$NATS_URL" --stream REF \
    --subject-prefix ref --site s1 "$T/a" >"$T/play.out" 2>&1
checkl $? "evplay --publish of the final archive into stream REF" \
    "$T/play.out"
ndump "$NATS_URL" REF >"$T/ref.msgs"
t "every message's Nats-Msg-Id, Evtape-Frame and Evtape-Item are a fresh reader's" \
    $PYTHON "$HERE/evplay_publish.py" same "$T/ev.msgs" xprotect.s1 \
    "$T/ref.msgs" ref
done_testing
