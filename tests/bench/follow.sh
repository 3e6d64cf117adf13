#!/bin/sh
# bench/follow.sh: the delay of `evtool cat -f` (issue 15), against a
# direct client in the same run.  For each flush setting (evrec's default,
# then --flush-interval 100ms) and each rate (200, then 10,000 events/s):
# evsim --paused at RATE for FOLLOW_SECS (default 15) s' worth of events,
# evrec recording it, `evtool cat -f --tsv` following the archive into
# linestamp, and wscount (a C WebSocket client, the same subscription)
# connected straight to evsim.  Once evrec and wscount are subscribed,
# evsim is started (SIGUSR2).  Every message is keyed by its first event's
# id; its delay is the wall clock when a client had it minus evsim's send
# time (--log-sent-times), the same measure for both clients.  Prints
# p50, p99, max and min of both (the follower's min: a block's last
# message, written by the next tick after it arrived: about the cost of
# write, wake-up, read and output), the messages matched, the
# follower's CPU time and the load average.
# Never fails on a figure.
#   FOLLOW_SECS    seconds of events per run (default 15)
#   FOLLOW_RATES   events/s (default "200 10000")
#   FOLLOW_FLUSH   evrec flush settings (default "default 100ms")
set -eu
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
SECS=${FOLLOW_SECS:-15}
RATES=${FOLLOW_RATES:-200 10000}
FLUSHES=${FOLLOW_FLUSH:-default 100ms}
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-follow.XXXXXX")
. "$(dirname "$0")/serve.inc"
REC= CAT= DIRECT= STAMP=
trap 'kill $REC $CAT $DIRECT $STAMP $SRVPID 2>/dev/null || true; rm -rf "$W"' \
    EXIT INT TERM

events() { "$BUILD/evtool" info "$1" 2>/dev/null | awk '/^events:/ { print $2 }'; }
readers() {
	curl -s "http://127.0.0.1:$PORT/evsim/stats" |
	    sed -n 's/.*"readers_now": *\([0-9]*\).*/\1/p'
}
# until_ok TENTHS CMD...: polls CMD every 0.1 s, at most TENTHS times.
until_ok() {
	_n=$1
	shift
	while ! "$@" 2>/dev/null; do
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] || return 1
		sleep 0.1
	done
}
two_readers() { [ "$(readers)" -ge 2 ]; }
all_in() { [ "$(events "$W/a")" -ge "$1" ]; }

# run FLUSH RATE: one run; prints its two lines.
run() {
	n=$(($2 * SECS))
	rm -rf "$W/a" "$W"/sent "$W"/direct "$W"/fol
	serve "$BUILD/evsim" --quiet --paused --rate "$2" --events "$n" \
	    --seed 11 --log-sent-times "$W/sent"
	fl=
	[ "$1" = default ] || fl="--flush-interval $1"
	# shellcheck disable=SC2086
	"$BUILD/evrec" --archive "$W/a" --token-file "$W/tok" \
	    --summary-interval 0 --quiet --no-config-snapshot $fl \
	    "http://127.0.0.1:$PORT" 2>>"$W/rec.log" &
	REC=$!
	until_ok 100 test -e "$W/a/LOCK" || { echo "  no archive"; return; }
	rm -f "$W/fifo"
	mkfifo "$W/fifo"
	"$BUILD/bench/linestamp" "$W/fol" <"$W/fifo" &
	STAMP=$!
	"$BUILD/evtool" cat -f --tsv "$W/a" >"$W/fifo" &
	CAT=$!
	"$BUILD/bench/wscount" "$PORT" "$W/tok" "$n" "$W/direct" ids >/dev/null &
	DIRECT=$!
	until_ok 100 two_readers || { echo "  clients did not subscribe"; return; }
	kill -USR2 "$SRVPID"
	wait "$DIRECT" || echo "  the direct client failed"
	DIRECT=
	# The follower has every event once the archive holds them all (on
	# disk: the last block written) and it read that block, which takes
	# milliseconds (its min delay): a second is ample.  No load meanwhile:
	# the count is polled only after the events were all sent.
	until_ok $((SECS * 30)) all_in "$n" || echo "  the archive missed events"
	sleep 1
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	cpu=$(cpu_s "$CAT" 2>/dev/null || echo "?")
	kill -TERM "$CAT"
	wait "$CAT" || true
	wait "$STAMP" || true
	CAT=
	kill -TERM "$REC"
	wait "$REC" || true
	REC=
	unserve
	python3 - "$W/sent" "$W/direct" "$W/fol" "$1" "$2" "$load" "$cpu" <<'EOF'
import sys
def load(p):
    d = {}
    for line in open(p):
        f = line.split()
        if len(f) == 2 and f[1] not in d:
            d[f[1]] = int(f[0])
    return d
sent = load(sys.argv[1])
def fig(name, p):
    got = load(p)
    d = sorted(got[k] - sent[k] for k in got if k in sent)
    if not d:
        return "  %-9s no message matched" % name
    q = lambda x: d[min(len(d) - 1, int(x * len(d)))] / 1000
    return ("  %-9s p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms  min %5.1f ms"
            "  (%d of %d messages)" % (name, q(.5), q(.99), d[-1] / 1000,
                                     d[0] / 1000, len(d), len(sent)))
fl = sys.argv[4] if sys.argv[4] != "default" else "default (1s)"
print("flush %s, %s events/s (load %s):" % (fl, sys.argv[5], sys.argv[6]))
print(fig("cat -f", sys.argv[3]) + ", its CPU %s s" % sys.argv[7])
print(fig("direct", sys.argv[2]))
EOF
}

echo "follow latency: evsim send -> evtool cat -f output, beside a direct WebSocket client ($SECS s per run, $(date -u +%Y-%m-%dT%H:%M:%SZ))"
for f in $FLUSHES; do
	for r in $RATES; do
		run "$f" "$r"
	done
done
grep -v 'is not TLS' "$W/rec.log" 2>/dev/null | sed 's/^/  evrec: /' | head -n 5
exit 0
