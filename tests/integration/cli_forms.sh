#!/bin/sh
# cli_forms.sh: the five programs speak one command-line language
# (src/cli.c, README "Values and exit status"): the same bad size,
# duration, count, time or option gets the same message form,
#   PROG: --option: "TEXT" is not a KIND (FORMS)
#   Try 'PROG --help'.
# and status 2; new forms (1T, 2w, 250ms) are accepted; a job that cannot
# be done exits 3.  Real binaries, real files, no network but loopback.
. "$(dirname "$0")/lib.sh"
EVREC=$BUILD/evrec
EVPLAY=$BUILD/evplay
EVSIM=$BUILD/evsim

SIZE='digits with k, M, G or T, e.g. 64M'
DURATION='digits with us, ms, s, m, h, d or w, e.g. 30s; seconds if none'
COUNT='digits only, e.g. 100'
NUMBER='digits with an optional fraction, e.g. 0.5'
TIME='ISO-8601 such as 2026-01-05T08:00:00Z, or microseconds since the epoch'

make_archive "$T/a" 1 200 200 10

# verdict PROG OK DESCRIPTION: one TAP line, with what PROG said if it
# failed.
verdict() {
	check "$2" "$3"
	[ "$2" -eq 0 ] || sed 's/^/#   got: /' "$T/err" | head -n 3
}

# expect PROG STATUS FIRST_LINE DESCRIPTION COMMAND...: runs COMMAND (its
# stdout dropped); passes if it exits STATUS with FIRST_LINE first on
# stderr and, for status 2, "Try 'PROG --help'." after it.
expect() {
	_p=$1
	_s=$2
	_l=$3
	_d=$4
	shift 4
	timeout 20 "$@" >/dev/null 2>"$T/err"
	_rc=$?
	_ok=1
	[ "$_rc" -eq "$_s" ] && [ "$(head -n 1 "$T/err")" = "$_l" ] &&
	    { [ "$_s" -ne 2 ] ||
	    [ "$(sed -n 2p "$T/err")" = "Try '$_p --help'." ]; } && _ok=0
	[ $_ok -eq 0 ] || echo "status $_rc" >>"$T/err"
	verdict "$_p" $_ok "$_d"
}

# bad PROG OPTION TEXT KIND FORMS COMMAND...: COMMAND refuses OPTION's
# TEXT with the common message and status 2.
bad() {
	_bp=$1
	_bo=$2
	_bt=$3
	_bk=$4
	_bf=$5
	shift 5
	expect "$_bp" 2 "$_bp: $_bo: \"$_bt\" is not a $_bk ($_bf)" \
	    "$_bp $_bo $_bt: \"is not a $_bk\", status 2" "$@"
}

# 1. The same bad size, duration, count and time everywhere.
bad evrec --max-bytes 4X size "$SIZE" \
    $EVREC --archive "$T/r" --max-bytes 4X http://127.0.0.1:1
bad evtool --max-bytes 4X size "$SIZE" $EVTOOL prune --max-bytes 4X "$T/a"
bad evplay --history-bytes 4X size "$SIZE" \
    $EVPLAY --listen 127.0.0.1:0 --history-bytes 4X "$T/a"
bad evsim --history-bytes 4X size "$SIZE" $EVSIM --history-bytes 4X

bad evrec --max-age 2y duration "$DURATION" \
    $EVREC --archive "$T/r" --max-age 2y http://127.0.0.1:1
bad evtool --max-age 2y duration "$DURATION" \
    $EVTOOL prune --max-age 2y "$T/a"
bad evplay --max-gap 2y duration "$DURATION" $EVPLAY --max-gap 2y "$T/a"
bad evsim --ping 2y duration "$DURATION" $EVSIM --ping 2y

bad evgen --events -5 count "$COUNT" $EVGEN --events -5
bad evtool --top -5 count "$COUNT" $EVTOOL stats --top -5 "$T/a"
bad evsim --events -5 count "$COUNT" $EVSIM --events -5

bad evgen --rate 1e3 number "$NUMBER" $EVGEN --rate 1e3
bad evplay --speed 1e3 number "$NUMBER" $EVPLAY --speed 1e3 "$T/a"
bad evsim --rate 1e3 number "$NUMBER" $EVSIM --rate 1e3

bad evgen --start-us yesterday time "$TIME" $EVGEN --start-us yesterday
bad evtool --from yesterday time "$TIME" \
    $EVTOOL cat --from yesterday "$T/a"
bad evplay --from yesterday time "$TIME" $EVPLAY --from yesterday "$T/a"

for p in evrec evtool evplay evsim evgen; do
	case $p in
	evtool) set -- $EVTOOL cat --bogus "$T/a" ;;
	evrec) set -- $EVREC --bogus ;;
	*) set -- "$BUILD/$p" --bogus ;;
	esac
	expect $p 2 "$p: --bogus: unknown option" \
	    "$p --bogus: \"unknown option\", status 2" "$@"
done
check $([ ! -e "$T/r" ]; echo $?) "no archive was made by a refused evrec"

# 2. evrec's config file: the same parsers, the place as FILE:LINE.
printf '[evrec]\nmax-bytes = 1T\nping = 2y\n' >"$T/c.ini"
expect evrec 2 "evrec: $T/c.ini:3: ping: \"2y\" is not a duration ($DURATION)" \
    "a bad config value names FILE:LINE and the key" \
    $EVREC --config "$T/c.ini" --archive "$T/r" http://127.0.0.1:1

# 3. The new forms are accepted: evrec records with 1T, 2w, 250ms in the
# config file and on the command line, and stops cleanly.
printf '[evrec]\nmax-bytes = 1T\nmax-age = 2w\n' >"$T/ok.ini"
$EVREC --config "$T/ok.ini" --summary-interval 0 --archive "$T/r" \
    --segment-age 1.5h --ping 250ms --dead-timeout 2w \
    http://127.0.0.1:1 >"$T/rec.log" 2>&1 &
rec=$!
waitfor 1000 grep -q "recording http" "$T/rec.log"
check $? "evrec takes 1T and 2w (config), 250ms, 1.5h and 2w"
kill -TERM $rec 2>/dev/null
wait $rec
check $? "and exits 0 on SIGTERM"
t "evtool prune takes --max-bytes 1T --max-age 2w" \
    $EVTOOL prune --max-bytes 1T --max-age 2w "$T/a"
$EVGEN --events 0 --seed 18446744073709551615 >/dev/null 2>"$T/err"
verdict evgen $? "evgen takes the largest count"
# evsim --history-bytes 4M (refused before the layer): it starts.
rm -f "$T/sim.port"
$EVSIM --listen 127.0.0.1:0 --ready-file "$T/sim.port" --history-bytes 4M \
    >"$T/sim.log" 2>"$T/err" &
sim=$!
# (it started, or it exited: a refusal needs no waiting)
waitfor 1000 sh -c "test -s '$T/sim.port' || ! kill -0 $sim"
test -s "$T/sim.port"
verdict evsim $? "evsim takes --history-bytes 4M"
kill -TERM $sim 2>/dev/null
wait $sim 2>/dev/null

# 4. A job that cannot be done: status 3, one line "PROG: ..." saying why.
# fails PROG DESCRIPTION COMMAND...
fails() {
	_fp=$1
	_fd=$2
	shift 2
	timeout 20 "$@" >/dev/null 2>"$T/err"
	_rc=$?
	echo "status $_rc" >>"$T/err"
	[ $_rc -eq 3 ] && [ "$(grep -c "^$_fp: " "$T/err")" -eq 1 ]
	verdict "$_fp" $? "$_fd"
}
fails evrec "evrec: a log file that cannot be opened, status 3" \
    $EVREC --log-file "$T/no/log" --archive "$T/r" http://127.0.0.1:1
fails evtool "evtool: a missing archive, status 3" $EVTOOL cat "$T/missing"
fails evplay "evplay: a missing archive, status 3" $EVPLAY "$T/missing"
fails evsim "evsim: TLS files that cannot be read, status 3" \
    $EVSIM --quiet --listen 127.0.0.1:0 --tls-cert "$T/no.pem" \
    --tls-key "$T/no.pem"
fails evgen "evgen: a full disk on stdout, status 3" \
    sh -c "exec $EVGEN >/dev/full"
grep -q "No space left on device" "$T/err"
check $? "... saying why"

done_testing
