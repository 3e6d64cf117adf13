#!/bin/sh
# bench/cut.sh: what `evtool cut` costs (README, "evtool cut"): 15
# minutes cut out of CUT_EVENTS (default 10,000,000) evgen events (seed
# 43, 200 events/s: about 180,000 events in the window), beside `evtool
# cat` of the same window (the same events read and printed) in the same
# run, CPU seconds (user + system: the machine is shared), best of
# CUT_RUNS (5), interleaved; and `evtool state --at` the
# window's start, the part of the cut that derives the state in force.
# The archive holds a getState answer every hour of receive time, as
# evrec records one every --state-interval (1 h by default); the window
# starts 59 minutes after one (the farthest the state is derived from).
# A second archive without any getState answer shows the worst case:
# the state is then derived from the archive's first event.  Each figure
# also without the state checkpoints of revision 1.7 (readers ignoring
# them: EVTAPE_NO_CHECKPOINT=1), the scan back to the last getState
# answer, in the same run, and the cut and state --at with the scan that
# renders every event (EVTAPE_STATE_SLOW=1, the route before the flat
# one); and what writing them costs `evtool import` of
# IMPORT_EVENTS (1,000,000) evgen events, with and without, best of
# IMPORT_RUNS (3), interleaved.  Whole blocks (formats/archive.md, "Cut
# archives"): the 15 minutes and a window of LONG_HOURS (6) hours from
# the same start, blocks copied whole against every frame re-encoded
# (EVTAPE_CUT_REENCODE=1), best of CUT_RUNS and LONG_RUNS (2),
# interleaved.  Prints figures, never fails on them.
set -eu
BUILD=${BUILD:-build}
EVTOOL=$BUILD/evtool
EVGEN=$BUILD/evgen
N=${CUT_EVENTS:-10000000}
RUNS=${CUT_RUNS:-5}
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-bench-cut.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
H=3600000000

$EVGEN --seed 43 --events "$N" >"$W/ev.tsv"
$EVGEN --seed 43 --states >"$W/states.json"
# A getState answer 1 us before the first message of every hour.
awk -v sf="$W/states.json" -v h=$H 'BEGIN { FS = "\t"; getline st <sf }
    NR == 1 { next_t = $1 }
    $1 >= next_t { printf "%.0f\t{\"commandId\":3,\"status\":200,\"states\":%s}\n", $1 - 1, st
        next_t += h }
    { print }' "$W/ev.tsv" >"$W/in.tsv"
$EVTOOL import "$W/a" "$W/in.tsv" 2>/dev/null
$EVTOOL import "$W/b" "$W/ev.tsv" 2>/dev/null
FIRST=$(head -n 1 "$W/ev.tsv" | cut -f1)
LAST=$(tail -n 1 "$W/ev.tsv" | cut -f1)
rm -f "$W/ev.tsv" "$W/in.tsv"
# The hour in the middle, 59 minutes after its getState answer.
HOURS=$(((LAST - FIRST) / H))
FROM=$((FIRST + (HOURS / 2) * H + 3540000000))
TO=$((FROM + 900000000))

secs() { # CMD...: CPU seconds (user + system) of CMD, output discarded
	/usr/bin/time -f "%U %S" -o "$W/t" "$@" >/dev/null 2>&1 || true
	awk '{ printf "%.3f", $1 + $2 }' "$W/t"
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }
NO="env EVTAPE_NO_CHECKPOINT=1"
SL="env EVTAPE_STATE_SLOW=1"
c= k= s= w= c0= s0= w0= cs= ss=
for pass in $(seq "$RUNS"); do
	rm -rf "$W/out" "$W/outb" "$W/out0" "$W/outb0"
	c=$(min "$c" "$(secs $EVTOOL cut --from $FROM --to $TO "$W/a" "$W/out")")
	c0=$(min "$c0" "$(secs $NO $EVTOOL cut --from $FROM --to $TO "$W/a" \
	    "$W/out0")")
	k=$(min "$k" "$(secs $EVTOOL cat --from $FROM --to $TO "$W/a")")
	s=$(min "$s" "$(secs $EVTOOL state --at $FROM "$W/a")")
	s0=$(min "$s0" "$(secs $NO $EVTOOL state --at $FROM "$W/a")")
	rm -rf "$W/outs"
	cs=$(min "$cs" "$(secs $SL $EVTOOL cut --from $FROM --to $TO "$W/a" \
	    "$W/outs")")
	ss=$(min "$ss" "$(secs $SL $EVTOOL state --at $FROM "$W/a")")
	[ "$pass" -le 2 ] && w=$(min "$w" \
	    "$(secs $EVTOOL cut --from $FROM --to $TO "$W/b" "$W/outb")") &&
	    w0=$(min "$w0" "$(secs $NO $EVTOOL cut --from $FROM --to $TO \
	    "$W/b" "$W/outb0")")
done
$EVTOOL cat "$W/out" >"$W/o1"
$EVTOOL cat "$W/out0" >"$W/o2"
cmp -s "$W/o1" "$W/o2" && same=equal || same="NOT EQUAL"
rm -f "$W/o1" "$W/o2"
n=$($EVTOOL cat "$W/out" | wc -l)
/usr/bin/time -f "%M" -o "$W/kb" $EVTOOL cut --from $FROM --to $TO "$W/a" \
    "$W/out2" 2>/dev/null
$EVTOOL verify "$W/out" >/dev/null 2>&1 && v=clean || v="NOT CLEAN"
# Whole blocks against every frame re-encoded, 15 minutes and long.
LTO=$((FROM + ${LONG_HOURS:-6} * H))
r= l= lr=
for pass in $(seq "$RUNS"); do
	rm -rf "$W/outr"
	r=$(min "$r" "$(secs env EVTAPE_CUT_REENCODE=1 $EVTOOL cut --from $FROM \
	    --to $TO "$W/a" "$W/outr")")
done
for pass in $(seq "${LONG_RUNS:-2}"); do
	rm -rf "$W/outl" "$W/outlr"
	l=$(min "$l" "$(secs $EVTOOL cut --from $FROM --to $LTO "$W/a" \
	    "$W/outl")")
	lr=$(min "$lr" "$(secs env EVTAPE_CUT_REENCODE=1 $EVTOOL cut --from \
	    $FROM --to $LTO "$W/a" "$W/outlr")")
done
nb=$($EVTOOL cut --from $FROM --to $TO "$W/a" "$W/outb2" 2>&1 |
    sed -n 's/.*, \([0-9]*\) blocks copied whole$/\1/p')
nl=$($EVTOOL cat --messages "$W/outl" | wc -l)
$EVTOOL verify "$W/outl" >/dev/null 2>&1 && vl=clean || vl="NOT CLEAN"
rm -rf "$W/outr" "$W/outl" "$W/outlr" "$W/outb2"
awk -v n="$n" -v N="$N" -v c="$c" -v k="$k" -v s="$s" -v w="$w" \
    -v kb="$(cat "$W/kb")" -v v="$v" 'BEGIN {
    printf "cut:         15 min (%d events) out of %d: %.3f s CPU (peak RSS " \
        "%.1f MiB, verify %s)   baseline: cat of the window %.3f s -> " \
        "%.2fx   goal < 1 s\n", n, N, c, kb / 1024, v, k, c / (k > 0 ? k : 0.001)
    printf "             of it, the state at the start (state --at, 59 " \
        "min after a getState answer): %.3f s; with no getState answer " \
        "in the archive: cut %.3f s\n", s, w }'
awk -v c="$c" -v c0="$c0" -v s="$s" -v s0="$s0" -v w="$w" -v w0="$w0" \
    -v same="$same" 'BEGIN {
    printf "checkpoints: cut %.3f s against %.3f s without them (%.2fx; " \
        "the cuts read %s), state --at %.3f against %.3f s (%.2fx), no " \
        "getState answer: cut %.3f against %.3f s\n", c, c0, c0 / c, same,
        s, s0, s0 / (s > 0 ? s : 0.001), w, w0 }'
awk -v c="$c" -v r="$r" -v nb="$nb" -v l="$l" -v lr="$lr" -v nl="$nl" \
    -v vl="$vl" -v h="${LONG_HOURS:-6}" 'BEGIN {
    printf "whole blocks: 15 min %.3f s CPU (%s blocks copied) against " \
        "%.3f s re-encoding every frame (%.2fx); %d h (%d messages) " \
        "%.3f s against %.3f s (%.2fx; verify %s)\n", c, nb, r,
        r / (c > 0 ? c : 0.001), h, nl, l, lr, lr / (l > 0 ? l : 0.001), vl }'
awk -v c="$c" -v cs="$cs" -v s="$s" -v ss="$ss" 'BEGIN {
    printf "flat scan:   cut %.3f s against %.3f s rendering every event " \
        "(EVTAPE_STATE_SLOW=1), state --at %.3f against %.3f s (%.2fx)\n",
        c, cs, s, ss, ss / (s > 0 ? s : 0.001) }'
rm -rf "$W/a" "$W/b" "$W/out" "$W/out0" "$W/outb" "$W/outb0" "$W/out2" \
    "$W/outs"
# What writing them costs an import.
NI=${IMPORT_EVENTS:-1000000}
$EVGEN --seed 44 --events "$NI" >"$W/i.tsv"
i= i0=
for pass in $(seq "${IMPORT_RUNS:-3}"); do
	rm -rf "$W/i" "$W/i0"
	i=$(min "$i" "$(secs $EVTOOL import "$W/i" "$W/i.tsv")")
	i0=$(min "$i0" "$(secs $NO $EVTOOL import "$W/i0" "$W/i.tsv")")
done
awk -v n="$NI" -v i="$i" -v i0="$i0" -v b="$(cat "$W"/i/seg-* | wc -c)" \
    -v b0="$(cat "$W"/i0/seg-* | wc -c)" 'BEGIN {
    printf "checkpoints: import of %d events %.3f s CPU against %.3f s " \
        "without them (+%.1f %%); segments %.2f against %.2f bytes/event\n",
        n, i, i0, (i / i0 - 1) * 100, b / n, b0 / n }'
