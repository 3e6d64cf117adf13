#!/bin/sh
# evrec_disk.sh: a full disk.  As root, the archive lives on a small tmpfs
# that a filler file fills up; otherwise evrec runs under a soft file size
# limit (RLIMIT_FSIZE: write() fails with EFBIG, SIGXFSZ is ignored) that
# prlimit later lifts.  The recorder (pings every 0.5 s, dead-peer timeout
# 2 s, below the seconds the disk stays full) logs the failure once, stops
# reading from the gateway at once (TCP back-pressure, no dead-peer close),
# resumes writing and reading once there is space again, and nothing is
# lost: neither what was written before nor what the gateway sent since (in
# order, once).  Both modes run when possible.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
if [ ! -x "$EVSIM" ]; then
	echo "ok 1 # skip evsim is not built"
	done_testing
	exit
fi
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; umount "$T/mnt" 2>/dev/null; rm -rf "$T"' EXIT INT TERM
mkdir -p "$T/mnt"
echo "pw-$$" >"$T/pw"

# run MODE: one full-disk episode (tmpfs or fsize).
run() {
	mode=$1
	if [ $mode = tmpfs ]; then
		# Leave about 512 KiB free (the state snapshot and some events).
		dd if=/dev/zero of="$T/mnt/filler" bs=1024 \
		    count=$((4096 - 512)) 2>/dev/null
	fi
	start_sim sim.$mode --user u --password-file "$T/pw" --rate 5000 --events 25000 \
	    --seed 9 --log-sent "$T/sent.$mode"
	if [ $mode = tmpfs ]; then
		start_rec r.$mode --archive "$T/mnt/a" --user u --password-file "$T/pw" \
		    --ping 0.5 --dead-timeout 2 \
		    "http://127.0.0.1:$SIM_PORT"
	else
		# A soft limit of 512 KiB per file (ulimit -f counts 512-byte blocks
		# in POSIX sh); the hard limit stays as it was so prlimit can lift it.
		(ulimit -S -f 1024 && exec "$EVREC" --summary-interval 0 \
		    --ping 0.5 --dead-timeout 2 \
		    --archive "$T/mnt/a" --user u --password-file "$T/pw" \
		    "http://127.0.0.1:$SIM_PORT") >>"$T/r.$mode.log" 2>&1 &
		REC_PID=$!
		PIDS="$PIDS $REC_PID"
	fi
	waitfor 1500 grep -q "cannot write to the archive" "$T/r.$mode.log"
	checkl $? "$mode: the full disk is logged" "$T/r.$mode.log"
	waitfor 500 grep -q "not reading from the gateway while the archive cannot write" "$T/r.$mode.log"
	checkl $? "$mode: reading from the gateway stops at once" "$T/r.$mode.log"
	n0=$(events_in "$T/mnt/a")
	check $([ "$n0" -gt 0 ]; echo $?) "$mode: events written before the disk filled ($n0)"
	waitfor 1500 grep -q "generation done" "$T/sim.$mode.out"
	check $? "$mode: evsim generated everything meanwhile"
	check $(! grep -q "peer not responding" "$T/r.$mode.log"; echo $?) \
	    "$mode: no dead-peer close while evrec was the one not reading"
	if [ $mode = tmpfs ]; then
		rm -f "$T/mnt/filler"
	else
		prlimit --pid "$REC_PID" --fsize=unlimited:unlimited
	fi
	waitfor 1500 grep -q "writing to the archive again" "$T/r.$mode.log"
	checkl $? "$mode: writing resumes once there is space" "$T/r.$mode.log"
	waitfor 500 grep -q "reading from the gateway again" "$T/r.$mode.log"
	checkl $? "$mode: reading resumes" "$T/r.$mode.log"
	wait_events "$T/mnt/a" 25000
	checkl $? "$mode: all events reached the disk" "$T/r.$mode.log"
	stop_pid $REC_PID
	check $RC "$mode: SIGTERM: exit 0"
	check $([ "$(grep -c 'cannot write to the archive' "$T/r.$mode.log")" -eq 1 ]; echo $?) \
	    "$mode: the failure was logged once, not per event"
	t "$mode: verify" $EVTOOL verify "$T/mnt/a"
	t "$mode: nothing lost, in order, once (events in archive == events sent)" \
	    same_events "$T/sent.$mode" "$T/mnt/a"
	check $([ "$(info_field "$T/mnt/a" gaps)" -eq 0 ]; echo $?) "$mode: no gap recorded"
	kill -TERM $SIM_PID
	wait $SIM_PID 2>/dev/null
	if [ $mode = tmpfs ]; then umount "$T/mnt"; else rm -rf "$T/mnt/a"; fi
}

if command -v prlimit >/dev/null 2>&1; then
	run fsize
else
	echo "ok $((tn += 1)) # skip fsize: prlimit (util-linux) missing"
fi
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=4m evtape-test "$T/mnt" 2>/dev/null; then
	run tmpfs
else
	echo "ok $((tn += 1)) # skip tmpfs: cannot mount a tmpfs (needs root)"
fi
done_testing
