#!/bin/sh
# bench/flush.sh: what `evrec --flush-interval` costs in archive size.  One
# evsim at FLUSH_RATE (default 200) events/s for FLUSH_SECS (default 60)
# seconds, recorded by two evrec at once (the same events, same run): one
# with --flush-interval 100ms, one with the default 1s.  Bytes/event with
# every archive file counted, first of the live archives once both hold
# every event (unsealed: small blocks), then after a clean stop (sealed,
# and compacted into large blocks: README, "The archive").  Prints
# figures, never fails on them.
set -eu
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
RATE=${FLUSH_RATE:-200}
SECS=${FLUSH_SECS:-60}
N=$((RATE * SECS))
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-fbench.XXXXXX")
. "$(dirname "$0")/serve.inc"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
events() { "$BUILD/evtool" info "$1" 2>/dev/null | awk '/^events:/ { print $2 }'; }
bytes() { cat "$1"/* | wc -c; }
segs() { ls "$1" | grep -c '^seg-'; }

serve "$BUILD/evsim" --quiet --rate "$RATE" --events "$N"
url="http://127.0.0.1:$PORT"
for f in 100ms 1s; do
	"$BUILD/evrec" --archive "$W/$f" --token-file "$W/tok" \
	    --summary-interval 0 --quiet --no-config-snapshot \
	    --flush-interval "$f" "$url" 2>>"$W/rec.log" &
	eval "rec_$(echo $f | tr -d s)=\$!"
done
trap 'kill $rec_100m $rec_1 $SRVPID 2>/dev/null || true; rm -rf "$W"' EXIT INT TERM
# Every event on disk: the counts of both stay put for 3 s (longer than
# 1.25 flush intervals) once evsim generated N; bounded at 3x the run.
i=0
last=
still=0
while [ $i -lt $((SECS * 30)) ] && [ $still -lt 30 ]; do
	now="$(events "$W/100ms") $(events "$W/1s")"
	if [ "$now" = "$last" ] && [ "${now% *}" -ge $((N - RATE)) ]; then
		still=$((still + 1))
	else
		still=0
	fi
	last=$now
	sleep 0.1
	i=$((i + 1))
done
echo "flush interval: evsim at $RATE events/s, $N events generated, two evrec at once ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
for f in 100ms 1s; do
	n=$(events "$W/$f")
	eval "u_$(echo $f | tr -d s)=$(ratio "$(bytes "$W/$f")" "$n")"
	echo "  --flush-interval $f unsealed: $(ratio "$(bytes "$W/$f")" "$n") bytes/event ($n events, $(segs "$W/$f") segment(s), every file counted)"
done
for p in $rec_100m $rec_1; do kill -TERM "$p"; wait "$p" || true; done
for f in 100ms 1s; do
	n=$(events "$W/$f")
	eval "b_$(echo $f | tr -d s)=$(ratio "$(bytes "$W/$f")" "$n")"
	echo "  --flush-interval $f sealed:   $(ratio "$(bytes "$W/$f")" "$n") bytes/event ($n events, compacted at seal)"
done
echo "  100ms/1s: unsealed $(ratio "$u_100m" "$u_1"), sealed $(ratio "$b_100m" "$b_1")"
unserve
grep -v 'is not TLS' "$W/rec.log" | sed 's/^/  evrec: /' | head -n 5
exit 0
