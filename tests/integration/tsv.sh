#!/bin/sh
# tsv.sh: the line form of received frames (formats/tsv.md) through
# `evtool import` and `evtool cat --tsv`: frames with LF/CR written as
# ":esc" lines, receive times at the edges of their range and beyond it,
# unknown tags, a lone surrogate escape, and a message that lost an item
# to damage, which cat --tsv tags ":incomplete".
#
# POSIX sh; prints TAP.  Uses $BUILD/evtool and $BUILD/evplay (BUILD
# defaults to build).
. "$(dirname "$0")/lib.sh"

if [ ! -x "$EVTOOL" ]; then
	echo "not ok 1 - $EVTOOL not built"
	echo "1..1"
	exit 1
fi

# 1. Import: good lines in, bad receive times and tags refused by line
#    number, the rest still imported.
printf '%s\n' \
    '1767600000000000	{"events":[{"id":"a"}]}' \
    '1767600000000001:esc	line one\r\nline two\\ end\r' \
    '1767600000000002	not json, a tab at the end	' \
    '253402300799999999	{"x":"the last microsecond of 9999"}' \
    '-62135596800000000	{"y":"the first of year 1"}' \
    '253402300800000000	{"z":1}' \
    '99999999999999999999999	{"z":2}' \
    '9223372036854775807	{"z":3}' \
    '-9223372036854775808	{"z":4}' \
    '1767600000000003:bogus	{}' \
    '1767600000000003:esc	bad \t escape' \
    '1767600000000004	{"events":[{"id":"s1","s":"x\uD800"},{"id":"s2"}]}' \
    >"$T/in.tsv"
"$EVTOOL" import "$T/a" "$T/in.tsv" 2>"$T/err"
rc=$?
check $((rc != 1)) "import exits 1 when lines were refused (got $rc)"
for n in 6 7 8 9 10 11; do
	grep -q "line $n: .*not imported" "$T/err"
	check $? "import names refused line $n"
done
grep -q "line 6: receive time out of range" "$T/err"
check $? "a receive time past 9999 is out of range"
grep -q "line 10: unknown tag" "$T/err"
check $? "an unknown tag is refused"

# The good lines, in order; the escape comes back in lower case.
sed -n '1,5p;12s/D800/d800/p' "$T/in.tsv" >"$T/want.tsv"
"$EVTOOL" cat --tsv "$T/a" >"$T/got.tsv" 2>"$T/err"
check $? "cat --tsv exits 0"
cmp -s "$T/want.tsv" "$T/got.tsv"
check $? "cat --tsv: the frames, extreme times included, LF/CR frames as :esc"
diff "$T/want.tsv" "$T/got.tsv" | head -n 10 | sed 's/^/#   /'

# 2. The lone surrogate no longer hides the message's events.
"$EVTOOL" cat "$T/a" >"$T/ev" 2>&1
grep -qx '{"id":"s2"}' "$T/ev"
check $? "cat shows the other event of a message with a lone surrogate"
"$EVTOOL" get "$T/a" s1 >"$T/get" 2>&1
grep -qx '{"id":"s1","s":"x\\ud800"}' "$T/get"
check $? "get finds the event with the lone surrogate, escape intact"

printf '%s\n' '1767600000000000	{"events":[{"id":"e1","source":"cameras/c1","stategroupid":"g","type":"t","n":"\udc00"},{"id":"e2","source":"cameras/c2","stategroupid":"g","type":"t"}]}' >"$T/st.tsv"
"$EVTOOL" import "$T/st" "$T/st.tsv" 2>/dev/null
"$EVTOOL" state "$T/st" >"$T/state" 2>&1
grep -q '"id":"e1".*"n":"\\udc00"' "$T/state" && grep -q '"id":"e2"' "$T/state"
check $? "state keeps both events of a message with a lone surrogate"

# 3. Round trip: cat --tsv, import, cat --tsv gives the same lines.
"$EVTOOL" import "$T/b" "$T/got.tsv" 2>"$T/err"
check $? "import of cat --tsv output exits 0"
"$EVTOOL" cat --tsv "$T/b" >"$T/got2.tsv" 2>/dev/null
cmp -s "$T/got.tsv" "$T/got2.tsv"
check $? "import then cat --tsv gives the lines back, :esc lines included"

# 4. A message that lost an item to damage: tagged :incomplete, reported,
#    exit 1.  The segment is written here byte by byte (segment.md): a MSG
#    of two events whose second names a shape never defined, then a JSON
#    frame.
mkdir "$T/c"
$PYTHON - "$T/c/seg-000000000001.evt" "$HERE" <<'PY' || check 1 "python3 with zstandard"
import struct, sys, zstandard
sys.path.insert(0, sys.argv[2])
from crc32c import crc32c

rx = 1767600000000000
recs = (b"\x93\x02\xcf" + struct.pack(">Q", rx) + b"\x02"  # MSG, 2 items
        + b"\x92\x00\xa2id"                               # STRDEF "id"
        + b"\x93\x01\x00\x00"                             # shape 0: id JSON
        + b"\x93\x03\x00\xa1a"                            # EVENT {"id":"a"}
        + b"\x93\x03\x05\xa1b"                            # EVENT, shape 5: lost
        + b"\x93\x06\x01\xc0")                            # JSON null, rx + 1
z = zstandard.ZstdCompressor(level=3, write_content_size=True,
                             write_checksum=True).compress(recs)
h = b"\x89EVTSEG\n" + struct.pack("<HHIQq", 1, 1, 64, 1, rx) + bytes(16 + 12)
h += struct.pack("<I", crc32c(h))
b = b"\x9eEBK" + struct.pack("<HBBIIIIIIIIqq", 64, 1, 1, len(z), len(recs),
                             0, 6, 2, 0, 0, 0, rx, rx + 1)
b += struct.pack("<I", crc32c(z))
b += struct.pack("<I", crc32c(b))
open(sys.argv[1], "wb").write(h + b + z)
PY
"$EVTOOL" cat --tsv "$T/c" >"$T/inc.tsv" 2>"$T/err"
rc=$?
check $((rc != 1)) "cat --tsv of a damaged message exits 1 (got $rc)"
printf '%s\n' '1767600000000000:incomplete	{"events":[{"id":"a"}]}' \
    '1767600000000001	null' >"$T/want-inc.tsv"
cmp -s "$T/want-inc.tsv" "$T/inc.tsv"
check $? "the message that lost an item is tagged :incomplete"
diff "$T/want-inc.tsv" "$T/inc.tsv" | head -n 5 | sed 's/^/#   /'
grep -q "incomplete (1 of 2 items)" "$T/err"
check $? "and reported on stderr with what is missing"
"$BUILD/evplay" --top-speed --tsv -q "$T/c" >"$T/play.tsv" 2>"$T/err"
cmp -s "$T/want-inc.tsv" "$T/play.tsv"
check $? "evplay --tsv tags the message that lost an item :incomplete too"
diff "$T/want-inc.tsv" "$T/play.tsv" | head -n 5 | sed 's/^/#   /'
"$EVTOOL" import "$T/d" "$T/inc.tsv" 2>"$T/err"
check $? "import takes an :incomplete line"
grep -q "line 1: a message marked incomplete" "$T/err"
check $? "and warns that it is one"

done_testing
