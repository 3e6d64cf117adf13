#!/bin/sh
# demo.sh: the main job, as `make demo` runs it.  Starts the simulated
# gateway (evsim) on a free loopback port with realistic traffic (200
# events/s, 2,659 cameras), records it with evrec for about 15 seconds,
# stops the recorder the way systemd would (SIGTERM: flush, seal), then shows
# what was recorded and writes its HTML incident report (evtool report)
# to ./demo-report.html.  The archive stays in ./demo-archive.
set -eu
BUILD=${BUILD:-build}
SECS=${DEMO_SECONDS:-15}
ARCHIVE=${DEMO_ARCHIVE:-demo-archive}
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-demo.XXXXXX")
sim=""
rec=""
cleanup() {
	[ -n "$rec" ] && kill "$rec" 2>/dev/null || true
	[ -n "$sim" ] && kill "$sim" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

# A throw-away credential, in a file (never on a command line).
umask 077
head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/password"
umask 022

rm -rf "$ARCHIVE"
"$BUILD/evsim" --listen 127.0.0.1:0 --ready-file "$W/port" --rate 200 \
    --user demo --password-file "$W/password" --quiet &
sim=$!
n=0
while [ ! -s "$W/port" ]; do
	n=$((n + 1))
	if [ $n -gt 500 ] || ! kill -0 "$sim" 2>/dev/null; then
		echo "demo: evsim did not start" >&2
		exit 1
	fi
	sleep 0.01
done
port=$(cat "$W/port")
echo "demo: evsim serves a simulated gateway on http://127.0.0.1:$port"
echo "demo: recording for $SECS s with evrec into ./$ARCHIVE ..."
"$BUILD/evrec" --archive "$ARCHIVE" --user demo --password-file "$W/password" \
    --summary-interval 5 "http://127.0.0.1:$port" &
rec=$!
sleep "$SECS"
kill -TERM "$rec"
wait "$rec" && rc=0 || rc=$?
rec=""
kill -TERM "$sim" 2>/dev/null || true
wait "$sim" 2>/dev/null || true
sim=""
if [ "$rc" -ne 0 ]; then
	echo "demo: evrec exited with status $rc" >&2
	exit 1
fi
echo
echo "== evtool info $ARCHIVE"
"$BUILD/evtool" info "$ARCHIVE"
echo
echo "== the first recorded events (evtool cat $ARCHIVE | head -n 5)"
"$BUILD/evtool" cat "$ARCHIVE" | head -n 5
echo
echo "== evtool verify $ARCHIVE"
"$BUILD/evtool" verify "$ARCHIVE"
echo
echo "== evtool report: the recording as an HTML incident report"
"$BUILD/evtool" cat --tsv "$ARCHIVE" | cut -f1 >"$W/rx"
"$BUILD/evtool" report --from "$(head -n 1 "$W/rx")" \
    --to $(($(tail -n 1 "$W/rx") + 1)) -o demo-report.html "$ARCHIVE"
echo "demo: wrote ./demo-report.html (open it in a browser)"
