#!/bin/sh
# nats_sites.sh: every evtool command that selects events selects by site
# in a central archive (evrec --from-nats; formats/records.md, "Central
# archives"): state, cut, report, get and cat/stats with --site give what
# the same command gives on that site's own local archive.  The two sites
# have copied configurations (the same cameras, the same source ids, their
# own events), which is what a state table must not mix.
. "$(dirname "$0")/lib.sh"
. "$HERE/natslib.sh"
need_nats
FEED="$PYTHON $HERE/natsfeed.py"

# Site A: evgen's seed 1 (a getState answer, then 20000 events of 40
# cameras); site B: the same cameras and stream, its first 12000 events
# under ids of its own (so their states end elsewhere).
make_archive "$T/siteA" 1 20000 2000 40
$PYTHON - "$T/siteA.in" "$T/siteB.in" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines(True)[:1 + 12000]
with open(sys.argv[2], "w") as f:
    for l in lines:
        f.write(re.sub(r'"id":"[0-9a-fA-F]{8}', '"id":"bbbbbbbb', l))
PY
$EVTOOL import "$T/siteB" "$T/siteB.in" 2>/dev/null
check $? "two sites' local archives (copied configurations)"

nats_start n1 || exit 1
PORT=${NATS_URL##*:}
$FEED "$PORT" create EVT 'xprotect.>' >/dev/null
nats_feed_sites "$PORT"
check $? "both sites published to one stream at once"
start_rec arc --archive "$T/central" --from-nats "$NATS_URL" --stream EVT \
    --durable d1 --flush-interval 50ms
total=$(($($EVTOOL cat "$T/siteA" | wc -l) + $($EVTOOL cat "$T/siteB" | wc -l)))
all_in() { [ "$($EVTOOL cat "$T/central" 2>/dev/null | wc -l)" -eq $total ]; }
waitfor 3000 all_in
checkl $? "evrec --from-nats archived both sites: $total events" "$T/arc.log"
stop_pid $REC_PID
C=$T/central

# same CMD...: the command's output on the central archive with --site
# siteB and on site B's local archive are the same (sorted lines: JSON
# lines of events or states).
same() {
	$EVTOOL "$@" --site siteB "$C" >"$T/got" 2>"$T/got.err" &&
	    $EVTOOL "$@" "$T/siteB" >"$T/want" 2>"$T/want.err" &&
	    sort -o "$T/got" "$T/got" && sort -o "$T/want" "$T/want" &&
	    [ -s "$T/want" ] && cmp -s "$T/got" "$T/want"
}

# state: the table of one site, never a mix.
same state
check $? "state --site siteB: site B's local table, state by state"
mid=$(sed -n 6000p "$T/siteB.in" | cut -f1)
same state --at "$mid"
check $? "state --at (mid-stream) --site siteB: the same"
$EVTOOL state --site siteA "$C" | sort >"$T/gotA"
$EVTOOL state "$T/siteA" | sort | cmp -s - "$T/gotA"
check $? "state --site siteA: site A's local table"
# (Without the checkpoint, which gives the table without reading.)
EVTAPE_NO_CHECKPOINT=1 $EVTOOL state "$C" >"$T/mixed" 2>"$T/mixed.err"
grep -q 'several sites ("site[AB]", "site[AB]")' "$T/mixed.err"
checkl $? "state without --site names the two sites it mixes (warning)" \
    "$T/mixed.err"
$EVTOOL state "$C" >"$T/mixed" 2>"$T/mixed.err"
grep -q 'warning: a central archive' "$T/mixed.err"
checkl $? "... and when its checkpoint spared it the reading: a central archive" \
    "$T/mixed.err"
$EVTOOL state "$T/siteB" 2>&1 >/dev/null | grep -q warning
check $((! $?)) "no such warning for a site's own archive"
$EVTOOL state --site 'site?' "$C" >"$T/glob" 2>"$T/glob.err"
check $(($? != 2)) "state --site 'site?' (two sites): usage error, status 2"
grep -q 'selects several sites' "$T/glob.err" && [ ! -s "$T/glob" ]
checkl $? "... saying so, printing nothing" "$T/glob.err"
$EVTOOL state --site 'siteB*' "$C" | sort >"$T/glob"
$EVTOOL state "$T/siteB" | sort | cmp -s - "$T/glob"
check $? "state --site 'siteB*' (a glob of one site) works"
$EVTOOL state --site nosuch "$C" >"$T/none" 2>"$T/none.err"
check $(($? != 1)) "state --site nosuch: status 1"
grep -q 'no record of a site matching --site nosuch (sites read: ' \
    "$T/none.err" && [ ! -s "$T/none" ]
checkl $? "... naming the sites there, printing nothing" "$T/none.err"
$EVTOOL cat --site nosuch "$C" >"$T/none" 2>"$T/none.err"
check $(($? != 1)) "cat --site nosuch: status 1, the same message"

# cut: a bundle of one site, still a readable central archive (its
# SESSION markers kept), with site B's events, states and markers.
from=$(sed -n 3000p "$T/siteB.in" | cut -f1)
to=$(sed -n 5000p "$T/siteB.in" | cut -f1)
$EVTOOL cut --from "$from" --to "$to" --site siteB "$C" "$T/cutB" 2>"$T/cut.err"
checkl $? "cut --site siteB" "$T/cut.err"
$EVTOOL cut --from "$from" --to "$to" "$T/siteB" "$T/cutBl" 2>/dev/null
$EVTOOL cat "$T/cutB" >"$T/got" && $EVTOOL cat "$T/cutBl" >"$T/want"
[ -s "$T/want" ] && cmp -s "$T/got" "$T/want"
check $? "its events are the cut of site B's local archive, event by event"
$EVTOOL state "$T/cutB" | sort >"$T/got" &&
    $EVTOOL state "$T/cutBl" | sort >"$T/want"
[ -s "$T/want" ] && cmp -s "$T/got" "$T/want"
check $? "its state snapshot and states are site B's"
$EVTOOL cat --site siteB "$T/cutB" >"$T/got"
$EVTOOL cat "$T/cutBl" | cmp -s - "$T/got"
check $? "the cut is a central archive still: cat --site siteB reads it all"
$EVTOOL cat --markers "$T/cutB" | head -n 1 | grep -q '"site":"siteB"'
check $? "its cut marker names the site"
$EVTOOL cut --from "$from" --to "$to" --site 'site?' "$C" "$T/cutAB" \
    2>"$T/cut.err"
check $(($? != 2)) "cut --site 'site?' (two sites): status 2"
grep -q "selects several sites" "$T/cut.err" && [ ! -e "$T/cutAB" ]
checkl $? "... saying so; no cut written" "$T/cut.err"
$EVTOOL cut --from "$from" --to "$to" --site nosuch "$C" "$T/cutN" \
    2>"$T/cut.err"
check $(($? != 3)) "cut --site nosuch: nothing to cut, status 3"
grep -q "no selected event of a site matching --site nosuch" "$T/cut.err" &&
    [ ! -e "$T/cutN" ]
checkl $? "... saying so" "$T/cut.err"

# report: one site's incident report, which names the site.
$EVTOOL report --from "$from" --to "$to" --site siteB -o "$T/rB.html" "$C" \
    2>"$T/rep.err"
checkl $? "report --site siteB" "$T/rep.err"
$EVTOOL report --from "$from" --to "$to" -o "$T/rBl.html" "$T/siteB" \
    2>/dev/null
grep -q '<tr><th>Site</th><td>siteB</td></tr>' "$T/rB.html"
check $? "the report names the site"
# (Everything but the archive's name and the site row the same.)
strip() { grep -v -e '<th>Site</th>' -e "$1" "$2"; }
strip "$C" "$T/rB.html" >"$T/got" && strip "$T/siteB" "$T/rBl.html" >"$T/want"
cmp -s "$T/got" "$T/want"
check $? "the report is site B's local archive's report"

# get: an id is unique; --meta says the site of the event found.
for s in A B; do
	id=$($EVTOOL cat "$T/site$s" | sed -n '5000s/.*"id":"\([^"]*\)".*/\1/p')
	$EVTOOL get --meta "$C" "$id" | grep -q "\"site\":\"site$s\",\"event\":{\"id\":\"$id\""
	check $? "get --meta: a site $s event found with \"site\":\"site$s\""
done
$EVTOOL get --meta "$T/siteB" "$id" | grep -q '"site":"","event"'
check $? "get --meta in an archive without SESSION markers: \"site\":\"\""
done_testing
