#!/bin/sh
# merge.sh: evtool merge against a reference (mergeref.py, from
# formats/records.md, "Merged archives") on overlapping inputs (one input
# missing every 7th event, the other received 2 ms later: partial frames),
# disjoint and duplicated inputs; merge(A, A) == A, merge(M, A) == M,
# order of the inputs; the per-input report; verify, get and info of the
# result; an existing OUT refused; a missing and a damaged input: every
# readable event kept, what was skipped said with file and offset.
. "$(dirname "$0")/lib.sh"
REF="$PYTHON $HERE/mergeref.py"

make_archive "$T/all" 7 6000 200 300 >/dev/null
$REF variants "$T/all.in" "$T"
for v in a b d1 d2; do
	$EVTOOL import --segment-size 64k "$T/$v" "$T/$v.tsv" 2>/dev/null
done

# same_as_ref OUT IN...: OUT's frames are the reference merge of the INs.
same_as_ref() {
	_o=$1
	shift
	_refin=""
	for _i in "$@"; do
		$EVTOOL cat --tsv "$_i" >"$T/in.${_i##*/}" 2>/dev/null
		_refin="$_refin $T/in.${_i##*/}"
	done
	# shellcheck disable=SC2086
	$REF ref $_refin | grep -v '^#' >"$T/want" &&
	    $EVTOOL cat --tsv "$_o" >"$T/got.tsv" &&
	    $REF frames "$T/got.tsv" >"$T/got" &&
	    cmp "$T/want" "$T/got"
}

# figures OUT IN...: the reference's per-input figures, as merge prints them.
figures() {
	shift
	_refin=""
	for _i in "$@"; do
		$EVTOOL cat --tsv "$_i" >"$T/fin.${_i##*/}" 2>/dev/null
		_refin="$_refin $T/fin.${_i##*/}"
	done
	# shellcheck disable=SC2086
	$REF ref $_refin | sed -n 's/^# input \([0-9]*\): \([0-9]*\) events, \([0-9]*\) duplicates/\1 \2 \3/p'
}

# 1. Overlapping inputs.
t "merge a b" $EVTOOL merge "$T/ab" "$T/a" "$T/b"
$EVTOOL merge "$T/ab2" "$T/a" "$T/b" >"$T/ab.out" 2>&1
t "overlapping: the reference's frames (partial frames kept as their rest)" \
    same_as_ref "$T/ab" "$T/a" "$T/b"
n=0
figures x "$T/a" "$T/b" | while read -r i e d; do
	n=$((n + 1))
	p=$([ "$i" -eq 0 ] && echo "$T/a" || echo "$T/b")
	grep -qx "$p: $e events contributed, $d duplicates, 0 gaps closed, 0 gaps left" "$T/ab.out" || { echo "# want $p: $e, $d"; exit 1; }
done
check $? "per input: events contributed and duplicates as the reference"
nd=$(awk -F'[:,] *' '{s += $3} END {print s + 0}' "$T/ab.out")
check $([ "$nd" -gt 1000 ]; echo $?) "the inputs overlap ($nd duplicates)"
t "verify of the merge" $EVTOOL verify "$T/ab"
id=$($EVTOOL cat "$T/b" | tail -n 1 | sed 's/.*"id":"\([^"]*\)".*/\1/')
t "get by id through the merge's index" $EVTOOL get "$T/ab" "$id"
t "info names no gap" sh -c "$EVTOOL info '$T/ab' | grep -qx 'gaps: *0'"
t "the provenance marker names the inputs" sh -c \
    "$EVTOOL cat --markers '$T/ab' | head -n 1 | grep -q '\"event\":\"merged\".*\"archive\":\"$T/a\".*\"archive\":\"$T/b\"'"
# info says so: each input's path and archive UUID (the marker's), no
# gateway part for these imported inputs (no SESSION marker: "").
uuids=$($EVTOOL cat --markers "$T/ab" | head -n 1 | grep -o '"uuid":"[^"]*"' |
    cut -d'"' -f4 | tr '\n' ' ')
set -- $uuids
t "info names the merge's inputs ($*)" sh -c "$EVTOOL info '$T/ab' |
    grep -qx 'merged from: *$T/a (archive $1); $T/b (archive $2)'"
t "... an archive that is no merge names none" sh -c \
    "! $EVTOOL info '$T/a' | grep -q '^merged from'"

# 2. Order of the inputs.
t "merge b a" $EVTOOL merge "$T/ba" "$T/b" "$T/a"
$EVTOOL cat --tsv "$T/ab" >"$T/ab.tsv"
$EVTOOL cat --tsv "$T/ba" >"$T/ba.tsv"
t "merge(b, a) holds what merge(a, b) holds" cmp "$T/ab.tsv" "$T/ba.tsv"

# 3. Disjoint inputs.
t "merge d2 d1" $EVTOOL merge "$T/dd" "$T/d2" "$T/d1"
t "disjoint: the reference's frames" same_as_ref "$T/dd" "$T/d1" "$T/d2"
$EVTOOL cat "$T/all" >"$T/all.jsonl"
$EVTOOL cat "$T/dd" >"$T/dd.jsonl"
t "disjoint halves: the whole stream, in order" cmp "$T/all.jsonl" "$T/dd.jsonl"

# 4. Duplicated inputs, idempotence.
t "merge a a" $EVTOOL merge "$T/aa" "$T/a" "$T/a"
$EVTOOL cat --tsv "$T/a" >"$T/a.tsv2"
$EVTOOL cat --tsv "$T/aa" >"$T/aa.tsv"
t "merge(a, a) == a" cmp "$T/a.tsv2" "$T/aa.tsv"
t "merge(ab, a, b)" $EVTOOL merge "$T/aba" "$T/ab" "$T/a" "$T/b"
$EVTOOL cat --tsv "$T/aba" >"$T/aba.tsv"
t "merge(merge(a, b), a, b) == merge(a, b)" cmp "$T/ab.tsv" "$T/aba.tsv"

# 5. OUT.
mkdir "$T/empty"
t "an empty OUT directory is taken" $EVTOOL merge "$T/empty" "$T/d1"
$EVTOOL merge "$T/ab" "$T/a" >"$T/exists.out" 2>&1
check $([ $? -eq 2 ]; echo $?) "an existing archive as OUT: refused (status 2)"
t "and said" grep -q "exists and is not an empty directory" "$T/exists.out"
$EVTOOL cat --tsv "$T/ab" >"$T/ab.tsv3"
t "and left as it was" cmp "$T/ab.tsv" "$T/ab.tsv3"
t "no temporary directory left" sh -c "! ls -a '$T' | grep -q merge-"

# 6. Bad inputs.
$EVTOOL merge "$T/am" "$T/a" "$T/missing" >"$T/miss.out" 2>&1
check $([ $? -eq 1 ]; echo $?) "a missing input: status 1"
t "it is named" grep -q "$T/missing: no such archive" "$T/miss.out"
t "the other input whole" same_as_ref "$T/am" "$T/a"
$EVTOOL merge "$T/none" "$T/missing" "$T/missing2" >"$T/none.out" 2>&1
check $([ $? -eq 3 ]; echo $?) "no input readable: status 3"
t "nothing written" sh -c "! ls -a '$T' | grep -q -e merge- -e '^none\$'"
cp -r "$T/a" "$T/adam"
seg=$(ls "$T/adam"/seg-*.evt | head -n 2 | tail -n 1)
$PYTHON - "$seg" <<'EOF'
import sys
p = sys.argv[1]
with open(p, "r+b") as f:
    f.seek(0, 2)
    n = f.tell()
    f.seek(n // 3)
    f.write(b"\xa5" * 64)
EOF
$EVTOOL merge "$T/adb" "$T/adam" "$T/b" >"$T/dam.out" 2>&1
check $([ $? -eq 1 ]; echo $?) "a damaged input: status 1"
t "the damage is said with file and offset" grep -q "$seg: offset [0-9]" "$T/dam.out"
t "and how many events it cost" grep -q "$T/adam: .*events could not be read" "$T/dam.out"
t "every readable event kept" same_as_ref "$T/adb" "$T/adam" "$T/b"
t "verify of that merge" $EVTOOL verify "$T/adb"

# OUT given with trailing slashes names OUT (its temporary directory is
# built beside it, not inside it).
t "merge OUT/ (trailing slashes) exits 0" $EVTOOL merge "$T/slash//" "$T/b"
t "and writes OUT" $EVTOOL verify "$T/slash"
t "nothing left beside it" sh -c "! ls -a '$T' | grep -q merge-"

done_testing
