#!/bin/sh
# names.sh: names in every reading tool, against namesref.py (a reference
# computed from `cat --tsv` and `cat --markers` alone): `evtool cat`,
# `get`, `state` and `evplay` with --names and -o text (UTC and local
# time, -v), renames resolved as of each event's time (an archive with
# three CONFIG markers: a snapshot, a delta renaming a source, a delta
# naming a second "Garage"), name and glob filters with their errors
# (unknown, ambiguous), the state viewer (state -o text, --changed-since);
# default outputs unchanged; names of every source evsim serves through
# evrec.  Real binaries, real files, real sockets.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
REF="$PYTHON $HERE/namesref.py"
EVPLAY=$BUILD/evplay
T0=1767600000000000

# The archive: 600 events of 5 sources over 150 s in small sealed
# segments; CONFIG at T0+1 s (snapshot), T0+75 s (camera 1 renamed "Lobby
# North", camera 4 named) and T0+112.5 s (camera 5 named "Garage" too);
# a getState answer at T0+50 s.
need_built test_names
"$BUILD/tests/test_names" --write-archive "$T/a"
check $? "the test archive is written"
$EVTOOL cat --tsv "$T/a" >"$T/a.tsv"
$EVTOOL cat --markers "$T/a" >"$T/a.markers"
t "it has three CONFIG markers" test "$(grep -c '	CONFIG	' "$T/a.markers")" \
    -eq 3

# --names: the members, as of each event's time.
$EVTOOL cat --names "$T/a" >"$T/names.jsonl"
check $? "cat --names exits 0"
t "cat --names: names as of each event (renames), appended last" \
    $REF json "$T/a.tsv" "$T/a.markers" "$T/names.jsonl"
t "... the rename shows from its marker on" $PYTHON -c "
import json, sys
n = [json.loads(l).get('sourceName') for l in open('$T/names.jsonl')]
i, j = n.index('Lobby North'), len(n) - 1 - n[::-1].index('Lobby East')
sys.exit(not (j < i and 'Garage' in n))"
$EVTOOL cat "$T/a" >"$T/plain.jsonl"
t "... and each line is the plain line with the members added" $PYTHON -c "
import re, sys
for a, b in zip(open('$T/plain.jsonl'), open('$T/names.jsonl')):
    if re.sub(r',\"sourceName\".*\}$', '}', b.rstrip()) != a.rstrip():
        sys.exit('%r / %r' % (a, b))"
t "plain cat has no name member" sh -c "! grep -q Name '$T/plain.jsonl'"

# -o text.
$EVTOOL cat -o text --utc "$T/a" >"$T/text.txt"
check $? "cat -o text --utc exits 0"
t "cat -o text --utc: time, names, aligned columns" \
    $REF text "$T/a.tsv" "$T/a.markers" "$T/text.txt"
$EVTOOL cat -o text --utc -v "$T/a" >"$T/textv.txt"
t "cat -o text -v: with the ids" \
    $REF text "$T/a.tsv" "$T/a.markers" "$T/textv.txt" -v
TZ=EST5 $EVTOOL cat -o text "$T/a" >"$T/local.txt"
t "local time by default (TZ=EST5: -0500, five hours earlier)" $PYTHON -c "
import sys
for u, l in zip(open('$T/text.txt'), open('$T/local.txt')):
    h = int(u[11:13]) - 5
    want = u[:11] + '%02d' % (h % 24) + u[13:26] + ' -0500' + u[27:]
    if h < 0 or l != want:
        sys.exit('%r / %r' % (u, l))"
t "... the time column is as wide on every line" $PYTHON -c "
import sys
w = {len(l.split('  ')[0]) for l in open('$T/local.txt')}
sys.exit(w != {32})"

# get.
id=$(sed -n 123p "$T/plain.jsonl" | cut -d'"' -f4)
t "get --names: the line cat --names prints" sh -c \
    "[ \"\$($EVTOOL get --names '$T/a' $id)\" = \"\$(sed -n 123p \
    '$T/names.jsonl')\" ]"
t "get -o text --utc: the line cat -o text prints" sh -c \
    "[ \"\$($EVTOOL get -o text --utc '$T/a' $id)\" = \"\$(sed -n 123p \
    '$T/text.txt')\" ]"
t "get --meta --names: the event member has the names" sh -c \
    "$EVTOOL get --meta --names '$T/a' $id | grep -q '\"sourceName\":.*}}$'"

# Filters by name.
$EVTOOL cat --source 'lobby*' "$T/a" >"$T/f1.jsonl"
check $? "cat --source 'lobby*' exits 0"
t "a glob selects every source some marker names so" \
    $REF filter "$T/a.tsv" "$T/a.markers" "$T/f1.jsonl" 'lobby*'
$EVTOOL cat --source 'LOBBY NORTH' "$T/a" >"$T/f2.jsonl"
t "a name in any letter case (a renamed source: all its events)" \
    $REF filter "$T/a.tsv" "$T/a.markers" "$T/f2.jsonl" 'lobby north'
$EVTOOL cat --source 'Garage' "$T/a" >"$T/f3.out" 2>"$T/f3.err"
t "an ambiguous name exits 2" test $? -eq 2
t "... listing the two sources it names" sh -c "grep -q ambiguous \
    '$T/f3.err' && [ \$(grep -c 'Garage (cameras/' '$T/f3.err') -eq 2 ] &&
    [ ! -s '$T/f3.out' ]"
$EVTOOL cat --source 'Lobby Sud' "$T/a" >"$T/f4.out" 2>"$T/f4.err"
t "an unknown name exits 2" test $? -eq 2
t "... listing the candidates" sh -c "grep -q '\"Lobby Sud\" is not the name' \
    '$T/f4.err' && grep -q 'Yard (cameras/' '$T/f4.err'"
$EVTOOL cat --type 'motion*' -o text -v --utc "$T/a" >"$T/f5.txt"
t "--type by glob: the two motion types only" $PYTHON -c "
import sys
ts = {l.rstrip().rsplit('type=', 1)[1] for l in open('$T/f5.txt')}
sys.exit(ts != {'6eb95dd6-0000-0000-0000-00000000000%d' % i for i in (1, 2)})"
n1=$($EVTOOL cat --source 'Lobby*' "$T/a" | wc -l)
n2=$($EVTOOL stats --json --source 'Lobby*' "$T/a" | $PYTHON -c \
    "import json, sys; print(json.load(sys.stdin)['events'])")
t "stats --source takes names too ($n1 events)" test "$n1" -eq "$n2"
$EVTOOL cat --source 'Lobby*' "$T/r-nonexistent" >/dev/null 2>&1
t "a name filter on a missing archive fails (3)" test $? -eq 3

# The state viewer.
at=$((T0 + 100000000))
$EVTOOL state --at $at -o text --utc "$T/a" >"$T/st.txt"
check $? "state -o text exits 0"
t "state --at -o text: rows, states, since, sorted, aligned" \
    $REF state "$T/a.tsv" "$T/a.markers" "$T/st.txt" $at
at2=$((T0 + 30000000))
$EVTOOL state --at $at2 -o text --utc "$T/a" >"$T/st2.txt"
t "... before the getState answer too" \
    $REF state "$T/a.tsv" "$T/a.markers" "$T/st2.txt" $at2
ch=$((T0 + 95000000))
$EVTOOL state --at $at --changed-since $ch -o text --utc "$T/a" \
    >"$T/st3.txt"
t "--changed-since: only the rows that changed since" \
    $REF state "$T/a.tsv" "$T/a.markers" "$T/st3.txt" $at \
    --changed-since $ch
t "... fewer rows, at least one" sh -c "[ \$(wc -l <'$T/st3.txt') -gt 1 ] &&
    [ \$(wc -l <'$T/st3.txt') -lt \$(wc -l <'$T/st.txt') ]"
$EVTOOL state --at $at2 -o text --utc --source 'Lobby West' "$T/a" \
    >"$T/st4.txt"
t "state --source by name: that source's rows" sh -c "[ \$(wc -l \
    <'$T/st4.txt') -ge 2 ] && [ \$(grep -vc '^Lobby West ' '$T/st4.txt') \
    -eq 1 ]"
$EVTOOL state --at $at --names "$T/a" >"$T/stn.jsonl"
$EVTOOL state --at $at "$T/a" >"$T/stp.jsonl"
t "state --names: the plain lines with names added" $PYTHON -c "
import json, sys
a = [json.loads(l) for l in open('$T/stp.jsonl')]
b = [json.loads(l) for l in open('$T/stn.jsonl')]
sys.exit(not (a and len(a) == len(b) and all(
    {k: v for k, v in y.items() if not k.endswith('Name')} == x and
    'sourceName' in y for x, y in zip(a, b))))"

# evplay's stdout.
$EVPLAY --top-speed -q --names "$T/a" >"$T/p.jsonl"
t "evplay --names prints what cat --names does" cmp "$T/p.jsonl" \
    "$T/names.jsonl"
$EVPLAY --top-speed -q -o text --utc "$T/a" >"$T/p.txt"
t "evplay -o text --utc prints what cat -o text does" cmp "$T/p.txt" \
    "$T/text.txt"
$EVPLAY --top-speed -q "$T/a" >"$T/pp.jsonl"
t "evplay without them prints the plain events" cmp "$T/pp.jsonl" \
    "$T/plain.jsonl"
$EVPLAY --names --tsv "$T/a" >/dev/null 2>&1
t "evplay --names --tsv is a usage error" test $? -eq 2

# evplay --listen's Config REST: the union of the markers (a snapshot and
# two deltas), each name as of the replay position (before its first
# event: the start point), by the same rule; not the newest marker alone.
echo secret >"$T/pw"
for from in $T0 $((T0 + 100000000)); do
	start_srv "$EVPLAY" rest --user alice --password-file "$T/pw" \
	    --from $from "$T/a"
	check $? "evplay --listen --from $from started" || continue
	t "Config REST as of $from: every source and type any marker lists, \
named as of it" $PYTHON - "$SRV_PORT" "$T/a.tsv" "$T/a.markers" $from "$HERE" <<'PYEOF'
import json, sys, urllib.parse, urllib.request
sys.path.insert(0, sys.argv[5])
import namesref
port, tsv, mk, frm = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
base = "http://127.0.0.1:%s" % port
form = urllib.parse.urlencode({"grant_type": "password", "username": "alice",
                               "password": "secret",
                               "client_id": "GrantValidatorClient"}).encode()
tok = json.loads(urllib.request.urlopen(base + "/API/IDP/connect/token", form,
                                        timeout=10).read())["access_token"]
def get(path):
    req = urllib.request.Request(base + "/api/rest/v1/" + path,
                                 headers={"Authorization": "Bearer " + tok})
    return json.loads(urllib.request.urlopen(req, timeout=10).read())
at = min(int(l.split("\t", 1)[0]) for l in open(tsv)
         if int(l.split("\t", 1)[0]) >= frm)
tab = namesref.markers(mk)
for coll, lst, pre in (("cameras", "source", "cameras/"),
                       ("eventTypes", "type", "")):
    want = {i: namesref.shown(namesref.lookup(tab, lst, i, at))
            for (l, i) in tab if l == lst and i.startswith(pre)}
    got = {pre + x["id"].lower(): x["displayName"]
           for x in get(coll)["array"]}
    if got != want:
        sys.exit("%s: want %r, got %r" % (coll, want, got))
one = sorted(i for (l, i) in tab if l == "source")[-1]
d = get(one)["data"]["displayName"]
if d != namesref.shown(namesref.lookup(tab, "source", one, at)):
    sys.exit("%s: %r" % (one, d))
PYEOF
	stop_pid "$SRV_PID"
done

# stats: names of every marker (the last is a delta naming one camera), as
# of the range's end.
$EVTOOL stats --json --top 100 "$T/a" >"$T/stats.json"
t "stats names every source and type from all the markers" \
    $PYTHON "$HERE/statsref.py" --top 100 "$T/a.tsv" "$T/a.markers" \
    "$T/stats.json"
to=$((T0 + 50000000))
$EVTOOL stats --json --top 100 --to $to "$T/a" >"$T/stats2.json"
t "... as of a range's end (before the rename)" \
    $PYTHON "$HERE/statsref.py" --top 100 --to $to "$T/a.tsv" \
    "$T/a.markers" "$T/stats2.json"

# Names recorded by evrec from evsim: every source evsim generates.
record_sim "$T/r" 2000 --rate 3000 --seed 7 --cameras 30
$EVTOOL cat --tsv "$T/r" >"$T/r.tsv"
$EVTOOL cat --markers "$T/r" >"$T/r.markers"
$EVTOOL cat --names "$T/r" >"$T/r.jsonl"
t "the recording: names from its CONFIG marker" \
    $REF json "$T/r.tsv" "$T/r.markers" "$T/r.jsonl"
t "... every event has its source's and its type's name" $PYTHON -c "
import json, sys
e = [json.loads(l) for l in open('$T/r.jsonl')]
sys.exit(not (len(e) == 2000 and all('sourceName' in x and 'typeName' in x
                                     for x in e)))"
$EVTOOL cat -o text --utc "$T/r" >"$T/r.txt"
t "... and its text lines" $REF text "$T/r.tsv" "$T/r.markers" "$T/r.txt"
at=$(tail -n 1 "$T/r.tsv" | cut -f1)
$EVTOOL state --at "$at" -o text --utc "$T/r" >"$T/rs.txt"
t "... and its state viewer" $REF state "$T/r.tsv" "$T/r.markers" \
    "$T/rs.txt" "$at"
done_testing
