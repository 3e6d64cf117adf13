#!/bin/sh
# evrec_tls.sh: TLS and credentials.  A test CA made with the openssl CLI:
# --cacert works, the system CAs refuse it with a clear error, --insecure
# works; --auth command; a wrong password: a clear error, retries with
# growing backoff, and the password never in logs, argv, environment or
# archive.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
if [ ! -x "$EVSIM" ] || ! command -v openssl >/dev/null 2>&1; then
	echo "ok 1 # skip evsim or openssl missing"
	done_testing
	exit
fi
secret="Wr0ng-Secret-$$"
echo "right-$$" >"$T/pw"

make_certs
checkl $? "test CA and server certificate made" "$T/openssl.out"

start_sim sim --tls-cert "$T/srv.pem" --tls-key "$T/srv.key" --user u \
    --password-file "$T/pw" --rate 2000
url="https://127.0.0.1:$SIM_PORT"

start_rec ca --archive "$T/a" --user u --password-file "$T/pw" \
    --cacert "$T/ca.pem" "$url"
wait_events "$T/a" 500
checkl $? "https with --cacert records" "$T/ca.log"
stop_pid $REC_PID
check $RC "exit 0"

start_rec sys --archive "$T/b" --user u --password-file "$T/pw" "$url"
waitfor 1000 grep -q "certificate verification failed" "$T/sys.log"
checkl $? "without --cacert: refused, the log says the certificate failed" \
    "$T/sys.log"
stop_pid $REC_PID
check $([ "$(events_in "$T/b")" -eq 0 ]; echo $?) "... and nothing recorded"

start_rec ins --archive "$T/c" --user u --password-file "$T/pw" --insecure \
    --auth command "$url"
wait_events "$T/c" 500
checkl $? "--insecure (and --auth command) records" "$T/ins.log"
stop_pid $REC_PID

# Wrong password, from the environment.
EVREC_PASSWORD=$secret start_rec bad --archive "$T/d" --user u \
    --cacert "$T/ca.pem" "$url"
waitfor 1500 sh -c "[ \$(grep -c 'wrong user name or password' $T/bad.log) -ge 4 ]"
checkl $? "wrong password: a clear error, retried" "$T/bad.log"
grep 'wrong user name' "$T/bad.log" | sed 's/.*retrying in \([0-9.]*\) s.*/\1/' >"$T/delays"
check $(awk 'NR > 1 && $1 <= prev {bad = 1} {prev = $1} END {exit bad + (NR < 3)}' "$T/delays"; echo $?) \
    "retries back off: $(tr '\n' ' ' <"$T/delays")"
leak=0
tr '\0' '\n' </proc/$REC_PID/cmdline | grep -q "$secret" && leak=1
tr '\0' '\n' </proc/$REC_PID/environ | grep -q "$secret" && leak=1
check $leak "the password is not in argv or the environment of the process"
stop_pid $REC_PID
check $(grep -rq "$secret" "$T"/*.log "$T/d" 2>/dev/null && echo 1 || echo 0) \
    "the password is in no log and not in the archive"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
done_testing
