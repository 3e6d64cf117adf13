#!/usr/bin/env python3
"""cfgnames.py: names the events of an archive from its CONFIG markers
alone, by the rule of formats/records.md ("Names from CONFIG markers"):
the name of an id for an event received at T is the one of the latest
CONFIG marker (snapshot or delta) at or before T that lists the id; when
none before T does, the earliest one after T that lists it.

usage: cfgnames.py MARKERS TSV OUT
MARKERS is `evtool cat --markers DIR`, TSV `evtool cat --tsv DIR`.  Writes
to OUT one line per event: <rx> <source> <source name or ?>|<type name or
?>, and prints a summary on stdout: events, sources, unnamed sources (their
ids follow, one a line, prefixed "unnamed-source "), CONFIG snapshots, deltas.
"""
import bisect
import json
import sys

markers, tsv, out = sys.argv[1:4]
named = {}          # path -> [(rx, name)], in archive order
snapshots = deltas = 0
with open(markers) as f:
    for line in f:
        rx, kind, body = line.rstrip("\n").split("\t", 2)
        if kind != "CONFIG":
            continue
        c = json.loads(body)
        if c.get("kind", "snapshot") == "delta":
            deltas += 1
        else:
            snapshots += 1
        for lst, prefix in (("sources", ""), ("eventTypes", "eventTypes/"),
                            ("stateGroups", "stateGroups/")):
            for item in c.get(lst, []):
                name = item.get("displayName", item.get("name"))
                if isinstance(item.get("id"), str) and name is not None:
                    named.setdefault((prefix + item["id"]).lower(),
                                     []).append((int(rx), name))


def name_of(path, t):
    """The rule: latest at or before t, else earliest after t."""
    lst = named.get(path.lower())
    if not lst:
        return None
    i = bisect.bisect_right([rx for rx, _ in lst], t)
    return lst[i - 1][1] if i > 0 else lst[0][1]


events, sources, unnamed = 0, set(), set()
with open(tsv) as f, open(out, "w") as o:
    for line in f:
        rx, _, msg = line.rstrip("\n").partition("\t")
        if ":" in rx:
            continue
        try:
            m = json.loads(msg)
        except ValueError:
            continue
        if not isinstance(m, dict) or not isinstance(m.get("events"), list):
            continue
        for e in m["events"]:
            events += 1
            src = e["source"]
            sources.add(src)
            sn = name_of(src, int(rx))
            tn = name_of("eventTypes/" + e["type"], int(rx))
            if sn is None:
                unnamed.add(src)
            o.write("%s %s %s|%s\n" % (rx, src, sn if sn is not None else "?",
                                       tn if tn is not None else "?"))
print("events %d" % events)
print("sources %d" % len(sources))
print("unnamed %d" % len(unnamed))
for s in sorted(unnamed):
    print("unnamed-source " + s)
print("snapshots %d" % snapshots)
print("deltas %d" % deltas)
