#!/bin/sh
# golden_writer.sh: the writer's output is pinned byte for byte.  golden.sh
# pins what v1 archives decode to; this script pins what evtape writes,
# so that a change meant to leave the bytes alone (a refactor of the
# layout code, say) proves it did.  The pinned segments (tests/golden/):
#
#   v1-basic.import-4k-1.6.evt   seg-000000000002.evt written by
#       `evtool import --layout 1.6 --block-size 4k --dict-unit 4k` of v1-basic.tsv
#       into a copy of v1-basic/ (whose segment gives the archive uuid):
#       three columnar blocks of version 3 (revision 1.6: columnar form
#       2, packed GUID columns), each starting a dictionary unit, check
#       lists, no id filter (formats/segment.md, "No filter": the
#       archive's id index finds the ids)
#   v1-basic.import-4k.evt   the same with `--layout 1.5
#       --segment-filter`: columnar blocks of version 2 (revision 1.4
#       and 1.5: columnar form 1), with an id filter
#   v1-basic.import-4k-nofilter.evt  the same with `--layout 1.5`
#       alone
#   v1-basic.import-4k-1.2.evt  the same with `--layout 1.2` (block
#       version 1: the records as MessagePack, 16-byte GUIDs)
#   v1-basic.import-1.1.evt  the same with `--layout 1.1` (one block, no
#       check lists, one dictionary unit)
#   v1-corrupt.repaired.evt  the segment `evtool repair` writes for a copy
#       of v1-corrupt/ (the segment rewrite; without a filter; block
#       version 3 since revision 1.6)
#
# Nothing in them depends on the clock: the creation time is the first
# frame's receive time, the filter seeds are fixed.  They do depend on
# libzstd's output at level 6 (EVT_LEVEL_DEFAULT: import and repair; 3
# for --layout 1.1 and 1.2), which a new zstd release may change: if
# only the zstd frames differ (and golden.sh passes), write the files
# again with the commands above and say so in the commit.
#
# POSIX sh; prints TAP.  Uses $BUILD/evtool (BUILD defaults to build).
. "$(dirname "$0")/lib.sh"
G=$(cd "$HERE/../golden" && pwd)

if [ ! -x "$EVTOOL" ]; then
	echo "not ok 1 - $EVTOOL not built"
	echo "1..1"
	exit 1
fi

# same_bytes WANT GOT DESCRIPTION: the files must be identical; on a
# difference, say where the first one is.
same_bytes() {
	if cmp "$1" "$2" >"$T/cmp" 2>&1; then
		check 0 "$3"
	else
		check 1 "$3"
		sed 's/^/#   /' "$T/cmp"
	fi
}

# imported NAME OPTIONS...: imports v1-basic.tsv with OPTIONS into a copy
# of v1-basic/ and compares the new segment with v1-basic.import-NAME.evt.
imported() {
	_n=$1
	shift
	mkdir "$T/$_n" && cp "$G/v1-basic/seg-000000000001.evt" "$T/$_n/"
	"$EVTOOL" import "$@" "$T/$_n" "$G/v1-basic.tsv" 2>"$T/$_n.err"
	check $? "import $* exits 0"
	same_bytes "$G/v1-basic.import-$_n.evt" "$T/$_n/seg-000000000002.evt" \
	    "import $*: the segment written is the pinned one"
}

imported 4k-1.6 --layout 1.6 --block-size 4k --dict-unit 4k
imported 4k --layout 1.5 --segment-filter --block-size 4k --dict-unit 4k
imported 4k-nofilter --layout 1.5 --block-size 4k --dict-unit 4k
imported 4k-1.2 --layout 1.2 --block-size 4k --dict-unit 4k
imported 1.1 --layout 1.1

cp -R "$G/v1-corrupt" "$T/r"
"$EVTOOL" repair "$T/r" >"$T/out" 2>"$T/err"
check $? "repair of v1-corrupt exits 0"
same_bytes "$G/v1-corrupt.repaired.evt" "$T/r/seg-000000000001.evt" \
    "repair of v1-corrupt: the segment written is the pinned one"

# The pins themselves are what they claim: sealed, verified segments.
for f in v1-basic.import-4k-1.6.evt:2 \
    v1-basic.import-4k.evt:2 v1-basic.import-4k-nofilter.evt:2 \
    v1-basic.import-4k-1.2.evt:2 \
    v1-basic.import-1.1.evt:2 \
    v1-corrupt.repaired.evt:1; do
	seq=${f#*:}
	f=${f%:*}
	mkdir "$T/v.$f" && cp "$G/$f" "$T/v.$f/seg-00000000000$seq.evt"
	"$EVTOOL" verify "$T/v.$f" >/dev/null 2>"$T/err" && [ ! -s "$T/err" ]
	check $? "$f verifies"
done

done_testing
