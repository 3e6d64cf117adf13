#!/bin/sh
# golden.sh: the v1 golden archives must decode to exactly the pinned
# outputs (tests/golden/).  The archives pin the v1 format: this script
# never writes them; it works on temporary copies where it must write.
#
#   v1-basic/    sealed archive made once by `evtool import --block-size 1k`
#                of v1-basic.tsv (generator messages plus a RAW line, a
#                getState response, extra keys, escapes, big numbers, ids
#                in other forms, whitespace, an unfinished frame)
#   v1-basic.expected.tsv    `evtool cat --tsv` output
#   v1-basic.expected.jsonl  `evtool cat` output
#     (both computed from v1-basic.tsv by the JSON tokenizer alone:
#     compact, escapes normalised, number texts kept; RAW lines verbatim)
#   v1-corrupt/  a copy of v1-basic with one payload byte of the block at
#                offset 3025 flipped
#   v1-corrupt.expected-verify.txt   `evtool verify` stderr (run from
#                tests/golden on "v1-corrupt")
#   v1-corrupt.expected-repaired.jsonl  `evtool cat` after `evtool repair`:
#                every event but the 26 of the damaged block
#   r14-basic/   the same lines in the layout of revision 1.4 (columnar
#                blocks, packed GUID columns), made once by `evtool import
#                --block-size 1k` of v1-basic.tsv; decodes to the same
#                v1-basic.expected.* outputs; with the id index run
#                idx-000000000001-000000000001.evi of version 1 (16-bit
#                slots, revision 1.3) written for it by evtape of
#                revision 1.4
#   r16-basic/   the same in the layout of revision 1.6 (blocks of
#                version 3: columnar form 2, records.md "Columnar form
#                2"), made once by `evtool import --block-size 1k` of
#                v1-basic.tsv, with the id index run evtape of revision
#                1.6 wrote for it
#
# POSIX sh; prints TAP.  Uses $BUILD/evtool (BUILD defaults to build).
. "$(dirname "$0")/lib.sh"
G=$(cd "$HERE/../golden" && pwd)

# same WANT GOT DESCRIPTION: files must be byte-identical.
same() {
	if cmp -s "$1" "$2"; then
		check 0 "$3"
	else
		check 1 "$3"
		diff "$1" "$2" 2>&1 | head -n 10 | cut -c1-200 | sed 's/^/#   /'
	fi
}

# in_order SUB ALL: every line of SUB occurs in ALL, in the same order.
in_order() {
	awk 'BEGIN { n = 0; i = 0; bad = 0 }
	    NR == FNR { all[n++] = $0; next }
	    { while (i < n && all[i] != $0) i++
	      if (i == n) { bad = 1; exit } i++ }
	    END { exit bad }' "$2" "$1"
}

# Fingerprint of the golden tree, to prove the tests leave it alone.
fingerprint() {
	(cd "$G" && find . -type f | LC_ALL=C sort | xargs cksum)
}

if [ ! -x "$EVTOOL" ]; then
	echo "not ok 1 - $EVTOOL not built"
	echo "1..1"
	exit 1
fi
before=$(fingerprint)
cd "$G" || exit 1

# 1. The golden archives decode to exactly the expected outputs; the
# revision 1.4 one to the same outputs as the v1 one.
# decodes ARCHIVE NAME: cat and cat --tsv of ARCHIVE are the pinned
# v1-basic outputs (stderr into $T/err).
decodes() {
	"$EVTOOL" cat --tsv "$1" >"$T/$2.tsv" 2>>"$T/err"
	check $? "cat --tsv $1 exits 0"
	same v1-basic.expected.tsv "$T/$2.tsv" "cat --tsv $1 is the pinned output"
	"$EVTOOL" cat "$1" >"$T/$2.jsonl" 2>>"$T/err"
	check $? "cat $1 exits 0"
	same v1-basic.expected.jsonl "$T/$2.jsonl" "cat $1 is the pinned output"
}
: >"$T/err"
decodes r14-basic r14
"$EVTOOL" verify r14-basic >"$T/out" 2>>"$T/err"
[ "$(cat "$T/out")" = "r14-basic: 1 segments ok" ]
check $? "verify r14-basic: 1 segment ok"
decodes r16-basic r16
"$EVTOOL" verify r16-basic >"$T/out" 2>>"$T/err"
[ "$(cat "$T/out")" = "r16-basic: 1 segments ok" ]
check $? "verify r16-basic: 1 segment ok"
decodes v1-basic basic
[ ! -s "$T/err" ]
check $? "cat prints no problems"
n_in=$(grep -c . v1-basic.tsv)
n_out=$(wc -l <v1-basic.expected.tsv)
[ "$n_in" -eq "$n_out" ]
check $? "one output frame per input line ($n_in)"

# Lookups by id, in the forms a user may type.
get_is() { # ID EXPECTED-LINE-PATTERN DESCRIPTION
	"$EVTOOL" get v1-basic "$1" >"$T/get" 2>/dev/null &&
	    grep -F -x -f "$T/get" v1-basic.expected.jsonl | grep -q -F "$2"
	check $? "$3"
}
get_is 33333333-4444-4555-8666-777777777777 \
    '"big":123456789012345678901234567890' "get: the big-numbers event"
get_is 33333333-4444-4555-8666-777777777777 \
    '"neg":-9223372036854775809,"inf":1e400,"p":0.1000000000000000055511151231257827,"nz":-0.0,"e":1E+2' \
    "get: number texts kept"
get_is 22222222-3333-4444-8555-666666666666 \
    '"source":"cameras/café \"main\" / gate"' "get: escapes normalised"
get_is AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE '"type":"upper id"' \
    "get: upper-case GUID id"
get_is aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee '"type":"upper id"' \
    "get: upper-case GUID id by its lower-case spelling"
get_is event-text-id '"type":"text id"' "get: text id"
"$EVTOOL" get v1-basic 00000000-0000-4000-8000-000000000000 >/dev/null 2>&1
[ $? -eq 1 ]
check $? "get of an absent id exits 1"

# 2. verify passes on the golden archive, fails on the corrupt copy.
"$EVTOOL" verify v1-basic >"$T/out" 2>"$T/err"
check $? "verify v1-basic exits 0"
[ "$(cat "$T/out")" = "v1-basic: 1 segments ok" ] && [ ! -s "$T/err" ]
check $? "verify v1-basic: 1 segment ok, nothing on stderr"
"$EVTOOL" verify v1-corrupt >"$T/out" 2>"$T/verify.err"
[ $? -eq 1 ]
check $? "verify v1-corrupt exits 1"
grep -q -x 'v1-corrupt: [0-9]* problems in 1 of 1 segments; 26 events could not be read (26 listed above)' "$T/out"
check $? "verify v1-corrupt: one summary line, with the events lost and listed"
[ "$(grep -c ': lost event ' "$T/out")" -eq 26 ]
check $? "verify v1-corrupt: the 26 lost events listed"
same v1-corrupt.expected-verify.txt "$T/verify.err" \
    "verify v1-corrupt: the pinned error lines"
grep -q -x 'evtool: v1-corrupt/seg-000000000001.evt: offset 3025: block payload checksum mismatch (26 events lost)' \
    "$T/verify.err"
check $? "verify names the damaged block's file and offset"
# The blocks after the damaged one are intact (repair reads every event
# of them through the index dictionary); reporting them as damaged sends
# an operator after the wrong data (regression: verify once did).
grep -v -e ': index ' -e ': trailer ' -e 'offset 3025: ' "$T/verify.err" \
    >"$T/other"
[ ! -s "$T/other" ]
check $? "verify reports damage only at the damaged block, not at intact blocks after it ($(wc -l <"$T/other") other lines)"

# The reader still gives every event of the undamaged blocks.
"$EVTOOL" cat v1-corrupt >"$T/c.jsonl" 2>"$T/err"
[ $? -eq 1 ] && grep -q 'offset 3025: ' "$T/err"
check $? "cat v1-corrupt exits 1 and names the damaged block"
same v1-corrupt.expected-repaired.jsonl "$T/c.jsonl" \
    "cat v1-corrupt prints every event of the undamaged blocks"

# 3. repair on a copy makes verify pass and keeps every event of the
# undamaged blocks.
cp -R v1-corrupt "$T/r"
"$EVTOOL" repair "$T/r" >"$T/out" 2>"$T/err"
check $? "repair exits 0"
grep -q -x "$T/r: 1 segments rewritten; 26 events could not be recovered (26 listed above)" "$T/out"
check $? "repair: one summary line, with the events lost and listed"
"$EVTOOL" verify "$T/r" >"$T/out" 2>"$T/err"
check $? "verify passes after repair"
"$EVTOOL" cat "$T/r" >"$T/rep.jsonl" 2>"$T/err"
check $? "cat after repair exits 0"
same v1-corrupt.expected-repaired.jsonl "$T/rep.jsonl" \
    "repair keeps every event of the undamaged blocks"
"$EVTOOL" cat --tsv "$T/r" >"$T/rep.tsv" 2>"$T/err"
in_order "$T/rep.tsv" v1-basic.expected.tsv
check $? "repaired frames are the original frames, in order"
"$EVTOOL" repair "$T/r" >"$T/out" 2>"$T/err"
[ $? -eq 0 ] && grep -q ': 0 segments rewritten$' "$T/out"
check $? "a second repair has nothing to do"

# The revision 1.4 archive answers every id as the v1 one does (the id
# filter, then the packed GUID column).
ok=1
n=0
for id in $(grep -o '"id":"[0-9a-fA-F-]*"' v1-basic.tsv | cut -d'"' -f4); do
	"$EVTOOL" get v1-basic "$id" >"$T/g1" 2>/dev/null
	s1=$?
	"$EVTOOL" get r14-basic "$id" >"$T/g2" 2>/dev/null
	[ $? -eq "$s1" ] && cmp -s "$T/g1" "$T/g2" || ok=0
	"$EVTOOL" get r16-basic "$id" >"$T/g2" 2>/dev/null
	[ $? -eq "$s1" ] && cmp -s "$T/g1" "$T/g2" || ok=0
	[ "$s1" -eq 0 ] && n=$((n + 1))
done
[ "$ok" -eq 1 ] && [ "$n" -gt 100 ]
check $? "get: r14-basic and r16-basic answer every id as v1-basic does ($n found)"

# Its version 1 run is read: verify checks its partition (a flipped slot
# byte is reported), and get answers through it as above.
cp -R r14-basic "$T/r14"
chmod -R u+w "$T/r14"
"$EVTOOL" verify "$T/r14" >/dev/null 2>"$T/err" && [ ! -s "$T/err" ]
check $? "verify: r14-basic's version 1 run checks"
printf '\377' | dd of="$T/r14/idx-000000000001-000000000001.evi" bs=1 \
    seek=660 conv=notrunc 2>/dev/null
! "$EVTOOL" verify "$T/r14" >/dev/null 2>"$T/err" &&
    grep -q 'offset 152: id index partition checksum' "$T/err"
check $? "... and a flipped slot byte of it is reported"

# 4. Nothing above wrote to the golden tree.
cd / || exit 1
[ "$(fingerprint)" = "$before" ]
check $? "golden files unchanged"

done_testing
