#!/bin/sh
# follow.sh: evtool cat -f, real processes.  evsim (dropping its
# connections) -> evrec rotating every 2 s; followers in every output form
# (events, --tsv, --messages, --markers, --names, -o text) and with
# filters (--type; --from and --source) run throughout,
# across an evrec kill -9, an evtool prune meanwhile (of segments the
# followers have read) and the restart; at the end each one's output is
# exactly `evtool cat` of the same form over the final archive, preceded
# by what the prune deleted, and holds every event evsim sent, once;
# also after a kill -9 that leaves more than 1 MiB unsealed (the
# restarted recorder seals it in the background and begins another).
# Then: a follower stopped while it holds a segment that is sealed and
# compacted under it, and whose next segments retention deletes before it
# reads them (reported, with their names); GAP markers as they come;
# --to ends a follower; and
# directories that are not archives are refused without hanging.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
need_evsim
echo "pw-$$" >"$T/pw"
AUTH="--user u --password-file $T/pw"

# follow NAME ARGS...: starts evtool cat -f ARGS, its output in
# $T/NAME.out and $T/NAME.err; sets FPID.
follow() {
	_n=$1
	shift
	"$EVTOOL" cat -f "$@" >"$T/$_n.out" 2>"$T/$_n.err" &
	FPID=$!
	PIDS="$PIDS $FPID"
}

# lines FILE: its line count.
lines() {
	wc -l <"$1" | tr -d ' '
}

# same_count FILE ARGS...: FILE has as many lines as evtool cat ARGS.
same_count() {
	_f=$1
	shift
	[ "$(lines "$_f")" -eq "$("$EVTOOL" cat "$@" 2>/dev/null | wc -l)" ]
}

# same_last FILE ARGS...: FILE's last line is that of evtool cat ARGS
# (and not empty).
same_last() {
	_f=$1
	shift
	_l=$("$EVTOOL" cat "$@" 2>/dev/null | tail -n 1)
	[ -n "$_l" ] && [ "$(tail -n 1 "$_f")" = "$_l" ]
}

# wait_until SECONDS CMD...: polls CMD every 0.1 s, at most SECONDS.
wait_until() {
	_i=$(($1 * 10))
	shift
	while [ $_i -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		_i=$((_i - 1))
	done
	return 1
}

# every_follower SECONDS PRED: waits until PRED FILE ARGS... holds for
# every follower of $FORMS (its output, its form's cat arguments over
# $T/a); 1 if one does not in time.
every_follower() {
	_ok=0
	while IFS= read -r _form; do
		wait_until "$1" "$2" "$T/${_form%%:*}.out" ${_form#*:} "$T/a" || _ok=1
	done <<EOF
$FORMS
EOF
	return $_ok
}

# 1. The recording with drops, a kill -9, a prune and a restart.
start_sim sim $AUTH --rate 400 --events 6000 --seed 7 --drop-every 900 \
    --log-sent "$T/sent"
start_rec r1 --archive "$T/a" --segment-age 2s $AUTH \
    "http://127.0.0.1:$SIM_PORT"
wait_events "$T/a" 100
checkl $? "recording" "$T/r1.log"
TYPE=$("$EVTOOL" cat "$T/a" | head -n 1 |
    $PYTHON -c 'import json, sys; print(json.loads(sys.stdin.readline())["type"])')
SRC=$("$EVTOOL" cat "$T/a" | head -n 1 |
    $PYTHON -c 'import json, sys; print(json.loads(sys.stdin.readline())["source"])')
FROM=$((($(date +%s) + 3) * 1000000))
# The followers: NAME:ARGS, one a line (the same ARGS for cat at the end).
FORMS="ev:
tsv:--tsv
msg:--messages
mk:--markers
ty:--type $TYPE
nm:--names
tx:-o text --utc
fr:--from $FROM --source $SRC"
FPIDS=""
while IFS= read -r f; do
	follow ${f%%:*} ${f#*:} "$T/a"
	FPIDS="$FPIDS $FPID"
	[ "${f%%:*}" = mk ] && F_MK=$FPID
done <<EOF
$FORMS
EOF
wait_events "$T/a" 2500
checkl $? "2500 events recorded" "$T/r1.log"
kill -9 $REC_PID
wait $REC_PID 2>/dev/null
# The followers have read everything the dead recorder left (then the
# prune deletes only segments they have read).
every_follower 60 same_count
check $? "the followers caught up with the killed recorder"
cp -a "$T/a" "$T/snap"
"$EVTOOL" prune "$T/a" --max-age 1s >"$T/prune.out" 2>&1
n=$(awk '{print $3}' "$T/prune.out")
check $([ "${n:-0}" -ge 1 ]; echo $?) "prune deleted $n segments beside the followers"
start_rec r2 --archive "$T/a" --segment-age 2s $AUTH \
    "http://127.0.0.1:$SIM_PORT"
waitfor 6000 grep -q "generation done" "$T/sim.out"
check $? "evsim generated everything"
sent_events "$T/sent" "$T/want.jsonl" 2>/dev/null
last=$(tail -n 1 "$T/want.jsonl" | cut -c1-44)
wait_until 60 sh -c "'$EVTOOL' cat '$T/a' | tail -n 1 | grep -qF '$last'"
checkl $? "the last event sent is recorded" "$T/r2.log"
stop_pid $REC_PID
check $RC "evrec stopped: exit 0"
every_follower 30 same_last
check $? "every follower printed the last line of its form"
ok=0
for p in $FPIDS; do
	if [ $p = $F_MK ]; then kill -INT $p; else kill -TERM $p; fi
	wait $p || ok=1
done
check $ok "SIGTERM and SIGINT stop the followers: exit 0"
# What prune deleted, then the final archive.
mkdir "$T/pruned"
for s in "$T"/snap/seg-*.evt; do
	[ -e "$T/a/${s##*/}" ] || cp "$s" "$T/pruned/"
done
while IFS= read -r f; do
	{
		"$EVTOOL" cat ${f#*:} "$T/pruned"
		"$EVTOOL" cat ${f#*:} "$T/a"
	} >"$T/${f%%:*}.want" 2>/dev/null
	cmp -s "$T/${f%%:*}.want" "$T/${f%%:*}.out"
	check $? "cat -f ${f#*:}: what cat prints, in order ($(lines "$T/${f%%:*}.out") lines)"
done <<EOF
$FORMS
EOF
t "cat -f: every event sent, once, in order" \
    $PYTHON "$HERE/jsoncmp.py" "$T/want.jsonl" "$T/ev.out"
check $([ -s "$T/ev.err" ]; [ $? -ne 0 ]; echo $?) "nothing reported"
[ -s "$T/ev.err" ] && show "$T/ev.err"
check $([ "$(grep -c SESSION "$T/mk.out")" -ge 3 ]; echo $?) \
    "--markers: the SESSION markers of the resumptions"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# 1b. kill -9 with more than 1 MiB in the unsealed segment: the restarted
# recorder leaves it (seals it in the background) and records into a new
# segment; the follower reads the old one to its trailer, then the new.
start_sim simk $AUTH --rate 0 --events 120000 --seed 6 --log-sent "$T/sentk"
start_rec rk1 --archive "$T/k" $AUTH "http://127.0.0.1:$SIM_PORT"
wait_events "$T/k" 1
follow big "$T/k"; F_BIG=$FPID
big_enough() {
	[ "$(stat -c %s "$T/k/seg-000000000001.evt")" -gt 1500000 ]
}
wait_until 60 big_enough
checkl $? "segment 1 past 1.5 MB" "$T/rk1.log"
kill -9 $REC_PID
wait $REC_PID 2>/dev/null
start_rec rk2 --archive "$T/k" $AUTH "http://127.0.0.1:$SIM_PORT"
waitfor 6000 grep -q "generation done" "$T/simk.out"
sent_events "$T/sentk" "$T/wantk.jsonl" 2>/dev/null
last=$(tail -n 1 "$T/wantk.jsonl" | cut -c1-44)
wait_until 60 sh -c "'$EVTOOL' cat '$T/k' | tail -n 1 | grep -qF '$last'"
checkl $? "all 120000 events recorded" "$T/rk2.log"
stop_pid $REC_PID
grep -q "left unsealed by a crash" "$T/rk2.log"
checkl $? "the restarted recorder left the segment and began another" "$T/rk2.log"
wait_until 30 same_last "$T/big.out" "$T/k"
kill -TERM $F_BIG
wait $F_BIG
check $? "exit 0"
"$EVTOOL" cat "$T/k" >"$T/big.want"
cmp -s "$T/big.want" "$T/big.out"
check $? "what cat prints ($(lines "$T/big.out") lines)"
check $([ -s "$T/big.err" ]; [ $? -ne 0 ]; echo $?) "nothing reported"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# 2. A follower stopped (SIGSTOP) while it holds the unsealed segment 2,
# which is then sealed and compacted (10 events/s and 7 s: 6 or 7 small
# blocks; segment 1 holds the large getState answer) under it; then retention deletes
# segments 1 to N-1 before it reads 3 to N-1.
start_sim sim2 $AUTH --rate 10 --seed 8
start_rec r3 --archive "$T/b" --segment-age 7s $AUTH \
    "http://127.0.0.1:$SIM_PORT"
wait_events "$T/b" 5
checkl $? "recording at 10 events/s" "$T/r3.log"
follow lag "$T/b"; F_LAG=$FPID
# holds FILE: the follower has FILE of the archive open.
holds() {
	ls -l /proc/$F_LAG/fd 2>/dev/null | grep -q "$1"
}
wait_until 60 holds seg-000000000002.evt
check $? "the follower opened segment 2"
ino=$(stat -c %i "$T/b/seg-000000000002.evt")
kill -STOP $F_LAG
compacted() {
	[ "$(stat -c %i "$T/b/seg-000000000002.evt")" != "$ino" ]
}
wait_until 60 compacted
check $? "segment 2 was compacted (a new file) under the follower"
wait_until 60 test -e "$T/b/seg-000000000004.evt"
check $? "segment 4 begun"
stop_pid $REC_PID
check $RC "evrec stopped: exit 0"
cp -a "$T/b" "$T/snapb"
"$EVTOOL" prune "$T/b" --max-age 1ms >"$T/pruneb.out" 2>&1
t "prune deleted all but the newest segment" \
    sh -c "ls '$T/b' | grep -c '^seg-' | grep -qx 1"
kill -CONT $F_LAG
wait_until 30 same_last "$T/lag.out" "$T/b"
check $? "the follower went on to the newest segment"
kill -TERM $F_LAG
wait $F_LAG
check $([ $? -eq 1 ]; echo $?) "exit 1: it reported a loss"
grep -q "seg-000000000003.evt: offset 0: deleted .* before this reader read" "$T/lag.err"
checkl $? "the segments deleted before it read them are named" "$T/lag.err"
mkdir "$T/first"
cp "$T/snapb/seg-000000000001.evt" "$T/snapb/seg-000000000002.evt" \
    "$T/first/"
{
	"$EVTOOL" cat "$T/first"
	"$EVTOOL" cat "$T/b"
} >"$T/lag.want"
cmp -s "$T/lag.want" "$T/lag.out"
check $? "it printed segments 1 and 2 whole (2 from its old file) and the newest"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# 3. GAP markers as they are recorded: a gateway that forgets its
# sessions.
start_sim sim3 $AUTH --rate 400 --events 1500 --seed 9 --forget-every 500
start_rec r4 --archive "$T/c" $AUTH "http://127.0.0.1:$SIM_PORT"
wait_events "$T/c" 1
follow gap --markers "$T/c"; F_GAP=$FPID
wait_until 60 grep -q "	GAP	" "$T/gap.out"
check $? "--markers: a GAP marker printed as it was recorded"
waitfor 6000 grep -q "generation done" "$T/sim3.out"
stop_pid $REC_PID
wait_until 30 same_last "$T/gap.out" --markers "$T/c"
kill -TERM $F_GAP
wait $F_GAP
check $? "exit 0"
"$EVTOOL" cat --markers "$T/c" >"$T/gap.want"
cmp -s "$T/gap.want" "$T/gap.out"
check $? "--markers: what cat --markers prints"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# 4. --to: a follower of an archive nobody writes ends by itself.
to=$(($(date +%s) * 1000000 + 500000))
timeout 30 "$EVTOOL" cat -f --to "$to" "$T/a" >"$T/to.out" 2>&1
check $? "--to: exit 0 once the time has passed"
"$EVTOOL" cat --to "$to" "$T/a" >"$T/to.want"
cmp -s "$T/to.want" "$T/to.out"
check $? "--to: what cat --to prints"

# 5. Refused without hanging: a FIFO, a file, a directory that is not an
# archive, one that does not exist, one that may not be read.
mkfifo "$T/fifo"
: >"$T/file"
mkdir "$T/empty"
for d in fifo file empty none; do
	timeout 10 "$EVTOOL" cat -f "$T/$d" >"$T/ref.out" 2>&1
	rc=$?
	check $([ $rc -eq 3 ]; echo $?) "cat -f on $d: refused (exit $rc)"
done
timeout 10 "$EVTOOL" cat -f "$T/fifo" 2>&1 | grep -q "not a directory"
check $? "a FIFO: 'not a directory'"
timeout 10 "$EVTOOL" cat -f "$T/empty" 2>&1 | grep -q "not an archive"
check $? "an empty directory: 'not an archive'"
# (As root, through setpriv as nobody: root reads any directory.)
mkdir "$T/noread"
: >"$T/noread/LOCK"
chmod 000 "$T/noread"
AS=""
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 711 "$T"
	AS="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
if [ "$(id -u)" -ne 0 ] || [ -n "$AS" ]; then
	timeout 10 $AS "$EVTOOL" cat -f "$T/noread" >"$T/noread.out" 2>&1
	rc=$?
	check $([ $rc -eq 3 ]; echo $?) "an unreadable directory: refused (exit $rc)"
	grep -q "cannot read or watch the directory: Permission denied" \
	    "$T/noread.out"
	checkl $? "... 'Permission denied'" "$T/noread.out"
else
	echo "ok $((tn = tn + 1)) # skip root without setpriv reads any directory"
fi
chmod 700 "$T/noread" "$T"
done_testing
