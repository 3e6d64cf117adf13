#!/bin/sh
# info_sessions.sh: what `evtool info` says of sessions and provenance.
# "sessions" counts the recorder sessions, the SESSION markers whose event
# is "new" or "resumed" (README, "evtool info"), not the "continued"
# markers a recorder writes at every segment start and clean stop, nor the
# provenance markers of cut and merge; counted against `cat --markers`, on
# an evrec archive of several segments (SIGHUP rotations) with resumed
# sessions (evsim drops the connection every 500 events), sealed and
# covered by a roll-up run or not, with --scan the same.  A merged archive
# names its inputs ("merged from: IN (archive UUID, gateway URL); ...").
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
need_evsim
echo "pw-$$" >"$T/pw"

start_sim sim --user u --password-file "$T/pw" --rate 1000 --events 3000 \
    --seed 5 --drop-every 500
start_rec r --archive "$T/a" --user u --password-file "$T/pw" \
    --no-config-snapshot "http://127.0.0.1:$SIM_PORT"
wait_events "$T/a" 1000
kill -HUP $REC_PID
wait_events "$T/a" 2000
kill -HUP $REC_PID
wait_events "$T/a" 3000
checkl $? "evrec recorded 3000 events through drops and rotations" "$T/r.log"
stop_pid $REC_PID
start_rec r2 --archive "$T/a" --user u --password-file "$T/pw" \
    --no-config-snapshot "http://127.0.0.1:$SIM_PORT"
waitfor 1000 grep -q "resumed after event\|new session" "$T/r2.log"
checkl $? "a second evrec took the session up again" "$T/r2.log"
stop_pid $REC_PID
kill -TERM $SIM_PID
wait $SIM_PID 2>/dev/null

# sessions_of DIR: new and resumed SESSION markers by cat --markers.
sessions_of() {
	$EVTOOL cat --markers "$1" | awk -F'\t' '$2 == "SESSION"' |
	    grep -c '"event":"\(new\|resumed\)"'
}
markers=$($EVTOOL cat --markers "$T/a" | awk -F'\t' '$2 == "SESSION"' | wc -l)
want=$(sessions_of "$T/a")
got=$(info_field "$T/a" sessions)
check $([ "$want" -ge 3 ] && [ "$got" = "$want" ]; echo $?) \
    "info: sessions $got = the new and resumed markers ($want; $markers SESSION markers in all)"
check $([ "$markers" -gt "$want" ]; echo $?) \
    "... the continued markers are not counted ($((markers - want)))"
scan=$($EVTOOL info --scan "$T/a" | awk -F': *' '$1 == "sessions" {print $2}')
check $([ "$scan" = "$got" ]; echo $?) "info --scan: the same ($scan)"
nseg=$(ls "$T/a" | grep -c '^seg-')
check $([ "$nseg" -ge 3 ]; echo $?) "... over $nseg segments"

# A cut: its provenance marker is not a session; its window's sessions are.
F=$($EVTOOL cat --tsv "$T/a" | head -n 1 | cut -f1)
L=$($EVTOOL cat --tsv "$T/a" | tail -n 1 | cut -f1)
$EVTOOL cut --from "$F" --to $((L + 1)) "$T/a" "$T/c" 2>/dev/null
want=$(sessions_of "$T/c")
got=$(info_field "$T/c" sessions)
check $([ "$got" = "$want" ] && [ "$want" -ge 3 ]; echo $?) \
    "a cut: sessions $got = its new and resumed markers ($want)"

# A merge of the archive and its cut.
$EVTOOL merge "$T/m" "$T/a" "$T/c" >/dev/null 2>&1
check $? "merged"
want=$(sessions_of "$T/m")
got=$(info_field "$T/m" sessions)
check $([ "$got" = "$want" ]; echo $?) \
    "a merge: sessions $got = its new and resumed markers ($want)"
scan=$($EVTOOL info --scan "$T/m" | awk -F': *' '$1 == "sessions" {print $2}')
check $([ "$scan" = "$got" ] && ls "$T/m" | grep -q '^sum-'; echo $?) \
    "... its segments covered by a roll-up run; info --scan the same"
ua=$($EVTOOL cat --markers "$T/a" | head -n 1 >/dev/null; $PYTHON -c '
import json, subprocess, sys
out = subprocess.run([sys.argv[1], "cat", "--markers", sys.argv[2]],
    capture_output=True, text=True).stdout
m = json.loads(out.splitlines()[0].split("\t")[2])
print("; ".join("%s (archive %s%s)" % (i["archive"], i["uuid"],
    ", gateway " + i["gateway"] if i["gateway"] else "") for i in m["inputs"]))
' "$EVTOOL" "$T/m")
line=$($EVTOOL info "$T/m" | grep '^merged from:')
check $([ "$line" = "merged from:    $ua" ]; echo $?) \
    "info names the merge's inputs: $line"
# (A cut's gateway is its source's: the cut marker carries it;
# formats/records.md, "Records written by `evtool cut`".)
echo "$line" | grep -q "^merged from: *$T/a (archive [0-9a-f-]\{36\}, gateway http://127.0.0.1:[0-9]*); $T/c (archive [0-9a-f-]\{36\}, gateway http://127.0.0.1:[0-9]*)$"
check $? "... each input's path, archive UUID and gateway, in command-line order"
# The merged archive's first SESSION marker is its "merged" marker, whose
# inputs name gateways but which has no top-level gateway of its own: as
# the source of a cut, or an input of a merge, it is of gateway ""
# (formats/records.md, "Merged archives").
$EVTOOL cut --from "$F" --to $((L + 1)) "$T/m" "$T/mc" 2>/dev/null
check $? "a cut of the merged archive"
$EVTOOL cat --markers "$T/mc" | head -n 1 |
    grep -q '	SESSION	{"event":"cut","gateway":"","cutFrom":'
check $? "... its cut marker's gateway is \"\" (not one of the merged marker's inputs)"
$EVTOOL merge "$T/mm" "$T/m" "$T/a" >/dev/null 2>&1
check $? "a merge of the merged archive and a recording"
line=$($EVTOOL info "$T/mm" | grep '^merged from:')
echo "$line" | grep -q "^merged from: *$T/m (archive [0-9a-f-]\{36\}); $T/a (archive [0-9a-f-]\{36\}, gateway http://127.0.0.1:[0-9]*)$"
check $? "... the merged input is of gateway \"\", the recording of its own: $line"
# verify recounts a roll-up run's sessions (formats/rollup.md, header
# `sessions`; no reader checks it): right in the merge's run, and one
# more written into a copy's run (its header CRC made right) is reported
# with the run's file and the field's offset.
$EVTOOL verify "$T/m" >"$T/mv.out" 2>&1
check $([ $? -eq 0 ] && ! grep -q sessions "$T/mv.out"; echo $?) \
    "verify of the merge: its roll-up's sessions agree"
cp -r "$T/m" "$T/ms"
RUN=$(ls "$T/ms" | grep '^sum-' | head -n 1)
PYTHONPATH=$HERE $PYTHON -c '
import struct, sys
from crc32c import crc32c
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
flags, = struct.unpack_from("<H", b, 14)
assert flags & 1, "no SESSIONS flag"
n, = struct.unpack_from("<Q", b, 64)
struct.pack_into("<Q", b, 64, n + 1)
struct.pack_into("<I", b, 252, crc32c(bytes(b[:252])))
open(p, "wb").write(b)
' "$T/ms/$RUN"
check $? "one session more written into the copy's run $RUN"
$EVTOOL verify "$T/ms" >"$T/ms.out" 2>&1
vrc=$?
check $([ $vrc -ne 0 ] &&
    grep -q "$RUN: offset 64: sessions $((want + 1)), but its segments hold $want recorder sessions" "$T/ms.out"; echo $?) \
    "verify reports the wrong count (exit $vrc): $(grep sessions "$T/ms.out" | head -n 1)"
$EVTOOL info "$T/a" | grep -q '^merged from\|^cut from'
check $([ $? -ne 0 ]; echo $?) "a recorded archive names no provenance"
done_testing
