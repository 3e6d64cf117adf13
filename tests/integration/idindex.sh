#!/bin/sh
# idindex.sh: the archive's id index (formats/idindex.md) on archives of
# hundreds of small segments made by `evtool import --segment-age`:
# `get` through the index answers exactly as the per-segment path
# (EVTAPE_NO_IDINDEX=1) for present, repeated and absent ids; kills
# (SIGKILL) at every crash point of the index maintenance, prune, damage
# to the index files (flipped bytes, truncation, deletion) and a segment
# rewritten by repair keep every answer right; verify reports damaged
# index files and repair rebuilds them; evrec killed with kill -9 while
# it seals and merges loses no id.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/evrec.inc"

# ids FILE: the event ids of an evgen/import input, one per line.
ids() {
	grep -o '"id":"[0-9a-f-]\{36\}"' "$1" | cut -d'"' -f4
}

# same DIR IDFILE: every id of IDFILE gets the same answer (output and
# exit status of get --meta) through the index and without it.
same() {
	_bad=0
	while read -r _id; do
		_a=$("$EVTOOL" get --meta "$1" "$_id" 2>&1; echo "rc=$?")
		_b=$(EVTAPE_NO_IDINDEX=1 "$EVTOOL" get --meta "$1" "$_id" 2>&1
		    echo "rc=$?")
		if [ "$_a" != "$_b" ]; then
			echo "# $_id: index: $_a"
			echo "#   segments: $_b"
			_bad=1
		fi
	done <"$2"
	return $_bad
}

# found DIR IDFILE: every id of IDFILE is found.
found() {
	while read -r _id; do
		"$EVTOOL" get "$1" "$_id" >/dev/null 2>&1 || {
			echo "# $_id not found"
			return 1
		}
	done <"$2"
}

# runs DIR: the number of run files.
runs() {
	ls "$1" | grep -c '^idx-.*\.evi$'
}

# 1. ~600 segments of 10 to 20 events; the same events again later (repeated
# ids: the newest copy wins); sampled ids, absent ids.
$EVGEN --seed 12 --events 9000 --rate 20 >"$T/a.tsv"
awk -F'\t' 'NR <= 1500 { printf "%d\t%s\n", $1 + 800000000, $2 }' \
    "$T/a.tsv" >"$T/again.tsv"
cat "$T/a.tsv" "$T/again.tsv" >"$T/all.tsv"
"$EVTOOL" import --segment-filter --segment-age 0.6 "$T/a" "$T/all.tsv" \
    2>/dev/null
ids "$T/all.tsv" | awk 'NR % 400 == 1' >"$T/ids"
ids "$T/again.tsv" | awk 'NR % 150 == 7' >>"$T/ids"
printf '%s\n' 00000000-0000-4000-8000-000000000000 \
    DC616F54-CB4D-4C1A-A085-C8CA964F5967 plain-text-id >"$T/absent"
nseg=$(ls "$T/a" | grep -c '^seg-')
check $([ "$nseg" -ge 500 ] && echo 0 || echo 1) "import made $nseg segments"
check $([ "$(runs "$T/a")" -ge 1 ] && [ "$(runs "$T/a")" -le 40 ] &&
    echo 0 || echo 1) "$(runs "$T/a") index runs cover them"
t "present and repeated ids: index answers as the segments do" \
    same "$T/a" "$T/ids"
t "absent ids (and a GUID in upper case): the same" same "$T/a" "$T/absent"
t "verify: clean" "$EVTOOL" verify "$T/a"
# The index is what answers: an absent id opens a few files, not 1,000.
if command -v strace >/dev/null 2>&1; then
	strace -f -e trace=openat -o "$T/st" "$EVTOOL" get "$T/a" \
	    00000000-0000-4000-8000-000000000000 >/dev/null 2>&1
	n=$(grep -c 'openat' "$T/st")
	check $([ "$n" -lt 100 ] && echo 0 || echo 1) \
	    "an absent id opens $n files of $nseg segments"
fi

# 1b. Segments sealed without their own id filter (the default, said
# explicitly): the index answers, and without it the GUID columns do.
"$EVTOOL" import --no-segment-filter --segment-age 0.6 "$T/nf" \
    "$T/all.tsv" 2>/dev/null
t "no segment filters: verify clean" "$EVTOOL" verify "$T/nf"
# same_as A B IDFILE: get --meta answers alike in two archives.
same_as() {
	_bad=0
	while read -r _id; do
		_a=$("$EVTOOL" get --meta "$1" "$_id" 2>/dev/null; echo "rc=$?")
		_b=$(EVTAPE_NO_IDINDEX=1 "$EVTOOL" get --meta "$2" "$_id" \
		    2>/dev/null; echo "rc=$?")
		[ "$_a" = "$_b" ] || { echo "# $_id: $_a / $_b"; _bad=1; }
	done <"$3"
	return $_bad
}
t "no segment filters: ids as in the archive with them" \
    same_as "$T/a" "$T/nf" "$T/ids"
t "no segment filters, no index: the GUID columns answer" \
    same_as "$T/nf" "$T/nf" "$T/ids"
t "no segment filters: absent ids" same_as "$T/a" "$T/nf" "$T/absent"
fa=$(du -sb "$T/a" | cut -f1)
fn=$(du -sb "$T/nf" | cut -f1)
check $([ "$fn" -lt "$fa" ] && echo 0 || echo 1) \
    "no segment filters: fewer bytes ($fn against $fa)"

# 2. Kill points: the import dies (SIGKILL) inside the index maintenance;
# the archive answers right at once, and the next writer catches up.
head -n 1500 "$T/a.tsv" >"$T/k.tsv"
ids "$T/k.tsv" | awk 'NR % 100 == 1' >"$T/kids"
for kp in tmp:1 tmp:9 rename:1 rename:2 drop:1 drop:5; do
	rm -rf "$T/k"
	EVTAPE_TEST_IDX_KILL=$kp "$EVTOOL" import --segment-age 0.6 "$T/k" \
	    "$T/k.tsv" >/dev/null 2>&1
	rc=$?
	check $([ $rc -eq 137 ] && echo 0 || echo 1) \
	    "kill at $kp: the import was killed (status $rc)"
	t "kill at $kp: ids found as by the segments" same "$T/k" "$T/kids"
	"$EVTOOL" import "$T/k" /dev/null >/dev/null 2>&1
	t "kill at $kp: after the next writer, verify clean" \
	    "$EVTOOL" verify "$T/k"
	check $(ls -a "$T/k" | grep -c '^\.idx-') \
	    "kill at $kp: no temporary run left"
	t "kill at $kp: after the next writer, ids as by the segments" \
	    same "$T/k" "$T/kids"
done

# 3. Prune: runs of deleted segments go; the others keep answering.
cp -r "$T/a" "$T/p"
sz=$(du -sb "$T/p" | cut -f1)
"$EVTOOL" prune --max-bytes $((sz / 2)) "$T/p" >/dev/null 2>&1
low=$(ls "$T/p" | grep '^seg-' | head -n 1 | cut -c5-16)
stale=0
for f in $(ls "$T/p" | grep '^idx-'); do
	hi=$(echo "$f" | cut -c18-29)
	[ "$hi" -lt "$low" ] && stale=1
done
check $stale "prune: no run left that covers only deleted segments"
t "prune: ids answer as by the segments" same "$T/p" "$T/ids"
t "prune: verify clean" "$EVTOOL" verify "$T/p"

# 4. Damage to the index: each answer stays right, verify reports the
# file, repair rebuilds it.
big=$(ls -S "$T/a" | grep '^idx-' | head -n 1)
for how in header flip tail blocks truncate delete; do
	rm -rf "$T/d"
	cp -r "$T/a" "$T/d"
	f="$T/d/$big"
	size=$(stat -c %s "$f")
	case $how in
	header) printf '\377\377\377\377' |
	    dd of="$f" bs=1 seek=20 conv=notrunc 2>/dev/null ;;
	flip) printf '\125\252\125\252\125\252\125\252' |
	    dd of="$f" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null ;;
	tail) printf '\125\252' |
	    dd of="$f" bs=1 seek=$((size - 2)) conv=notrunc 2>/dev/null ;;
	blocks)	# every block table entry's flags (version 3: the table
		# follows the directory, dir_len at 40, B at 20, in chunks
		# of 64 entries and a CRC) zeroed: unchecked, every id of
		# the run would look unindexed
		dend=$((64 + $(od -An -tu8 -j40 -N8 "$f")))
		nb=$(od -An -tu4 -j20 -N4 "$f")
		g=0
		while [ $g -lt $nb ]; do
			printf '\000' | dd of="$f" bs=1 conv=notrunc \
			    seek=$((dend + 1540 * (g / 64) + 24 * (g % 64) + 16)) \
			    2>/dev/null
			g=$((g + 1))
		done ;;
	truncate) truncate -s $((size / 3)) "$f" ;;
	delete) rm -f "$f" ;;
	esac
	t "index $how: ids answer as by the segments" same "$T/d" "$T/ids"
	t "index $how: absent ids too" same "$T/d" "$T/absent"
	"$EVTOOL" verify "$T/d" >"$T/v.out" 2>"$T/v.err"
	rc=$?
	if [ $how = delete ]; then
		check $rc "index delete: verify clean (a missing run is not damage)"
	else
		check $([ $rc -eq 1 ] && grep -q "$big" "$T/v.err" &&
		    grep -q 'id index problem' "$T/v.out" && echo 0 || echo 1) \
		    "index $how: verify reports $big"
	fi
	"$EVTOOL" repair "$T/d" >/dev/null 2>&1
	t "index $how: after repair, verify clean" "$EVTOOL" verify "$T/d"
	t "index $how: after repair, ids answer as by the segments" \
	    same "$T/d" "$T/ids"
done

# 5. A covered segment rewritten (repair of a damaged block): the run
# that covered it is not used for it, and repair rebuilds the index.
rm -rf "$T/r"
cp -r "$T/a" "$T/r"
seg=$(ls "$T/r" | grep '^seg-' | sed -n 300p)
printf '\125\252\125\252' | dd of="$T/r/$seg" bs=1 seek=200 conv=notrunc \
    2>/dev/null
"$EVTOOL" repair "$T/r" >/dev/null 2>&1
t "rewritten segment: verify clean after repair" "$EVTOOL" verify "$T/r"
t "rewritten segment: ids answer as by the segments" same "$T/r" "$T/ids"
# Rewritten behind the index's back (copied over by hand): not trusted.
cp -r "$T/a" "$T/s"
one=$(ls "$T/s" | grep '^seg-' | sed -n 200p)
two=$(ls "$T/s" | grep '^seg-' | sed -n 201p)
cp "$T/s/$two" "$T/s/$one"
t "a segment copied over another: ids answer as by the segments" \
    same "$T/s" "$T/ids"
"$EVTOOL" verify "$T/s" >"$T/v.out" 2>"$T/v.err"
check $([ $? -eq 1 ] && grep -q 'stale' "$T/v.err" && echo 0 || echo 1) \
    "a segment copied over another: verify reports the stale run"

# 6. evrec killed with kill -9 while it seals and merges (one-second
# segments, several kill times), then restarted: every id it recorded is
# found, verify clean.
umask 077
echo "s3cret-Pa55-$$" >"$T/pw"
umask 022
start_sim sim --user rec --password-file "$T/pw" --rate 400 --seed 5 \
    --cameras 50 || exit 1
for n in 1 2 3 4 5; do
	start_rec rec --archive "$T/e" --segment-age 0.3 \
	    --user rec --password-file "$T/pw" "http://127.0.0.1:$SIM_PORT"
	waitfor 1000 test "$(ls "$T/e" 2>/dev/null | grep -c '^seg-')" -ge \
	    $((n * 4))
	kill -9 "$REC_PID"
	wait "$REC_PID" 2>/dev/null
done
# ... and at the crash points of its index maintenance (it kills itself
# there, SIGKILL, on its sealing thread).
for kp in tmp:3 rename:1 drop:2; do
	# (timeout: SIGTERM, a clean exit that fails the check, not a hang)
	EVTAPE_TEST_IDX_KILL=$kp timeout 120 "$EVREC" --summary-interval 0 --archive \
	    "$T/e" --segment-age 0.3 --user rec --password-file "$T/pw" \
	    "http://127.0.0.1:$SIM_PORT" >>"$T/kp.log" 2>&1 &
	REC_PID=$!
	PIDS="$PIDS $REC_PID"
	{ wait "$REC_PID"; } 2>/dev/null
	check $([ $? -eq 137 ] && echo 0 || echo 1) \
	    "evrec killed itself at $kp of the index maintenance"
done
start_rec rec --archive "$T/e" --segment-age 0.3 \
    --user rec --password-file "$T/pw" "http://127.0.0.1:$SIM_PORT"
waitfor 1000 test "$(ls "$T/e" | grep -c '^seg-')" -ge 60
stop_pid "$REC_PID"
"$EVTOOL" cat "$T/e" 2>/dev/null | grep -o '"id":"[0-9a-f-]\{36\}"' |
    cut -d'"' -f4 | awk 'NR % 97 == 1' >"$T/eids"
check $([ -s "$T/eids" ] && echo 0 || echo 1) "evrec recorded events"
t "evrec after kill -9s: every id found" found "$T/e" "$T/eids"
t "evrec after kill -9s: ids answer as by the segments" same "$T/e" \
    "$T/eids"
t "evrec after kill -9s: verify clean" "$EVTOOL" verify "$T/e"
check $([ "$(runs "$T/e")" -ge 1 ] && echo 0 || echo 1) \
    "evrec maintains the index ($(runs "$T/e") runs)"

# 7. Compaction: at a low rate blocks close by age (one a second), and a
# sealed segment of small blocks is rewritten into large ones; its run is
# built after that, so it is not stale.
stop_pid "$SIM_PID"
start_sim sim2 --user rec --password-file "$T/pw" --rate 40 --seed 6 \
    --cameras 20 || exit 1
start_rec rec2 --archive "$T/c" --segment-age 4.5 --user rec \
    --password-file "$T/pw" "http://127.0.0.1:$SIM_PORT"
waitfor 3000 test "$(ls "$T/c" 2>/dev/null | grep -c '^seg-')" -ge 3
stop_pid "$REC_PID"
# (evtool ls: the fifth column is the block count; a compacted segment
# has one block where 4 or more were written.  The second segment: the
# first holds the large getState answer.)
one=$("$EVTOOL" ls "$T/c" 2>/dev/null | awk 'NR == 3 {print $5}')
check $([ "$one" = 1 ] && echo 0 || echo 1) \
    "the second segment was compacted ($one blocks)"
"$EVTOOL" cat "$T/c" 2>/dev/null | grep -o '"id":"[0-9a-f-]\{36\}"' |
    cut -d'"' -f4 | awk 'NR % 13 == 1' >"$T/cids"
t "compacted segments: ids answer as by the segments" same "$T/c" "$T/cids"
t "compacted segments: verify clean (no stale run)" "$EVTOOL" verify "$T/c"
done_testing
