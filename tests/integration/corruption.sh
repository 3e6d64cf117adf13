#!/bin/sh
# corruption.sh: the corruption campaign (issue 10): a seeded run of
# CASES damaged copies of one archive (flips, zeroed ranges, truncations,
# non-regular files, a removed segment), each read by evtool cat, evtool
# verify and evplay; every event must be printed unchanged or counted as
# lost, and a loss must fail the exit status (corruption.py says how).
# SEED and CASES reproduce or widen a run: SEED=7 CASES=500 sh ...
. "$(dirname "$0")/lib.sh"
SEED=${SEED:-1}
CASES=${CASES:-48}
# Three sealed segments of six blocks and a newest one of four left
# unsealed (its index and trailer cut off, as after a crash): its blocks
# are read with the dictionary they build, so damage there also costs
# the definitions later blocks need.
$EVGEN --seed 9 --events 27000 >"$T/in.tsv"
$EVTOOL import --block-size 64k --segment-size 300k "$T/a" "$T/in.tsv" \
    2>/dev/null
newest=$(ls "$T/a"/seg-*.evt | tail -n 1)
$PYTHON - "$newest" <<'PY'
import struct, sys
p = sys.argv[1]
d = open(p, 'rb').read()
end = struct.unpack_from('<Q', d, len(d) - 128 + 16)[0]
open(p, 'wb').write(d[:end])
PY
$EVTOOL cat "$T/a" >"$T/ref.jsonl" 2>"$T/ref.err"
if [ $? -ne 0 ] || [ "$(wc -l <"$T/ref.jsonl")" -lt 27000 ]; then
	check 1 "the reference archive reads whole"
	sed 's/^/#   /' "$T/ref.err" | head
	done_testing
	exit 1
fi
# (Not exec: the trap of lib.sh removes $T when this shell exits.)
$PYTHON "$HERE/corruption.py" "$EVTOOL" "$BUILD/evplay" "$T/a" \
    "$T/ref.jsonl" "$T" "$SEED" "$CASES"
