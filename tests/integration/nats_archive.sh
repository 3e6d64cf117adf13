#!/bin/sh
# nats_archive.sh: evrec --from-nats, the central archiver (issue 16 item
# 2): two sites' events published to one JetStream stream as the contract
# says (formats/records.md, "Central archives"; the test publisher
# natsfeed.py) land in one archive holding exactly the union, event by
# event against each site's local archive (evtool cat --site); a kill -9
# loop while the archiver catches up loses and duplicates nothing; two
# archivers on one durable share the work; two durables make two copies.
. "$(dirname "$0")/lib.sh"
. "$HERE/natslib.sh"
need_nats
FEED="$PYTHON $HERE/natsfeed.py"

# consumer DURABLE FIELD: a number of the consumer's state from the
# server's monitoring (/jsz): num_pending (not delivered yet),
# num_ack_pending (delivered, not acknowledged).
consumer() {
	nats_consumer "$NSRV" "$1" "$2"
}
# drained DURABLE: every message delivered and acknowledged.
drained() {
	[ "$(consumer "$1" num_pending)" = 0 ] &&
	    [ "$(consumer "$1" num_ack_pending)" = 0 ]
}
# archiver NAME DIR DURABLE [ARGS]: starts evrec --from-nats (log
# $T/NAME.log) and waits until it consumes; sets REC_PID.
archiver() {
	_n=$1 _d=$2 _c=$3
	shift 3
	: >"$T/$_n.log"
	start_rec "$_n" --archive "$_d" --from-nats "$NATS_URL" --stream "$STREAM" \
	    --durable "$_c" --flush-interval 50ms --ack-wait 2s "$@"
	waitfor 1000 grep -q "consuming stream" "$T/$_n.log"
}
# kill_loop N NAME DIR DURABLE: N archivers (logs NAME1..NAMEN) each
# killed with kill -9 at a random moment; then the last one (log
# NAMElast) until DURABLE is drained, stopped (status in $RC).  Returns
# the number of kills that failed (N - kills done); DRAINED the waitfor's.
kill_loop() {
	_k=0 _i=1
	while [ $_i -le "$1" ]; do
		archiver "$2$_i" "$3" "$4" || { show "$T/$2$_i.log"; break; }
		sleep "0.0$($PYTHON -c 'import random; print(random.randint(10, 99))')"
		kill -9 $REC_PID
		wait $REC_PID 2>/dev/null
		_k=$((_k + 1)) _i=$((_i + 1))
	done
	archiver "$2last" "$3" "$4"
	waitfor 1500 drained "$4"
	DRAINED=$?
	stop_pid $REC_PID
	return $(($1 - _k))
}
# same_site SITE LOCAL CENTRAL: the central archive's events of SITE are
# the local archive's, event by event (each text the same; sorted: what a
# killed archiver left unacknowledged comes again later, so a central
# archive is in the order of arrival).
same_site() {
	$EVTOOL cat --site "$1" "$3" | sort >"$T/got.$1" &&
	    $EVTOOL cat "$2" | sort >"$T/want.$1" &&
	    cmp -s "$T/want.$1" "$T/got.$1"
}
# dup_ids DIR...: how many event ids occur more than once in the archives.
dup_ids() {
	for _d in "$@"; do $EVTOOL cat "$_d"; done | $PYTHON -c '
import json, sys, collections
c = collections.Counter(json.loads(l)["id"] for l in sys.stdin)
print(sum(1 for v in c.values() if v > 1))'
}

STREAM=EVT NSRV=n1
nats_start n1 || exit 1
PORT=${NATS_URL##*:}
t "a stream for two sites" $FEED "$PORT" create EVT 'xprotect.>'

# Two sites: evgen streams (with a getState answer first) imported into
# each site's local archive and published under its prefix, at once.
for s in A B; do
	seed=1
	[ $s = B ] && seed=2
	make_archive "$T/site$s" $seed 30000 2000 40
done
nats_feed_sites "$PORT"
check $? "both sites published (JetStream acknowledged every message)"
total=$(( $($EVTOOL cat "$T/siteA" | wc -l) + $($EVTOOL cat "$T/siteB" | wc -l) ))
# (Each site's events and its getState answer.)
check $(($(nats_info EVT messages) != total + 2)) "the stream holds them all"

# The kill -9 loop: 5 kills at random moments while it catches up.
kill_loop 5 k "$T/central" d1
check $? "five archivers killed with kill -9 while catching up"
checkl $DRAINED "the last archiver took everything: no message pending or unacknowledged" "$T/klast.log"
checkl $RC "it stops cleanly (status 0)" "$T/klast.log"
same_site siteA "$T/siteA" "$T/central"
check $? "--site siteA: exactly site A's local archive, event by event"
same_site siteB "$T/siteB" "$T/central"
check $? "--site siteB: exactly site B's local archive, event by event"
n=$($EVTOOL cat "$T/central" | wc -l)
check $((n != total)) "the central archive holds the union: $n events of $total"
check "$(dup_ids "$T/central")" "after 5 kill -9: 0 events lost, 0 duplicated"
$EVTOOL cat --site 'site?' "$T/central" | wc -l >"$T/glob"
check $(($(cat "$T/glob") != total)) "--site takes globs (site? selects both)"
$EVTOOL stats --json --site siteB "$T/central" >"$T/stB" &&
    $EVTOOL stats --json "$T/siteB" >"$T/stBl"
$PYTHON -c 'import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
sys.exit(a["events"] != b["events"])' "$T/stB" "$T/stBl"
check $? "evtool stats --site siteB counts site B's events"
$EVTOOL cat --markers "$T/central" | grep -c '"event":"nats"' >"$T/nm"
check $(($(cat "$T/nm") < 2)) "SESSION \"nats\" markers name the sites"

# Two archivers on one durable share the work: together everything,
# nothing twice.
archiver s1 "$T/share1" d2 && p1=$REC_PID
archiver s2 "$T/share2" d2 && p2=$REC_PID
waitfor 1500 drained d2
checkl $? "two archivers on one durable drained it" "$T/s2.log"
stop_pid $p1
r1=$RC
stop_pid $p2
check $((r1 + RC)) "both stop cleanly"
n1=$($EVTOOL cat "$T/share1" | wc -l)
n2=$($EVTOOL cat "$T/share2" | wc -l)
check $((n1 + n2 != total)) "shared: $n1 + $n2 events = $total"
check "$(dup_ids "$T/share1" "$T/share2")" "shared: no event in both archives"

# Two durables: two complete copies (d1's archive above, and d3's).
archiver c "$T/copy" d3
waitfor 1500 drained d3
checkl $? "a second durable drained" "$T/c.log"
stop_pid $REC_PID
$EVTOOL cat "$T/copy" | sort >"$T/copy.ev"
$EVTOOL cat "$T/central" | sort >"$T/central.ev"
cmp -s "$T/copy.ev" "$T/central.ev"
check $? "two durables: two complete copies (the same events)"
# No kill: the copy is in the stream's order, each site's events in its
# local order.
$EVTOOL cat --site siteA "$T/copy" >"$T/copyA"
$EVTOOL cat "$T/siteA" | cmp -s - "$T/copyA"
check $? "without kills, a site's events come in its local order"

# Poison: a message without the contract's headers is terminated and
# logged; the archiver goes on.
echo 'not an evtape message' | ndump --pub "$NATS_URL" xprotect.siteA.ev.x.y \
    >/dev/null
archiver p "$T/copy" d3
waitfor 1500 drained d3
checkl $? "a poison message does not stop the archiver" "$T/p.log"
stop_pid $REC_PID
grep -q "terminated" "$T/p.log"
checkl $? "it is terminated with a log line naming it" "$T/p.log"

# The real thing: two evsim sites, each recorded by an evrec --publish
# into one stream (subject prefixes xprotect.siteA and xprotect.siteB);
# the central archive against both local archives, event by event.
if [ -x "$EVSIM" ]; then
	umask 077
	echo "pw-$$" >"$T/pw"
	umask 022
	# A server of their own (the stream takes xprotect.>, as EVT does).
	NSRV=n2
	nats_start n2 || exit 1
	ndump --mkstream "$NATS_URL" EVP --subjects 'xprotect.>' >/dev/null
	for s in A B; do
		seed=3
		[ $s = B ] && seed=4
		start_sim sim$s --user u --password-file "$T/pw" --rate 0 \
		    --events 6000 --seed $seed --cameras 30
		start_rec pub$s --archive "$T/loc$s" --user u \
		    --password-file "$T/pw" --publish "$NATS_URL" \
		    --site site$s --subject-prefix xprotect.site$s --stream EVP \
		    "http://127.0.0.1:$SIM_PORT"
	done
	wait_events "$T/locA" 6000 && wait_events "$T/locB" 6000
	check $? "two evsim sites recorded by evrec --publish"
	# Published: each site's events are in the stream.
	published() {
		[ "$(ndump --subject "xprotect.site$1.ev.>" "$NATS_URL" EVP |
		    wc -l)" -ge "$(events_in "$T/loc$1")" ]
	}
	waitfor 3000 published A && waitfor 3000 published B
	check $? "both evrec --publish published every event"
	STREAM=EVP
	archiver pc "$T/pcentral" dp
	waitfor 1500 drained dp
	checkl $? "the archiver drained the stream of the two recorders" \
	    "$T/pc.log"
	stop_pid $REC_PID
	same_site siteA "$T/locA" "$T/pcentral" &&
	    same_site siteB "$T/locB" "$T/pcentral"
	check $? "evsim + evrec --publish: the central archive has each site's local archive, event by event (--site)"
	n=$($EVTOOL cat "$T/pcentral" | wc -l)
	check $((n != $(events_in "$T/locA") + $(events_in "$T/locB"))) \
	    "and nothing else: $n events"
	$EVTOOL cat --markers --site siteA "$T/pcentral" |
	    grep -q '"event":"new".*"site":"siteA"'
	check $? "site A's SESSION marker is in it, with its site"
	# The other commands select by site too (nats_sites.sh has the
	# rest): state, and a cut, of a site as of its own archive.
	for s in A B; do
		$EVTOOL state --site site$s "$T/pcentral" | sort >"$T/st.c"
		$EVTOOL state "$T/loc$s" | sort >"$T/st.l"
		[ -s "$T/st.l" ] && cmp -s "$T/st.c" "$T/st.l"
		check $? "evsim sites: state --site site$s: site $s's own table"
	done
	from=$($EVTOOL cat --tsv "$T/locB" | sed -n '100s/\t.*//p')
	to=$($EVTOOL cat --tsv "$T/locB" | sed -n '400s/\t.*//p')
	$EVTOOL cut --from "$from" --to "$to" --site siteB "$T/pcentral" \
	    "$T/pcut" 2>/dev/null &&
	    $EVTOOL cut --from "$from" --to "$to" "$T/locB" "$T/lcut" \
	    2>/dev/null && $EVTOOL cat "$T/lcut" >"$T/lcut.ev" &&
	    $EVTOOL cat --site siteB "$T/pcut" | cmp -s - "$T/lcut.ev" &&
	    $EVTOOL state "$T/pcut" | sort >"$T/st.c" &&
	    $EVTOOL state "$T/lcut" | sort | cmp -s - "$T/st.c"
	check $? "evsim sites: cut --site siteB: site B's own cut (events, state)"
else
	echo "ok $((tn + 1)) # skip evsim is not built"
	tn=$((tn + 1))
fi

# An archiver started before its stream exists waits for it (as a
# recorder waits for its gateway), then archives what comes.
NSRV=n3
nats_start n3 || exit 1
PORT=${NATS_URL##*:}
: >"$T/late.log"
start_rec late --archive "$T/late" --from-nats "$NATS_URL" --stream LATE \
    --durable dl --flush-interval 50ms
waitfor 1000 grep -q "stream LATE: not found; waiting" "$T/late.log"
checkl $? "an archiver started before its stream says it waits for it" \
    "$T/late.log"
t "the stream created after it" $FEED "$PORT" create LATE 'late.>'
$FEED "$PORT" tsv siteA late.siteA aaaaaaaa-0000-4000-8000-00000000000a \
    "$T/siteA.in" >"$T/feedL.out" 2>&1
check $? "site A published into it"
STREAM=LATE
waitfor 1500 drained dl
checkl $? "the waiting archiver drained it" "$T/late.log"
stop_pid $REC_PID
same_site siteA "$T/siteA" "$T/late"
check $? "and holds site A's local archive, event by event"

# Liberal acceptance (formats/nats.md, "Consuming"): another publisher's
# messages with some of the contract's headers, or none.  (On n3.)
STREAM=LIB
ndump --mkstream "$NATS_URL" LIB --subjects 'lib.>,acme.>' >/dev/null
# lpub SUBJECT [natsdump --pub options]: publishes stdin's lines.
lpub() {
	_s=$1
	shift
	ndump --pub "$NATS_URL" "$_s" "$@" >/dev/null
}
us() { $PYTHON -c 'import time; print(int(time.time() * 1e6))'; }
t0=$(us)
# No header at all: the kind and site (the prefix's last token, of a
# prefix of three tokens) from the subject, the receive time the stream's.
echo '{"id":"lib-1","source":"cameras/c1","type":"t1"}' |
    lpub lib.x.siteL.ev.cameras.t1
# A prefix of one token: a GAP of site acme.
echo '{"event":"gap","reason":"test"}' | lpub acme.mk.gap
# Evtape-Kind and Evtape-Site, an Evtape-Rx that does not parse.
echo '{"id":"lib-2","source":"cameras/c1","type":"t1"}' |
    lpub lib.siteL.ev.cameras.t1 --header Evtape-Kind:event \
    --header Evtape-Rx:soon --header 'Evtape-Site:Site L'
# An Evtape-Kind of no known kind: the subject's (config).
echo '{"event":"config","sources":[]}' | lpub lib.siteL.mk.config \
    --header Evtape-Kind:alarm --header Evtape-Rx:1767600000000000
# Two events without id, no Nats-Msg-Id: both archived.
printf '%s\n%s\n' '{"source":"cameras/c2","type":"t2"}' \
    '{"source":"cameras/c2","type":"t2"}' | lpub lib.siteL.ev.cameras.t2
# A RAW frame that is not JSON.
echo 'hello, raw' | lpub lib.siteL.mk.raw
# Poison: an event that is not an object, a marker body that is not JSON,
# a subject of neither form without Evtape-Kind.
echo '[1,2]' | lpub lib.siteL.ev.cameras.t1
echo 'not json' | lpub lib.siteL.mk.session
echo '{"id":"lib-3"}' | lpub lib.siteL.other
t1=$(us)
archiver lib "$T/lib" dlib
waitfor 1500 drained dlib
checkl $? "the archiver drained messages without the contract's headers" \
    "$T/lib.log"
stop_pid $REC_PID
checkl $RC "and stops cleanly" "$T/lib.log"
$EVTOOL cat "$T/lib" >"$T/lib.ev"
check $(($(wc -l <"$T/lib.ev") != 4)) "4 events archived (2 with ids, 2 without)"
check $(($(grep -c '"source":"cameras/c2"' "$T/lib.ev") != 2)) \
    "events without id (and without Nats-Msg-Id) are all archived"
$EVTOOL cat --site siteL "$T/lib" | grep -c '"id":"lib-1"' >"$T/l1"
check $(($(cat "$T/l1") != 1)) "no header: kind and site (siteL) from the subject"
$EVTOOL cat --site 'Site L' "$T/lib" | grep -c '"id":"lib-2"' >"$T/l2"
check $(($(cat "$T/l2") != 1)) "Evtape-Site given: that site"
rx1=$($EVTOOL cat --tsv "$T/lib" | grep '"lib-1"' | cut -f1)
check $((${rx1:-0} < t0 || ${rx1:-0} > t1)) \
    "no Evtape-Rx: the receive time is the stream's timestamp ($rx1 in [$t0, $t1])"
rx2=$($EVTOOL cat --tsv "$T/lib" | grep '"lib-2"' | cut -f1)
check $((${rx2:-0} < t0 || ${rx2:-0} > t1)) \
    "an Evtape-Rx that does not parse: the stream's timestamp"
$EVTOOL cat --markers --site acme "$T/lib" | grep -c "	GAP	" >"$T/lg"
check $(($(cat "$T/lg") != 1)) "a GAP on acme.mk.gap: site acme (a one-token prefix)"
$EVTOOL cat --markers "$T/lib" | grep -c "^1767600000000000	CONFIG	" >"$T/lc"
check $(($(cat "$T/lc") != 1)) "an unknown Evtape-Kind: the subject's kind (CONFIG), Evtape-Rx kept"
$EVTOOL cat --tsv "$T/lib" | grep -c "	hello, raw$" >"$T/lr"
check $(($(cat "$T/lr") != 1)) "a RAW frame that is not JSON is archived"
check $(($(grep -c "terminated (not archived" "$T/lib.log") != 3)) \
    "3 poison messages terminated (an event not an object, a marker not JSON, a subject of no form)"

# Markers after kill -9: SESSION, GAP, CONFIG, STATES and JSON frames
# (no event id to drop a redelivery by) archived once however often the
# archiver is killed between writing and acknowledging them.  Payloads
# with blanks and escapes: the archive normalises them.
STREAM=MK
ndump --mkstream "$NATS_URL" MK --subjects 'mk.>' >/dev/null
$PYTHON -c '
import sys
kinds = ["session", "gap", "config", "json", "states"]
u = "cccccccc-0000-4000-8000-00000000000c"
for i in range(12000):
    rx = 1767600000000000 + 1000 * i
    k = kinds[i % 5]
    body = {"session": "{\"event\":\"new\",\"gateway\":\"http://gw-c\",\"n\":%d}",
            "gap": "{ \"event\": \"gap\", \"n\": %d, \"s\": \"\\u00e9\" }",
            "config": "{\"event\":\"config\",\"n\":%d}",
            "json": "{\"commandId\":%d,\"status\":200}",
            "states": "{\"states\":[{\"n\":%d}]}"}[k] % i
    print("%d\t%s/1/%d\t%s\t%s" % (rx, u, 2 * i, k, body))
    print("%d\t%s/1/%d\tevent\t{\"id\":\"mk-%d\",\"source\":\"cameras/c\",\"type\":\"t\"}" % (rx, u, 2 * i + 1, i))
' >"$T/mk.in"
$FEED "$PORT" feed siteM mk.siteM "$T/mk.in" >"$T/feedM.out" 2>&1
check $? "12,000 markers and frames and 12,000 events published"
kill_loop 6 mk "$T/mk" dmk
check $? "six archivers killed with kill -9 while catching up"
checkl $DRAINED "the last archiver drained the stream" "$T/mklast.log"
# Each marker and frame once (the archiver's own "nats" site markers,
# one a run, aside).
{ $EVTOOL cat --markers "$T/mk" | grep -v '"event":"nats"'
  $EVTOOL cat --tsv "$T/mk" | grep -v '"events":\['; } >"$T/mk.out"
n=$(wc -l <"$T/mk.out")
d=$(sort "$T/mk.out" | uniq -d | wc -l)
check $((n != 12000 || d != 0)) \
    "after 6 kill -9: 12,000 markers and frames, $d duplicated (of $n)"
check "$(dup_ids "$T/mk")" "and no event duplicated"
check $(($($EVTOOL cat "$T/mk" | wc -l) != 12000)) "nor lost"

# Usage errors.
$EVREC --archive "$T/u" --from-nats "$NATS_URL" --stream EVT >/dev/null 2>&1
check $(($? != 2)) "--from-nats without --durable: status 2"
$EVREC --archive "$T/u" --durable x http://127.0.0.1:1 >/dev/null 2>&1
check $(($? != 2)) "--durable without --from-nats: status 2"
done_testing
