#!/usr/bin/env python3
"""statsref.py: checks `evtool stats --json` against a reference computed
from `evtool cat --tsv` and `evtool cat --markers` of the same archive.

usage: statsref.py TSV MARKERS STATS_JSON [--from US] [--to US]
                   [--source S]... [--top N] [--bucket SECONDS]
Exits 0 when every figure agrees, else 1 naming each difference.
"""
import argparse
import collections
import json
import sys

ap = argparse.ArgumentParser()
ap.add_argument("tsv")
ap.add_argument("markers")
ap.add_argument("stats")
ap.add_argument("--from", dest="frm", type=int, default=-(1 << 63))
ap.add_argument("--to", type=int, default=(1 << 63) - 1)
ap.add_argument("--source", action="append", default=[])
ap.add_argument("--top", type=int, default=10)
ap.add_argument("--bucket", type=float)
a = ap.parse_args()
got = json.load(open(a.stats, encoding="utf-8"))
bad = []


def same(what, want, have):
    if want != have:
        bad.append("%s: want %r, got %r" % (what, want, have))


def source_ok(src):
    if not a.source:
        return True
    if not isinstance(src, str):
        return False
    wanted = [s.lower() for s in a.source]
    return src.lower() in wanted or ("/" in src and
                                     src.rsplit("/", 1)[1].lower() in wanted)


def near(what, want, have, tol):
    if abs(want - have) > tol:
        bad.append("%s: want %r, got %r" % (what, want, have))


def text(ev, key):
    v = ev.get(key) if isinstance(ev, dict) else None
    return v if isinstance(v, str) else ""


types, sources, times = collections.Counter(), collections.Counter(), []
frames = collections.Counter()
messages = 0
for line in open(a.tsv, encoding="utf-8"):
    rx, _, body = line.rstrip("\n").partition("\t")
    rx = int(rx)
    if not a.frm <= rx < a.to:
        continue
    try:
        obj = json.loads(body)
    except ValueError:
        frames["raw"] += 1
        continue
    if isinstance(obj, dict) and isinstance(obj.get("events"), list):
        kept = [e for e in obj["events"] if source_ok(text(e, "source"))]
        if kept:
            messages += 1
        for e in kept:
            types[text(e, "type")] += 1
            sources[text(e, "source")] += 1
            times.append(rx)
    elif isinstance(obj, dict) and isinstance(obj.get("states"), list):
        frames["states"] += 1
configs = []      # (rx, body) of every CONFIG marker, in archive order
for line in open(a.markers, encoding="utf-8"):
    rx, kind, body = line.rstrip("\n").split("\t", 2)
    if a.frm <= int(rx) < a.to:
        frames[kind] += 1
    if kind == "CONFIG":
        configs.append((int(rx), json.loads(body)))


def names(key):
    """Names as of the range's end (formats/records.md, "Names from CONFIG
    markers"): of each id the latest marker before `to` listing it, else
    the earliest after; displayName where there is one, else name."""
    out = {}
    before = [c for rx, c in configs if rx < a.to]
    after = [c for rx, c in configs if rx >= a.to]
    # Later writes win: the earliest after last among those after, then
    # every one before, the latest last.
    for c in after[::-1] + before:
        for item in c.get(key) or []:
            out[item["id"].lower()] = item.get("displayName", item["name"])
    return out


events = len(times)
same("events", events, got["events"])
same("messages", messages, got["messages"])
same("first_us", min(times) if times else None, got["first_us"])
same("last_us", max(times) if times else None, got["last_us"])
same("state_snapshots", frames["states"], got["state_snapshots"])
same("raw_frames", frames["raw"], got["raw_frames"])
same("sessions", frames["SESSION"], got["sessions"])
same("gaps", frames["GAP"], got["gaps"])
same("configs", frames["CONFIG"], got["configs"])
same("damaged", 0, got["damaged"])

tn = names("eventTypes")
same("types", {t: (n, tn.get(t.lower())) for t, n in types.items()},
     {x["type"]: (x["count"], x["name"]) for x in got["types"]})
same("types_distinct", len(types), got["types_distinct"])
sn = names("sources")
top = sorted(sources.values(), reverse=True)[:a.top]
same("top source counts", top, [x["count"] for x in got["sources"]])
for x in got["sources"]:
    same("count of " + x["source"], sources[x["source"]], x["count"])
    same("name of " + x["source"], sn.get(x["source"].lower()), x["name"])
same("sources_other", events - sum(top), got["sources_other"])
same("sources_distinct", len(sources), got["sources_distinct"])
for x in got["types"] + got["sources"]:
    near("percent", 100.0 * x["count"] / events, x["percent"], 0.006)

# Buckets: the width asked for, else the first of the ladder with at most
# 48 rows; every bucket from the first event's to the last's, empty ones
# included, aligned to multiples of the width since the epoch.
w = got["bucket_s"]
if a.bucket is not None:
    same("bucket_s", a.bucket, w)
elif times:
    ladder = [1, 10, 60, 600, 3600, 86400]
    while ladder[-1] < 1e12:
        ladder.append(ladder[-1] * 10)
    for want in ladder:
        if max(times) // (want * 10**6) - min(times) // (want * 10**6) < 48:
            break
    same("auto bucket_s", want, w)
wu = int(w * 10**6)
rows = collections.Counter(t // wu for t in times)
ref = [(k * wu, rows[k]) for k in range(min(rows), max(rows) + 1)] if rows else []
same("activity", ref, [(x["start_us"], x["count"]) for x in got["activity"]])
same("activity sum", events, sum(x["count"] for x in got["activity"]))
peak = max(rows.values()) if rows else 0
near("peak_rate", peak / w, got["peak_rate"], 0.0011)
if times and max(times) > min(times):
    near("mean_rate", events / ((max(times) - min(times)) / 1e6),
         got["mean_rate"], 0.0011)

for b in bad:
    print(b[:2000])
sys.exit(1 if bad else 0)
