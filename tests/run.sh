#!/bin/sh
# run.sh: runs every test tier and prints one summary line
# "N passed, M failed" (what CI reads).  Each test program prints TAP.
#   unit:        $BUILD/tests/test_*
#   fuzz corpus: $BUILD/fuzzreg/fuzz_X over tests/fuzz/corpus/fuzz_X/
#   integration: tests/integration/*.sh (real binaries, temp dirs)
set -u
BUILD=${BUILD:-build}
export BUILD
top=$(pwd)
log=$(mktemp)
pass=0
fail=0
count() { # $1 = name, stdin = TAP output
	out=$(cat)
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep -c '^not ok ')
	pass=$((pass + p))
	fail=$((fail + f))
	printf '%s\n' "$out" | grep '^not ok ' | sed "s|^|$1: |"
	# diagnostics only when something failed
	[ "$f" -gt 0 ] && printf '%s\n' "$out" | grep '^#' | sed "s|^|$1: |"
	return 0
}
runone() { # $1 = name, rest = command; a non-zero exit without a
	# failing TAP line counts as one failure.
	name=$1; shift
	"$@" >"$log" 2>"$log.err"
	rc=$?
	count "$name" <"$log"
	if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$log"; then
		fail=$((fail + 1))
		echo "$name: exited $rc"
		tail -n 20 "$log.err" | sed "s|^|$name: |"
	fi
	printf '%-40s %s\n' "$name" "$(grep -c '^ok ' "$log") ok, $(grep -c '^not ok ' "$log") not ok" >&2
}
for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	runone "unit/$(basename "$t")" "$t"
done
for t in "$BUILD"/fuzzreg/fuzz_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	runone "fuzz/$n" "$t" "tests/fuzz/corpus/$n"
done
for t in tests/integration/*.sh; do
	case $t in */lib.sh | */natslib.sh) continue ;; esac
	[ -f "$t" ] || continue
	runone "integration/$(basename "$t" .sh)" sh "$t"
done
rm -f "$log" "$log.err"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
