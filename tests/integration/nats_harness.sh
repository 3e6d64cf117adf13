#!/bin/sh
# nats_harness.sh: the NATS test harness itself (natslib.sh, natsdump):
# a server starts; messages published with natsdump --pub come back from
# natsdump in order with their headers and payloads; Nats-Msg-Id removes
# duplicates; a stream made to refuse writes refuses them; kill -9 and a
# restart keep the stream on disk; user/password and TLS; a 3-node cluster
# elects a leader and goes on when the stream's leader is killed; the
# servers stop at the script's exit.
. "$(dirname "$0")/lib.sh"
. "$HERE/natslib.sh"
need_nats

# lines FILE: the payloads natsdump printed ("data" of each JSON line).
datas() {
	$PYTHON -c '
import json, sys
for l in open(sys.argv[1]):
    print(json.loads(l)["data"])' "$1"
}

nats_start a
checkl $? "nats-server -js starts (pid $(nats_pid a), $NATS_URL)" "$T/nats/a/log"
t "a stream made with natsdump --mkstream" \
    "$NATSDUMP" --mkstream "$NATS_URL" S --subjects 't.>'
{
	echo '{"id":"e1","type":"a"}'
	echo '{"id":"e2","text":"quote \" backslash \\ caf\u00e9 ✓"}'
	echo 'not JSON at all'
} >"$T/in"
"$NATSDUMP" --pub --msg-id-prefix id- "$NATS_URL" t.x <"$T/in" >"$T/acks"
check $? "natsdump --pub publishes 3 lines with acknowledgements"
"$NATSDUMP" "$NATS_URL" S >"$T/dump1"
check $? "natsdump reads the stream"
datas "$T/dump1" >"$T/out"
t "... payloads round-trip in order" cmp "$T/in" "$T/out"
check $($PYTHON -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
ok = [x["seq"] for x in r] == [1, 2, 3] and all(x["subject"] == "t.x" for x in r) \
    and [x["headers"]["Nats-Msg-Id"] for x in r] == ["id-1", "id-2", "id-3"]
print(0 if ok else 1)' "$T/dump1") "... with sequence, subject and Nats-Msg-Id header"

nats_wait_msgs S 3 10
check $? "nats_wait_msgs S 3: there"
nats_wait_msgs S 4 10
check $([ $? -ne 0 ]; echo $?) "nats_wait_msgs S 4: not there, gives up after its tries"
"$NATSDUMP" --pub --msg-id-prefix id- "$NATS_URL" t.x <"$T/in" >"$T/acks2"
check $([ "$(grep -c '"duplicate":true' "$T/acks2")" -eq 3 ] &&
    [ "$(nats_info S messages)" -eq 3 ]; echo $?) \
    "the same Nats-Msg-Ids again: 3 duplicates, still 3 messages"

printf 'ok\377\376\n' | "$NATSDUMP" --pub "$NATS_URL" t.bin >/dev/null
"$NATSDUMP" --subject t.bin "$NATS_URL" S >"$T/dumpbin"
check $(grep -q '"data_base64":"b2v//g=="' "$T/dumpbin"; echo $?) \
    "a payload that is not UTF-8 comes as data_base64"
printf 'b1\nb2\n' | "$NATSDUMP" --pub "$NATS_URL" t.b.y >/dev/null
"$NATSDUMP" --subject 't.b.>' "$NATS_URL" S >"$T/dumpb"
check $([ "$(datas "$T/dumpb" | tr '\n' ' ')" = "b1 b2 " ]; echo $?) \
    "--subject keeps the matching messages"
"$NATSDUMP" --subject 't.*' "$NATS_URL" S >"$T/dumpx"
check $([ "$(wc -l <"$T/dumpx")" -eq 4 ]; echo $?) "--subject t.* matches one token (t.x, t.bin)"

# A stream that refuses writes.
"$NATSDUMP" --mkstream --max-msgs 2 --discard-new "$NATS_URL" FULL \
    --subjects 'full.>'
printf 'f1\nf2\n' | "$NATSDUMP" --pub "$NATS_URL" full.x >/dev/null
echo f3 | "$NATSDUMP" --pub "$NATS_URL" full.x >/dev/null 2>"$T/full.err"
rc=$?
check $([ $rc -ne 0 ] && grep -qi 'maximum messages' "$T/full.err"; echo $?) \
    "a --max-msgs 2 --discard-new stream refuses the 3rd message: $(cat "$T/full.err")"

# Crash and restart: same URL, the stream still on disk.
url=$NATS_URL
pid=$(nats_pid a)
nats_kill a
check $(kill -0 "$pid" 2>/dev/null; [ $? -ne 0 ]; echo $?) "nats_kill: the server is gone"
nats_restart a
checkl $? "nats_restart" "$T/nats/a/log"
check $([ "$(nats_url a)" = "$url" ]; echo $?) "... on the same port"
"$NATSDUMP" "$NATS_URL" S >"$T/dump2"
check $([ "$(nats_info S messages)" -eq 6 ] &&
    [ "$(head -n 3 "$T/dump2")" = "$(cat "$T/dump1")" ]; echo $?) \
    "... the stream survived kill -9 on disk"
nats_stop a

# User and password (from a file, never on a command line).
echo "pw-$$-secret" >"$T/pw"
nats_start b --user u --password-file "$T/pw"
checkl $? "a server with user/password" "$T/nats/b/log"
tr '\0' '\n' <"/proc/$(nats_pid b)/cmdline" >"$T/cmdline"
check $(grep -q "pw-$$" "$T/cmdline" "$T/nats/b/log"; [ $? -eq 1 ]; echo $?) \
    "the password is not in the server's argv or log"
t "ndump with the credentials" ndump --mkstream "$NATS_URL" B --subjects 'b.>'
"$NATSDUMP" --info "$NATS_URL" B >/dev/null 2>"$T/noauth.err"
check $([ $? -ne 0 ] && grep -qiE 'authenticat|authoriz' "$T/noauth.err"; echo $?) \
    "without them: refused ($(cat "$T/noauth.err"))"
echo wrong >"$T/pw2"
"$NATSDUMP" --user u --password-file "$T/pw2" --info "$NATS_URL" B \
    >/dev/null 2>&1
check $([ $? -ne 0 ]; echo $?) "a wrong password: refused"
nats_stop b
unset NATS_USER NATS_PWFILE

# TLS, verified against the test CA.
nats_start c --tls
checkl $? "a server with TLS" "$T/nats/c/log"
t "ndump --cacert CA works" ndump --mkstream "$NATS_URL" C --subjects 'c.>'
"$NATSDUMP" --info "$NATS_URL" C >/dev/null 2>"$T/notls.err"
check $([ $? -ne 0 ]; echo $?) "without --cacert (the system CAs): refused ($(cat "$T/notls.err"))"
make_certs_other() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$T/o.key" -out "$T/other.pem" -days 2 \
	    -subj /CN=other-ca >/dev/null 2>&1
}
make_certs_other
"$NATSDUMP" --cacert "$T/other.pem" --info "$NATS_URL" C >/dev/null 2>"$T/badca.err"
check $([ $? -ne 0 ]; echo $?) "another CA: refused ($(cat "$T/badca.err"))"
nats_stop c
unset NATS_CACERT

# A 3-node cluster: a leader, R3, killing the leader.
nats_cluster_start 3
check $? "a 3-node cluster elects a meta leader ($NATS_URL)"
t "an R3 stream" "$NATSDUMP" --mkstream --replicas 3 "$NATS_URL" R \
    --subjects 'r.>'
seq 1 5 | "$NATSDUMP" --pub --msg-id-prefix r- "$NATS_URL" r.x >/dev/null
check $? "5 messages published to it"
l1=$(nats_wait_leader R)
check $([ "$(nats_info R replicas)" = 3 ] && [ -n "$l1" ]; echo $?) \
    "the stream has 3 replicas and a leader ($l1)"
nats_kill_leader R
check $? "its leader $NATS_KILLED is killed"
l2=$(nats_wait_leader R "$NATS_KILLED")
check $([ -n "$l2" ] && [ "$l2" != "$NATS_KILLED" ]; echo $?) \
    "a new leader is elected ($l2)"
seq 6 10 | "$NATSDUMP" --pub --msg-id-prefix r2- "$NATS_URL" r.x >/dev/null
check $? "5 more published with one node down"
"$NATSDUMP" "$NATS_URL" R >"$T/dumpr"
[ "$(datas "$T/dumpr" | tr '\n' ' ')" = "$(seq 1 10 | tr '\n' ' ')" ]
checkl $? "all 10 messages read back in order" "$T/dumpr"
nats_restart "$NATS_KILLED"
checkl $? "the killed node restarts and rejoins" "$T/nats/$NATS_KILLED/log"

# Cleanup: a script that starts a server and exits leaves nothing running.
sh -c '. "$0/lib.sh"; HERE=$0; . "$0/natslib.sh"; nats_start x >&2 &&
    echo "$(nats_pid x) $T"' "$HERE" >"$T/child" 2>"$T/child.err"
read -r cpid ct <"$T/child"
check $([ -n "$cpid" ] && waitfor 500 sh -c "! kill -0 $cpid" && [ ! -e "$ct" ]; echo $?) \
    "a script's servers stop at its exit (pid $cpid), its files are gone"
done_testing
