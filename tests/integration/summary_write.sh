#!/bin/sh
# summary_write.sh: the segment summary counted while writing (from the
# encoder's summary log, odd blocks decoded as a reader would) is byte for
# byte the one the seal built before by reading every block back.  lib.sh
# sets EVTAPE_SEAL_CHECK=1, under which every seal builds both and fails
# (evtool exits non-zero: "sealing: corrupt data") if they differ; so every
# archive any integration script writes is such a comparison.  Here, the
# inputs that take the odd paths:
#   - evgen traffic with odd frames (raw, getState answer, envelope, ITEMs,
#     a source too long to intern, escapes, 300 members), in blocks of 4k
#     and dictionary units of 8k (strings defined again under new ids), in
#     hundreds of segments;
#   - more than 4096 STATES frames in one segment (no snapshot positions);
#   - 70,000 distinct types in one segment (beyond 65536: incomplete);
#   - sources and types that are not strings (numbers, null, objects) and
#     repeated keys;
#   - a segment rewritten by compaction (repair) of such an archive.
# And the summaries answer as the scan does (stats, info).
# POSIX sh; prints TAP.  Real binaries and files.
. "$(dirname "$0")/lib.sh"

t "the comparison is on (EVTAPE_SEAL_CHECK=1)" \
    [ "$EVTAPE_SEAL_CHECK" = 1 ]

$EVGEN --seed 5 --events 20000 --rate 800 --cameras 200 >"$T/ev.tsv"
{
	head -n 2000 "$T/ev.tsv"
	odd_frames 1767600010000000
	tail -n +2001 "$T/ev.tsv"
	odd_frames 1767600090000000
} >"$T/in.tsv"
t "odd frames, 4k blocks, 8k dictionary units, small segments: sealed" \
    $EVTOOL import --segment-age 100ms --block-size 4k --dict-unit 8k \
    "$T/a" "$T/in.tsv"
nseg=$(ls "$T/a" | grep -c '^seg-')
t "... in many segments ($nseg)" [ "$nseg" -ge 100 ]
t "... stats from the summaries the same as --scan" same_scan stats --json "$T/a"
t "... info the same as --scan" same_scan info "$T/a"
t "... one segment: sealed" $EVTOOL import --dict-unit 8k "$T/a1" "$T/in.tsv"
t "... blocks of 1k: sealed" \
    $EVTOOL import --block-size 1k "$T/a2" "$T/in.tsv"

# 4,100 getState answers and a message: past the 4096 snapshot positions.
$PYTHON -c '
for i in range(4100):
    print("%d\t{\"commandId\":%d,\"status\":200,\"states\":[{\"id\":\"0b5c4f1e-8a3d-4b52-9d0e-6f1c2a7e9b13\",\"source\":\"s%d\",\"type\":\"t\"}]}" % (1767600000000000 + 1000 * i, i, i % 7))
print("1767600009000000\t{\"events\":[{\"source\":\"s\",\"type\":\"t\"}]}")
' >"$T/states.tsv"
t "4,100 STATES frames in one segment: sealed" \
    $EVTOOL import "$T/s" "$T/states.tsv"
t "... stats the same as --scan" same_scan stats --json "$T/s"

# 70,000 distinct types; non-string sources and types; repeated keys.
$PYTHON -c '
for i in range(70000):
    print("%d\t{\"events\":[{\"id\":\"%08x-8a3d-4b52-9d0e-6f1c2a7e9b13\",\"source\":\"c%d\",\"type\":\"t%d\"}]}" % (1767600000000000 + 100 * i, i, i % 3, i))
odd = ["1", "null", "{\"a\":1}", "[1,\"x\"]", "true", "\"\""]
for i, v in enumerate(odd):
    print("%d\t{\"events\":[{\"source\":%s,\"type\":%s},{\"type\":\"a\",\"type\":\"b\",\"source\":%s,\"source\":\"s2\"}]}" % (1767600009000000 + i, v, v, v))
' >"$T/types.tsv"
t "70,000 distinct types, odd sources and types: sealed" \
    $EVTOOL import --segment-size 1g "$T/ty" "$T/types.tsv"
t "... stats the same as --scan" same_scan stats --json "$T/ty"
# Repeated keys, every value a string: a block the summary log describes.
printf '%s\t{"events":[{"type":"a","type":"b","source":"s1","source":"s2"},{"source":"s3","type":"c"}]}\n' \
    1767600000000000 1767600000000001 >"$T/rep.tsv"
t "repeated source and type keys: sealed" $EVTOOL import "$T/rk" "$T/rep.tsv"
t "... stats the same as --scan" same_scan stats --json "$T/rk"
tail -n 6 "$T/types.tsv" >"$T/oddkeys.tsv"
t "odd sources and types alone: sealed" \
    $EVTOOL import "$T/ok" "$T/oddkeys.tsv"
t "... stats the same as --scan" same_scan stats --json "$T/ok"

# A rewrite (repair after damage) writes through the same writer.
seg=$(ls "$T/a1"/seg-* | head -n 1)
printf '\377' | dd of="$seg" bs=1 seek=9000 conv=notrunc 2>/dev/null
t "repair of a damaged segment: sealed" $EVTOOL repair "$T/a1"
t "... stats the same as --scan" same_scan stats --json "$T/a1"

# verify recomputes each sealed segment's summary from its blocks: an
# inconsistent writer's summary (first_rx one microsecond early, a summary
# that decodes and adds up) with the index's CRCs made right again.
head -n 3000 "$T/ev.tsv" | awk -F'\t' 'NR == 1 {$1 = $1 + 123} 1' OFS='\t' \
    >"$T/v.tsv"
$EVTOOL import "$T/v" "$T/v.tsv" 2>/dev/null
t "verify: an archive as written passes" $EVTOOL verify "$T/v"
seg=$(ls "$T/v"/seg-* | head -n 1)
$PYTHON - "$seg" "$HERE" <<'PY' >"$T/fix.out" 2>&1
import struct, sys, zstandard
sys.path.insert(0, sys.argv[2])
from crc32c import crc32c

f = open(sys.argv[1], "rb").read()
tr = bytearray(f[-128:])
meta_off, meta_len, filt_off, filt_len = struct.unpack_from("<QQQQ", tr, 24)
meta = bytearray(zstandard.ZstdDecompressor().decompress(
    f[meta_off:meta_off + meta_len]))
at = meta.index(b"\xa7summary")
at = meta.index(b"\xa8first_rx", at) + 9
assert meta[at] in (0xcf, 0xd3), "first_rx is not an 8-byte integer"
(rx,) = struct.unpack_from(">q", meta, at + 1)
assert rx % 1000000 != 0
struct.pack_into(">q", meta, at + 1, rx - 1)
z = zstandard.ZstdCompressor(level=3).compress(bytes(meta))
struct.pack_into("<QQQ", tr, 32, len(z), meta_off + len(z), filt_len)
struct.pack_into("<I", tr, 104, crc32c(z))
struct.pack_into("<I", tr, 124, crc32c(bytes(tr[:124])))
filt = f[filt_off:filt_off + filt_len]
open(sys.argv[1], "wb").write(f[:meta_off] + z + filt + bytes(tr))
PY
t "a summary with first_rx one microsecond early, CRCs fixed up" \
    [ $? -eq 0 ]
$EVTOOL verify "$T/v" >"$T/vfy.out" 2>&1
check $([ $? -ne 0 ]; echo $?) "verify: finds it (exits non-zero)"
grep -q "$(basename "$seg").*summary disagrees with the blocks: first_rx" \
    "$T/vfy.out"
check $? "... naming the file and what differs"
sed 's/^/#   /' "$T/vfy.out" | head -n 3
t "... repair rewrites it" $EVTOOL repair "$T/v"
t "... and verify passes again" $EVTOOL verify "$T/v"

done_testing
