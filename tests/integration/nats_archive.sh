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
$FEED "$PORT" tsv siteA xprotect.siteA aaaaaaaa-0000-4000-8000-00000000000a \
    "$T/siteA.in" >"$T/feedA.out" 2>&1 &
fa=$!
$FEED "$PORT" tsv siteB xprotect.siteB bbbbbbbb-0000-4000-8000-00000000000b \
    "$T/siteB.in" >"$T/feedB.out" 2>&1 &
fb=$!
wait $fa
ra=$?
wait $fb
check $((ra + $?)) "both sites published (JetStream acknowledged every message)"
total=$(( $($EVTOOL cat "$T/siteA" | wc -l) + $($EVTOOL cat "$T/siteB" | wc -l) ))
# (Each site's events and its getState answer.)
check $(($(nats_info EVT messages) != total + 2)) "the stream holds them all"

# The kill -9 loop: 5 kills at random moments while it catches up.
kills=0
for i in 1 2 3 4 5; do
	archiver k$i "$T/central" d1 || { show "$T/k$i.log"; break; }
	sleep "0.0$($PYTHON -c 'import random; print(random.randint(10, 99))')"
	kill -9 $REC_PID
	wait $REC_PID 2>/dev/null
	kills=$((kills + 1))
done
check $((kills != 5)) "five archivers killed with kill -9 while catching up"
archiver last "$T/central" d1
waitfor 1500 drained d1
checkl $? "the last archiver took everything: no message pending or unacknowledged" "$T/last.log"
stop_pid $REC_PID
checkl $RC "it stops cleanly (status 0)" "$T/last.log"
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

# Usage errors.
$EVREC --archive "$T/u" --from-nats "$NATS_URL" --stream EVT >/dev/null 2>&1
check $(($? != 2)) "--from-nats without --durable: status 2"
$EVREC --archive "$T/u" --durable x http://127.0.0.1:1 >/dev/null 2>&1
check $(($? != 2)) "--durable without --from-nats: status 2"
done_testing
