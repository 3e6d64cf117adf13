#!/bin/sh
# evrec_flush.sh: --flush-interval.  With 100ms, the one event evsim sends
# is read by `evtool cat` of the live archive (evrec still running, no
# further event to push its block out) soon after; the wait is bounded,
# nothing is timed.  Bad values, on the command line and in the config
# file, exit 2 naming the option and the range.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
need_evsim

echo "pw-$$" >"$T/pw"
start_sim sim --any-user --events 1 --log-sent "$T/sent"
start_rec rec --archive "$T/a" --user u --password-file "$T/pw" \
    --flush-interval 100ms "http://127.0.0.1:$SIM_PORT"
waitfor 1000 test -s "$T/sent"
checkl $? "evsim sent its event" "$T/sim.out"
# 30 s: a bound for a loaded machine, not a figure.
waitfor 3000 sh -c "'$EVTOOL' cat '$T/a' | grep -q ."
checkl $? "the event is in the live archive without another one after it" \
    "$T/rec.log"
kill -0 $REC_PID 2>/dev/null
check $? "... while evrec runs"
same_events "$T/sent" "$T/a"
check $? "... and it is the event evsim sent"
stop_pid $REC_PID
check $RC "evrec stops with 0"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# bad VALUE WANT: evrec --flush-interval VALUE exits 2 saying WANT.
bad() {
	"$EVREC" --flush-interval "$1" --archive "$T/b" http://127.0.0.1:1 \
	    >"$T/bad.out" 2>&1
	_rc=$?
	[ $_rc -eq 2 ] && grep -q -- "--flush-interval: \"$1\" $2" "$T/bad.out"
	checkl $? "--flush-interval $1: exit 2 (got $_rc), \"$2\"" "$T/bad.out"
}
bad 5ms "is out of range (10ms..60s)"
bad 0 "is out of range (10ms..60s)"
bad 61s "is out of range (10ms..60s)"
bad 1h "is out of range (10ms..60s)"
bad 100xs "is not a duration"
bad "" "is not a duration"
check $([ ! -e "$T/b" ]; echo $?) "... and no archive made"

printf 'flush-interval = 1ms\n' >"$T/cfg"
"$EVREC" --config "$T/cfg" --archive "$T/b" http://127.0.0.1:1 \
    >"$T/cfg.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "cfg:1: flush-interval: \"1ms\" is out of range" \
    "$T/cfg.out"
checkl $? "config file flush-interval = 1ms: exit 2 naming FILE:LINE" \
    "$T/cfg.out"
"$EVREC" --help | grep -q -- "--flush-interval DUR"
check $? "--help names --flush-interval"
done_testing
