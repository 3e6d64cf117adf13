#!/bin/sh
# rollup.sh: the summary roll-up (formats/rollup.md) on archives of
# thousands of small segments made by `evtool import --segment-age`:
# `stats` and `info` answer from the roll-up exactly as `--scan` (every
# event read) and as the segments' own summaries (EVTAPE_NO_ROLLUP=1),
# byte for byte, stdout, stderr and exit status; and keep doing so after
# kills (SIGKILL) at every crash point of the roll-up's write and merge, a
# segment removed or replaced by hand, damaged roll-up files, prune and
# repair; verify reports damaged and stale roll-up files, repair rebuilds
# them; coarse runs (60 s and 1 h buckets) answer as the scan for every
# report width.  POSIX sh; prints TAP.  Real binaries, files and processes.
. "$(dirname "$0")/lib.sh"

# The stats questions asked of every archive (set by pick_args).
pick_args() {
	_s=$(cut -f2 "$1" | grep -o '"source":"cameras/[^"]*"' | sed -n 7p |
	    cut -d'"' -f4)
	_f=$(head -n 1 "$1" | cut -f1)
	_l=$(tail -n 1 "$1" | cut -f1)
	_m=$(( (_f + _l) / 2 ))
	ARGS_1="--json"
	ARGS_2="--bucket 1s --top 3"
	ARGS_3="--source $_s --json"
	ARGS_4="--from $_m --json"
	ARGS_5="--from $((_f + 2000000)) --to $_m --bucket 10s"
	ARGS_6="--source cameras/nothing-like-it"
}

# one WAY DIR CMD ARGS...: output, errors (archive paths stripped) and exit
# status of `evtool CMD` run the way WAY says (rollup, scan, summaries).
one() {
	_w=$1
	_d=$2
	_c=$3
	shift 3
	case $_w in
	rollup) $EVTOOL "$_c" "$@" "$_d" ;;
	scan) $EVTOOL "$_c" --scan "$@" "$_d" ;;
	summaries) EVTAPE_NO_ROLLUP=1 $EVTOOL "$_c" "$@" "$_d" ;;
	esac >"$T/$_w.out" 2>"$T/$_w.err"
	echo "exit $?" >>"$T/$_w.out"
}

# same DIR: every question gets the same bytes from the roll-up as from
# --scan and from the summaries.
same() {
	_bad=0
	for _i in 0 1 2 3 4 5 6; do
		case $_i in
		0) _a="" ;; *) eval "_a=\$ARGS_$_i" ;;
		esac
		for _c in stats info; do
			[ $_c = info ] && { [ $_i = 0 ] || continue; }
			for _w in rollup scan summaries; do
				one $_w "$1" $_c $_a
			done
			for _w in scan summaries; do
				cmp -s "$T/rollup.out" "$T/$_w.out" &&
				    cmp -s "$T/rollup.err" "$T/$_w.err" && continue
				echo "# $_c $_a: roll-up differs from $_w:"
				diff "$T/rollup.out" "$T/$_w.out" | head -n 4 |
				    sed 's/^/#   /'
				diff "$T/rollup.err" "$T/$_w.err" | head -n 4 |
				    sed 's/^/#   /'
				_bad=1
			done
		done
	done
	return $_bad
}

# runs DIR: the number of roll-up run files.
runs() {
	ls "$1" | grep -c '^sum-.*\.evs$'
}

# opens DIR CMD: how many files `evtool CMD DIR` opens (strace).
opens() {
	strace -f -e trace=openat -o "$T/st" $EVTOOL $2 "$1" >/dev/null 2>&1
	grep -c 'openat' "$T/st"
}

# 1. ~2,000 segments of ~20 events (many_segments), then, by a second
# writer, odd frames (a raw frame, a getState answer, escapes, an
# over-long source) in a segment of their own.
many_segments "$T/a" 2000
end=$(tail -n 1 "$T/a.in" | cut -f1)
odd_frames $(( (end / 10 + 100000) * 10 )) >"$T/odd.tsv"
$EVTOOL import "$T/a" "$T/odd.tsv" 2>/dev/null
cat "$T/a.in" "$T/odd.tsv" >"$T/a.all"
pick_args "$T/a.in"
nseg=$(ls "$T/a" | grep -c '^seg-')
nrun=$(runs "$T/a")
check $([ "$nseg" -ge 1500 ] && echo 0 || echo 1) \
    "import made $nseg segments"
check $([ "$nrun" -ge 1 ] && [ "$nrun" -le 40 ] && echo 0 || echo 1) \
    "$nrun roll-up runs cover them"
t "stats and info: roll-up, --scan and summaries print the same" same "$T/a"
t "verify: clean" $EVTOOL verify "$T/a"
if command -v strace >/dev/null 2>&1; then
	n=$(opens "$T/a" stats)
	check $([ "$n" -lt 100 ] && echo 0 || echo 1) \
	    "stats opens $n files for $nseg segments"
	n=$(opens "$T/a" info)
	check $([ "$n" -lt 100 ] && echo 0 || echo 1) \
	    "info opens $n files for $nseg segments"
	n=$(EVTAPE_NO_ROLLUP=1 opens "$T/a" stats)
	check $([ "$n" -ge "$nseg" ] && echo 0 || echo 1) \
	    "... which without the roll-up opens $n"
fi

# 2. Kill points: the import dies (SIGKILL) writing or merging a run; the
# archive answers right at once, and the next writer catches up.
head -n 3000 "$T/a.all" >"$T/k.tsv"
for kp in sum-tmp:1 sum-tmp:9 sum-rename:1 sum-rename:2 sum-drop:1 \
    sum-drop:5; do
	rm -rf "$T/k"
	EVTAPE_TEST_IDX_KILL=$kp $EVTOOL import --segment-age 300ms "$T/k" \
	    "$T/k.tsv" >/dev/null 2>&1
	rc=$?
	check $([ $rc -eq 137 ] && echo 0 || echo 1) \
	    "kill at $kp: the import was killed (status $rc)"
	t "kill at $kp: stats and info as --scan" same "$T/k"
	$EVTOOL import "$T/k" /dev/null >/dev/null 2>&1
	t "kill at $kp: after the next writer, verify clean" \
	    $EVTOOL verify "$T/k"
	check $(ls -a "$T/k" | grep -c '^\.sum-') \
	    "kill at $kp: no temporary run left"
	t "kill at $kp: after the next writer, stats and info as --scan" \
	    same "$T/k"
done

# 3. A segment removed by hand, and one replaced by another: the run that
# covered it is not used; verify reports the replaced one; a writer
# rebuilds.
cp -a "$T/a" "$T/h"
rm "$T/h/$(ls "$T/h" | grep '^seg-' | sed -n 300p)"
t "a segment removed by hand: stats and info as --scan" same "$T/h"
one=$(ls "$T/h" | grep '^seg-' | sed -n 700p)
two=$(ls "$T/h" | grep '^seg-' | sed -n 701p)
cp "$T/h/$two" "$T/h/$one"
t "a segment replaced by hand: stats and info as --scan" same "$T/h"
$EVTOOL verify "$T/h" >"$T/v.out" 2>"$T/v.err"
check $([ $? -eq 1 ] && grep -q 'sum-.*stale' "$T/v.err" &&
    grep -q 'roll-up problem' "$T/v.out" && echo 0 || echo 1) \
    "a segment replaced by hand: verify reports the stale run"
$EVTOOL import "$T/h" /dev/null >/dev/null 2>&1
t "... after the next writer: stats and info as --scan" same "$T/h"
if command -v strace >/dev/null 2>&1; then
	n=$(opens "$T/h" stats)
	check $([ "$n" -lt 100 ] && echo 0 || echo 1) \
	    "... and the rebuilt runs answer ($n files opened)"
fi

# 4. Damaged roll-up files: every answer stays right, verify reports the
# file, repair rebuilds it.
big=$(ls -S "$T/a" | grep '^sum-' | head -n 1)
for how in header flip tail truncate delete; do
	rm -rf "$T/d"
	cp -a "$T/a" "$T/d"
	f="$T/d/$big"
	size=$(stat -c %s "$f")
	case $how in
	header) printf '\377\377\377\377' |
	    dd of="$f" bs=1 seek=24 conv=notrunc 2>/dev/null ;;
	flip) printf '\125\252\125\252' |
	    dd of="$f" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null ;;
	tail) printf '\125' |
	    dd of="$f" bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null ;;
	truncate) truncate -s $((size / 3)) "$f" ;;
	delete) rm -f "$f" ;;
	esac
	t "roll-up $how: stats and info as --scan" same "$T/d"
	$EVTOOL verify "$T/d" >"$T/v.out" 2>"$T/v.err"
	rc=$?
	if [ $how = delete ]; then
		check $rc "roll-up delete: verify clean (a missing run is not damage)"
	else
		check $([ $rc -eq 1 ] && grep -q "$big" "$T/v.err" &&
		    grep -q 'roll-up problem' "$T/v.out" && echo 0 || echo 1) \
		    "roll-up $how: verify reports $big"
	fi
	$EVTOOL repair "$T/d" >/dev/null 2>&1
	t "roll-up $how: after repair, verify clean" $EVTOOL verify "$T/d"
	t "roll-up $how: after repair, stats and info as --scan" same "$T/d"
	check $([ "$(runs "$T/d")" -ge 1 ] && echo 0 || echo 1) \
	    "roll-up $how: repair wrote runs again"
done

# 5. Prune: the runs of deleted segments go or are rebuilt over what is
# left; the answers stay right.
cp -a "$T/a" "$T/p"
sz=$(du -sb "$T/p" | cut -f1)
$EVTOOL prune --max-bytes $((sz / 2)) "$T/p" >/dev/null 2>&1
low=$(ls "$T/p" | grep '^seg-' | head -n 1 | cut -c5-16)
stale=0
for f in $(ls "$T/p" | grep '^sum-'); do
	lo=$(echo "$f" | cut -c5-16)
	[ "$lo" -lt "$low" ] && stale=1
done
check $stale "prune: no run left that covers a deleted segment"
t "prune: stats and info as --scan" same "$T/p"
t "prune: verify clean" $EVTOOL verify "$T/p"

# 6. A damaged block of a covered segment, rewritten by repair: the run
# that covered it is rebuilt; the answers equal the repaired events.
cp -a "$T/a" "$T/r"
seg=$(ls "$T/r" | grep '^seg-' | sed -n 900p)
printf '\125\252\125\252' | dd of="$T/r/$seg" bs=1 seek=200 conv=notrunc \
    2>/dev/null
$EVTOOL repair "$T/r" >/dev/null 2>&1
t "a repaired segment: verify clean" $EVTOOL verify "$T/r"
t "a repaired segment: stats and info as --scan" same "$T/r"

# 7. Coarse runs (formats/rollup.md, "Coarse runs"): with the writers'
# bounds lowered (EVTAPE_RU_LIMITS: one-second runs of at most 16
# segments and every run within 400 buckets of its width), runs of 60 s
# buckets, and with 200, of 1 h buckets, over ~290 segments of 200 s
# (evgen at 0.5 events/s: ~17 hours).  Whatever the report's width (auto,
# 1 s, 1 m, 1 h: a width their buckets do not divide reads their
# segments), stats answers as --scan; under kills in their merges, prune
# and repair too.
$EVGEN --seed 5 --events 30000 --rate 0.5 --cameras 50 >"$T/c.in"
version() { od -An -tu2 -j8 -N2 "$1" | tr -d ' '; }
bucket_s() { od -An -tu4 -j20 -N4 "$1" | tr -d ' '; }
coarse_args() {
	pick_args "$T/c.in"
	ARGS_2="--bucket 1m --top 3"
	ARGS_5="--bucket 1h --json"
	ARGS_6="--bucket 45s --top 2"
}
coarse_args
for lim in 400:60 200:3600; do
	b=${lim#*:}
	C=$T/c$b
	EVTAPE_RU_LIMITS=16,${lim%:*} $EVTOOL import --segment-age 200s "$C" \
	    "$T/c.in" 2>/dev/null
	nseg=$(ls "$C" | grep -c '^seg-')
	nc=0
	for f in "$C"/sum-*; do
		[ "$(version "$f")" = 2 ] && [ "$(bucket_s "$f")" = "$b" ] &&
		    nc=$((nc + 1))
	done
	check $([ "$nc" -ge 2 ] && [ "$(runs "$C")" -le 12 ] && echo 0 ||
	    echo 1) "$nseg segments: $nc coarse runs of $b s buckets of $(runs "$C")"
	t "coarse runs of $b s: stats and info as --scan" same "$C"
	t "coarse runs of $b s: verify clean" $EVTOOL verify "$C"
	if command -v strace >/dev/null 2>&1; then
		q=$([ "$b" = 60 ] && echo stats || echo "stats --bucket 1h")
		n=$(opens "$C" "$q")
		check $([ "$n" -lt 40 ] && echo 0 || echo 1) \
		    "coarse runs of $b s: $q opens $n files for $nseg segments"
	fi
done
C=$T/c60
for kp in sum-rename:1 sum-drop:3; do
	rm -rf "$T/k"
	EVTAPE_RU_LIMITS=16,400 EVTAPE_TEST_IDX_KILL=$kp $EVTOOL import \
	    --segment-age 200s "$T/k" "$T/c.in" >/dev/null 2>&1
	rc=$?
	check $([ $rc -eq 137 ] && echo 0 || echo 1) \
	    "coarse merge, kill at $kp: the import was killed (status $rc)"
	t "coarse merge, kill at $kp: stats and info as --scan" same "$T/k"
	EVTAPE_RU_LIMITS=16,400 $EVTOOL import "$T/k" /dev/null >/dev/null 2>&1
	t "coarse merge, kill at $kp: after the next writer, verify clean" \
	    $EVTOOL verify "$T/k"
	t "coarse merge, kill at $kp: after the next writer, as --scan" \
	    same "$T/k"
done
cp -a "$C" "$T/cp"
sz=$(du -sb "$T/cp" | cut -f1)
EVTAPE_RU_LIMITS=16,400 $EVTOOL prune --max-bytes $((sz * 2 / 3)) "$T/cp" \
    >/dev/null 2>&1
t "coarse runs after prune: stats and info as --scan" same "$T/cp"
t "coarse runs after prune: verify clean" $EVTOOL verify "$T/cp"
big=$(ls -S "$C" | grep '^sum-' | head -n 1)
cp -a "$C" "$T/cd"
printf '\125\252' | dd of="$T/cd/$big" bs=1 seek=300 conv=notrunc 2>/dev/null
t "a damaged coarse run: stats and info as --scan" same "$T/cd"
$EVTOOL verify "$T/cd" >/dev/null 2>"$T/v.err"
check $([ $? -eq 1 ] && grep -q "$big" "$T/v.err" && echo 0 || echo 1) \
    "a damaged coarse run: verify reports $big"
EVTAPE_RU_LIMITS=16,400 $EVTOOL repair "$T/cd" >/dev/null 2>&1
t "a damaged coarse run: after repair, verify clean" $EVTOOL verify "$T/cd"
t "a damaged coarse run: after repair, as --scan" same "$T/cd"
done_testing
