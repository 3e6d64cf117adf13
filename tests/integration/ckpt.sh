#!/bin/sh
# ckpt.sh: state checkpoints (formats/segment.md, "State checkpoint"):
# `evtool state --at` with checkpoints equals the scan without them
# (EVTAPE_NO_CHECKPOINT=1) at many times, segment edges and getState
# answers included, on archives with getState answers at random places,
# none at all, odd frames (escapes, items that are not objects, long
# sources), several writers one after the other, a torn index, and a
# kill -9 of an import; a cut's output equals the cut without them;
# verify passes, and reports a checkpoint that disagrees with the events
# or does not decode (readers then read the events); after damage verify
# and readers agree, and repair makes verify pass; --layout 1.6 writes
# none.  Real binaries and files.
. "$(dirname "$0")/lib.sh"
NO="env EVTAPE_NO_CHECKPOINT=1"
SLOW="env EVTAPE_STATE_SLOW=1"

# ask_times FILE: receive times to ask about: every 37th line's, one
# before and one after it, every getState answer's, the first, the last
# and past both ends.
ask_times() {
	awk -F '\t' 'function p(t) { printf "%.0f\n", t }
	    NR == 1 { p($1 - 1); p($1) }
	    NR % 37 == 0 || /"states":/ { p($1 - 1); p($1); p($1 + 1) }
	    { l = $1 } END { p(l); p(l + 1000000) }' "$1"
}
# same_states DIR INPUT DESC [TIMES]: state --at with and without
# checkpoints is the same at every time of ask_times INPUT (or of the
# file TIMES), and the same as the scan that renders every event
# (EVTAPE_STATE_SLOW=1, no checkpoint: the route before the flat scan).
same_states() {
	_bad=0
	_slow=0
	_n=0
	[ $# -ge 4 ] && cp "$4" "$T/times" || ask_times "$2" >"$T/times"
	for _t in $(cat "$T/times"); do
		$EVTOOL state --at "$_t" "$1" >"$T/s.a" 2>"$T/s.ea"
		$NO $EVTOOL state --at "$_t" "$1" >"$T/s.b" 2>/dev/null
		$SLOW $NO $EVTOOL state --at "$_t" "$1" >"$T/s.c" 2>/dev/null
		_n=$((_n + 1))
		if ! cmp -s "$T/s.a" "$T/s.b" || [ -s "$T/s.ea" ]; then
			[ $_bad -eq 0 ] && echo "# $1: differs at $_t"
			_bad=1
		fi
		if ! cmp -s "$T/s.a" "$T/s.c"; then
			[ $_slow -eq 0 ] && echo "# $1: flat scan differs at $_t"
			_slow=1
		fi
	done
	check $_bad "$3: state --at equal with and without checkpoints at $_n times"
	check $_slow "$3: the flat scan equals the rendering one at $_n times"
}
# with_states IN OUT SEED: IN's lines with getState answers (the initial
# states) put before random lines (about 1 in 2,000).
with_states() {
	_st=$($EVGEN --seed 12 --cameras 100 --states)
	awk -v st="$_st" -v seed="$3" 'BEGIN { FS = "\t"; srand(seed) }
	    rand() < 0.0005 { printf "%s\t{\"commandId\":3,\"status\":200,\"states\":%s}\n", $1, st }
	    { print }' "$1" >"$2"
}
# has_ckpt SEG: the segment's index holds a checkpoint key.
has_ckpt() {
	$PYTHON - "$1" <<'PY'
import struct, subprocess, sys
d = open(sys.argv[1], 'rb').read()
t = d[-128:]
if t[:8] != b'\x89EVTIDX\n':
    sys.exit(1)
o, n = struct.unpack_from('<QQ', t, 24)
m = subprocess.run(['zstd', '-q', '-d', '-c'], input=d[o:o + n],
                   stdout=subprocess.PIPE, check=True).stdout
sys.exit(0 if b'\xaacheckpoint' in m else 1)
PY
}

# 1. Archives of small segments with getState answers at random places.
$EVGEN --seed 12 --events 12000 --rate 200 --cameras 100 >"$T/ev"
for seed in 1 2 3; do
	with_states "$T/ev" "$T/in$seed" "$seed"
	$EVTOOL import --segment-age "$((seed * 7))s" "$T/a$seed" \
	    "$T/in$seed" 2>/dev/null
	check $? "import with getState answers (seed $seed)"
	same_states "$T/a$seed" "$T/in$seed" "random getState answers $seed, $(ls "$T/a$seed" | grep -c '^seg-') segments"
done
t "verify passes" $EVTOOL verify "$T/a1"
has_ckpt "$T/a1/seg-000000000002.evt"
check $? "a sealed segment's index holds a checkpoint"

# 2. No getState answer at all; odd frames in the middle.
head -n 6000 "$T/ev" >"$T/odd.in"
odd_frames "$(($(sed -n 6000p "$T/ev" | cut -f1) + 10))" >>"$T/odd.in"
tail -n +6001 "$T/ev" | awk -F '\t' -v OFS='\t' '{ $1 = $1 + 100; print }' \
    >>"$T/odd.in"
$EVTOOL import --segment-age 9s "$T/odd" "$T/odd.in" 2>/dev/null
check $? "import without getState answers, with odd frames"
same_states "$T/odd" "$T/odd.in" "no getState answer, odd frames"
t "verify passes (odd frames)" $EVTOOL verify "$T/odd"

# 3. Several writers: each import a new writer over the archive (seeded
#    from the last segment's checkpoint).
split -l 3000 "$T/in2" "$T/part."
for p in "$T"/part.*; do
	$EVTOOL import --segment-age 11s "$T/multi" "$p" 2>/dev/null
done
same_states "$T/multi" "$T/in2" "four writers one after the other"
t "verify passes (four writers)" $EVTOOL verify "$T/multi"
# A layout before revision 1.7 in the middle: no checkpoint to seed from.
$EVTOOL import --layout 1.6 --segment-age 11s "$T/l16" "$T/part.aa" \
    2>/dev/null
$EVTOOL import --segment-age 11s "$T/l16" "$T/part.ab" 2>/dev/null
has_ckpt "$T/l16/seg-000000000001.evt"
check $((!$?)) "--layout 1.6 writes no checkpoint"
cat "$T/part.aa" "$T/part.ab" >"$T/l16.in"
same_states "$T/l16" "$T/l16.in" "a writer after a --layout 1.6 one"

# 4. A crash: the last segment's index torn off (as a kill -9 while
#    sealing leaves it), then a new writer resumes it.
$EVTOOL import --segment-age 20s "$T/torn" "$T/part.aa" 2>/dev/null
last=$(ls "$T/torn"/seg-*.evt | tail -n 1)
$PYTHON -c '
import struct, sys
p = sys.argv[1]
d = open(p, "rb").read()
o = struct.unpack_from("<Q", d, len(d) - 128 + 16)[0]
open(p, "wb").write(d[:o])' "$last"
$EVTOOL import --segment-age 20s "$T/torn" "$T/part.ab" 2>/dev/null
check $? "a new writer resumes a segment whose index was torn off"
same_states "$T/torn" "$T/l16.in" "after a torn index"
t "verify passes after the resume" $EVTOOL verify "$T/torn"
# A kill -9 of an import, wherever it is; then the rest.
cat "$T/in1" "$T/in1" "$T/in1" >"$T/big.in"
$EVTOOL import --segment-age 3s "$T/kill" "$T/big.in" 2>/dev/null &
pid=$!
waitfor 3000 test -e "$T/kill/seg-000000000004.evt"
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
$EVTOOL import --segment-age 3s "$T/kill" "$T/in3" 2>/dev/null
check $? "an import after a kill -9 of one"
n=$($EVTOOL cat --tsv "$T/kill" | wc -l)
$EVTOOL cat --tsv "$T/kill" >"$T/kill.in"
same_states "$T/kill" "$T/kill.in" "after a kill -9 ($n frames)"
t "verify passes after a kill -9" $EVTOOL verify "$T/kill"

# 5. cut: the same archive with and without checkpoints.
F=$(head -n 1 "$T/ev" | cut -f1)
for k in 13 29 41; do
	FROM=$((F + k * 1000000))
	TO=$((FROM + 7000000))
	rm -rf "$T/c1" "$T/c2"
	$EVTOOL cut --from $FROM --to $TO "$T/a$((k % 3 + 1))" "$T/c1" \
	    2>/dev/null &&
	    $NO $EVTOOL cut --from $FROM --to $TO "$T/a$((k % 3 + 1))" \
	    "$T/c2" 2>/dev/null &&
	    $EVTOOL cat "$T/c1" >"$T/c1.out" && $EVTOOL cat "$T/c2" >"$T/c2.out" &&
	    [ -s "$T/c1.out" ] && cmp -s "$T/c1.out" "$T/c2.out"
	check $? "cut at +${k}s reads the same with and without checkpoints"
done

# 6. A checkpoint that disagrees with the events, one that does not
#    decode (checksums made right: only verify can tell).
cp -R "$T/a1" "$T/bad"
seg=$(ls "$T/bad"/seg-*.evt | sed -n 2p)
$PYTHON "$HERE/ckptedit.py" "$seg" flip
$EVTOOL verify "$T/bad" >/dev/null 2>"$T/v.err"
[ $? -ne 0 ] && grep -q "$(basename "$seg").*state checkpoint disagrees with the events" "$T/v.err"
check $? "verify reports a checkpoint that disagrees with the events"
# Readers trust it (its checksums match): the proof that they use it.
_used=1
for _t in $(ask_times "$T/in1"); do
	$EVTOOL state --at "$_t" "$T/bad" >"$T/s.a" 2>/dev/null
	$NO $EVTOOL state --at "$_t" "$T/bad" >"$T/s.b" 2>/dev/null
	cmp -s "$T/s.a" "$T/s.b" || { _used=0; break; }
done
check $_used "state --at starts at a checkpoint (a changed one shows)"
cp "$T/a1/$(basename "$seg")" "$seg"
$PYTHON "$HERE/ckptedit.py" "$seg" garble
$EVTOOL verify "$T/bad" >/dev/null 2>"$T/v.err"
[ $? -ne 0 ] && grep -q "$(basename "$seg").*state checkpoint does not decode" "$T/v.err"
check $? "verify reports a checkpoint that does not decode"
_bad=0
for _t in $(ask_times "$T/in1" | awk 'NR % 10 == 0'); do
	$EVTOOL state --at "$_t" "$T/bad" >"$T/s.a" 2>/dev/null
	$NO $EVTOOL state --at "$_t" "$T/a1" >"$T/s.b" 2>/dev/null
	cmp -s "$T/s.a" "$T/s.b" || _bad=1
done
check $_bad "readers pass over a checkpoint that does not decode"

# 7. Damage in a segment's blocks: the later segments' checkpoints were
#    written with the frames it loses; verify says where they disagree,
#    repair rewrites them with the table of the frames that read.
cp -R "$T/a1" "$T/dmg"
seg=$(ls "$T/dmg"/seg-*.evt | sed -n 2p)
printf '\377' | dd of="$seg" bs=1 seek=$(($(wc -c <"$seg") / 3)) \
    conv=notrunc 2>/dev/null
$EVTOOL verify "$T/dmg" >/dev/null 2>"$T/v.err"
# (Whether a later table changes depends on whether later events replaced
# the lost ones: verify's word must match what readers derive.)
if grep -q "state checkpoint disagrees" "$T/v.err"; then
	check 0 "after damage, verify reports the later checkpoints that disagree"
else
	same_states "$T/dmg" "$T/in1" "after damage, no checkpoint reported"
fi
$EVTOOL repair "$T/dmg" >/dev/null 2>&1
t "verify passes after repair" $EVTOOL verify "$T/dmg"
same_states "$T/dmg" "$T/in1" "after damage and repair"

# 8. Stateful events of every odd form the flat scan must key as the
#    rendering one does: sources and groups in mixed case (GUIDs and not),
#    escaped or not ASCII (no flat form), duplicate members (the last
#    string one counts), a group that is no string or only a value, keys
#    too long, times as sources, nested values and ITEM records, items
#    that are not objects, type changes; with getState answers in between
#    and without; then damaged.
odd_stateful() { # SEED STATES(0/1): import lines
	$PYTHON - "$1" "$2" <<'PY'
import json, random, sys
r = random.Random(int(sys.argv[1]))
states = sys.argv[2] == "1"
g = ["0b5c4f1e-8a3d-4b52-9d0e-6f1c2a7e9b1%d" % i for i in range(4)]
src = ["cameras/" + x for x in g[:3]] + ["Cameras/Door",
                                         "2026-01-05T08:58:59.6128530Z"]
def case(x):
    return r.choice([x, x.upper(), x.lower(), x.title()])
def q(x):
    return json.dumps(x)
def item():
    k = r.randrange(16)
    s, grp = case(r.choice(src)), case(r.choice(g))
    typ = q(r.choice(["t-a", "T-A", "t-b", g[3]]))
    head = '"id":"%08x-0000-4000-8000-%012x",' % (r.randrange(1 << 32),
                                                  r.randrange(1 << 48))
    if k == 0:
        s = r.choice(["cam\\u0041", "cam\\\"x", "cam\\/y", "cam\u00e9"])
        return '{%s"source":"%s","stategroupid":%s,"type":%s}' % (
            head, s, q(grp), typ)
    if k == 1:
        return ('{%s"source":%s,"source":%s,"stategroupid":%s,'
                '"stategroupid":5,"type":%s}' % (
                    head, q(s), q(case(r.choice(src))), q(grp), typ))
    if k == 2:
        return '{%s"source":%s,"stategroupid":%s,"type":%s}' % (
            head, q(s), r.choice(["null", "7", '{"a":1}', "[]", "true"]), typ)
    if k == 3:
        return '{%s"source":%s,"note":"stategroupid","type":%s}' % (
            head, q(s), typ)
    if k == 4:
        return r.choice(["7", '"stategroupid"', "[1,2]", "null"])
    if k == 5:
        return '{%s"source":%s,"stategroupid":%s,"type":%s}' % (
            head, q("s" * r.choice([100, 255, 256, 300])),
            q("g" * r.choice([100, 255, 256, 300])), typ)
    if k == 6:
        big = {"k%d" % i: i for i in range(300)}
        big.update(source=s, stategroupid=grp, type=json.loads(typ))
        return json.dumps(big, separators=(",", ":"))
    if k == 7:
        return ('{%s"source":%s,"stategroupid":%s,"data":{"a":[1,-2,2.5]},'
                '"n":-3,"ok":false,"type":%s}' % (head, q(s), q(grp), typ))
    if k == 8:
        return ('{"sourc\\u0065":%s,"stategroupid":%s,"source":"",'
                '"type":%s}' % (q(s), q(grp), typ))
    return ('{%s"source":%s,"specversion":"1.0","stategroupid":%s,'
            '"time":"2026-01-05T08:58:5%d.6128530Z","type":%s,"n":%d}' % (
                head, q(s), q(grp), r.randrange(10), typ, r.randrange(-5, 5)))
rx = 1767600000000000
for n in range(2500):
    rx += r.randrange(1, 200000)
    items = ",".join(item() for _ in range(r.randrange(0, 6)))
    if states and r.random() < 0.01:
        print('%d\t{"commandId":3,"status":200,"states":[%s]}' % (rx, items))
    elif r.random() < 0.05:
        print('%d\t{"x":1,"events":[%s]}' % (rx, items))
    else:
        print('%d\t{"events":[%s]}' % (rx, items))
PY
}
for st in 1 0; do
	odd_stateful 5 $st >"$T/os$st.in"
	$EVTOOL import --segment-age 30s "$T/os$st" "$T/os$st.in" 2>/dev/null
	check $? "import of odd stateful events (getState answers: $st)"
	awk -F '\t' 'NR % 12 == 0 { printf "%.0f\n%.0f\n", $1, $1 + 1 }' \
	    "$T/os$st.in" >"$T/os$st.times"
	same_states "$T/os$st" "$T/os$st.in" \
	    "odd stateful events (getState answers: $st)" "$T/os$st.times"
done
n=$(wc -l <"$T/s.a")
[ "$n" -gt 10 ]
check $? "odd stateful events: a table of $n entries at the end"
cp -R "$T/os1" "$T/osd"
for seg in $(ls "$T/osd"/seg-*.evt | sed -n '2p;4p'); do
	printf '\377\377' | dd of="$seg" bs=1 seek=$(($(wc -c <"$seg") / 3)) \
	    conv=notrunc 2>/dev/null
done
# (The later checkpoints were written with the frames damage took: with
# and without them, the tables may differ; each must be the rendering
# scan's.)
_slow=0
for _t in $(cat "$T/os1.times"); do
	for _c in "" "$NO"; do
		$_c $EVTOOL state --at "$_t" "$T/osd" >"$T/s.a" 2>/dev/null
		$SLOW $_c $EVTOOL state --at "$_t" "$T/osd" >"$T/s.c" 2>/dev/null
		cmp -s "$T/s.a" "$T/s.c" || _slow=1
	done
done
check $_slow "odd stateful events, two damaged segments: the flat scan equals the rendering one, with and without checkpoints"

done_testing
