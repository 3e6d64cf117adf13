#!/usr/bin/env python3
"""mergeref.py: the reference of tests/integration/merge.sh, written from
formats/records.md, "Merged archives", not from src/merge.c.

  mergeref.py variants ALL.tsv DIR   writes DIR/{a,b,d1,d2}.tsv from one
      evgen stream (rx TAB message lines; the first may be a getState
      answer): a = the first 60 % without every 7th event, b = the last
      60 % received 2 ms later, d1/d2 = the two halves (disjoint)
  mergeref.py ref IN.tsv...          prints the frames a merge of these
      inputs (as `evtool cat --tsv` prints them) must hold, one
      "rx TAB kind TAB canonical events or text" line per frame, then one
      "# input N: E events, D duplicates" line per input
  mergeref.py frames CAT.tsv         the same lines for a merged archive's
      `evtool cat --tsv` output
"""
import json
import sys


def read(path):
    out = []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            rx, _, text = line.rstrip("\n").partition("\t")
            # A frame that lost events to damage ("rx:incomplete",
            # formats/tsv.md) is merged with the events that read.
            out.append((int(rx.partition(":")[0]), text))
    return out


def events_of(text):
    """The events of a MSG frame, or None for another frame."""
    if not text.startswith('{"events":['):
        return None
    try:
        return json.loads(text)["events"]
    except (ValueError, KeyError):
        return None


def canon(rx, text, evs):
    if evs is None:
        return "%d\tframe\t%s" % (rx, text)
    return "%d\tmsg\t%s" % (rx, json.dumps(evs, sort_keys=True))


def variants(src, d):
    lines = read(src)
    head = [l for l in lines if events_of(l[1]) is None][:1]
    msgs = [l for l in lines if events_of(l[1]) is not None]
    n = len(msgs)
    a, k = [], 0
    for rx, text in msgs[: n * 6 // 10]:
        evs = events_of(text)
        keep = []
        for e in evs:
            k += 1
            if k % 7:
                keep.append(e)
        if keep:
            a.append((rx, json.dumps({"events": keep}, separators=(",", ":"))))
    b = [(rx + 2000, t) for rx, t in msgs[n * 4 // 10:]]
    for name, ls in (("a", head + a), ("b", head + b),
                     ("d1", head + msgs[: n // 2]), ("d2", msgs[n // 2:])):
        with open("%s/%s.tsv" % (d, name), "w", encoding="utf-8",
                  errors="surrogateescape") as f:
            for rx, t in ls:
                f.write("%d\t%s\n" % (rx, t))


def ref(paths):
    recs = []
    for i, p in enumerate(paths):
        for j, (rx, text) in enumerate(read(p)):
            recs.append((rx, len(text.encode("utf-8", "surrogateescape")),
                         text.encode("utf-8", "surrogateescape"), i, j, text))
    recs.sort()
    seen, same, same_rx = set(), set(), None
    stats = [[0, 0] for _ in paths]
    for rx, _, _, i, _, text in recs:
        evs = events_of(text)
        if evs is None or not evs:
            if rx != same_rx:
                same_rx, same = rx, set()
            if text in same:
                continue
            same.add(text)
            print(canon(rx, text, evs))
            continue
        new = []
        for e in evs:
            key = e.get("id", "").lower() if isinstance(e, dict) else None
            if key in seen:
                stats[i][1] += 1
            else:
                seen.add(key)
                new.append(e)
        stats[i][0] += len(new)
        if new:
            print(canon(rx, text, new))
    for i, (e, d) in enumerate(stats):
        print("# input %d: %d events, %d duplicates" % (i, e, d))


def frames(path):
    for rx, text in read(path):
        print(canon(rx, text, events_of(text)))


if __name__ == "__main__":
    if sys.argv[1] == "variants":
        variants(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "ref":
        ref(sys.argv[2:])
    else:
        frames(sys.argv[2])
