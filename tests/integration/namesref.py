#!/usr/bin/env python3
"""namesref.py: the reference of the names every reading tool shows,
computed from `evtool cat --tsv` and `cat --markers` output alone
(formats/records.md, "Marker bodies written by evrec"; README, "Names").

usage: namesref.py MODE TSV MARKERS GOT [options]
  json            GOT is `cat --names`: each event with sourceName,
                  typeName, stateGroupName (those known) appended
  text [-v]       GOT is `cat -o text --utc [-v]`: the text lines
  state AT [--changed-since T2]
                  GOT is `state --at AT -o text --utc [--changed-since]`
  filter GLOB     GOT is `cat --source GLOB`: the events of the sources
                  some marker names so
Exits 0 when GOT is the reference, else 1 with the first difference.

The resolution rule: the name of an id for an event received at T is the
one of the latest CONFIG marker at or before T listing the id, else of the
earliest after T; an item's name is its displayName, else its name.
"""
import bisect
import datetime
import fnmatch
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stateref  # noqa: E402  (beside this file)

LISTS = {"sources": "source", "eventTypes": "type", "stateGroups": "group"}


def markers(path):
    """{(list, id lower): sorted [(rx, order, item)]} of the CONFIG
    markers."""
    tab = {}
    order = 0
    for line in open(path, encoding="utf-8"):
        rx, kind, body = line.rstrip("\n").split("\t", 2)
        if kind != "CONFIG":
            continue
        body = json.loads(body)
        for key, lst in LISTS.items():
            for it in body.get(key) or []:
                if not (isinstance(it, dict) and isinstance(it.get("id"), str)
                        and isinstance(it.get("name"), str)):
                    continue
                order += 1
                tab.setdefault((lst, it["id"].lower()), []).append(
                    (int(rx), order, it))
    for v in tab.values():
        v.sort(key=lambda e: (e[0], e[1]))
    return tab


def shown(it):
    """The name people are shown of an item."""
    d = it.get("displayName")
    return d if isinstance(d, str) else it["name"]


def lookup(tab, lst, ident, rx):
    """The item of ident as of rx, or None."""
    v = tab.get((lst, (ident or "").lower()))
    if not v:
        return None
    i = bisect.bisect_right([e[0] for e in v], rx)
    return v[i - 1][2] if i > 0 else v[0][2]


def event_names(tab, ev, rx):
    """(source name, type name, group name, state name), None unknown."""
    s = lookup(tab, "source", ev.get("source"), rx)
    t = lookup(tab, "type", ev.get("type"), rx)
    grp = ev.get("stategroupid")
    if not isinstance(grp, str) and t is not None:
        grp = t.get("stateGroupId")
    g = lookup(tab, "group", grp if isinstance(grp, str) else "", rx)
    return (s and shown(s), t and shown(t), g and shown(g),
            t.get("state") if t else None)


def events(path):
    """(rx, event pairs, event dict) of every event of every message."""
    for line in open(path, encoding="utf-8"):
        rx, _, text = line.rstrip("\n").partition("\t")
        try:
            obj = json.loads(text, object_pairs_hook=list)
        except ValueError:
            continue
        if not isinstance(obj, list):
            continue
        d = dict(obj)
        if isinstance(d.get("events"), list):
            for ev in d["events"]:
                if isinstance(ev, list):
                    yield int(rx), ev, dict(ev)


def compare(got, want):
    """Exits 0 if the lines are equal, else 1 naming the first
    difference."""
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            print("line %d:\n got  %r\n want %r" % (i + 1, g, w))
            sys.exit(1)
    if len(got) != len(want):
        print("%d lines, want %d" % (len(got), len(want)))
        sys.exit(1)
    sys.exit(0)


def mode_json(tab, tsv, got):
    want = []
    for rx, pairs, ev in events(tsv):
        s, t, g, _ = event_names(tab, ev, rx)
        add = [(k, v) for k, v in (("sourceName", s), ("typeName", t),
                                  ("stateGroupName", g)) if v is not None]
        want.append(pairs + add)
    compare([json.loads(x, object_pairs_hook=list)
             for x in open(got, encoding="utf-8")], want)


def stamp(rx):
    t = datetime.datetime.fromtimestamp(rx // 1000000,
                                        datetime.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S") + ".%06dZ" % (rx % 1000000)


def width(tab, lst, default):
    names = [shown(e[2]) for (l, _), v in tab.items() if l == lst for e in v]
    return max(len(n) for n in names) if names else default


def guid(ident):
    return ident.rsplit("/", 1)[-1] if ident else "-"


def mode_text(tab, tsv, got, verbose):
    ws = width(tab, "source", 36) if tab else 36
    wt = width(tab, "type", 36) if tab else 36
    wg = max(width(tab, "group", 1), 1)
    want = []
    for rx, _, ev in events(tsv):
        s, t, g, _ = event_names(tab, ev, rx)
        grp = ev.get("stategroupid") if isinstance(
            ev.get("stategroupid"), str) else ""
        line = "%s  %s  %s  %s" % (
            stamp(rx), (s or guid(ev.get("source"))).ljust(ws),
            (t or guid(ev.get("type"))).ljust(wt),
            (g or guid(grp)).ljust(wg if verbose else 0))
        if verbose:
            line += "  id=%s source=%s type=%s" % (
                ev.get("id") or "-", ev.get("source") or "-",
                ev.get("type") or "-")
        want.append(line)
    compare([x.rstrip("\n") for x in open(got, encoding="utf-8")], want)


def item_time(ev, rx):
    """A getState item's "time" as receive-time microseconds, else rx."""
    try:
        t = ev["time"].replace("Z", "+00:00")
        frac = ""
        if "." in t:
            head, rest = t.split(".", 1)
            digits = "".join(c for c in rest if c.isdigit())
            frac, t = digits[:6].ljust(6, "0"), head + rest[len(digits):]
        d = datetime.datetime.fromisoformat(t)
        if d.tzinfo is None:
            d = d.replace(tzinfo=datetime.timezone.utc)
        return int(d.timestamp()) * 1000000 + int(frac or 0)
    except (KeyError, ValueError, AttributeError, TypeError):
        return rx


def state_table(tsv, at):
    """{(source, group) lower: (event, since)} as of receive time at."""
    tab = {}
    for rx, snap, items in stateref.frames(tsv, at):
        if snap:
            tab = {}
        for ev in items:
            key = stateref.stateful(ev)
            if key is None:
                continue
            old = tab.get(key)
            if snap or old is None:
                since = item_time(ev, rx) if snap else rx
            elif str(old[0].get("type")).lower() != str(
                    ev.get("type")).lower():
                since = rx
            else:
                since = old[1]
            tab[key] = (ev, since)
    return tab


def mode_state(tab, tsv, got, at, changed):
    rows = []
    for ev, since in state_table(tsv, at).values():
        if changed is not None and since < changed:
            continue
        s, t, g, st = event_names(tab, ev, at)
        name = s or guid(ev.get("source"))
        rows.append((name, g or guid(ev.get("stategroupid")),
                     st or t or guid(ev.get("type")), since,
                     "source=%s group=%s type=%s" % (
                         ev.get("source"), ev.get("stategroupid"),
                         ev.get("type") or "")))
    rows.sort(key=lambda r: (r[0].lower(), r[0], r[1].lower(), r[4]))
    wn = max([len("SOURCE")] + [len(r[0]) for r in rows])
    wg = max([len("STATE GROUP")] + [len(r[1]) for r in rows])
    ws = max([len("STATE")] + [len(r[2]) for r in rows])
    want = ["SOURCE".ljust(wn + 2) + "STATE GROUP".ljust(wg + 2) +
            "STATE".ljust(ws + 2) + "SINCE"]
    for r in rows:
        want.append(r[0].ljust(wn + 2) + r[1].ljust(wg + 2) +
                    r[2].ljust(ws + 2) + stamp(r[3]))
    compare([x.rstrip("\n") for x in open(got, encoding="utf-8")], want)


def mode_filter(tab, tsv, got, glob):
    ids = {i for (l, i), v in tab.items() if l == "source" and any(
        fnmatch.fnmatchcase(n.lower(), glob.lower())
        for e in v for n in (e[2]["name"], shown(e[2])))}
    want = [dict(p) for rx, p, ev in events(tsv)
            if str(ev.get("source")).lower() in ids]
    if not want:
        print("the glob selects nothing: a test that cannot fail")
        sys.exit(1)
    compare([json.loads(x) for x in open(got, encoding="utf-8")], want)


def main(a):
    mode, tsv, mk, got = a[:4]
    tab = markers(mk)
    if mode == "json":
        mode_json(tab, tsv, got)
    elif mode == "text":
        mode_text(tab, tsv, got, "-v" in a[4:])
    elif mode == "state":
        ch = int(a[6]) if len(a) > 6 and a[5] == "--changed-since" else None
        mode_state(tab, tsv, got, int(a[4]), ch)
    elif mode == "filter":
        mode_filter(tab, tsv, got, a[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
