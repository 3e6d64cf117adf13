#!/bin/sh
# out_leftover.sh: what a killed `evtool cut` or `evtool merge` leaves
# beside OUT (its temporary directory, formats/archive.md "Cut archives")
# is removed by the next cut or merge in that directory, with a warning
# naming it; one still being built (a live cut), a directory of the same
# shape that is not an archive, and archives of such names that no dead
# builder marked (.evtape-building) are left alone.  Real kill -9 mid-way, of
# runs on an archive big enough (600,000 events) to be caught running.
. "$(dirname "$0")/lib.sh"
$EVGEN --seed 7 --events 600000 --rate 1000 >"$T/in.tsv"
$EVTOOL import "$T/a" "$T/in.tsv" 2>/dev/null
check $? "a 600,000-event archive"
FROM=$(head -n 1 "$T/in.tsv" | cut -f1)
TO=$(($(tail -n 1 "$T/in.tsv" | cut -f1) + 1))
mkdir "$T/o"

# running PATTERN: a temporary directory matching PATTERN (a glob under
# $T/o) in which the archive was opened (it has its LOCK) and that its
# builder marked (.evtape-building).
running() {
	for _d in $T/o/$1; do
		[ -e "$_d/LOCK" ] && [ -s "$_d/.evtape-building" ] && return 0
	done
	return 1
}
# killed CMD PATTERN: starts CMD, awaits its temporary directory, kill -9;
# leaves the directory's name in $LEFT.
killed() {
	$1 2>/dev/null &
	_p=$!
	waitfor 3000 running "$2"
	_w=$?
	kill -9 $_p 2>/dev/null
	wait $_p 2>/dev/null
	LEFT=$(cd "$T/o" && ls -d $2 2>/dev/null | head -n 1)
	[ $_w -eq 0 ] && [ -n "$LEFT" ] && [ -d "$T/o/$LEFT" ]
}

killed "$EVTOOL cut --from $FROM --to $TO $T/a $T/o/c" 'c.tmp-*-??????'
check $? "kill -9 while cutting leaves its temporary directory ($LEFT)"
$EVTOOL cut --from $FROM --to $((FROM + 1000000)) "$T/a" "$T/o/c" \
    >/dev/null 2>"$T/c.err"
check $? "the next cut to the same OUT works"
grep -q "o/$LEFT: removed: the temporary directory of a cut or merge that did not finish" "$T/c.err"
check $? "... warns naming the killed cut's directory"
check $([ ! -e "$T/o/$LEFT" ]; echo $?) "... which is gone"
$EVTOOL verify "$T/o/c" >/dev/null 2>&1
check $? "the new cut verifies"

killed "$EVTOOL merge $T/o/m $T/a $T/a" '.m.merge-*.tmp'
check $? "kill -9 while merging leaves its temporary directory ($LEFT)"
$EVTOOL merge "$T/o/m" "$T/o/c" >/dev/null 2>"$T/m.err"
check $? "the next merge to the same OUT works"
grep -q "o/$LEFT: removed: the temporary directory" "$T/m.err" &&
    [ ! -e "$T/o/$LEFT" ]
check $? "... and removed the killed merge's directory, saying so"

mkdir "$T/o/notmine.tmp-abcdef" "$T/o/.notmine.merge-1.tmp"
echo keep >"$T/o/notmine.tmp-abcdef/file"
# A live cut is not taken for a leftover by a cut to another OUT.
$EVTOOL cut --from $FROM --to $TO "$T/a" "$T/o/live" 2>"$T/live.err" &
LP=$!
waitfor 3000 running 'live.tmp-*-??????'
check $? "a cut is running"
$EVTOOL cut --from $FROM --to $((FROM + 1000000)) "$T/a" "$T/o/c3" \
    >/dev/null 2>"$T/c3.err"
check $? "another cut beside it works"
check $(grep -c "removed" "$T/c3.err") "... and removes nothing"
wait $LP
check $? "the live cut finished"
$EVTOOL verify "$T/o/live" >/dev/null 2>&1
check $? "... and verifies"
check $([ -f "$T/o/notmine.tmp-abcdef/file" ] &&
    [ -d "$T/o/.notmine.merge-1.tmp" ]; echo $?) \
    "directories of the same names without an archive are left alone"

# Any cut or merge in the directory: a killed cut, removed by a merge.
killed "$EVTOOL cut --from $FROM --to $TO $T/a $T/o/c2" 'c2.tmp-*-??????'
check $? "another kill -9 while cutting ($LEFT)"
$EVTOOL merge "$T/o/m2" "$T/o/c" >/dev/null 2>"$T/m2.err"
check $? "a merge to another OUT in the same directory works"
grep -q "o/$LEFT: removed: the temporary directory" "$T/m2.err" &&
    [ ! -e "$T/o/$LEFT" ]
check $? "... and removed the killed cut's directory, saying so"
# Only a builder's marked directory whose builder is gone is removed: an
# idle archive named like a leftover (no .evtape-building), one marked by
# a process that runs (this shell) or with a pid not its name's, is left
# alone; the same marked with its name's pid, of a process that ended,
# goes (formats/archive.md, "Cut archives", Leftovers).
head -n 200 "$T/in.tsv" >"$T/small.tsv"
sh -c 'exit 0' &
DEAD=$!
wait $DEAD
for d in "notmine.tmp-$DEAD-idle01" ".notmine.merge-$DEAD.tmp" \
    "notmine.tmp-$$-live01" "notmine.tmp-$DEAD-other1" "gone.tmp-$DEAD-dead01"; do
	$EVTOOL import "$T/o/$d" "$T/small.tsv" 2>/dev/null
done
echo $$ >"$T/o/notmine.tmp-$$-live01/.evtape-building"
echo $((DEAD + 1)) >"$T/o/notmine.tmp-$DEAD-other1/.evtape-building"
echo $DEAD >"$T/o/gone.tmp-$DEAD-dead01/.evtape-building"
$EVTOOL cut --from $FROM --to $((FROM + 1000000)) "$T/a" "$T/o/c4" \
    >/dev/null 2>"$T/c4.err"
check $? "a cut beside archives named like leftovers works"
check $(grep -c "removed" "$T/c4.err" | grep -qx 1; echo $?) \
    "... and removes one directory: $(grep removed "$T/c4.err" | sed 's,.*/,,')"
check $([ ! -e "$T/o/gone.tmp-$DEAD-dead01" ]; echo $?) \
    "... the one marked with its name's pid, of a process that ended"
check $(for d in "notmine.tmp-$DEAD-idle01" ".notmine.merge-$DEAD.tmp" \
    "notmine.tmp-$$-live01" "notmine.tmp-$DEAD-other1"; do
	$EVTOOL verify "$T/o/$d" >/dev/null 2>&1 || echo "$d"; done | wc -l) \
    "... not an idle archive without the mark, one whose pid runs, one marked with another pid"
check $(ls -a "$T/o/c4" | grep -c building) "the published cut holds no mark"
check $(ls -a "$T/o" | grep tmp | grep -vc notmine) "no other temporary directory left: $(ls -a "$T/o" | grep tmp | tr "\n" " ")"
done_testing
