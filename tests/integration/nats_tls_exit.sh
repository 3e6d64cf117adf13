#!/bin/sh
# nats_tls_exit.sh: evrec and evplay exit cleanly after a TLS connection
# to NATS failed.  libnats 3.4.1 frees OpenSSL's compression-method stack
# in its final cleanup and OpenSSL's exit-time cleanup freed it again
# (nats.c issue #904): about one exit in four crashed (SIGSEGV, or glibc's
# "malloc_consolidate(): unaligned fastbin chunk detected").  evt_nats_init
# turns OpenSSL's exit-time cleanup off; thirty exits of each program
# after a refused certificate must all end with their own status.
. "$(dirname "$0")/lib.sh"
. "$HERE/natslib.sh"
need_nats
EVPLAY=$BUILD/evplay
need_progs "$EVSIM" "$EVREC" "$EVTOOL" "$EVPLAY"
ROUNDS=30
echo "1..4"
echo "pw-$$" >"$T/pw"
nats_start c --tls
checkl $? "a server requiring TLS" "$T/nats/c/log"
tls_url=$(echo "$NATS_URL" | sed 's|^nats://|tls://|')
start_sim sim --user u --password-file "$T/pw" --rate 0 --events 200 --seed 8
bad=0
for i in $(seq $ROUNDS); do
	start_rec "r$i" --archive "$T/a$i" --user u --password-file "$T/pw" \
	    --publish "$tls_url" --site s --stream EV "http://127.0.0.1:$SIM_PORT"
	waitfor 1000 grep -q "NATS $tls_url: cannot connect: .*certificate" \
	    "$T/r$i.log" || bad=$((bad + 1))
	stop_pid $REC_PID
	[ "$RC" = 0 ] || { bad=$((bad + 1)); echo "# evrec round $i: exit $RC"; }
done
check $bad "evrec: $ROUNDS stops after a refused NATS certificate, each exit 0"
bad=0
for i in $(seq $ROUNDS); do
	"$EVPLAY" --publish "$tls_url" --top-speed "$T/a1" >"$T/p$i.out" \
	    2>"$T/p$i.log"
	rc=$?
	if [ $rc != 3 ] || ! grep -q "certificate" "$T/p$i.log"; then
		bad=$((bad + 1))
		echo "# evplay round $i: exit $rc"
	fi
done
check $bad "evplay --publish: $ROUNDS refusals of the certificate, each exit 3 and said"
grep -q "resumed after event\|new session" "$T/r1.log"
checkl $? "evrec recorded all the same" "$T/r1.log"
