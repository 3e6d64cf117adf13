#!/bin/sh
# readloss.sh: every tool that reads an archive either returns every event
# or says on stderr, naming file and offset, and in its exit status what it
# could not read (issue 10, items 2 and 3).  Each case damages a copy of
# one archive: a segment replaced by a directory, a dangling symlink, a
# symlink loop, a file the reader may not read, a FIFO (which hung every
# reader and evrec in open()), a removed middle segment, a sealed older
# segment cut at a block boundary (it read as an open segment), a damaged
# id filter (get said "no event" for events cat prints), a segment with
# no readable block (UBSan: NULL memcpy in verify), and an event received
# at the largest receive time (at INT64_MAX us get found it, cat did not).
# Every wait is bounded.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
EVPLAY=$BUILD/evplay

$EVGEN --seed 5 --events 20000 >"$T/in.tsv"
$EVTOOL import --segment-filter --block-size 64k --segment-size 150k "$T/a" \
    "$T/in.tsv" 2>/dev/null
$EVTOOL cat "$T/a" >"$T/ref.jsonl"
nref=$(wc -l <"$T/ref.jsonl")
nseg=$(ls "$T/a" | grep -c '^seg-')
check $([ "$nref" -ge 20000 ] && [ "$nseg" -ge 4 ]; echo $?) \
    "an archive of $nref events in $nseg segments"
mid=$(ls "$T/a" | grep '^seg-' | sed -n 2p)
last=$(ls "$T/a" | grep '^seg-' | tail -n 1)

# fresh NAME: a copy of the archive in $T/NAME.
fresh() {
	rm -rf "${T:?}/$1"
	cp -R "$T/a" "$T/$1"
}

# blocks FILE: the offset of the end of every block of a segment, from
# the block headers (formats/segment.md, "Block header").
blocks() {
	$PYTHON - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], 'rb').read()
end = len(d) - 128 if d[-128:-120] == b'\x89EVTIDX\n' else len(d)
if end < len(d):
    end = struct.unpack_from('<Q', d, len(d) - 128 + 16)[0]
off = 64
while off + 64 <= end and d[off:off + 4] == b'\x9eEBK':
    zlen, = struct.unpack_from('<I', d, off + 8)
    nguid, = struct.unpack_from('<I', d, off + 16)
    flags, = struct.unpack_from('<I', d, off + 36)
    packed = d[off + 6] in (2, 3) and flags & 0x10  # 122-bit ids (1.4, 1.6)
    off += 64 + zlen + ((122 * nguid + 7) // 8 if packed else 16 * nguid)
    print(off)
EOF
}

# readers NAME DIR WHAT [RUN...]: cat, verify, stats --scan and evplay
# (stdout) on a damaged archive must each end by themselves, exit 1, name
# segment WHAT on stderr and say that events could not be read; evplay
# plays what cat prints.  RUN (e.g. setpriv ...) prefixes the commands.
readers() {
	_n=$1 _d=$2 _w=$3
	shift 3
	timeout -k 5 60 "$@" $EVTOOL cat "$_d" >"$T/$_n.cat" 2>"$T/$_n.err"
	_rc=$?
	check $([ $_rc -eq 1 ] && grep -q "$_w: offset [0-9]*: " "$T/$_n.err" &&
	    grep -q 'events could not be read' "$T/$_n.err"; echo $?) \
	    "$_n: cat exits 1 (got $_rc), names $_w and says events could not be read"
	[ $_rc -eq 1 ] || sed 's/^/#   /' "$T/$_n.err" | head -n 5
	check $([ "$(wc -l <"$T/$_n.cat")" -lt "$nref" ]; echo $?) \
	    "$_n: (the damage does lose events: $(wc -l <"$T/$_n.cat") of $nref)"
	timeout -k 5 60 "$@" $EVTOOL verify "$_d" >"$T/$_n.vout" 2>"$T/$_n.verr"
	_rc=$?
	check $([ $_rc -eq 1 ] && grep -q "$_w: offset [0-9]*: " "$T/$_n.verr" &&
	    ! grep -q 'segments ok' "$T/$_n.vout"; echo $?) \
	    "$_n: verify exits 1 (got $_rc) and names $_w"
	# --scan: reads the events as cat does (plain stats counts a sealed
	# segment from its summary, without reading its blocks; README).
	timeout -k 5 60 "$@" $EVTOOL stats --scan "$_d" >/dev/null 2>"$T/$_n.serr"
	_rc=$?
	check $([ $_rc -eq 1 ] && grep -q "$_w: offset [0-9]*: " "$T/$_n.serr"; echo $?) \
	    "$_n: stats exits 1 (got $_rc) and names $_w"
	timeout -k 5 60 "$@" $EVPLAY --top-speed -q "$_d" >"$T/$_n.play" 2>"$T/$_n.perr"
	_rc=$?
	check $([ $_rc -eq 1 ] && grep -q "$_w: offset [0-9]*: " "$T/$_n.perr" &&
	    grep -q 'events could not be read' "$T/$_n.perr" &&
	    cmp -s "$T/$_n.play" "$T/$_n.cat"; echo $?) \
	    "$_n: evplay exits 1 (got $_rc), names $_w, plays what cat prints"
}

# 1. A middle segment replaced by a directory, a dangling symlink, a
# symlink loop, a FIFO; removed.
fresh dir
rm "$T/dir/$mid" && mkdir "$T/dir/$mid"
readers dir "$T/dir" "$mid"
fresh dangling
rm "$T/dangling/$mid" && ln -s "$T/nowhere" "$T/dangling/$mid"
readers dangling "$T/dangling" "$mid"
fresh loop
rm "$T/loop/$mid" && ln -s "$mid" "$T/loop/$mid"
readers loop "$T/loop" "$mid"
fresh fifo
rm "$T/fifo/$mid" && mkfifo "$T/fifo/$mid"
readers fifo "$T/fifo" "$mid"
fresh removed
rm "$T/removed/$mid"
readers removed "$T/removed" "$(ls "$T/a" | grep '^seg-' | sed -n 3p)"

# 2. Permission denied.  Root reads any file, so as root the readers run
# as nobody (setpriv) over an archive nobody may read but for one segment.
fresh perm
chmod 755 "$T" "$T/perm"
chmod 644 "$T/perm"/seg-*
chmod 600 "$T/perm/$mid"
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	readers perm "$T/perm" "$mid" setpriv --reuid=65534 --regid=65534 \
	    --clear-groups
elif [ "$(id -u)" -ne 0 ]; then
	chmod 000 "$T/perm/$mid"
	readers perm "$T/perm" "$mid"
else
	check 0 "perm: # skip setpriv is missing"
fi

# 3. A sealed segment that is not the newest, cut exactly at a block
# boundary: it reads as unsealed, which only a writer's crash explains.
fresh cut
cutat=$(blocks "$T/cut/$mid" | sed -n 1p)
truncate -s "$cutat" "$T/cut/$mid"
readers cut "$T/cut" "$mid"
t "cut: the message says why" grep -q "not the newest segment" "$T/cut.err"
# The same shape is what a running writer leaves for a moment after a
# rotation (the segment before its open one is being sealed): while the
# lock is held (flock(1) here, like evrec) it is not reported.
fresh crash
crashed=$(ls "$T/a" | grep '^seg-' | tail -n 2 | head -n 1)
truncate -s "$(blocks "$T/crash/$crashed" | tail -n 1)" "$T/crash/$crashed"
t "a writer holds the lock: the segment it is sealing is not damage" \
    flock "$T/crash/LOCK" $EVTOOL cat "$T/crash"

# 4. A segment whose every block is zeroed (verify once passed a NULL
# source to memcpy: UBSan, make asan).
fresh zero
dend=$(blocks "$T/a/$mid" | tail -n 1)
dd if=/dev/zero of="$T/zero/$mid" bs=1 seek=64 count=$((dend - 64)) \
    conv=notrunc 2>/dev/null
readers zero "$T/zero" "$mid"

# 5. A damaged id filter: get must still find every event cat prints.
fresh filt
$PYTHON - "$T/filt/$mid" <<'EOF'
import struct, sys
p = sys.argv[1]
d = bytearray(open(p, 'rb').read())
t = len(d) - 128
off, n = struct.unpack_from('<QQ', d, t + 40)
d[off:off + n] = bytes(n)
open(p, 'wb').write(d)
EOF
n1=$($EVTOOL ls "$T/a" | awk 'NR == 2 {print $4}')
bad=0
for k in 1 50 500 1000; do
	line=$(sed -n "$((n1 + k))p" "$T/ref.jsonl")
	id=$(printf '%s' "$line" | grep -o '"id":"[^"]*"' | head -n 1 | cut -d'"' -f4)
	# (The segment's own filter: the archive's id index, which would
	# answer without it, is set aside.)
	got=$(EVTAPE_NO_IDINDEX=1 timeout -k 5 60 $EVTOOL get "$T/filt" "$id" \
	    2>"$T/get.err")
	[ "$got" = "$line" ] && grep -q "$mid: offset [0-9]*: id filter" \
	    "$T/get.err" || bad=$((bad + 1))
done
check $bad "damaged id filter: get finds the events cat prints, and reports the filter"
t "damaged id filter: verify reports it" sh -c "! $EVTOOL verify $T/filt"

# 6. An event received at the largest receive time: cat and get agree.
# (Once INT64_MAX us, which cat filtered out as "the end"; receive times
# are now bounded to years 0001..9999, formats/tsv.md.)
max=253402300799999999
printf '%s\t{"events":[{"id":"00000000-0000-4000-8000-000000000001","n":1}]}\n%s\t{"events":[{"id":"00000000-0000-4000-8000-000000000002","n":2}]}\n' \
    $((max - 1)) $max | $EVTOOL import "$T/max" 2>/dev/null
t "largest receive time: cat prints the event get finds" sh -c \
    "$EVTOOL cat $T/max | grep -q '\"n\":2' && $EVTOOL get $T/max 00000000-0000-4000-8000-000000000002 | grep -q '\"n\":2'"
t "largest receive time: cat --tsv too" sh -c "$EVTOOL cat --tsv $T/max | grep -q '^$max	'"
t "largest receive time: evplay too" sh -c "$EVPLAY --top-speed -q $T/max | grep -q '\"n\":2'"

# 7. A FIFO named like a segment in the archive of a replay server and of
# a recorder: they start, serve or record, and stop on SIGTERM.
fresh fifo2
mkfifo "$T/fifo2/seg-000000000099.evt"
start_srv "$EVPLAY" play --any-user "$T/fifo2"
check $? "evplay --listen starts on an archive holding a FIFO"
play=$SRV_PID
waitfor 1000 grep -q "seg-000000000099.evt: offset 0: not a regular file" \
    "$T/play.out"
check $? "evplay --listen names the FIFO"
kill -TERM $play 2>/dev/null
waitfor 1000 sh -c "! kill -0 $play"
check $? "evplay --listen stops on SIGTERM"
kill -9 $play 2>/dev/null
echo "pw-$$" >"$T/pw"
start_sim sim --user u --password-file "$T/pw" --rate 0 --events 3000 --seed 7
start_rec rec --archive "$T/fifo2" --user u --password-file "$T/pw" \
    "http://127.0.0.1:$SIM_PORT"
rec=$REC_PID
wait_events "$T/fifo2" $((nref + 3000)) 30
checkl $? "evrec records into an archive holding a FIFO" "$T/rec.log"
kill -TERM $rec 2>/dev/null
waitfor 1000 sh -c "! kill -0 $rec"
check $? "evrec stops on SIGTERM"
kill -9 $rec $SIM_PID 2>/dev/null
t "evrec said why it cannot resume the FIFO" grep -q "seg-000000000099.evt: offset 0: not a regular file" "$T/rec.log"

done_testing
