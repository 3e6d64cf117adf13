#!/bin/sh
# redundant_pair.sh: two evrec processes record one evsim into two
# archives.  1. One is stopped for longer than the resume window (its
# restart records a GAP), the other is killed -9 at another moment and
# restarted (it resumes): evtool merge of the two archives holds every
# event evsim sent (--log-sent), once, and reports no gap left.
# 2. Both are down at once for longer than the window: the merge holds
# every event either recorded and exactly one GAP, the time neither
# recorded, and the events it lacks are those sent then.  Cuts of A and
# B merge with A as recordings of the same gateway.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
need_progs "$EVSIM" "$EVREC" "$EVTOOL"
echo "pw-$$" >"$T/pw"
WIN=1

# expired NAME N: evsim NAME has logged at least N expired sessions.
expired() {
	[ "$(grep -c 'expired' "$T/$1.out")" -ge "$2" ]
}

# once_each SENT DIR: every event of evsim's --log-sent SENT is in the
# archive DIR once, and nothing else.  (Not in the order sent: merged by
# receive time, an event of a recorder that lags comes after one another
# recorder received earlier.)
once_each() {
	sent_events "$1" "$T/want.jsonl" 2>/dev/null &&
	    "$EVTOOL" cat "$2" >"$T/got.jsonl" &&
	    sort "$T/want.jsonl" >"$T/want.sorted" &&
	    sort "$T/got.jsonl" >"$T/got.sorted" &&
	    cmp "$T/want.sorted" "$T/got.sorted"
}

# last_sent_in FILE DIR: the archive holds the last event evsim sent.
last_sent_in() {
	_id=$(tail -n 1 "$1" | sed 's/.*"id":"\([^"]*\)".*/\1/')
	[ -n "$_id" ] && "$EVTOOL" get "$2" "$_id" >/dev/null 2>&1
}

# rec NAME DIR: starts evrec on the running evsim into DIR.
rec() {
	start_rec "$1" --archive "$2" --user u --password-file "$T/pw" \
	    "http://127.0.0.1:$SIM_PORT"
}

# 1. One stopped past the window, the other killed -9 and restarted.
start_sim sim --user u --password-file "$T/pw" --rate 1500 --events 9000 \
    --seed 21 --resume-window $WIN --log-sent "$T/sent"
rec ra "$T/A"
pa=$REC_PID
rec rb "$T/B"
pb=$REC_PID
wait_events "$T/A" 800 && wait_events "$T/B" 800
checkl $? "both recorders record" "$T/ra.log"
stop_pid $pa
wait_events "$T/B" 2000
waitfor 1000 expired sim 1
checkl $? "A stopped past the resume window (its session expired)" "$T/sim.out"
rec ra2 "$T/A"
pa=$REC_PID
waitfor 1000 grep -q "gap recorded" "$T/ra2.log"
checkl $? "A's restart: resume refused, a GAP recorded" "$T/ra2.log"
n=$(events_in "$T/A")
wait_events "$T/A" $((n + 500))
kill -9 $pb
wait $pb 2>/dev/null
rec rb2 "$T/B"
pb=$REC_PID
waitfor 1000 grep -q "resumed after event" "$T/rb2.log"
checkl $? "B killed -9 and restarted: resumed" "$T/rb2.log"
waitfor 3000 grep -q "generation done" "$T/sim.out"
check $? "evsim generated everything"
waitfor 1000 last_sent_in "$T/sent" "$T/A" &&
    waitfor 1000 last_sent_in "$T/sent" "$T/B"
check $? "both hold the last event sent"
stop_pid $pa
stop_pid $pb
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
check $([ "$(info_field "$T/A" gaps)" -eq 1 ]; echo $?) "A holds one GAP"
t "merge A B" sh -c "$EVTOOL merge '$T/M' '$T/A' '$T/B' >'$T/m.out'"
t "every event sent, once" once_each "$T/sent" "$T/M"
t "A: its gap closed" grep -q "^$T/A: .* 1 gaps closed, 0 gaps left" "$T/m.out"
t "B: no gap" grep -q "^$T/B: .* 0 gaps closed, 0 gaps left" "$T/m.out"
check $([ "$(info_field "$T/M" gaps)" -eq 0 ]; echo $?) "the merge holds no GAP"
t "verify of the merge" $EVTOOL verify "$T/M"

# Cuts merge as recordings of their source's gateway (the cut marker
# carries it: formats/records.md, "Cut provenance"): no "switched"
# marker, gaps closed as between A and B.
G=$($EVTOOL cat --markers "$T/A" | awk -F '	' '$2 == "GAP" {print $1; exit}')
LAST=$($EVTOOL cat --tsv "$T/B" | tail -n 1 | cut -f1)
$EVTOOL cut --from $((G - 600000000)) --to $((LAST + 1)) "$T/B" "$T/Bc" \
    2>/dev/null
check $? "cut of B around A's gap"
t "the cut marker names the gateway" sh -c "$EVTOOL cat --markers '$T/Bc' |
    head -n 1 | grep -q '\"event\":\"cut\",\"gateway\":\"http://127.0.0.1:'"
gw_of() { $EVTOOL cat --markers "$1" | head -n 1 |
    sed -n 's/.*"gateway":"\([^"]*\)".*/\1/p'; }
$EVTOOL cut --from $((G - 1000000)) --to $((G + 1000000)) "$T/Bc" "$T/Bcc" \
    2>/dev/null
check $([ -n "$(gw_of "$T/Bc")" ] &&
    [ "$(gw_of "$T/Bcc")" = "$(gw_of "$T/Bc")" ]; echo $?) \
    "... and a cut of the cut names the same"
t "merge A cut(B)" sh -c "$EVTOOL merge '$T/MBc' '$T/A' '$T/Bc' >'$T/mbc.out'"
t "... A's gap closed by the cut" grep -q \
    "^$T/A: .* 1 gaps closed, 0 gaps left" "$T/mbc.out"
t "... no switched marker" sh -c \
    "! $EVTOOL cat --markers '$T/MBc' | grep -q '\"event\":\"switched\"'"
t "... every event sent, once" once_each "$T/sent" "$T/MBc"
$EVTOOL cut --from $((G - 1000000)) --to $((LAST + 1)) "$T/A" "$T/Ac" \
    2>/dev/null
check $? "cut of A across its gap"
t "merge A cut(A)" sh -c "$EVTOOL merge '$T/MAc' '$T/A' '$T/Ac' >/dev/null"
t "... holds A's events" sh -c "$EVTOOL cat '$T/A' | sort >'$T/a.ev' &&
    $EVTOOL cat '$T/MAc' | sort | cmp -s - '$T/a.ev'"
t "... no switched marker" sh -c \
    "! $EVTOOL cat --markers '$T/MAc' | grep -q '\"event\":\"switched\"'"
check $([ "$(info_field "$T/MAc" gaps)" -eq 1 ]; echo $?) \
    "... and A's one GAP, left (no input covers it)"
# Two overlapping windows of A: the union window's events, once each.
$EVTOOL cat --tsv "$T/A" | cut -f1 >"$T/a.rx"
NA=$(wc -l <"$T/a.rx")
R1=$(sed -n "$((NA / 5))p" "$T/a.rx")
R2=$(sed -n "$((NA / 2))p" "$T/a.rx")
R3=$(sed -n "$((NA * 2 / 5))p" "$T/a.rx")
R4=$(sed -n "$((NA * 4 / 5))p" "$T/a.rx")
$EVTOOL cut --from "$R1" --to "$R2" "$T/A" "$T/Ac1" 2>/dev/null &&
    $EVTOOL cut --from "$R3" --to "$R4" "$T/A" "$T/Ac2" 2>/dev/null
check $? "two overlapping cuts of A"
t "merge cut1(A) cut2(A): the union window's events, once" sh -c \
    "$EVTOOL merge '$T/Mcc' '$T/Ac1' '$T/Ac2' >/dev/null &&
    $EVTOOL cat --from $R1 --to $R4 '$T/A' | sort >'$T/u.want' &&
    $EVTOOL cat '$T/Mcc' | sort >'$T/u.got' && test -s '$T/u.want' &&
    cmp -s '$T/u.want' '$T/u.got'"
t "... no switched marker" sh -c \
    "! $EVTOOL cat --markers '$T/Mcc' | grep -q '\"event\":\"switched\"'"

# 2. Both down at once.
start_sim sim2 --user u --password-file "$T/pw" --rate 800 --events 7000 \
    --seed 22 --resume-window $WIN --log-sent "$T/sent2"
rec rc "$T/C"
pc=$REC_PID
rec rd "$T/D"
pd=$REC_PID
wait_events "$T/C" 800 && wait_events "$T/D" 800
checkl $? "both recorders record" "$T/rc.log"
stop_pid $pc
wait_events "$T/D" 1600
stop_pid $pd
waitfor 1000 expired sim2 2
checkl $? "both down past the resume window" "$T/sim2.out"
rec rc2 "$T/C"
pc=$REC_PID
waitfor 1000 grep -q "gap recorded" "$T/rc2.log"
n=$(events_in "$T/C")
wait_events "$T/C" $((n + 400))
rec rd2 "$T/D"
pd=$REC_PID
waitfor 1000 grep -q "gap recorded" "$T/rd2.log"
checkl $? "both restarts record a GAP" "$T/rd2.log"
waitfor 3000 grep -q "generation done" "$T/sim2.out" &&
    waitfor 1000 last_sent_in "$T/sent2" "$T/C" &&
    waitfor 1000 last_sent_in "$T/sent2" "$T/D"
check $? "both hold the last event sent"
stop_pid $pc
stop_pid $pd
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
t "merge C D" sh -c "$EVTOOL merge '$T/N' '$T/C' '$T/D' >'$T/n.out'"
t "C: its gap left" grep -q "^$T/C: .* 0 gaps closed, 1 gaps left" "$T/n.out"
t "D: its gap left" grep -q "^$T/D: .* 0 gaps closed, 1 gaps left" "$T/n.out"
check $([ "$(info_field "$T/N" gaps)" -eq 1 ]; echo $?) "the merge holds one GAP"
sent_events "$T/sent2" "$T/want2.jsonl" 2>/dev/null
$EVTOOL cat --tsv "$T/N" >"$T/n.tsv"
$EVTOOL cat --markers "$T/N" >"$T/n.markers"
t "the GAP is the time neither recorded, and only its events are missing" \
    $PYTHON - "$T/want2.jsonl" "$T/n.tsv" "$T/n.markers" <<'EOF'
import json, sys
sent = [json.loads(l)["id"] for l in open(sys.argv[1])]
got, rx = [], {}
for line in open(sys.argv[2]):
    t, _, text = line.rstrip("\n").partition("\t")
    if text.startswith('{"events":['):
        for e in json.loads(text)["events"]:
            got.append(e["id"])
            rx[e["id"]] = int(t.partition(":")[0])
gaps = [json.loads(l.split("\t", 2)[2]) for l in open(sys.argv[3])
        if l.split("\t")[1] == "GAP"]
assert len(gaps) == 1, gaps
lo, hi = gaps[0]["fromUs"], gaps[0]["toUs"]
assert len(got) == len(set(got)), "an event twice"
have = set(got)
miss = [i for i, e in enumerate(sent) if e not in have]
assert miss, "nothing missing"
assert miss == list(range(miss[0], miss[-1] + 1)), "missing: not one run"
before, after = sent[miss[0] - 1], sent[miss[-1] + 1]
assert rx[before] <= lo < hi <= rx[after], (rx[before], lo, hi, rx[after])
assert not [e for e in got if lo < rx[e] < hi], "events inside the GAP"
print("%d missing, GAP of %d ms" % (len(miss), (hi - lo) // 1000))
EOF
t "verify of that merge" $EVTOOL verify "$T/N"

done_testing
