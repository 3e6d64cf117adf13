#!/bin/sh
# evrec_guard.sh: what keeps an archive to one writer and an evrec honest.
# 1. LOCK deleted while evrec records: a second evrec is still refused (the
#    directory itself is locked), the first makes LOCK again, evtool
#    repair/prune are refused too; nothing lost, nothing damaged.
# 2. A foreign writer appends to the open segment: evrec notices, stops
#    with status 3 without writing to it; a restart resumes the session,
#    cuts the foreign bytes, and nothing is lost or doubled.
# 3. A restart that resumes the session: every later segment starts with
#    a "continued" SESSION marker (formats/records.md, "Markers").
# 4. Bad values are refused with status 2: --dead-timeout 0, --include
#    ';;;', negative sizes (evrec and evtool prune).
# 5. evtool repair cleans the temporary file of a repair that was killed.
# 6. Secrets: evrec is not dumpable (no core with the password, /proc/PID
#    files owned by root), the password is in neither argv nor the log.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
need_evsim
echo "pw-guard-$$" >"$T/pw"

# gone PID: the process has exited (for waitfor).
gone() {
	! kill -0 "$1" 2>/dev/null
}

# exits_3 PID DESCRIPTION: evrec PID exits (bounded wait; killed if not)
# with status 3 (failure).
exits_3() {
	waitfor 1000 gone "$1"
	check $? "$2"
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	check $([ $? -eq 3 ]; echo $?) "with status 3"
}

# recording N DIR SEED: evsim (12000 events at 2000/s, sent to $T/sent.N)
# and evrec (log $T/rN.log) recording it into DIR, 1000 events in.
recording() {
	start_sim "sim$1" --user u --password-file "$T/pw" --rate 2000 \
	    --events 12000 --seed "$3" --log-sent "$T/sent.$1"
	start_rec "r$1" --archive "$2" --user u --password-file "$T/pw" \
	    "http://127.0.0.1:$SIM_PORT"
	wait_events "$2" 1000
	checkl $? "recording" "$T/r$1.log"
}

# stop_sim: stops evsim.
stop_sim() {
	kill -TERM $SIM_PID
	wait $SIM_PID 2>/dev/null
}

# 1. The lock survives the deletion of LOCK.
recording 1 "$T/a" 21
r1=$REC_PID
rm -f "$T/a/LOCK"
start_rec r2 --archive "$T/a" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
exits_3 $REC_PID "a second evrec exits although LOCK was deleted"
t "and says the archive is locked" grep -q "locked by another writer" "$T/r2.log"
waitfor 1000 test -f "$T/a/LOCK"
check $? "the recorder makes LOCK again"
t "and says so" grep -q "LOCK: deleted or replaced" "$T/r1.log"
rm -f "$T/a/LOCK"
$EVTOOL prune --max-bytes 1 "$T/a" >"$T/prune.out" 2>&1
check $([ $? -ne 0 ] && grep -q "locked" "$T/prune.out"; echo $?) \
    "evtool prune is refused beside the recorder"
$EVTOOL repair "$T/a" >"$T/repair.out" 2>&1
check $([ $? -ne 0 ] && grep -q "locked" "$T/repair.out"; echo $?) \
    "evtool repair is refused beside the recorder"
waitfor 1000 grep -q "generation done" "$T/sim1.out"
check $? "evsim generated everything"
wait_events "$T/a" 12000
checkl $? "all 12000 events recorded" "$T/r1.log"
stop_pid $r1
check $RC "the recorder stops with status 0"
t "nothing lost, nothing doubled" same_events "$T/sent.1" "$T/a"
t "verify: no damage" $EVTOOL verify "$T/a"
stop_sim

# 2. A foreign writer appends to the open segment.
recording 3 "$T/b" 22
r3=$REC_PID
seg=$(ls "$T/b"/seg-*.evt | tail -n 1)
printf 'not from evrec' >>"$seg"
exits_3 $r3 "evrec stops when another writer appended to its segment"
t "and says why" grep -q "changed by another writer" "$T/r3.log"
start_rec r4 --archive "$T/b" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
waitfor 1000 grep -q "generation done" "$T/sim3.out"
wait_events "$T/b" 12000
checkl $? "after a restart all 12000 events are recorded" "$T/r4.log"
stop_pid $REC_PID
check $RC "exit 0"
t "the restart resumed the session" grep -q "resumed after event" "$T/r4.log"
t "the foreign bytes were cut" grep -q "cut a torn tail" "$T/r4.log"
t "nothing lost, nothing doubled" same_events "$T/sent.3" "$T/b"
t "verify" $EVTOOL verify "$T/b"
stop_sim

# 3. "continued" markers after a resumed restart.  After kill -9 and a
# restart, SIGHUP rotates: the new segment must name the session.
start_sim sim3 --user u --password-file "$T/pw" --rate 1000 --events 60000 \
    --seed 23
start_rec r5 --archive "$T/c" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
wait_events "$T/c" 500
kill -9 $REC_PID
wait $REC_PID 2>/dev/null
start_rec r6 --archive "$T/c" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
r6=$REC_PID
waitfor 1000 grep -q "resumed after event" "$T/r6.log"
checkl $? "the restart resumed the session" "$T/r6.log"
n0=$(events_in "$T/c")
kill -HUP $r6
waitfor 1000 grep -q "segment rotated" "$T/r6.log"
wait_events "$T/c" $((n0 + 500))
stop_pid $r6
check $RC "exit 0"
# markers_of SEGMENT: its markers (evtool cat --markers on a copy alone).
markers_of() {
	rm -rf "$T/one"
	mkdir "$T/one"
	cp "$1" "$T/one/"
	$EVTOOL cat --markers "$T/one" 2>/dev/null
}
nseg=0
bad=0
for f in "$T/c"/seg-*.evt; do
	nseg=$((nseg + 1))
	first=$(markers_of "$f" | head -n 1)
	case $nseg,$first in
	1,*'"new"'*|*,*'"continued"'*) ;;
	*) bad=$((bad + 1)); echo "# $f: first marker: $first" ;;
	esac
done
check $([ "$nseg" -ge 2 ] && [ "$bad" -eq 0 ]; echo $?) \
    "each of $nseg segments starts with a SESSION marker (\"continued\" after the first)"
last=$(markers_of "$f" | tail -n 1)
check $(case $last in *'"continued"'*) echo 0 ;; *) echo 1 ;; esac) \
    "the last segment ends with a \"continued\" marker (clean stop)"
stop_sim

# 4. Bad values: status 2 and a message naming the option.
badval() { # DESCRIPTION WANT COMMAND...
	_d=$1
	_w=$2
	shift 2
	timeout 20 "$@" >"$T/bad.out" 2>&1	# (an accepted one runs)
	_rc=$?
	check $([ $_rc -eq 2 ] && grep -q -- "$_w" "$T/bad.out"; echo $?) "$_d"
	[ $_rc -eq 2 ] || { echo "#   status $_rc"; sed 's/^/#   /' "$T/bad.out" | head -n 5; }
}
badval "evrec --dead-timeout 0 is refused" dead-timeout \
    $EVREC --archive "$T/d" --dead-timeout 0 http://127.0.0.1:1
badval "evrec --include ';;;' is refused" include \
    $EVREC --archive "$T/d" --include ';;;' http://127.0.0.1:1
badval "evrec --include '' is refused" include \
    $EVREC --archive "$T/d" --include '' http://127.0.0.1:1
badval "evrec --max-bytes -1 is refused" max-bytes \
    $EVREC --archive "$T/d" --max-bytes -1 http://127.0.0.1:1
badval "evtool prune --max-bytes -1 is refused" max-bytes \
    $EVTOOL prune --max-bytes -1 "$T/a"
badval "evtool prune --max-bytes ' 5' is refused" max-bytes \
    $EVTOOL prune --max-bytes ' 5' "$T/a"
badval "evtool import --segment-size -4k is refused" segment-size \
    $EVTOOL import --segment-size -4k "$T/d" /dev/null
check $([ ! -e "$T/d" ]; echo $?) "and nothing was created"

# 5. The temporary file of a killed repair.
make_archive "$T/e" 5 2000 1000 50
: >"$T/e/.repair-000000000001.tmp"
t "evtool repair" $EVTOOL repair "$T/e"
check $([ ! -e "$T/e/.repair-000000000001.tmp" ]; echo $?) \
    "removes the temporary file of an interrupted repair"
# SIGTERM while a large unsealed segment is rewritten.
$EVGEN --seed 6 --events 500000 --rate 1000 --cameras 500 |
    $EVTOOL import --segment-size 1G "$T/g" 2>/dev/null
seg=$(ls "$T/g"/seg-*.evt)
truncate -s -1 "$seg"
$EVTOOL repair "$T/g" >/dev/null 2>&1 &
rp=$!
if waitfor 3000 sh -c "ls -a '$T/g' | grep -q '^\.repair-'"; then
	kill -TERM $rp
	wait $rp
	rc=$?
	check $([ $rc -ne 0 ] && ! ls -a "$T/g" | grep -q '^\.repair-'; echo $?) \
	    "SIGTERM during a repair removes its temporary file (status $rc)"
else
	wait $rp
	echo "ok $((tn + 1)) # skip the repair ended before it could be killed"
	tn=$((tn + 1))
fi

# 6. Secrets.
start_sim sim4 --user u --password-file "$T/pw" --rate 100
mkdir "$T/f"
if [ "$(id -u)" -eq 0 ]; then
	# As another user: as root every /proc file is root's anyway.
	chmod 755 "$T"
	chown 65534 "$T/f"
	cp "$T/pw" "$T/pw4"
	chown 65534 "$T/pw4"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$EVREC" \
	    --summary-interval 0 --archive "$T/f" --user u \
	    --password-file "$T/pw4" "http://127.0.0.1:$SIM_PORT" \
	    >"$T/r7.log" 2>&1 &
	REC_PID=$!
	PIDS="$PIDS $REC_PID"
	runner=65534
else
	start_rec r7 --archive "$T/f" --user u --password-file "$T/pw" \
	    "http://127.0.0.1:$SIM_PORT"
	runner=$(id -u)
fi
wait_events "$T/f" 10
checkl $? "recording" "$T/r7.log"
owner=$(stat -c %u "/proc/$REC_PID/environ")
check $([ "$owner" = 0 ] && [ "$runner" != 0 ]; echo $?) \
    "evrec is not dumpable (/proc/PID files owned by root, not $runner: $owner)"
check $(! grep -q "pw-guard-$$" "/proc/$REC_PID/cmdline"; echo $?) \
    "the password is not in argv"
stop_pid $REC_PID
check $(! grep -q "pw-guard-$$" "$T/r7.log"; echo $?) \
    "the password is not in the log"
stop_sim
# Under `make asan` a leak or memory error makes a program print a report.
check $(cat "$T"/*.out "$T"/*.log 2>/dev/null | grep -q "Sanitizer\|runtime error"
    [ $? -ne 0 ]; echo $?) "no sanitizer report from any server or recorder"
done_testing
