#!/bin/sh
# cut.sh: `evtool cut`, a window of an archive as a new, self-contained
# archive, compared with the original window: events, messages, frames
# (cat, --messages, --tsv), markers, names (--names, -o text; an archive
# with a rename inside the window and a source first named after it), the
# state at the window's start and later (evtool state --at), getState of
# evplay serving the cut against evplay serving the original from the same
# moment (essclient.py), --source/--type (a partly selected message keeps
# its selected events together), --around an id and a time, verify, info's
# provenance, a cut of a cut, and bad input (no archive, an empty window,
# OUT exists, a kill -9 while cutting).  Real binaries, files, sockets.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
EVPLAY=$BUILD/evplay
T0=1767600000000000
FROM=$((T0 + 60000000))
TO=$((T0 + 100000000))

# same DESC CMD_A CMD_B: the two commands print the same, and something.
same() {
	_d=$1
	eval "$2" >"$T/same.a" 2>"$T/same.ea"
	_ra=$?
	eval "$3" >"$T/same.b" 2>"$T/same.eb"
	_rb=$?
	if [ $_ra -eq 0 ] && [ $_rb -eq 0 ] && [ -s "$T/same.a" ] &&
	    cmp -s "$T/same.a" "$T/same.b"; then
		check 0 "$_d"
	else
		check 1 "$_d"
		echo "#   exits $_ra $_rb, $(wc -l <"$T/same.a") against" \
		    "$(wc -l <"$T/same.b") lines"
		diff "$T/same.a" "$T/same.b" | head -n 10 | sed 's/^/#   /'
		cat "$T/same.ea" "$T/same.eb" | head -n 5 | sed 's/^/#   /'
	fi
}

# The archive of test_names: 600 events of 5 sources over 150 s in four
# sealed segments; CONFIG at T0+1 s (snapshot), T0+75 s (a rename, inside
# the window) and T0+112.5 s (camera 5 first named, after the window); a
# getState answer at T0+50 s, before the window.
need_built test_names
"$BUILD/tests/test_names" --write-archive "$T/a"
check $? "the test archive is written"
$EVTOOL cut --from $FROM --to $TO "$T/a" "$T/c" 2>"$T/cut.err"
check $? "cut --from --to exits 0"
t "no temporary directory is left" sh -c "! ls -d '$T'/c.tmp-* 2>/dev/null"
t "verify of the cut is clean" $EVTOOL verify "$T/c"

W="--from $FROM --to $TO"
same "cat: the window's events, equal" "$EVTOOL cat $W $T/a" \
    "$EVTOOL cat $T/c"
same "cat --messages: equal" "$EVTOOL cat --messages $W $T/a" \
    "$EVTOOL cat --messages $T/c"
same "cat --tsv: every received frame, receive times equal (the synthesised snapshot is not one)" \
    "$EVTOOL cat --tsv $W $T/a" "$EVTOOL cat --tsv $T/c"
same "cat --names: the names as of each event, equal (the rename inside, camera 5 named after)" \
    "$EVTOOL cat --names $W $T/a" "$EVTOOL cat --names $T/c"
same "cat -o text -v: equal" "$EVTOOL cat -o text --utc -v $W $T/a" \
    "$EVTOOL cat -o text --utc -v $T/c"
for at in $FROM $((FROM + 7000000)) $((T0 + 80000000)) $((TO - 1)); do
	same "state --at $((at - T0)) us after T0: equal" \
	    "$EVTOOL state --names --at $at $T/a" \
	    "$EVTOOL state --names --at $at $T/c"
done
same "evplay --state --names: the state at the start and the events, equal" \
    "$EVPLAY --top-speed -q --state --names $W $T/a" \
    "$EVPLAY --top-speed -q --state --names $T/c"
t "the state at the start is not trivial" test \
    "$($EVTOOL state --at $FROM "$T/c" | wc -l)" -ge 3
same "the window's SESSION, GAP and CONFIG markers follow the two synthesised ones" \
    "$EVTOOL cat --markers $T/a | awk -F '	' '\$1 >= $FROM && \$1 < $TO'" \
    "$EVTOOL cat --markers $T/c | tail -n +3"
$EVTOOL cat --markers "$T/c" | head -n 2 >"$T/c.syn"
t "the first is the cut marker, the second the synthesised names" \
    grep -q "^$FROM	SESSION	{\"event\":\"cut\"" "$T/c.syn"
t "... CONFIG marked evtapeSynthesised" grep -q \
    "^$FROM	CONFIG	{\"evtapeSynthesised\":\"cut\"" "$T/c.syn"
$EVTOOL info "$T/c" >"$T/c.info"
t "info says where it was cut from: the archive, its window" grep -q \
    "^cut from: *$T/a (archive [0-9a-f-]*), window 2026-01-05T08:01:00.000000Z .. 2026-01-05T08:01:40.000000Z, sources \[\], types \[\], cut at 20" \
    "$T/c.info"
t "info of the original says nothing of a cut" sh -c \
    "! $EVTOOL info '$T/a' | grep -q '^cut from'"
ID=$($EVTOOL cat "$T/c" | sed -n '20s/.*"id":"\([^"]*\)".*/\1/p')
same "get by id: the same event, received at the same time" \
    "$EVTOOL get --meta $T/a $ID | sed 's/\"block_offset.*record_offset\":[0-9]*,//; s/\"segment\":\"[^\"]*\",//'" \
    "$EVTOOL get --meta $T/c $ID | sed 's/\"block_offset.*record_offset\":[0-9]*,//; s/\"segment\":\"[^\"]*\",//'"

# A cut of the cut, a narrower window: the same as cutting the original.
F2=$((FROM + 10000000))
T2=$((TO - 10000000))
$EVTOOL cut --from $F2 --to $T2 "$T/c" "$T/cc" 2>/dev/null
check $? "a cut of the cut exits 0"
same "... its events equal the original's" \
    "$EVTOOL cat --names --from $F2 --to $T2 $T/a" "$EVTOOL cat --names $T/cc"
same "... its state at its start equals the original's" \
    "$EVTOOL state --at $F2 $T/a" "$EVTOOL state --at $F2 $T/cc"

# Filters, on evgen events (messages of 1-10 events, 20 cameras) with a
# getState answer first: a message keeps its selected events together.
make_archive "$T/g" 5 6000 200 20 --segment-age 5s
NL=$(wc -l <"$T/g.in")
GF=$(sed -n "$((NL / 3))p" "$T/g.in" | cut -f1)
GT=$(sed -n "$((NL * 2 / 3))p" "$T/g.in" | cut -f1)
SRC=$($EVTOOL cat "$T/g" | sed -n '3000s/.*"source":"\([^"]*\)".*/\1/p')
TYP=$($EVTOOL cat "$T/g" | sed -n '3001s/.*"type":"\([^"]*\)".*/\1/p')
$EVTOOL cut --from $GF --to $GT --source "$SRC" "$T/g" "$T/gs" 2>/dev/null
check $? "cut --source exits 0"
same "--source: the source's events of the window, equal" \
    "$EVTOOL cat --from $GF --to $GT --source $SRC $T/g" "$EVTOOL cat $T/gs"
same "--source: its messages (selected events only), equal" \
    "$EVTOOL cat --messages --from $GF --to $GT --source $SRC $T/g" \
    "$EVTOOL cat --messages $T/gs"
same "--source: the source's state at the start, equal" \
    "$EVTOOL state --at $GF --source $SRC $T/g" "$EVTOOL state --at $GF $T/gs"
$EVTOOL cut --from $GF --to $GT --type "$TYP" --source "$SRC" \
    --source "$($EVTOOL cat "$T/g" | sed -n '2500s/.*"source":"\([^"]*\)".*/\1/p')" \
    "$T/g" "$T/gt" 2>/dev/null
check $? "cut --type --source --source exits 0"
same "--type with two sources: equal" \
    "$EVTOOL cat --messages $W --from $GF --to $GT --type $TYP --source $SRC --source $($EVTOOL cat "$T/g" | sed -n '2500s/.*"source":"\([^"]*\)".*/\1/p') $T/g" \
    "$EVTOOL cat --messages $T/gt"
t "verify of the filtered cuts is clean" sh -c \
    "$EVTOOL verify '$T/gs' && $EVTOOL verify '$T/gt'"
$EVTOOL cut --from $GF --to $GT "$T/g" "$T/gw" 2>/dev/null
same "no filter: every frame of the window, equal" \
    "$EVTOOL cat --tsv --from $GF --to $GT $T/g" "$EVTOOL cat --tsv $T/gw"
t "a cut's info: the synthesised snapshot counts as a state snapshot" \
    grep -q '^state snapshots: 1$' "$($EVTOOL info "$T/gw" >"$T/gw.info"; \
    echo "$T/gw.info")"

# Whole blocks: an unfiltered cut copies the blocks of a source segment
# that lie wholly in the window as they are (from the segment's first
# block on, into a segment of the cut of their own) and re-encodes the
# rest.  Small blocks (17 KiB: smaller ones would be compacted) and
# dictionary units (40 KiB), segments of 10 s: the window
# begins inside a segment (re-encoded), covers whole ones (copied) and
# ends inside one (its first blocks copied, the rest re-encoded after
# them in a new unit).  Everything reads as the re-encoded cut reads.
make_archive "$T/b" 7 8000 200 20 --segment-age 10s --block-size 17k \
    --dict-unit 40k
NL=$(wc -l <"$T/b.in")
MF=$(sed -n "$((NL / 5))p" "$T/b.in" | cut -f1)
MT=$(sed -n "$((NL * 7 / 10))p" "$T/b.in" | cut -f1)
MW="--from $MF --to $MT"
$EVTOOL cut $MW "$T/b" "$T/bc" 2>"$T/bc.err"
check $? "cut of small blocks exits 0"
EVTAPE_CUT_REENCODE=1 $EVTOOL cut $MW "$T/b" "$T/br" 2>"$T/br.err"
check $? "... and with every frame re-encoded (EVTAPE_CUT_REENCODE=1)"
NC=$(sed -n 's/.*, \([0-9]*\) blocks copied whole$/\1/p' "$T/bc.err")
t "blocks were copied whole ($NC)" test "${NC:-0}" -gt 4
t "... none when re-encoding" grep -q ', 0 blocks copied whole$' "$T/br.err"
set -- $(python3 "$HERE/blockcmp.py" "$T/bc" "$T/b")
t "... byte for byte blocks of the source: $1 of the cut's $2 blocks" \
    test "$1" -eq "${NC:-x}"
t "verify of the copying cut is clean" $EVTOOL verify "$T/bc"
for q in "cat --tsv" "cat --names" "cat --messages" "cat --markers" \
    "stats" "stats --scan"; do
	same "copied: $q equals the re-encoded cut's" \
	    "$EVTOOL $q $T/br | sed 's/\"cutAt\":\"[^\"]*\"//; /^archive:/d'" \
	    "$EVTOOL $q $T/bc | sed 's/\"cutAt\":\"[^\"]*\"//; /^archive:/d'"
done
same "copied: cat --tsv equals the source's window" \
    "$EVTOOL cat --tsv $MW $T/b" "$EVTOOL cat --tsv $T/bc"
for at in $MF $(((MF + MT) / 2)) $((MT - 1)); do
	same "copied: state --at $((at - MF)) us after the start equals the source's" \
	    "$EVTOOL state --at $at $T/b" "$EVTOOL state --at $at $T/bc"
done
same "copied: state --at its middle without checkpoints: equal" \
    "EVTAPE_NO_CHECKPOINT=1 $EVTOOL state --at $(((MF + MT) / 2)) $T/b" \
    "EVTAPE_NO_CHECKPOINT=1 $EVTOOL state --at $(((MF + MT) / 2)) $T/bc"
MID=$($EVTOOL cat "$T/bc" | sed -n "$(($($EVTOOL cat "$T/bc" | wc -l) / 2))s/.*\"id\":\"\([^\"]*\)\".*/\1/p")
same "copied: get by id (the id index of copied blocks)" \
    "$EVTOOL get $T/b $MID" "$EVTOOL get $T/bc $MID"
# A cut of the copying cut, all of it and a narrower window: blocks that
# were copied are copied again.
$EVTOOL cut --from $MF --to $MT "$T/bc" "$T/bcc" 2>"$T/bcc.err"
check $? "a cut of the copying cut exits 0"
t "... copies blocks whole too" grep -q ', [1-9][0-9]* blocks copied whole$' \
    "$T/bcc.err"
same "... its frames are the window's" "$EVTOOL cat --tsv $MW $T/b" \
    "$EVTOOL cat --tsv $T/bcc"
M2=$(((MF + MT) / 2))
$EVTOOL cut --from $M2 --to $MT "$T/bc" "$T/bc2" 2>/dev/null
same "... a later start: frames and state equal the source's" \
    "$EVTOOL cat --tsv --from $M2 --to $MT $T/b; $EVTOOL state --at $M2 $T/b" \
    "$EVTOOL cat --tsv $T/bc2; $EVTOOL state --at $M2 $T/bc2"
t "verify of the cuts of the cut is clean" sh -c \
    "$EVTOOL verify '$T/bcc' && $EVTOOL verify '$T/bc2'"
# A damaged block among them (one flipped byte of its zstd frame): the
# blocks before it are copied, it is reported and left out as cat leaves
# it out, and what follows is read frame by frame; the cut verifies.
cp -r "$T/b" "$T/bd"
SEG=$(ls "$T/bd" | grep '^seg-' | sed -n 2p)
$PYTHON - "$T/bd/$SEG" <<'PY'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
off = 64
for _ in range(2):	# to block 2
	zlen, _, nguid = struct.unpack_from("<III", b, off + 8)
	packed = b[off + 6] in (2, 3) and struct.unpack_from("<I", b, off + 36)[0] & 0x10
	off += 64 + zlen + ((122 * nguid + 7) // 8 if packed else 16 * nguid)
b[off + 64 + 20] ^= 0x40
open(p, "wb").write(b)
PY
$EVTOOL cut $MW "$T/bd" "$T/bdc" 2>"$T/bdc.err"
check $([ $? -eq 1 ] && grep -q "$SEG" "$T/bdc.err"; echo $?) \
    "a damaged block in the window: exit 1, the damage reported"
ND=$(sed -n 's/.*, \([0-9]*\) blocks copied whole$/\1/p' "$T/bdc.err")
t "... fewer blocks copied ($ND of $NC)" test "${ND:-0}" -lt "${NC:-0}"
same "... the cut holds what cat reads of the window (cat exits 1)" \
    "$EVTOOL cat --tsv $MW $T/bd 2>/dev/null; true" "$EVTOOL cat --tsv $T/bdc"
t "... and verifies" $EVTOOL verify "$T/bdc"

# Frames that are not event messages: a command response (JSON), text
# that is not JSON, bytes that are not UTF-8, a message with an envelope:
# copied byte for byte with their receive times.
{
	head -n 40 "$T/g.in"
	printf '%s\t{"commandId":7,"status":200}\n' "$GF"
	printf '%s\tnot json at all\n' "$((GF + 1))"
	printf '%s\t{"x":"\377"}\n' "$((GF + 2))"
	printf '%s\t{"type":"t","events":[{"id":"e-env","n":1.50}],"more":1}\n' \
	    "$((GF + 3))"
	sed -n '41,$p' "$T/g.in"
} >"$T/r.in"
$EVTOOL import "$T/r" "$T/r.in" 2>/dev/null
$EVTOOL cut --from $GF --to $GT "$T/r" "$T/rc" 2>/dev/null
same "JSON, raw and enveloped frames: cat --tsv equal" \
    "$EVTOOL cat --tsv --from $GF --to $GT $T/r" "$EVTOOL cat --tsv $T/rc"
t "... the raw ones among them" sh -c "$EVTOOL cat --tsv '$T/rc' | grep -q 'not json at all'"

# The state at the start when the last getState answer lies in the middle
# of a big sealed segment (the cursor starts at its block, from the
# summary): against stateref.py, the reference from `cat --tsv`.
MID=$(sed -n "$((NL / 2))p" "$T/g.in" | cut -f1)
{
	sed -n "1,$((NL / 2))p" "$T/g.in"
	printf '%s\t{"commandId":9,"status":200,"states":%s}\n' "$MID" \
	    "$($EVGEN --seed 6 --cameras 20 --states)"
	sed -n "$((NL / 2 + 1)),\$p" "$T/g.in"
} >"$T/m.in"
$EVTOOL import --block-size 4k --segment-size 1T --segment-age 3650d \
    "$T/m" "$T/m.in" 2>/dev/null
$EVTOOL cat --tsv "$T/m" >"$T/m.tsv"
AM=$(sed -n "$((NL * 2 / 3))p" "$T/g.in" | cut -f1)
ids() { $PYTHON -c 'import json, sys
print("\n".join(sorted(json.loads(l)["id"] for l in sys.stdin)))'; }
same "one segment, a getState answer in its middle: state --at after it == stateref.py" \
    "$EVTOOL state --at $AM $T/m | ids" "$PYTHON $HERE/stateref.py $T/m.tsv $AM incl"
$EVTOOL cut --from $((AM + 1)) --to $((AM + 5000000)) "$T/m" "$T/mc" 2>/dev/null
same "... and the cut's state at its start is that state" \
    "$EVTOOL state --at $AM $T/m" "$EVTOOL state --at $((AM + 1)) $T/mc"
t "... it is a single segment" test "$(ls "$T/m" | grep -c '^seg-')" -eq 1

# --around an id and a time: window/2 either side.
AID=$($EVTOOL cat "$T/g" | sed -n '3500s/.*"id":"\([^"]*\)".*/\1/p')
AT=$(grep -F "\"id\":\"$AID\"" "$T/g.in" | cut -f1)
$EVTOOL cut --around "$AID" --window 4s "$T/g" "$T/ga" 2>/dev/null
check $? "cut --around ID --window 4s exits 0"
same "--around ID: the events of [rx - 2 s, rx + 2 s)" \
    "$EVTOOL cat --from $((AT - 2000000)) --to $((AT + 2000000)) $T/g" \
    "$EVTOOL cat $T/ga"
$EVTOOL cut --around $AT --window 3s "$T/g" "$T/gb" 2>/dev/null
same "--around TIME: the events of [T - 1.5 s, T + 1.5 s)" \
    "$EVTOOL cat --from $((AT - 1500000)) --to $((AT + 1500000)) $T/g" \
    "$EVTOOL cat $T/gb"

$EVTOOL cut --around $AT "$T/g" "$T/gd" 2>/dev/null
same "--around without --window: 15 minutes, as report's" \
    "$EVTOOL cat --from $((AT - 450000000)) --to $((AT + 450000000)) $T/g" \
    "$EVTOOL cat $T/gd"

# evplay serving the cut answers getState as evplay serving the original
# from the window's start.
need_websockets
C="$PYTHON $HERE/essclient.py"
start_srv "$EVPLAY" po --any-user --speed 0.001 --from $GF "$T/g"
PO=$SRV_PORT
POP=$SRV_PID
start_srv "$EVPLAY" pc --any-user --speed 0.001 "$T/gw"
PC=$SRV_PORT
PCP=$SRV_PID
same "evplay --listen: getState on the cut == on the original --from its start" \
    "$C --port $PO states" "$C --port $PC states"
t "... and that state is not trivial" test "$(wc -l <"$T/same.a")" -gt 10
stop_pid "$POP"
stop_pid "$PCP"
same "evplay --tsv of the cut: the original's frames of the window" \
    "$EVPLAY --top-speed -q --tsv --from $GF --to $GT $T/g" \
    "$EVPLAY --top-speed -q --tsv $T/gw"

# Bad input: a clear error, no OUT, nothing left behind.
$EVTOOL cut --from $FROM --to $TO "$T/nope" "$T/x1" 2>"$T/e1"
check $([ $? -ne 0 ] && grep -q "nope: no such archive" "$T/e1" &&
    [ ! -e "$T/x1" ]; echo $?) "a missing archive: an error naming it, no OUT"
$EVTOOL cut --from $((T0 + 500000000)) --to $((T0 + 600000000)) "$T/a" \
    "$T/x2" 2>"$T/e2"
check $([ $? -eq 3 ] && grep -q "no selected event received in" "$T/e2" &&
    ! ls -d "$T"/x2* >/dev/null 2>&1; echo $?) \
    "an empty window: an error, no OUT, no temporary directory"
$EVTOOL cut --from $FROM --to $TO --source cameras/nobody "$T/a" "$T/x3" \
    2>"$T/e3"
check $([ $? -eq 3 ] && grep -q "no selected event" "$T/e3" &&
    [ ! -e "$T/x3" ]; echo $?) "a filter selecting nothing: the same"
mkdir "$T/x4" && echo keep >"$T/x4/f"
$EVTOOL cut --from $FROM --to $TO "$T/a" "$T/x4" 2>"$T/e4"
check $([ $? -eq 2 ] && grep -q "x4: exists and is not an empty directory" \
    "$T/e4" && [ "$(cat "$T/x4/f")" = keep ]; echo $?) \
    "OUT exists and is not empty: refused, left as it was"
$EVTOOL cut --from $FROM --to $TO "$T/a" "$T/c" 2>/dev/null
check $([ $? -eq 2 ]; echo $?) "OUT an existing archive: refused"
mkdir "$T/x5"
$EVTOOL cut --from $FROM --to $TO "$T/a" "$T/x5" 2>/dev/null
check $? "OUT an empty directory: written"
same "... and it is the cut" "$EVTOOL cat $T/c" "$EVTOOL cat $T/x5"
$EVTOOL cut --from $TO --to $FROM "$T/a" "$T/x6" 2>"$T/e6"
check $([ $? -eq 2 ] && [ ! -e "$T/x6" ]; echo $?) \
    "--from after --to: a usage error"
$EVTOOL cut --from $FROM "$T/a" "$T/x7" 2>"$T/e7"
check $([ $? -eq 2 ] && grep -q "are needed" "$T/e7"; echo $?) \
    "--from without --to: a usage error"
$EVTOOL cut --around nosuchid --window 1m "$T/a" "$T/x8" 2>"$T/e8"
check $([ $? -ne 0 ] && grep -q "no event with id nosuchid" "$T/e8" &&
    [ ! -e "$T/x8" ]; echo $?) "--around an unknown id: an error"

# kill -9 while cutting: OUT is absent, or a whole archive that verifies
# (what the kill leaves and its removal: out_leftover.sh).
$EVTOOL cut --from $((GF - 20000000)) --to $((GT + 20000000)) "$T/g" \
    "$T/k" 2>/dev/null &
KP=$!
waitfor 1000 sh -c "ls -d '$T'/k* >/dev/null 2>&1"
kill -9 $KP 2>/dev/null
wait $KP 2>/dev/null
check $(if [ -e "$T/k" ]; then $EVTOOL verify "$T/k" >/dev/null 2>&1; else
    true; fi; echo $?) \
    "kill -9 while cutting: no OUT, or one that verifies ($(ls -d "$T"/k* | sed 's,.*/,,' | tr '\n' ' '))"

done_testing
