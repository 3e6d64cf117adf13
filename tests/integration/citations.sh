#!/bin/sh
# citations.sh: the repository stands alone: no file cites notes that
# live outside it (the shared notes of the session that wrote it, design
# or measurement notes, a style guide), and every docs/ or formats/ file
# that a file names exists.  Reads the files git tracks (or, outside a git
# checkout, every file) from the top of the tree.
. "$(dirname "$0")/lib.sh"
top=$(cd "$HERE/../.." && pwd)
cd "$top" || exit 1
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files >"$T/files"
else
	find . -type f ! -path './build*' | sed 's|^\./||' >"$T/files"
fi
# Text files only (the fuzz corpora and golden archives are binary), and
# not this script, which names what it looks for.
grep -v -e '^tests/fuzz/corpus/' -e '^tests/golden/' -e '\.evt$' \
    -e '^tests/integration/citations\.sh$' "$T/files" >"$T/text"
outside='\.\./shared|/work/shared|DESIGN\.md|NOTES-measurements|STYLE\.md'
xargs grep -n -I -E "$outside" <"$T/text" >"$T/hits"
check $([ -s "$T/hits" ] && echo 1 || echo 0) \
    "no file cites notes outside the repository"
sed 's/^/#   /' "$T/hits" | head -n 20
# ess-protocol.md is cited as docs/ess-protocol.md, which exists (the
# README's layout table lists it under "docs/").
xargs grep -n -I -E '(^|[^/A-Za-z_.-])ess-protocol\.md' <"$T/text" |
    grep -v -e '^docs/ess-protocol\.md:' -e 'docs/  *ess-protocol\.md' \
    >"$T/bare"
check $([ -s "$T/bare" ] && echo 1 || echo 0) \
    "ess-protocol.md is always cited with its place, docs/"
sed 's/^/#   /' "$T/bare" | head -n 20
# Every docs/X.md and formats/X.md named anywhere exists.
xargs grep -h -I -o -E '(docs|formats)/[A-Za-z0-9_.-]+\.md' <"$T/text" |
    sort -u >"$T/named"
: >"$T/missing"
while read -r f; do
	[ -f "$f" ] || echo "$f" >>"$T/missing"
done <"$T/named"
check $([ -s "$T/missing" ] && echo 1 || echo 0) \
    "every docs/ and formats/ file cited exists ($(wc -l <"$T/named") named)"
sed 's/^/#   /' "$T/missing"
done_testing
