#!/bin/sh
# summary.sh: segment summaries (formats/segment.md, "Summary").  `evtool
# stats` and `info` answer sealed segments from their summaries and
# indexes; every answer must equal, byte for byte, the one `--scan` gives
# by reading every event:
#   - an archive of hundreds of small segments (import --segment-age),
#     with odd events (raw frame, getState answer, items without source or
#     type, a source too long to intern, escapes, an ITEM);
#   - --from/--to at and off bucket and segment edges, --bucket, --source,
#     --top, text and JSON;
#   - that the summaries are what answers (a damaged block that only a
#     read of the events sees), and that --source skips segments;
#   - an archive mixing sealed segments with summaries, segments of an
#     older writer (the golden v1-basic, `import --layout 1.1`), a segment
#     whose index is damaged and an unsealed newest one;
#   - repair: the rewritten segment's summary equals its events;
#   - evrec recording evsim (markers, CONFIG names, state snapshots) with
#     small segments, compacted as a slow recorder's are, killed with
#     kill -9 twice and restarted: every sealed segment's summary equals a
#     scan of that segment alone.
# POSIX sh; prints TAP.  Real binaries, files and processes.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
G=$(cd "$HERE/../golden" && pwd)

same() { same_scan "$@"; }

# The odd lines of evtool_stats.sh, in the middle of evgen's traffic.
$EVGEN --seed 11 --events 40000 --rate 800 --cameras 300 >"$T/ev.tsv"
{
	head -n 3000 "$T/ev.tsv"
	odd_frames 1767600010000000
	tail -n +3001 "$T/ev.tsv"
} >"$T/in.tsv"
$EVTOOL import --segment-age 100ms --block-size 4k "$T/a" "$T/in.tsv" \
    2>/dev/null
nseg=$(ls "$T/a" | grep -c '^seg-')
t "import --segment-age 100ms: hundreds of segments ($nseg)" \
    [ "$nseg" -ge 300 ]

# Whole archive and ranges; times at a bucket edge, off one, at a segment
# edge (the first receive time of a segment) and inside nothing.
s1=$(cut -f2 "$T/ev.tsv" | grep -o '"source":"cameras/[^"]*"' | sed -n 7p |
    cut -d'"' -f4)
g1=$(echo "${s1#cameras/}" | tr a-f A-F)
edge=$($EVTOOL ls "$T/a" | awk 'NR == 101 {print $6}')
for args in "" "--json" "--top 0" "--top 100000 --json" "--bucket 1s" \
    "--bucket 7s --json" "--bucket 1m" \
    "--from 2026-01-05T08:00:10Z --to 2026-01-05T08:00:40Z" \
    "--from 1767600010000000 --to 1767600030000000 --json --bucket 1s" \
    "--from 1767600010500001 --to 1767600031999999 --json" \
    "--from $edge --json" "--to $edge" "--from 1767700000000000 --json" \
    "--source $s1" "--source $g1 --json --bucket 10s" \
    "--source cameras/nothing-like-it --json" \
    "--source cameras/big --source $s1 --from 1767600005000000 --json"; do
	t "stats $args: the same as --scan" same stats $args "$T/a"
done
t "info: the same as --scan" same info "$T/a"

# The summaries answer: a byte of a block of a sealed segment flipped is
# seen by --scan only.  And --source passes over a segment whose summary
# lacks the source: its damage is not read either.
# (The report without its first member, the archive's name.)
report() {
	$EVTOOL stats --json "$@" 2>/dev/null | sed 's/^{"archive":"[^"]*"//'
}
report "$T/a" >"$T/a.json"
cp -r "$T/a" "$T/d"
seg=$(ls "$T/d"/seg-*.evt | sed -n 50p)
printf '\377' | dd of="$seg" bs=1 seek=200 conv=notrunc 2>/dev/null
$EVTOOL stats "$T/d" >/dev/null 2>&1
check $? "a damaged block in a sealed segment: stats from summaries exits 0"
report "$T/d" >"$T/d.json"
t "... counting what the summary counted: the intact archive's report" \
    cmp "$T/d.json" "$T/a.json"
$EVTOOL stats --scan --json "$T/d" >/dev/null 2>&1
check $([ $? -eq 1 ]; echo $?) "... while --scan reads the block: exit 1"
$EVTOOL stats --scan --source cameras/nothing-like-it "$T/d" >/dev/null 2>&1
check $([ $? -eq 1 ]; echo $?) "--scan --source: reads every segment"
$EVTOOL stats --source cameras/nothing-like-it "$T/d" >/dev/null 2>&1
check $? "--source without --scan: segments without it are not read"

# Repair rewrites the damaged segment; its new summary answers again.
$EVTOOL repair "$T/d" >/dev/null 2>&1
t "repair: stats the same as --scan" same stats --json "$T/d"
$EVTOOL stats --json "$T/d" >/dev/null 2>"$T/rep.err"
check $? "... and exit 0: the rewritten segment is read from its summary"

# A mixed archive: the golden v1-basic (revision 1.0, no summary), small
# segments with summaries, a revision 1.1 layout (no summary), a segment
# whose index is damaged, and an unsealed newest segment.
cp -r "$G/v1-basic" "$T/m"
chmod -R u+w "$T/m"
head -n 20000 "$T/in.tsv" | $EVTOOL import --segment-size 64k "$T/m" \
    2>/dev/null
tail -n +20001 "$T/in.tsv" | head -n 5000 |
    $EVTOOL import --layout 1.1 --segment-size 64k "$T/m" 2>/dev/null
tail -n +25001 "$T/in.tsv" | $EVTOOL import --segment-size 64k "$T/m" \
    2>/dev/null
bad=$(ls "$T/m"/seg-*.evt | sed -n 5p)
size=$(stat -c %s "$bad")
# A byte of the metadata frame, 40 before its end: the trailer's filt_off
# (formats/segment.md, "Trailer"; the segment may have no filter).
filt_off=$(od -A n -t u8 -j $((size - 128 + 40)) -N 8 "$bad" | tr -d ' ')
printf '\377' | dd of="$bad" bs=1 seek=$((filt_off - 40)) \
    conv=notrunc 2>/dev/null
last=$(ls "$T/m"/seg-*.evt | tail -n 1)
size=$(stat -c %s "$last")
head -c $((size - 128)) "$last" >"$T/cut" && cat "$T/cut" >"$last"
for args in "" "--json --top 50" "--bucket 1s --json" \
    "--from 1767600005000000 --to 1767600020000000" "--source $g1 --json"; do
	t "mixed archive: stats $args the same as --scan" same stats $args \
	    "$T/m"
done
t "mixed archive: info the same as --scan" same info "$T/m"
$EVTOOL info "$T/m" >"$T/m.info" 2>"$T/m.err"
t "... which counts the unsealed segment and the damaged index" sh -c "
grep -q 'unreadable (' '$T/m.err' && grep -q ' open, ' '$T/m.info' &&
! grep -q ' 0 open, ' '$T/m.info'"

# evrec recording evsim: sessions, CONFIG names, state snapshots every
# second, 4 s segments written in 1 s blocks (so compacted after sealing),
# killed with kill -9 twice and restarted.
if [ ! -x "$EVSIM" ]; then
	echo "ok $((tn + 1)) # skip evsim is not built"
	tn=$((tn + 1))
	done_testing
	exit
fi
umask 077
echo "pw-$$" >"$T/pw"
umask 022
start_sim sim --user rec --password-file "$T/pw" --rate 200 --events 3000 \
    --seed 4 --cameras 40
rec() {
	start_rec rec --archive "$T/r" --user rec --password-file "$T/pw" \
	    --segment-age 4s --state-interval 1s "http://127.0.0.1:$SIM_PORT"
}
rec
wait_events "$T/r" 600
kill -9 $REC_PID
wait $REC_PID 2>/dev/null
rec
wait_events "$T/r" 1400
kill -9 $REC_PID
wait $REC_PID 2>/dev/null
rec
wait_events "$T/r" 3000
checkl $? "evrec recorded evsim's 3000 events through two kill -9" \
    "$T/rec.log"
stop_pid $REC_PID
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null
$EVTOOL ls "$T/r" >"$T/r.ls"
t "a sealed segment was compacted (one block, hundreds of events)" \
    awk '$2 == "sealed" && $5 == 1 && $4 >= 300 {f = 1} END {exit !f}' \
    "$T/r.ls"
n=0
bad=0
for f in "$T/r"/seg-*.evt; do
	rm -rf "$T/one"
	mkdir "$T/one"
	cp "$f" "$T/one/"
	n=$((n + 1))
	same stats --json --top 100 --bucket 1s "$T/one" >/dev/null &&
	    same info "$T/one" >/dev/null || bad=$((bad + 1))
done
check $bad "each of the $n recorded segments: summary equals its events"
t "the recording: stats (names from CONFIG) the same as --scan" \
    same stats --json --top 100 "$T/r"
cfg=$($EVTOOL cat --markers "$T/r" | awk -F'\t' '$2 == "CONFIG" {print $1}' |
    tail -n 1)
t "... --from after the last CONFIG marker the same as --scan" \
    same stats --from $((cfg + 1)) "$T/r"
t "... info the same as --scan" same info "$T/r"
t "... its state snapshots and sessions counted" sh -c "
$EVTOOL stats '$T/r' | grep -q '^sessions: *[3-9]' &&
$EVTOOL stats '$T/r' | grep -q '^state snapshots: *[1-9]'"
done_testing
