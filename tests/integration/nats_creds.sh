#!/bin/sh
# nats_creds.sh: --nats-creds FILE (a NATS user credentials file: user JWT
# and NKey seed) against a nats-server in operator (JWT) mode, its
# operator, accounts and users made by build/tests/nkeys (OpenSSL, not
# libnats).  evsim -> evrec --publish puts exactly the archive's events
# into the stream; evrec --from-nats archives them; evplay --publish
# replays them, the same messages.  A creds file that is missing, not a
# file, not a credentials file, with a damaged seed or an expired JWT, of
# a user of an account the server does not know or of another operator: a
# clear error naming --nats-creds and the file (the server's words for a
# refusal); evrec --publish records on and, once the file is right,
# publishes without a restart; evrec --from-nats and evplay exit 3.  A
# file others may read is warned about, once.  A user limited to one
# site's subjects and its stream's API publishes (what a site needs); as
# another site it is refused in the server's words.  A file damaged while
# connected: the reconnect's failure is said, a repaired file taken.  The
# seeds and the JWT are in no log, archive, position file or argv.
. "$(dirname "$0")/lib.sh"
. "$HERE/natslib.sh"
need_nats
need_evsim
[ -x "$NKEYS" ] || {
	echo "ok 1 # skip $NKEYS is not built (make tests)"
	tn=1
	done_testing
	exit
}
EVPLAY=$BUILD/evplay
umask 077
echo "pw-$$" >"$T/pw"
mkdir "$T/cr"

# site NAME CREDS: a gateway (evsim, 400 events) recorded by evrec into
# $T/NAME (log $T/NAME.log) and published with --nats-creds CREDS to
# stream NAME, site NAME; returns once the archive holds the events.
site() {
	# (evsim sends its --events once: a gateway per recorder.)
	start_sim "sim$1" --user u --password-file "$T/pw" --rate 0 \
	    --events 400 --seed 7
	start_rec "$1" --archive "$T/$1" --user u --password-file "$T/pw" \
	    --publish "$NATS_URL" --nats-creds "$2" --site "$1" --stream "$1" \
	    "http://127.0.0.1:$SIM_PORT"
	wait_events "$T/$1" 400
}
# site_end: stops them; evrec's status in RC.
site_end() {
	stop_pid $REC_PID
	kill -TERM $SIM_PID
	wait $SIM_PID 2>/dev/null
}

# 1. Operator mode; a user of the JetStream account publishes.  (Also a
# user limited to site p1's subjects and stream, for 6.)
"$NKEYS" make "$T/op" --site p1 --stream p1
nats_start n1 --operator "$T/op" --conf "max_payload: 8MB"
checkl $? "nats-server in operator mode (a MEMORY resolver, accounts preloaded)" "$T/nats/n1/log"
CREDS=$NATS_CREDS
SEED=$(cat "$T/op/user.seed")
JWT=$(cat "$T/op/user.jwt")
check $([ "${SEED#SU}" != "$SEED" ] && [ ${#SEED} -eq 58 ] &&
    [ "$(echo "$JWT" | tr -cd . | wc -c)" -eq 2 ]; echo $?) \
    "nkeys: a user seed (SU..., 58 characters) and a JWT (3 parts)"
"$NATSDUMP" --info "$NATS_URL" NONE >/dev/null 2>"$T/anon.err"
check $(grep -q "Authorization Violation" "$T/anon.err"; echo $?) \
    "the server refuses a client without credentials"
start_sim sim --user u --password-file "$T/pw" --rate 3000 --events 6000 \
    --seed 3
start_rec r1 --archive "$T/a" --user u --password-file "$T/pw" \
    --publish "$NATS_URL" --nats-creds "$CREDS" --site s1 --stream EV \
    "http://127.0.0.1:$SIM_PORT"
wait_events "$T/a" 6000
checkl $? "6000 events recorded" "$T/r1.log"
grep -q "NATS: connected to $NATS_URL; created stream EV" "$T/r1.log"
checkl $? "evrec --publish --nats-creds connects and creates stream EV" "$T/r1.log"
check $(tr '\0' ' ' </proc/$REC_PID/cmdline | grep -qF -e "$SEED" -e "$JWT"
    [ $? -ne 0 ]; echo $?) "evrec's argv holds the file's name only"
wait_stream EV xprotect.s1 6000
checkl $? "... and publishes" "$T/r1.log"
stop_pid $REC_PID
check $RC "evrec stops (exit 0)"
t "the stream holds exactly the archive's events, in order, once" \
    same_stream EV xprotect.s1 s1 "$T/a"
cp "$T/dump.jsonl" "$T/ev.msgs"
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# 2. The central archiver with the same credentials.
start_rec c1 --archive "$T/central" --from-nats "$NATS_URL" --stream EV \
    --durable central --nats-creds "$CREDS" --flush-interval 50ms
waitfor 1000 grep -q "consuming stream" "$T/c1.log"
checkl $? "evrec --from-nats --nats-creds consumes the stream" "$T/c1.log"
"$EVTOOL" cat "$T/a" >"$T/a.ev"
waitfor 3000 sh -c "[ \"\$('$EVTOOL' cat '$T/central' 2>/dev/null | wc -l)\" -ge $(wc -l <"$T/a.ev") ]"
checkl $? "... and archives every event" "$T/c1.log"
stop_pid $REC_PID
check $RC "the archiver stops (exit 0)"
"$EVTOOL" cat --site s1 "$T/central" | cmp -s - "$T/a.ev"
check $? "the central archive's site s1 is the site's archive, event by event"

# 3. evplay --publish with the credentials: the messages evrec published.
$EVPLAY --top-speed --publish "$NATS_URL" --nats-creds "$CREDS" \
    --stream PLAY --subject-prefix play --site s1 "$T/a" >/dev/null \
    2>"$T/play.err"
checkl $? "evplay --publish --nats-creds: exit 0" "$T/play.err"
ndump "$NATS_URL" PLAY >"$T/play.msgs"
t "... the same messages as evrec published" \
    $PYTHON "$HERE/evplay_publish.py" same "$T/ev.msgs" xprotect.s1 \
    "$T/play.msgs" play

# 4. Credentials that cannot work: said, naming the option and the file;
# recording goes on.  (Root reads a mode-000 file: unreadable is tested
# as a directory.)
sed -n 2p "$CREDS" >"$T/cr/jwtonly.creds"
echo "not a credentials file" >"$T/cr/garbage.creds"
# A seed with one character changed: its checksum fails.
awk '/^SU/ { c = substr($0, 10, 1); $0 = substr($0, 1, 9) \
    (c == "A" ? "B" : "A") substr($0, 11) } { print }' "$CREDS" \
    >"$T/cr/badseed.creds"
sed '/BEGIN USER NKEY SEED/,$d' "$CREDS" >"$T/cr/noseed.creds"
mkdir "$T/cr/dir.creds"
"$NKEYS" make "$T/op2"
check $? "a second operator (its users unknown to the server)"
i=0
for c in "missing.creds:cannot read it: No such file or directory" \
    "dir.creds:not a regular file" \
    "garbage.creds:no user JWT in it" \
    "jwtonly.creds:no user JWT in it" \
    "noseed.creds:no NKey seed in it" \
    "badseed.creds:its NKey seed is damaged" \
    "expired:its user JWT expired at" \
    "stranger:cannot connect: Authorization Violation (as the user of --nats-creds" \
    "op2:cannot connect: Authorization Violation (as the user of --nats-creds"; do
	i=$((i + 1))
	f=$T/cr/${c%%:*}
	why=${c#*:}
	case ${c%%:*} in
	stranger) f=$T/op/stranger.creds ;;
	expired) f=$T/op/expired.creds ;;
	op2) f=$T/op2/user.creds ;;
	esac
	site f$i "$f"
	checkl $? "${c%%:*}: all events recorded" "$T/f$i.log"
	case $why in
	cannot\ connect*) want="NATS $NATS_URL: $why $f)" ;;
	*) want="NATS $NATS_URL: --nats-creds $f: $why" ;;
	esac
	waitfor 1000 grep -qF "$want" "$T/f$i.log"
	checkl $? "... the log says: $want" "$T/f$i.log"
	site_end
	check $RC "... evrec exit 0"
done
# The missing file appears (rotated in): published without a restart.
site f9 "$T/cr/late.creds"
waitfor 1000 grep -q "late.creds: cannot read it" "$T/f9.log"
checkl $? "a creds file missing at the start: said" "$T/f9.log"
cp "$CREDS" "$T/cr/late.creds"
wait_stream f9 xprotect.f9 400
checkl $? "... once it is there, evrec publishes, not restarted" "$T/f9.log"
site_end
t "... exactly the archive" same_stream f9 xprotect.f9 f9 "$T/f9"

# evrec --from-nats and evplay have nothing else to do: exit 3.
"$EVREC" --archive "$T/c2" --from-nats "$NATS_URL" --stream EV --durable c2 \
    --nats-creds "$T/cr/garbage.creds" >"$T/c2.log" 2>&1
check $([ $? -eq 3 ] && grep -qF "NATS $NATS_URL: --nats-creds $T/cr/garbage.creds: no user JWT" \
    "$T/c2.log"; echo $?) "evrec --from-nats, a file that is no credentials file: said, exit 3"
"$EVREC" --archive "$T/c3" --from-nats "$NATS_URL" --stream EV --durable c3 \
    --nats-creds "$T/op2/user.creds" >"$T/c3.log" 2>&1
check $([ $? -eq 3 ] && grep -qF "cannot connect: Authorization Violation (as the user of --nats-creds $T/op2/user.creds)" \
    "$T/c3.log"; echo $?) "evrec --from-nats, another operator's user: refused, said, exit 3"
$EVPLAY --top-speed --publish "$NATS_URL" --nats-creds "$T/cr/missing.creds" \
    --stream PLAY2 "$T/a" >/dev/null 2>"$T/p2.err"
check $([ $? -eq 3 ] && grep -qF "NATS $NATS_URL: --nats-creds $T/cr/missing.creds: cannot read it" \
    "$T/p2.err"; echo $?) "evplay --publish, a missing creds file: said, exit 3"
$EVPLAY --top-speed --publish "$NATS_URL" --nats-creds "$T/op/stranger.creds" \
    --stream PLAY2 "$T/a" >/dev/null 2>"$T/p3.err"
check $([ $? -eq 3 ] && grep -qF "Authorization Violation (as the user of --nats-creds $T/op/stranger.creds)" \
    "$T/p3.err"; echo $?) "evplay --publish, a user of an unknown account: refused, said, exit 3"

# 5. A creds file others may read: a warning, once; it still works.
cp "$CREDS" "$T/cr/loose.creds"
chmod 644 "$T/cr/loose.creds"
site w "$T/cr/loose.creds"
wait_stream w xprotect.w 400
checkl $? "a world-readable creds file works" "$T/w.log"
site_end
check $([ "$(grep -c "warning: --nats-creds $T/cr/loose.creds: other users may read it (its NKey seed is a secret): chmod o-rwx it" \
    "$T/w.log")" -eq 1 ]; echo $?) "... and is warned about, once"
check $(grep -q "other users may read" "$T/r1.log" "$T/c1.log" "$T/play.err"
    [ $? -ne 0 ]; echo $?) "a mode 600 file: no warning"

# 6. A user who may publish to xprotect.p1.> and use the JetStream API of
# stream p1 only (info, create, get a message; replies on _INBOX.>): all
# a site needs.  As another site it is refused, in the server's words.
site p1 "$T/op/site.creds"
wait_stream p1 xprotect.p1 400
checkl $? "a user limited to its site's subjects and stream publishes" "$T/p1.log"
site_end
# (After the stop, which writes the position file last.)
rm "$T/p1/nats-publish.json"
# (Its gateway gone: the publisher follows the archive.)
start_rec p1 --archive "$T/p1" --user u --password-file "$T/pw" \
    --publish "$NATS_URL" --nats-creds "$T/op/site.creds" --site p1 \
    --stream p1 "http://127.0.0.1:$SIM_PORT"
waitfor 1000 grep -q "stream p1 already holds this archive up to" "$T/p1.log"
checkl $? "... and may read the stream's last message (a restart without position file)" "$T/p1.log"
stop_pid $REC_PID
t "... exactly the archive" same_stream p1 xprotect.p1 p1 "$T/p1"
site p2 "$T/op/site.creds"
checkl $? "as another site: all events recorded" "$T/p2.log"
waitfor 1000 grep -qF "NATS $NATS_URL: Permissions Violation for Publish to \"\$JS.API.STREAM.INFO.p2\"" "$T/p2.log"
checkl $? "... the refusal logged in the server's words" "$T/p2.log"
site_end
check $RC "... evrec exit 0"

# A creds file damaged while connected: libnats reads it again to
# reconnect; the failure is said (not silent), and once the file is right
# again the connection comes back by itself.
cp "$CREDS" "$T/cr/rot.creds"
site q1 "$T/cr/rot.creds"
wait_stream q1 xprotect.q1 400
checkl $? "publishing with a creds file" "$T/q1.log"
nats_stop n1
echo "not a credentials file" >"$T/cr/rot.creds"
nats_restart n1
checkl $? "the server restarted" "$T/nats/n1/log"
waitfor 1000 grep -qF "NATS $NATS_URL: reconnecting: --nats-creds $T/cr/rot.creds: no user JWT in it" "$T/q1.log"
checkl $? "the file damaged meanwhile: the reconnect's failure is said" "$T/q1.log"
cp "$CREDS" "$T/cr/rot.creds"
waitfor 1000 grep -q "NATS: reconnected to $NATS_URL" "$T/q1.log"
checkl $? "... repaired: reconnected, not restarted" "$T/q1.log"
site_end
check $RC "... evrec exit 0"

# 7. The secrets stay in their files: not in a log, an archive or a
# position file (the test's files but the credentials themselves).
BADSEED=$(grep '^SU' "$T/cr/badseed.creds")
SSEED=$(grep '^SU' "$T/op/stranger.creds")
PSEED=$(grep '^SU' "$T/op/site.creds")
check $(ls "$T"/*/nats-publish.json >/dev/null 2>&1; echo $?) \
    "position files written"
found=$(grep -rlaF -e "$SEED" -e "$JWT" -e "$BADSEED" -e "$SSEED" -e "$PSEED" \
    --exclude-dir=op --exclude-dir=op2 --exclude-dir=cr --exclude-dir=nats "$T")
check $([ -z "$found" ] && grep -qF -e "$SEED" "$CREDS"; echo $?) \
    "no seed, no JWT in any log, archive or position file (the same grep finds them in the creds file)"
[ -z "$found" ] || echo "$found" | sed 's/^/#   /'
done_testing
