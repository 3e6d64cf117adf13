# lib.sh: shared helpers of the integration scripts (POSIX sh).
# Each script prints TAP lines; tests/run.sh counts them.
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
EVTOOL=$BUILD/evtool
EVGEN=$BUILD/evgen
# The Debian python3 (python3-websockets is installed for it), not any
# other python3 earlier in PATH.
PYTHON=${PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
# Every seal also reads the blocks back for the id keys, check lists and
# summary, as it did before the writer noted them while writing, and fails
# if anything differs (segment_writer.c, seal_check): every archive the
# tests write is a comparison.
EVTAPE_SEAL_CHECK=1
export EVTAPE_SEAL_CHECK
T=$(mktemp -d "${TMPDIR:-/tmp}/evtape-test.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
tn=0
failed=0
# check STATUS DESCRIPTION: one TAP line; STATUS 0 passes.
check() {
	tn=$((tn + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tn - $2"
	else
		echo "not ok $tn - $2"
		failed=$((failed + 1))
	fi
}
# t DESCRIPTION COMMAND...: runs a command, passes if it exits 0.
t() {
	d=$1
	shift
	"$@" >"$T/.out" 2>&1
	rc=$?
	check $rc "$d"
	[ $rc -eq 0 ] || sed 's/^/#   /' "$T/.out" | head -n 20
	return $rc
}
# waitfor N CMD...: polls CMD (every 10 ms, at most N tries) until it
# succeeds; for waiting on another process's progress.
waitfor() {
	n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.01
		n=$((n - 1))
	done
	return 1
}
# make_archive DIR SEED EVENTS RATE CAMERAS [IMPORT OPTIONS...]: an
# archive of evgen events with a getState answer (the initial states)
# first; the imported input stays in DIR.in, the events alone in DIR.ev.
make_archive() {
	_d=$1
	_s=$2
	_c=$5
	$EVGEN --seed "$_s" --events "$3" --rate "$4" --cameras "$_c" >"$_d.ev"
	shift 5
	{
		printf '%s\t{"commandId":3,"status":200,"states":%s}\n' \
		    $(($(head -n 1 "$_d.ev" | cut -f1) - 1)) \
		    "$($EVGEN --seed "$_s" --cameras "$_c" --states)"
		cat "$_d.ev"
	} >"$_d.in"
	$EVTOOL import "$@" "$_d" "$_d.in" 2>/dev/null
}
# many_segments DIR N [EVENTS]: make_archive's archive of EVENTS (default
# 20 per segment) evgen events of 100 cameras, cut by --segment-age into
# ~N small sealed segments (7/8 of the span / N each: a segment also
# spans the gap to its next message; bursts make the count a few % off:
# count them); the input stays in DIR.in.
many_segments() {
	_e=${3:-$(($2 * 20))}
	_span=$($EVGEN --seed 12 --events "$_e" --cameras 100 |
	    awk 'NR == 1 { f = $1 } END { print $1 - f }')
	make_archive "$1" 12 "$_e" 200 100 \
	    --segment-age "$((_span * 7 / (8 * $2) + 1))us"
}
# odd_frames RX: five frames the slower paths read, as import lines with
# receive times RX..RX+4: not JSON, a getState answer, a message with an
# envelope, an upper-case id and a non-object item, an empty message, and
# a source too long to intern, escapes, an event of 300 members (an ITEM
# in the archive).  RX must end in a digit below 6.
odd_frames() {
	_b=${1%?}
	_l=${1#"$_b"}
	printf '%s\tthis is not JSON {\n' "$_b$_l"
	printf '%s\t{"commandId":3,"status":200,"states":[{"id":"0b5c4f1e-8a3d-4b52-9d0e-6f1c2a7e9b13","source":"cameras/a8a8b9dc-3995-49ed-9b00-62caac2ce74a","type":"6eb95dd6-7ccc-4bce-99f8-af0d0b582d77"}]}\n' "$_b$((_l + 1))"
	printf '%s\t{"x":1,"events":[{"id":"AB5C4F1E-8A3D-4B52-9D0E-6F1C2A7E9B13","n":1},7]}\n' "$_b$((_l + 2))"
	printf '%s\t{"events":[]}\n' "$_b$((_l + 3))"
	$PYTHON -c '
import json, sys
big = {"k%d" % i: i for i in range(300)}
big.update(source="cameras/big", type="t\u00e9")
ev = [{"source": "cameras/" + "x" * 300, "type": "t-long"},
      {"source": "cameras/esc\"aped", "type": "t\u00e9"}, big]
print(sys.argv[1] + "\t" + json.dumps({"events": ev}))' "$_b$((_l + 4))"
}
# same_scan NAME ARGS...: `evtool NAME ARGS` and `evtool NAME --scan ARGS` print
# the same bytes on stdout and exit alike.
same_scan() {
	_c=$1
	shift
	$EVTOOL "$_c" "$@" >"$T/sum.out" 2>/dev/null
	_r1=$?
	$EVTOOL "$_c" --scan "$@" >"$T/scan.out" 2>/dev/null
	_r2=$?
	cmp -s "$T/sum.out" "$T/scan.out" && [ $_r1 -eq $_r2 ]
	_rc=$?
	if [ $_rc -ne 0 ]; then
		echo "# exit $_r1 vs $_r2; first difference:"
		diff "$T/sum.out" "$T/scan.out" | head -n 6 | sed 's/^/#   /'
	fi
	return $_rc
}
# field FILE LINE KEY: the first string value of "KEY" on line LINE of
# FILE (cat's JSON lines).
field() {
	sed -n "$2p" "$1" | grep -o "\"$3\":\"[^\"]*\"" | head -n 1 | cut -d'"' -f4
}
# need_websockets: the python3 has the websockets module (Debian:
# python3-websockets); else one failing check, the plan, and exit 1.
need_websockets() {
	$PYTHON -c 'import websockets' 2>/dev/null && return 0
	check 1 "python3 websockets module available"
	done_testing
	exit 1
}
# need_built NAME: the unit test program build/tests/NAME, which writes
# this script's test archive, is built (by `make tests`, not `make all`);
# else one failing check saying so, the plan, and exit 1.
need_built() {
	[ -x "$BUILD/tests/$1" ] && return 0
	check 1 "$BUILD/tests/$1 is built: run make tests first"
	done_testing
	exit 1
}
# done_testing: the TAP plan; the exit status says whether all passed.
done_testing() {
	echo "1..$tn"
	[ "$failed" -eq 0 ]
}
