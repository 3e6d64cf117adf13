#!/bin/sh
# evrec_disk.sh: a full disk.  The archive lives on a small tmpfs (root)
# that a filler file fills up: the recorder logs the failure once, keeps
# the data in memory, resumes writing once the filler is deleted, and
# nothing is lost, neither what was written before nor what came since.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
if [ ! -x "$EVSIM" ]; then
	echo "ok 1 # skip evsim is not built"
	done_testing
	exit
fi
mkdir -p "$T/mnt"
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=4m evtape-test "$T/mnt" 2>/dev/null; then
	echo "ok 1 # skip cannot mount a tmpfs (needs root)"
	done_testing
	exit
fi
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; umount "$T/mnt" 2>/dev/null; rm -rf "$T"' EXIT INT TERM
echo "pw-$$" >"$T/pw"
# Leave about 512 KiB free (the state snapshot and some events fit).
dd if=/dev/zero of="$T/mnt/filler" bs=1024 count=$((4096 - 512)) 2>/dev/null

start_sim sim --user u --password-file "$T/pw" --rate 5000 --events 25000 \
    --seed 9 --log-sent "$T/sent"
start_rec r --archive "$T/mnt/a" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
waitfor 1500 grep -q "cannot write to the archive" "$T/r.log"
checkl $? "the full disk is logged" "$T/r.log"
n0=$(events_in "$T/mnt/a")
check $([ "$n0" -gt 0 ]; echo $?) "events written before the disk filled ($n0)"
waitfor 1500 grep -q "generation done" "$T/sim.out"
check $? "evsim generated everything meanwhile"
rm -f "$T/mnt/filler"
waitfor 1500 grep -q "writing to the archive again" "$T/r.log"
checkl $? "writing resumes once there is space" "$T/r.log"
wait_events "$T/mnt/a" 25000
checkl $? "all events reached the disk" "$T/r.log"
stop_pid $REC_PID
check $RC "SIGTERM: exit 0"
check $([ "$(grep -c 'cannot write to the archive' "$T/r.log")" -eq 1 ]; echo $?) \
    "the failure was logged once, not per event"
t "verify" $EVTOOL verify "$T/mnt/a"
t "nothing lost, in order, once" same_events "$T/sent" "$T/mnt/a"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
umount "$T/mnt"
done_testing
