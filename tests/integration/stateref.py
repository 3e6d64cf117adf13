#!/usr/bin/env python3
"""stateref.py: the reference state table from `evtool cat --tsv` output.

usage: stateref.py TSV AT [incl|excl]
Prints the ids of the latest stateful event per (source, state group) as
of receive time AT (frames at AT included with incl, the default), seeded
by the last getState answer ("states") before it; one id per line, sorted.
Importable: table(path, at, incl) gives {(source, group): event}.
"""
import json
import sys


def frames(path, at, incl=True):
    """(rx, is a getState answer, items) of the getState answers and
    messages received up to at, in order."""
    for line in open(path, encoding="utf-8"):
        rx, _, text = line.rstrip("\n").partition("\t")
        rx = int(rx)
        if rx > at or (rx == at and not incl):
            continue
        try:
            obj = json.loads(text)
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        if isinstance(obj.get("states"), list):
            yield rx, True, obj["states"]
        elif isinstance(obj.get("events"), list):
            yield rx, False, obj["events"]


def stateful(ev):
    """The (source, stategroupid) key of a stateful event, lower case, or
    None."""
    if (isinstance(ev, dict) and isinstance(ev.get("source"), str)
            and isinstance(ev.get("stategroupid"), str)):
        return (ev["source"].lower(), ev["stategroupid"].lower())
    return None


def table(path, at, incl=True):
    """The state table as of receive time at: {(source, stategroupid),
    lower case: the latest stateful event object}."""
    tab = {}
    for _, snap, items in frames(path, at, incl):
        if snap:
            tab = {}
        for ev in items:
            key = stateful(ev)
            if key is not None:
                tab[key] = ev
    return tab


if __name__ == "__main__":
    tab = table(sys.argv[1], int(sys.argv[2]),
                len(sys.argv) < 4 or sys.argv[3] == "incl")
    for i in sorted(str(v.get("id")) for v in tab.values()):
        print(i)
