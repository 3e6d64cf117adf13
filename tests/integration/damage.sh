#!/bin/sh
# damage.sh: damage costs only what it touches, within one unit
# (issue 10, item 4).  Real archives from evgen + evtool import, damaged
# with dd, read back with evtool cat / verify / repair.
#
# 1. A flipped bit in a segment header (its archive uuid) loses nothing:
#    every event still reads, verify reports the header, repair rebuilds
#    it with the archive's uuid instead of moving the segment aside.
# 2. A flipped bit in block 0 of an open (unsealed) segment loses at most
#    the events of its dictionary unit: every event of the later units
#    reads (formats/records.md, "Dictionary units").
# 3. verify and repair list the ids of the events they could not read,
#    exactly those (the GUID column of a damaged block survives); damage
#    to a sealed block's GUID column costs only the events whose ids sit
#    in the damaged 64-entry range (the index's check list).
. "$(dirname "$0")/lib.sh"

# blocks FILE: one line per block whose header checks, walking from the
# segment header: "offset flags nevent zlen nguid".
blocks() {
	$PYTHON - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
end = len(d)
if d[-128:-120] == b"\x89EVTIDX\n":
    end = struct.unpack_from("<Q", d, len(d) - 128 + 16)[0]
off = 64
while off + 64 <= end and d[off:off + 4] == b"\x9eEBK":
    zlen, raw, nguid, nrec, nevent = struct.unpack_from("<5I", d, off + 8)
    flags = struct.unpack_from("<I", d, off + 36)[0]
    print(off, flags, nevent, zlen, nguid)
    packed = d[off + 6] in (2, 3) and flags & 0x10  # 122-bit ids (1.4, 1.6)
    off += 64 + zlen + ((122 * nguid + 7) // 8 if packed else 16 * nguid)
PY
}
# unseal FILE: cuts the index and trailer off a sealed segment (what a
# crash before sealing leaves: an open segment).
unseal() {
	$PYTHON - "$1" <<'PY'
import struct, sys
p = sys.argv[1]
d = open(p, "rb").read()
assert d[-128:-120] == b"\x89EVTIDX\n"
open(p, "r+b").truncate(struct.unpack_from("<Q", d, len(d) - 128 + 16)[0])
PY
}
# flip FILE OFFSET [COUNT]: inverts COUNT bytes (1) at OFFSET.
flip() {
	$PYTHON - "$1" "$2" "${3:-1}" <<'PY'
import sys
p, off, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(p, "r+b") as f:
    f.seek(off)
    b = f.read(n)
    f.seek(off)
    f.write(bytes(x ^ 0xFF for x in b))
PY
}
# ids DIR: the ids of every event and state item `evtool cat --tsv` gives
# back (what verify counts as an event), sorted.
ids() {
	$EVTOOL cat --tsv "$1" 2>/dev/null | $PYTHON -c '
import json, sys
for l in sys.stdin:
    m = json.loads(l.split("\t", 1)[1])
    for k in ("events", "states"):
        for e in m.get(k, []) if isinstance(m, dict) else []:
            if isinstance(e, dict) and "id" in e:
                print(e["id"])' | LC_ALL=C sort
}
# lost_ids FILE: the ids of the "lost event" lines of verify/repair, sorted.
lost_ids() {
	sed -n 's/^.*: offset [0-9]*: lost event //p' "$1" | LC_ALL=C sort
}

# 1. The archive uuid of a middle segment, one bit flipped.
make_archive "$T/u" 1 20000 200 300 --segment-size 192k
$EVTOOL cat "$T/u" >"$T/u.orig" 2>/dev/null
nseg=$(ls "$T/u"/seg-*.evt | wc -l)
[ "$nseg" -ge 3 ]
check $? "the archive has several segments ($nseg)"
seg=$(ls "$T/u"/seg-*.evt | sed -n 2p)
other=$(ls "$T/u"/seg-*.evt | sed -n 1p)
uuid() { od -A n -t x1 -j 32 -N 16 "$1" | tr -d ' \n'; }
flip "$seg" 37
$EVTOOL cat "$T/u" >"$T/u.cat" 2>"$T/u.err"
cmp -s "$T/u.orig" "$T/u.cat"
check $? "uuid bit flipped: cat still prints every event, unchanged ($(wc -l <"$T/u.cat") of $(wc -l <"$T/u.orig"))"
grep -q "$(basename "$seg"): offset 60: segment header damaged" "$T/u.err"
check $? "cat reports the damaged header with file and offset"
$EVTOOL verify "$T/u" >"$T/u.vout" 2>"$T/u.verr"
[ $? -eq 1 ] && grep -q 'segment header damaged' "$T/u.verr"
check $? "verify exits 1 and names the damaged header"
! grep -q 'lost event' "$T/u.vout"
check $? "verify lists no lost event (none is)"
$EVTOOL repair "$T/u" >"$T/u.rout" 2>"$T/u.rerr"
check $? "repair exits 0"
[ -f "$seg" ] && [ ! -e "$seg.damaged" ]
check $? "repair rebuilt the segment in place (nothing moved aside)"
[ "$(uuid "$seg")" = "$(uuid "$other")" ]
check $? "the rebuilt header carries the archive's uuid"
$EVTOOL verify "$T/u" >/dev/null 2>&1
check $? "verify passes after repair"
$EVTOOL cat "$T/u" 2>/dev/null | cmp -s - "$T/u.orig"
check $? "after repair cat prints every event, unchanged"

# 2. An open segment written in small dictionary units: block 0 damaged.
make_archive "$T/o" 2 20000 200 300 --block-size 8k --dict-unit 32k
check $? "import with --block-size 8k --dict-unit 32k"
seg=$(ls "$T/o"/seg-*.evt | head -n 1)
unseal "$seg"
$EVTOOL cat "$T/o" >"$T/o.orig" 2>/dev/null
ids "$T/o" >"$T/o.ids"
blocks "$seg" >"$T/o.blk"
nunits=$(awk '$2 >= 8 && int($2 / 8) % 2 == 1' "$T/o.blk" | wc -l)
[ "$nunits" -ge 4 ]
check $? "the open segment holds several dictionary units ($nunits; block flag UNIT)"
# Events of the first unit: blocks before the second UNIT block.
unit0=$(awk 'int($2 / 8) % 2 == 1 { u++ } u == 1 { n += $3 } END { print n + 0 }' "$T/o.blk")
flip "$seg" $((64 + 64 + 40))
$EVTOOL cat "$T/o" >"$T/o.cat" 2>"$T/o.err"
[ $? -eq 1 ] && grep -q 'offset 64: ' "$T/o.err"
check $? "cat exits 1 and names block 0"
lost=$(($(wc -l <"$T/o.orig") - $(wc -l <"$T/o.cat")))
[ "$lost" -gt 0 ] && [ "$lost" -le "$unit0" ]
check $? "block 0 damaged: $lost events lost, at most the first unit's $unit0 (of $(wc -l <"$T/o.orig"))"
grep -v -x -F -f "$T/o.orig" "$T/o.cat" >"$T/o.alt"
[ ! -s "$T/o.alt" ]
check $? "every event printed is an original event, unchanged"

# 3. The ids of what could not be read are listed, exactly.
ids "$T/o" >"$T/o.kept"
LC_ALL=C comm -23 "$T/o.ids" "$T/o.kept" >"$T/o.want"
$EVTOOL verify "$T/o" >"$T/o.vout" 2>/dev/null
lost_ids "$T/o.vout" >"$T/o.listed"
[ -s "$T/o.want" ] && cmp -s "$T/o.want" "$T/o.listed"
check $? "verify lists the ids of exactly the $(wc -l <"$T/o.want") lost events (open segment)"
$EVTOOL repair "$T/o" >"$T/o.rout" 2>/dev/null
lost_ids "$T/o.rout" >"$T/o.rlisted"
cmp -s "$T/o.want" "$T/o.rlisted"
check $? "repair lists the same ids"
$EVTOOL cat "$T/o" 2>/dev/null | cmp -s - "$T/o.cat"
check $? "after repair cat prints what was readable, unchanged"

# A sealed segment, 16 bytes flipped in the middle of a block's payload.
make_archive "$T/s" 3 20000 200 300
seg=$(ls "$T/s"/seg-*.evt | head -n 1)
$EVTOOL cat "$T/s" >"$T/s.orig" 2>/dev/null
ids "$T/s" >"$T/s.ids"
blocks "$seg" >"$T/s.blk"
set -- $(awk 'NR == 3' "$T/s.blk")
flip "$seg" $(($1 + 64 + $4 / 2)) 16
$EVTOOL cat "$T/s" >"$T/s.cat" 2>/dev/null
lost=$(($(wc -l <"$T/s.orig") - $(wc -l <"$T/s.cat")))
[ "$lost" -gt 0 ] && [ "$lost" -le "$3" ]
check $? "16 bytes flipped in a sealed block: $lost events lost, at most its $3"
ids "$T/s" >"$T/s.kept"
LC_ALL=C comm -23 "$T/s.ids" "$T/s.kept" >"$T/s.want"
$EVTOOL repair "$T/s" >"$T/s.rout" 2>/dev/null
lost_ids "$T/s.rout" >"$T/s.listed"
cmp -s "$T/s.want" "$T/s.listed"
check $? "repair lists the ids of exactly the $(wc -l <"$T/s.want") lost events (sealed segment)"
$EVTOOL verify "$T/s" >/dev/null 2>&1
check $? "verify passes after repair"

# The same, 16 bytes flipped in a GUID column: the index's check list
# confines the loss to the events whose ids sit in the damaged range.
set -- $(awk 'NR == 2' "$T/s.blk")
$EVTOOL cat "$T/s" >"$T/s.orig" 2>/dev/null
flip "$seg" $(($1 + 64 + $4 + 16 * 100 + 5)) 16
$EVTOOL cat "$T/s" >"$T/s.cat" 2>"$T/s.err"
lost=$(($(wc -l <"$T/s.orig") - $(wc -l <"$T/s.cat")))
[ "$lost" -gt 0 ] && [ "$lost" -le 64 ] && [ "$5" -gt 128 ]
check $? "16 bytes flipped in a GUID column: $lost events lost, at most the 64 of one checked range (of the block's $3)"
grep -v -x -F -f "$T/s.orig" "$T/s.cat" >"$T/s.alt"
[ ! -s "$T/s.alt" ] && grep -q "offset $1: block payload checksum mismatch: 64 of" "$T/s.err"
check $? "every event printed is unchanged; the damaged ids are reported"
$EVTOOL verify "$T/s" >"$T/s.vout" 2>/dev/null
[ "$(grep -c ': lost event whose id is damaged' "$T/s.vout")" -eq "$lost" ]
check $? "verify counts the $lost lost events whose ids are damaged"

done_testing
