#!/bin/sh
# catalog.sh: the archive catalog (formats/catalog.md) never changes an
# answer.  On an archive of ~400 small segments every reading command
# (cat in its forms and time windows, get present and absent, state,
# stats, info, ls, verify, evplay to stdout) answers exactly as with
# EVTAPE_NO_CATALOG=1 (the directory listed): after the import (catalog
# current, checked by a reader of the spec written here in Python), after
# segments removed, added, replaced and moved by hand with rm, cp and mv
# (catalog stale), after a stray file, after a writer rewrote it, and
# after an import killed (kill -9, the test kill point) with the catalog
# half written (torn).  That readers do use it is shown where only the
# catalog can make a difference: a segment overwritten in place (against
# the format's rules; the directory's time unchanged) is not even opened
# by a time seek past it, and one added with the directory's time set
# back is not listed.
. "$(dirname "$0")/lib.sh"
EVPLAY=$BUILD/evplay
M=$T/m

many_segments "$M" 400
nm=$(ls "$M" | grep -c '^seg-')
[ "$nm" -ge 300 ] && [ -f "$M/CATALOG" ]
check $? "an archive of $nm segments with a CATALOG"

# catstate DIR: "current", "stale" (valid, not current), "invalid" or
# "absent", by formats/catalog.md alone (catstate.py).
catstate() { $PYTHON "$HERE/catstate.py" "$1"; }
state_is() { [ "$(catstate "$1")" = "$2" ]; }

# Inputs: times on segment edges, ids, a source.
# (The first events of the 100th and the 200th segment.)
set -- $($EVTOOL ls "$M" | awk 'NR == 101 || NR == 201 { print $6 }')
tb=$1 tc=$2
$EVTOOL cat "$M" >"$T/cat0"
id_of() { field "$T/cat0" "$1" id; }
n=$(wc -l <"$T/cat0") src=$(field "$T/cat0" 2 source)
[ -n "$tb" ] && [ -n "$tc" ] && [ -n "$src" ] && [ "$n" -gt 1000 ]
check $? "test inputs: times $tb, $tc; a source; $n events"
mid=$(id_of $((n / 2)))
last=$(id_of "$n")
first=$(id_of 1)

# answers TAG: every reading command's stdout, stderr and exit status,
# with and without the catalog, into $T/TAG.cat and $T/TAG.list.
answers() {
	for mode in cat list; do
		nc=$([ $mode = list ] && echo 1 || echo "")
		o=$T/$1.$mode
		: >"$o"
		while IFS='|' read -r prog args; do
			# shellcheck disable=SC2086
			EVTAPE_NO_CATALOG=$nc $prog $args >"$T/r1" 2>"$T/r2"
			echo "== $prog $args: exit $?" >>"$o"
			cat "$T/r1" "$T/r2" >>"$o"
		done <<EOF2
$EVTOOL|cat $M
$EVTOOL|cat --tsv $M
$EVTOOL|cat --markers $M
$EVTOOL|cat --from $tb --to $tc $M
$EVTOOL|cat --from $tc $M
$EVTOOL|cat --to $tb $M
$EVTOOL|cat --from $tb --source $src $M
$EVTOOL|get $M $first
$EVTOOL|get $M $mid
$EVTOOL|get $M $last
$EVTOOL|get $M 00000000-0000-4000-8000-000000000000
$EVTOOL|state --at $tc $M
$EVTOOL|stats $M
$EVTOOL|stats --from $tb --to $tc $M
$EVTOOL|info $M
$EVTOOL|ls $M
$EVTOOL|verify $M
$EVPLAY|--top-speed -q --from-id $mid $M
$EVPLAY|--top-speed -q --from $tb --to $tc $M
EOF2
	done
}
# same TAG DESCRIPTION: the answers with and without the catalog agree.
same() {
	answers "$1"
	cmp -s "$T/$1.cat" "$T/$1.list"
	_rc=$?
	check $_rc "$2: every reading command answers as without the catalog"
	[ $_rc -eq 0 ] || diff "$T/$1.list" "$T/$1.cat" | head -n 10 | sed 's/^/#   /'
}

state_is "$M" current
check $? "after the import the catalog is current (by the spec's rules)"
same fresh "fresh archive"
grep -q "^== .*verify.*: exit 0" "$T/fresh.cat" && ! grep -q "not a segment" "$T/fresh.cat"
check $? "fresh archive: verify clean, no stray warning"
cp "$T/fresh.cat" "$T/fresh.keep"

# By hand: a segment removed from the middle (a hole).
seg() { printf '%s/seg-%012d.evt' "$M" "$1"; }
lo=$(ls "$M" | grep '^seg-' | head -n 1 | sed 's/seg-0*//; s/\.evt//')
hi=$(ls "$M" | grep '^seg-' | tail -n 1 | sed 's/seg-0*//; s/\.evt//')
mv "$(seg $((lo + 150)))" "$T/aside.evt"
state_is "$M" stale
check $? "a segment moved away by hand: the catalog is stale"
same rm "a segment missing (hole)"
grep -q "missing" "$T/rm.cat"
check $? "the hole is reported with the catalog stale"
mv "$T/aside.evt" "$(seg $((lo + 150)))"
same back "moved back"
cmp -s "$T/back.cat" "$T/fresh.keep"
check $? "moved back: the answers of the fresh archive"

# Replaced: copied beside, renamed over (a new inode, the same bytes).
cp "$(seg $((lo + 20)))" "$M/.tmp-copy"
mv "$M/.tmp-copy" "$(seg $((lo + 20)))"
same replaced "a segment replaced by rename"
cmp -s "$T/replaced.cat" "$T/fresh.keep"
check $? "replaced: the answers of the fresh archive"

# Added: a copy of a segment under the next number; a stray file.
cp "$(seg $((lo + 3)))" "$(seg $((hi + 1)))"
echo junk >"$M/notes.txt"
same added "a segment copied under a new number, and a stray"
grep -q "notes.txt: not a segment file" "$T/added.cat"
check $? "the stray is warned about"

# A writer rewrites the catalog: not current beside a stray, then current.
$EVTOOL prune --max-bytes 1T "$M" >/dev/null 2>&1
state_is "$M" stale
check $? "rewritten by a writer beside a stray: not current"
rm "$M/notes.txt" "$(seg $((hi + 1)))"
$EVTOOL prune --max-bytes 1T "$M" >/dev/null 2>&1
state_is "$M" current
check $? "rewritten by a writer without it: current again"
same rewritten "rewritten"
cmp -s "$T/rewritten.cat" "$T/fresh.keep"
check $? "rewritten: the answers of the fresh archive"

# Readers use it: a segment overwritten in place (the directory's time
# unchanged, against archive.md) is not opened by a seek past it, but is
# without the catalog; a segment added with the directory's time set
# back is not listed.
cp "$(seg $((lo + 10)))" "$T/keep10.evt"
echo garbage >"$(seg $((lo + 10)))"
state_is "$M" current
check $? "overwritten in place: the catalog still passes for current"
$EVTOOL cat --from "$tc" "$M" >/dev/null 2>"$T/ip.cat"
EVTAPE_NO_CATALOG=1 $EVTOOL cat --from "$tc" "$M" >/dev/null 2>"$T/ip.list"
! grep -q "seg-$(printf %012d $((lo + 10)))" "$T/ip.cat" &&
    grep -q "seg-$(printf %012d $((lo + 10)))" "$T/ip.list"
check $? "a time seek skips it unopened by the catalog's time table; listed, it is opened and reported"
$EVTOOL verify "$M" >/dev/null 2>"$T/ip.verify"
rc=$?
[ $rc -eq 1 ] && grep -q "CATALOG: offset [0-9]*: catalog passes for current but" "$T/ip.verify"
check $? "verify says the current catalog no longer describes the overwritten segment (status $rc)"
cat "$T/keep10.evt" >"$(seg $((lo + 10)))"
mt=$($PYTHON -c 'import os, sys; print(os.stat(sys.argv[1]).st_mtime_ns)' "$M")
cp "$(seg $((lo + 3)))" "$(seg $((hi + 1)))"
$PYTHON -c 'import os, sys; os.utime(sys.argv[1], ns=(int(sys.argv[2]), int(sys.argv[2])))' "$M" "$mt"
$EVTOOL ls "$M" 2>/dev/null | grep -c "seg-" >"$T/nls.cat"
EVTAPE_NO_CATALOG=1 $EVTOOL ls "$M" 2>/dev/null | grep -c 'seg-' >"$T/nls.list"
[ "$(cat "$T/nls.cat")" -eq "$nm" ] && [ "$(cat "$T/nls.list")" -eq $((nm + 1)) ]
check $? "a segment added with the directory's time set back: not listed through the catalog, listed without"
rm "$(seg $((hi + 1)))"

# kill -9 while the catalog is half written: the import dies, readers
# answer as without it, the next writer makes it current.  (The second
# rewrite: the first, at the writer's open, writes the same bytes again.)
K=$T/k
half=$(($(wc -l <"$M.in") / 2))
head -n "$half" "$M.in" >"$T/k.in"
$EVTOOL import --segment-age 0.05 "$K" "$T/k.in" >/dev/null 2>&1
nk=$(ls "$K" | grep -c '^seg-')
tail -n +$((half + 1)) "$M.in" >"$T/k2.in"
EVTAPE_TEST_IDX_KILL=catalog:2 $EVTOOL import --segment-age 0.05 "$K" "$T/k2.in" >/dev/null 2>&1
rc=$?
check $([ $rc -eq 137 ] && echo 0 || echo 1) "import killed itself with the catalog half written (status $rc)"
st=$(catstate "$K")
[ "$st" = invalid ] || [ "$st" = stale ]
check $? "the torn catalog is not current ($st)"
M=$K
same torn "after the kill"
$EVTOOL import "$K" /dev/null >/dev/null 2>&1
state_is "$K" current
check $? "the next writer makes it current"
same torn2 "after the next writer"
[ "$(ls "$K" | grep -c '^seg-')" -gt "$nk" ]
check $? "the killed import had added segments"

# A damaged catalog: verify says what and where, and that it is ignored;
# repair rewrites it.
D=$T/dmg
cp -a "$K" "$D"
$EVTOOL import "$D" /dev/null >/dev/null 2>&1
state_is "$D" current
check $? "a copy made current by a writer"
printf '\125' | dd of="$D/CATALOG" bs=1 seek=100 conv=notrunc 2>/dev/null
$EVTOOL verify "$D" >"$T/dv.out" 2>"$T/dv.err"
rc=$?
[ $rc -eq 1 ] &&
    grep -q "CATALOG: offset 64: damaged catalog: body CRC mismatch (derived data, ignored" "$T/dv.err" &&
    grep -q "; 1 catalog problem" "$T/dv.out"
check $? "verify reports the damaged catalog, file and offset (status $rc)"
M=$D
same damaged "a damaged catalog"
$EVTOOL repair "$D" >/dev/null 2>&1
t "after repair verify is clean" $EVTOOL verify "$D"
state_is "$D" current
check $? "repair rewrote the catalog: current"
# Stale: a run file deleted by hand; reported, not counted.
rm "$D/$(ls "$D" | grep '^sum-' | head -n 1)"
$EVTOOL verify "$D" >"$T/dv.out" 2>"$T/dv.err"
rc=$?
[ $rc -eq 0 ] && grep -q "CATALOG: offset [0-9]*: stale catalog: 1 entries differ" "$T/dv.err"
check $? "a stale catalog: verify says so, ignored, status 0 ($rc)"

# evrec's retention (evt_archive_prune, at start and hourly) rewrites the
# catalog after deleting segments, not at the next seal: a recorder that
# cannot reach its gateway (nothing to record, so nothing seals) leaves
# it current.
R=$T/r
cp -a "$K" "$R"
$EVTOOL import "$R" /dev/null >/dev/null 2>&1
nr=$(ls "$R" | grep -c '^seg-')
echo pw >"$T/pw"
$BUILD/evrec --archive "$R" --user u --password-file "$T/pw" \
    --max-bytes $(($(du -sb "$R" | cut -f1) / 2)) http://127.0.0.1:1 \
    >"$T/rec.log" 2>&1 &
rp=$!
waitfor 1000 grep -q "retention: deleted" "$T/rec.log"
check $? "evrec's retention deleted segments"
state_is "$R" current
check $? "after evrec's retention the catalog is current"
kill $rp
wait $rp
[ "$(ls "$R" | grep -c '^seg-')" -lt "$nr" ]
check $? "fewer segments than the $nr before"
M=$R
same retention "after evrec's retention"

done_testing
