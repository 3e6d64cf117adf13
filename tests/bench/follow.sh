#!/bin/sh
# follow.sh: the delay of `evtool cat -f`: evsim at RATE events/s (default
# 200) -> evrec (its default block age, 1 s) -> evtool cat -f --tsv, for
# SECONDS (default 20); each frame's delay is the wall clock when its line
# reached the reader minus its receive time (the recorder's clock, the
# same machine's: on loopback, the send time within a fraction of a ms).
# Prints p50, p90, p99 and the maximum, and the follower's CPU time.  Usage: sh tests/bench/follow.sh
# [SECONDS] [RATE]
. "$(dirname "$0")/../integration/lib.sh"
. "$HERE/../integration/evrec.inc"
SECS=${1:-20}
RATE=${2:-200}
echo "pw-$$" >"$T/pw"
start_sim sim --user u --password-file "$T/pw" --rate "$RATE" --seed 11 ||
    exit 1
start_rec r --archive "$T/a" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
wait_events "$T/a" 1 || exit 1
mkfifo "$T/fifo"
$PYTHON -c '
import sys, time
out = open(sys.argv[1], "w")
for line in open(sys.argv[2], "rb"):
    now = time.time_ns() // 1000
    rx = int(line.split(b"\t", 1)[0].split(b":", 1)[0])
    out.write("%d %d\n" % (rx, now - rx))
    out.flush()
' "$T/delays" "$T/fifo" &
FOL=$!
"$EVTOOL" cat -f --tsv "$T/a" >"$T/fifo" &
EVT=$!
# Frames already in the archive when the follower started are old: only
# those received after it are counted.
start=$(($(date +%s%N) / 1000 + 100000))
sleep "$SECS"
# The follower's CPU time (user + system clock ticks of /proc/PID/stat).
ticks=$(awk '{print $14 + $15}' /proc/$EVT/stat)
stop_pid $REC_PID
kill -TERM $EVT
wait $EVT
wait $FOL
$PYTHON - "$T/delays" "$start" "$RATE" "$SECS" <<'EOF2'
import sys
d = sorted(int(l.split()[1]) for l in open(sys.argv[1])
           if int(l.split()[0]) >= int(sys.argv[2]))
def q(p):
    return d[min(len(d) - 1, int(p * len(d)))] / 1000
print("cat -f delay at %s events/s over %s s, %d frames: p50 %.0f ms, "
      "p90 %.0f ms, p99 %.0f ms, max %.0f ms" % (sys.argv[3], sys.argv[4],
      len(d), q(.5), q(.9), q(.99), d[-1] / 1000))
EOF2
echo "follower CPU: $ticks ticks of 1/$(getconf CLK_TCK) s in $SECS s"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
