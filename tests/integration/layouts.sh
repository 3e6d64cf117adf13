#!/bin/sh
# layouts.sh: the block layouts of revision 1.2 (block version 1, written
# by `evtool import --layout 1.2`), 1.4 and 1.5 (columnar blocks, packed
# GUID columns: block version 2, `--layout 1.5`) and 1.6 (columnar form 2:
# block version 3, the default) read side by side (formats/records.md,
# "Columnar blocks", "Columnar form 2"):
#   1. the same evgen lines in each layout: `cat` and `cat --tsv` give
#      the same bytes, which are the input lines for every frame that had
#      nothing to normalise; verify passes; each newer layout is smaller;
#   2. an archive of old-layout segments followed by new-layout ones;
#   3. a new writer resuming an old-layout unsealed segment (cut after a
#      crash), of version 1 and of version 2: it appends blocks of
#      version 3 to it; everything reads back, and once sealed too;
#   4. dictionary units: 8 MiB by default, 4 MiB with --layout 1.5.
# POSIX sh; prints TAP.  Uses $BUILD/evtool and $BUILD/evgen.
. "$(dirname "$0")/lib.sh"

# blocks FILE...: one line per block of the segments, walking block
# headers from offset 64 (formats/segment.md): "version flags bytes",
# bytes its decompressed size plus 16 per GUID (about what a writer
# counts for its dictionary unit: its records before the columnar form).
blocks() {
	$PYTHON - "$@" <<'PY'
import struct, sys
for p in sys.argv[1:]:
    d = open(p, "rb").read()
    end = len(d)
    if d[-128:-120] == b"\x89EVTIDX\n":
        end = struct.unpack_from("<Q", d, len(d) - 128 + 16)[0]
    off = 64
    while off + 64 <= end and d[off:off + 4] == b"\x9eEBK":
        zlen, raw, nguid = struct.unpack_from("<3I", d, off + 8)
        flags = struct.unpack_from("<I", d, off + 36)[0]
        print(d[off + 6], flags, raw + 16 * nguid)
        packed = d[off + 6] in (2, 3) and flags & 0x10
        off += 64 + zlen + ((122 * nguid + 7) // 8 if packed else 16 * nguid)
PY
}
# versions FILE...: the block versions of segments, one line per block.
versions() { blocks "$@" | cut -d' ' -f1; }
# units FILE: the number of blocks flagged UNIT (0x8) and the MiB of
# block bytes (blocks()) of a segment.
units() {
	blocks "$1" | awk 'int($2 / 8) % 2 == 1 { n++ } { b += $3 }
	    END { print n + 0, int(b / 1048576) }'
}

# reads_as DIR WANT.tsv DESCRIPTION: cat --tsv of DIR is WANT, with no
# complaint, and verify passes.
reads_as() {
	"$EVTOOL" cat --tsv "$1" >"$T/got.tsv" 2>"$T/err"
	[ $? -eq 0 ] && [ ! -s "$T/err" ] && cmp -s "$2" "$T/got.tsv"
	check $? "$3: cat --tsv reads every frame back"
	"$EVTOOL" verify "$1" >/dev/null 2>&1
	check $? "$3: verify passes"
}

$EVGEN --seed 12 --events 30000 >"$T/in.tsv"
n=$(wc -l <"$T/in.tsv")

# 1. One stream, both layouts.
"$EVTOOL" import --layout 1.2 "$T/old" "$T/in.tsv" 2>/dev/null
check $? "import --layout 1.2"
"$EVTOOL" import --layout 1.5 "$T/mid" "$T/in.tsv" 2>/dev/null
check $? "import --layout 1.5"
# (--layout 1.6: the blocks of today's writer without the state
# checkpoint of revision 1.7, an index key whose size follows the
# sources, not the blocks: ckpt.sh tests it.)
"$EVTOOL" import --layout 1.6 "$T/new" "$T/in.tsv" 2>/dev/null
check $? "import (revision 1.6 layout)"
versions "$T"/old/seg-*.evt | sort -u >"$T/v.old"
versions "$T"/mid/seg-*.evt | sort -u >"$T/v.mid"
versions "$T"/new/seg-*.evt | sort -u >"$T/v.new"
[ "$(cat "$T/v.old")" = 1 ] && [ "$(cat "$T/v.mid")" = 2 ] &&
    [ "$(cat "$T/v.new")" = 3 ]
check $? "the layouts write block versions 1, 2 and 3"
"$EVTOOL" cat --tsv "$T/old" >"$T/old.tsv" 2>/dev/null
[ "$(wc -l <"$T/old.tsv")" -eq "$n" ]
check $? "the old layout reads back $n frames"
reads_as "$T/mid" "$T/old.tsv" "1.5 layout"
reads_as "$T/new" "$T/old.tsv" "new layout"
"$EVTOOL" cat "$T/old" >"$T/old.jsonl" 2>/dev/null
"$EVTOOL" cat "$T/mid" | cmp -s - "$T/old.jsonl" &&
    "$EVTOOL" cat "$T/new" | cmp -s - "$T/old.jsonl"
check $? "cat (JSON lines) is the same in the three layouts"
# Frames without escapes to normalise are the input bytes exactly.
awk 'NR == FNR { if (index($0, "\\u") == 0) want[FNR] = $0; next }
    FNR in want { n++; if (want[FNR] != $0) bad++ }
    END { print n + 0; exit bad > 0 || n == 0 }' "$T/in.tsv" "$T/got.tsv" \
    >"$T/nplain"
check $? "every frame without escapes is byte for byte the input ($(cat "$T/nplain") of $n)"
for id in $(cut -f2 "$T/in.tsv" | awk 'NR % 997 == 5' |
    grep -o '"id":"[^"]*"' | cut -d'"' -f4 | head -n 20); do
	"$EVTOOL" get "$T/new" "$id" >/dev/null 2>&1 || echo "$id"
done >"$T/missed"
[ ! -s "$T/missed" ]
check $? "get finds sampled ids in the new layout"
old_b=$(cat "$T"/old/* | wc -c)
mid_b=$(cat "$T"/mid/* | wc -c)
new_b=$(cat "$T"/new/* | wc -c)
[ "$new_b" -lt "$mid_b" ] && [ "$mid_b" -lt "$old_b" ]
check $? "each newer layout is smaller ($new_b, $mid_b, $old_b bytes)"

# 2. Old-layout segments, then new-layout ones, in one archive.
head -n $((n / 2)) "$T/in.tsv" >"$T/a.tsv"
tail -n +$((n / 2 + 1)) "$T/in.tsv" >"$T/b.tsv"
"$EVTOOL" import --layout 1.2 --segment-size 64k "$T/mix" "$T/a.tsv" \
    2>/dev/null &&
    "$EVTOOL" import --segment-size 64k "$T/mix" "$T/b.tsv" 2>/dev/null
check $? "import half in each layout into one archive"
versions "$T"/mix/seg-*.evt | uniq | tr '\n' ' ' >"$T/v.mix"
[ "$(cat "$T/v.mix")" = "1 3 " ] && [ "$(ls "$T"/mix/seg-*.evt | wc -l)" -gt 4 ]
check $? "several segments, old layout then new ($(cat "$T/v.mix"))"
reads_as "$T/mix" "$T/old.tsv" "mixed archive"

# 3. A new writer resumes an unsealed old-layout segment, of block
# version 1 and of block version 2.
for L in 1.2:1 1.5:2; do
	v=${L#*:}
	L=${L%:*}
	"$EVTOOL" import --layout "$L" "$T/res$v" "$T/a.tsv" 2>/dev/null
	seg=$(ls "$T"/res$v/seg-*.evt | tail -n 1)
	$PYTHON - "$seg" <<'PY'
import struct, sys
p = sys.argv[1]
d = open(p, "rb").read()
assert d[-128:-120] == b"\x89EVTIDX\n"
open(p, "r+b").truncate(struct.unpack_from("<Q", d, len(d) - 128 + 16)[0])
PY
	"$EVTOOL" import "$T/res$v" "$T/b.tsv" 2>/dev/null
	check $? "import into an archive whose --layout $L segment is unsealed"
	versions "$seg" | uniq | tr '\n' ' ' >"$T/v.res"
	[ "$(cat "$T/v.res")" = "$v 3 " ]
	check $? "the resumed segment holds old blocks, then new ones ($(cat "$T/v.res"))"
	reads_as "$T/res$v" "$T/old.tsv" "resumed segment ($L)"
done

# 4. Dictionary units: 8 MiB by default since revision 1.6, 4 MiB with
# --layout 1.5 unless --dict-unit says otherwise (formats/records.md,
# "Dictionary units").  A stream of 5-8 MiB of records and GUIDs (about
# 32 bytes an event) is one unit in the first and two in the second.
$EVGEN --seed 12 --events 200000 >"$T/u.tsv"
"$EVTOOL" import "$T/u8" "$T/u.tsv" 2>/dev/null &&
    "$EVTOOL" import --layout 1.5 "$T/u4" "$T/u.tsv" 2>/dev/null &&
    "$EVTOOL" import --dict-unit 8M --layout 1.5 "$T/u8b" "$T/u.tsv" 2>/dev/null
check $? "import 200,000 events: default, --layout 1.5, --dict-unit 8M --layout 1.5"
units "$T"/u8/seg-*.evt >"$T/n.u8"
units "$T"/u4/seg-*.evt >"$T/n.u4"
units "$T"/u8b/seg-*.evt >"$T/n.u8b"
[ "$(cat "$T/n.u8")" = "1 $(cat "$T/n.u4" | cut -d' ' -f2)" ] &&
    [ "$(cut -d' ' -f1 "$T/n.u4")" = 2 ] && cmp -s "$T/n.u8" "$T/n.u8b"
check $? "units (count, MiB of record and GUID bytes): default $(cat "$T/n.u8"), --layout 1.5 $(cat "$T/n.u4"), with --dict-unit 8M $(cat "$T/n.u8b")"

done_testing
