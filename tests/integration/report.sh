#!/bin/sh
# report.sh: `evtool report`, the HTML incident report, over an archive
# written here (test_report --write-archive: names with markup and quotes,
# an unnamed source, SESSION and GAP markers, a getState answer before the
# window, a hostile event id): byte-identical to the golden report
# (tests/golden/report-basic.html; set UPDATE_GOLDEN=1 to rewrite it after
# a deliberate change) and the same bytes twice; lanes, bars, ticks, gaps,
# rows, types and the --around event against reportref.py's reference
# computed from `cat --tsv` and `cat --markers` alone; --source, --lanes,
# --rows; nothing from the archive becomes markup; the errors (no event
# in the window, unknown --around id, bad --window); and the page loaded
# in headless Chromium: the DOM it builds holds the same lanes, bars and
# rows, no console message, a screenshot.
. "$(dirname "$0")/lib.sh"
REF="$PYTHON $HERE/reportref.py"
G=$(cd "$HERE/../golden" && pwd)
CHROMIUM=${CHROMIUM:-chromium}
T0=1767600000000000
FROM=$((T0 + 30000000))
TO=$((T0 + 150000000))

need_built test_report
"$BUILD/tests/test_report" --write-archive "$T/a"
check $? "the test archive is written"
$EVTOOL cat --tsv "$T/a" >"$T/a.tsv"
$EVTOOL cat --markers "$T/a" >"$T/a.markers"

# The golden report (run in $T: the archive's name is in the page).
(cd "$T" && $EVTOOL report --from $FROM --to $TO -o r.html a)
check $? "report --from --to exits 0"
[ -n "${UPDATE_GOLDEN:-}" ] && cp "$T/r.html" "$G/report-basic.html"
t "byte-identical to the golden report" cmp "$T/r.html" \
    "$G/report-basic.html"
(cd "$T" && $EVTOOL report --from 2026-01-05T08:00:30Z \
    --to 2026-01-05T08:02:30Z -o r2.html a)
t "the same bytes again (ISO times for the same window)" cmp "$T/r.html" \
    "$T/r2.html"
t "lanes, bars, ticks, gaps, rows, types as the archive says" \
    $REF "$T/a.tsv" "$T/a.markers" "$T/r.html" $FROM $TO
t "self-contained: nothing fetched, no script" sh -c "! grep -Eiq \
    '<script|src=|<link|@import|url\\(' '$T/r.html'"

# Names with markup are text, and shown.
t "a name with markup and quotes is shown as text" $PYTHON -c "
import html, sys
s = open('$T/r.html').read()
n = '<script>alert(\'x\')</script> \"Cam\" & Co'
sys.exit(not (html.escape(n) .replace('&#x27;', '&#39;') in s and n not in s))"
t "a hostile event id is an escaped anchor" grep -q \
    'id="ev-x&quot;&gt;&lt;script&gt;e77"' "$T/r.html"
t "an unnamed source shows its GUID" grep -q \
    '<td>aaaaaaaa-0000-0000-0000-000000000005</td>' "$T/r.html"

# --around an id: a window of --window around its receive time.
$EVTOOL report --around e200 --window 1m -o "$T/ar.html" "$T/a"
check $? "report --around ID --window 1m exits 0"
AT=$(grep '"id":"e200"' "$T/a.tsv" | cut -f1)
t "--around: its row and line marked, the window around it" \
    $REF "$T/a.tsv" "$T/a.markers" "$T/ar.html" $((AT - 30000000)) \
    $((AT + 30000000)) --around e200
$EVTOOL report --around $((T0 + 60000000)) -o "$T/at.html" "$T/a"
check $? "report --around TIME (default window 15m) exits 0"
t "--around TIME: 15 minutes around it" \
    $REF "$T/a.tsv" "$T/a.markers" "$T/at.html" $((T0 - 390000000)) \
    $((T0 + 510000000))

# A wide window: states flapping faster than a column are merged bars.
$EVTOOL report --from $T0 --to $((T0 + 3600000000)) -o "$T/w.html" "$T/a"
check $? "report over an hour exits 0"
t "an hour: merged bars, ticks, rows as the archive says" \
    $REF "$T/a.tsv" "$T/a.markers" "$T/w.html" $T0 $((T0 + 3600000000))
t "... with bars of merged intervals" grep -q 'intervals, changing faster' \
    "$T/w.html"

# The states at the window's start: from a look-back (1 h by default:
# the getState answer at T0 + 1 s is in it), 10 s, or all.
$EVTOOL report --from $FROM --to $TO --lookback 10s -o "$T/b.html" "$T/a"
t "--lookback 10s: the states from the last 10 s before the window" \
    $REF "$T/a.tsv" "$T/a.markers" "$T/b.html" $FROM $TO --lookback 10000000
$EVTOOL report --from $FROM --to $TO --lookback all -o "$T/b2.html" "$T/a"
t "--lookback all: from every frame before the window" \
    $REF "$T/a.tsv" "$T/a.markers" "$T/b2.html" $FROM $TO --lookback all

# The default look-back reaches back to the last getState answer in a
# sealed segment before the window (here 2 h before it, alone in its own
# segment, after an event 3 h before that): its state is drawn from the left edge, as --lookback all
# draws it; a plain 1 h look-back misses it.
S0=1767700000000000
G1=11111111-2222-4333-8444-555555555555
TY=66666666-7777-4888-8999-aaaaaaaaaaaa
CAM=cameras/0ea7dfb0-82b7-4f00-a000-000000000001
{
    printf '%s\t{"events":[{"id":"bbbbbbbb-0000-4000-8000-0000000000ff","source":"cameras/early","specversion":"1.0","time":"2026-01-06T08:00:00Z","type":"cccccccc-0000-4000-8000-000000000001"}]}\n' \
	$((S0 - 10800000000))
    printf '%s\t{"commandId":3,"status":200,"states":[{"id":"aaaaaaaa-0000-4000-8000-000000000001","source":"%s","specversion":"1.0","stategroupid":"%s","time":"2026-01-06T11:00:00Z","type":"%s"}]}\n' \
	$S0 $CAM $G1 $TY
    i=0
    while [ $i -lt 5 ]; do
	printf '%s\t{"events":[{"id":"bbbbbbbb-0000-4000-8000-00000000000%d","source":"%s","specversion":"1.0","time":"2026-01-06T13:00:0%dZ","type":"cccccccc-0000-4000-8000-000000000001"}]}\n' \
	    $((S0 + 7200000000 + i * 1000000)) $i $CAM $i
	i=$((i + 1))
    done
} >"$T/snap.tsv"
$EVTOOL import --segment-age 30m "$T/snap" "$T/snap.tsv" 2>"$T/snap.err"
check $? "an archive with a getState answer 2 h before its events"
SF=$((S0 + 7200000000)); ST=$((SF + 60000000))
$EVTOOL report --from $SF --to $ST -o "$T/sd.html" "$T/snap"
$EVTOOL report --from $SF --to $ST --lookback all -o "$T/sa.html" "$T/snap"
$EVTOOL report --from $SF --to $ST --lookback 1h -o "$T/s1.html" "$T/snap"
t "default look-back: the answer's state is drawn (a bar of $TY)" \
    grep -q "class=\"bar\".*$TY" "$T/sd.html"
t "... the same bars as --lookback all" sh -c "[ \"\$(grep -c 'class=\"bar\"' \
    '$T/sd.html')\" = \"\$(grep -c 'class=\"bar\"' '$T/sa.html')\" ]"
t "... and the facts say a getState answer is among them" \
    grep -q "a getState answer among them" "$T/sd.html"
t "--lookback 1h: no bar (the answer is 2 h back)" sh -c \
    "! grep -q 'class=\"bar\"' '$T/s1.html'"

# Selection and bounds.
$EVTOOL report --from $FROM --to $TO --lanes 2 --rows 10 -o "$T/l.html" \
    "$T/a"
t "--lanes 2 --rows 10: the two busiest, ten rows, the rest counted" \
    $REF "$T/a.tsv" "$T/a.markers" "$T/l.html" $FROM $TO --lanes 2 \
    --rows 10
$EVTOOL report --from $FROM --to $TO --source Garage -o "$T/s.html" "$T/a"
check $? "--source by name exits 0"
grep -v 'aaaaaaaa-0000-0000-0000-000000000003' "$T/a.tsv" | \
    grep -v '^[0-9]*	{"events"' >"$T/other.tsv"
grep 'aaaaaaaa-0000-0000-0000-000000000003' "$T/a.tsv" >>"$T/other.tsv"
sort -n -s -k1,1 "$T/other.tsv" >"$T/g.tsv"
t "--source Garage: its lane and events only" \
    $REF "$T/g.tsv" "$T/a.markers" "$T/s.html" $FROM $TO

# Errors: said clearly, nothing written.
err() { # err DESCRIPTION PATTERN ARGS...
	d=$1 p=$2
	shift 2
	rm -f "$T/e.html"
	$EVTOOL report "$@" -o "$T/e.html" "$T/a" 2>"$T/e.err"
	rc=$?
	check $((rc == 0 || $(grep -c -e "$p" "$T/e.err") == 0)) \
	    "$d (exit $rc: $(head -n 1 "$T/e.err"))"
	t "... and writes no file" test ! -e "$T/e.html"
}
err "no event in the window" "no event received between 2026-01-06" \
    --from 2026-01-06 --to 2026-01-07
err "an unknown --around id" "no event with id nosuch" --around nosuch
err "a bad --window" "window" --around e200 --window 5parsecs
err "a window of 0" "window" --around e200 --window 0
err "a look-back of 0" "lookback" --around e200 --lookback 0
err "--around with --from" "not both" --around e200 --from $FROM
err "--from without --to" "--to" --from $FROM
err "an unknown source name" "Nowhere" --from $FROM --to $TO \
    --source Nowhere
$EVTOOL report --from $FROM --to $TO "$T/a" 2>"$T/e.err"
check $(($? == 0)) "no -o: a usage error ($(cat "$T/e.err"))"

# In a real browser.
if ! command -v "$CHROMIUM" >/dev/null 2>&1; then
	check 1 "chromium is installed (Debian package chromium, installed by tools/deps.sh as root): '$CHROMIUM' not found"
	done_testing
	exit 1
fi
chrome() { # chrome ARGS...: headless Chromium on the report
	timeout 120 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu \
	    --no-first-run --user-data-dir="$T/chrome" --enable-logging=stderr \
	    --hide-scrollbars --window-size=1280,1500 "$@" "file://$T/r.html"
}
chrome --dump-dom >"$T/dom.html" 2>"$T/chrome.err"
check $? "chromium loads the report"
t "the DOM Chromium built holds the lanes, bars, ticks and rows" \
    $REF "$T/a.tsv" "$T/a.markers" "$T/dom.html" $FROM $TO
t "no console message" sh -c "! grep -i 'console' '$T/chrome.err'"
chrome --screenshot="$T/report.png" >/dev/null 2>&1
t "a screenshot is taken" test -s "$T/report.png"
done_testing
