#!/bin/sh
# out_leftover.sh: what a killed `evtool cut` or `evtool merge` leaves
# beside OUT (its temporary directory, formats/archive.md "Cut archives")
# is removed by the next cut or merge in that directory, with a warning
# naming it; one still being built (a live cut) and a directory of the same
# shape that is not an archive are left alone.  Real kill -9 mid-way, of
# runs on an archive big enough (600,000 events) to be caught running.
. "$(dirname "$0")/lib.sh"
$EVGEN --seed 7 --events 600000 --rate 1000 >"$T/in.tsv"
$EVTOOL import "$T/a" "$T/in.tsv" 2>/dev/null
check $? "a 600,000-event archive"
FROM=$(head -n 1 "$T/in.tsv" | cut -f1)
TO=$(($(tail -n 1 "$T/in.tsv" | cut -f1) + 1))
mkdir "$T/o"

# running PATTERN: a temporary directory matching PATTERN (a glob under
# $T/o) in which the archive was opened (it has its LOCK).
running() {
	for _d in $T/o/$1; do [ -e "$_d/LOCK" ] && return 0; done
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

killed "$EVTOOL cut --from $FROM --to $TO $T/a $T/o/c" 'c.tmp-??????'
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
waitfor 3000 running 'live.tmp-??????'
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
killed "$EVTOOL cut --from $FROM --to $TO $T/a $T/o/c2" 'c2.tmp-??????'
check $? "another kill -9 while cutting ($LEFT)"
$EVTOOL merge "$T/o/m2" "$T/o/c" >/dev/null 2>"$T/m2.err"
check $? "a merge to another OUT in the same directory works"
grep -q "o/$LEFT: removed: the temporary directory" "$T/m2.err" &&
    [ ! -e "$T/o/$LEFT" ]
check $? "... and removed the killed cut's directory, saying so"
check $(ls -a "$T/o" | grep tmp | grep -vc notmine) "no other temporary directory left: $(ls -a "$T/o" | grep tmp | tr "\n" " ")"
done_testing
