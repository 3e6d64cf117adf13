#!/usr/bin/env python3
"""evplay_rewrite.py: checks of evplay's rewritten replays, used by
tests/integration/evplay_rewrite.sh.  "FAIL: why" on stderr and exit 1 on
the first violation, exit 0 otherwise.

  retime   ORIG OUT T0 PASSES: OUT (JSON lines, PASSES passes of ORIG)
           differs from ORIG only in time, data.startTime, data.endTime;
           each shifted by the same offset within a pass (every event,
           every timestamp), with its text form and precision kept; the
           first event of the first pass at or after T0 (us, the wall time
           before evplay started); the passes' offsets never decrease
  fresh    ORIG OUT PASSES: OUT differs from ORIG only in id; every id in
           the GUID form with the original's version and variant, none
           twice over the PASSES passes, none an original id
  mapped   ORIG OUT OLD NEW: OUT differs from ORIG only in the source of
           OLD's events, which is NEW
  server   (network) one client subscribed to NEW's events only gets them
           with source NEW (--expect ORIG's events of OLD, renamed), with
           times shifted by one offset (>= --t0), a getState answer of NEW's
           states only; a Config REST lookup of NEW answers with OLD's
           names (--rest); then the session is dropped after --cut events
           and resumed by the last fresh id: the events continue at the
           right one (--ids: the fresh ids of the whole pass, in order)
"""
import argparse
import asyncio
import datetime
import json
import re
import sys
import urllib.request

import essclient
from essclient import Conn, connect, fail, subscribe, token_or_fail

TS = re.compile(r"^(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d)(:\d\d([.,](\d+))?)?"
                r"(Z|z|[+-]\d\d(:?\d\d)?)?$")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                  r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def load(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def ns(ts):
    """A timestamp as ns since the epoch (fraction of up to 9 digits)."""
    m = TS.match(ts)
    if not m:
        fail("not a timestamp: %r" % ts)
    frac = (m.group(5) or "")[:9].ljust(9, "0")
    zone = m.group(6) or "Z"
    if zone in "Zz":
        zone = "+00:00"
    elif len(zone) == 3:
        zone += ":00"
    elif ":" not in zone:
        zone = zone[:3] + ":" + zone[3:]
    base = datetime.datetime.fromisoformat(
        "%sT%s%s%s" % (m.group(1), m.group(2), (m.group(3) or ":00")[:3],
                       zone))
    return int(base.timestamp()) * 10**9 + int(frac)


def form(ts):
    """What must stay: the text with its digits blanked."""
    return re.sub(r"\d", "0", ts)


def stamps(ev):
    """(path, value) of the timestamps rewrite.c shifts."""
    out = []
    if isinstance(ev.get("time"), str):
        out.append(("time", ev["time"]))
    d = ev.get("data")
    if isinstance(d, dict):
        for k, v in d.items():
            if k.lower() in ("starttime", "endtime") and isinstance(v, str):
                out.append(("data." + k, v))
    return out


def without(ev, keys):
    e = json.loads(json.dumps(ev))
    for k in keys:
        if k.startswith("data."):
            e.get("data", {}).pop(k[5:], None)
        else:
            e.pop(k, None)
    return e


def sc_retime(args):
    orig, out = load(args.orig), load(args.out)
    if len(out) != len(orig) * args.passes:
        fail("%d events, wanted %d" % (len(out), len(orig) * args.passes))
    prev = None
    for p in range(args.passes):
        offs = set()
        for i, o in enumerate(orig):
            r = out[p * len(orig) + i]
            a, b = stamps(o), stamps(r)
            keys = [k for k, _ in a]
            if [k for k, _ in b] != keys:
                fail("event %d: timestamps %r, wanted %r" % (i, b, a))
            if without(r, keys) != without(o, keys):
                fail("event %d: more than its times changed" % i)
            for (k, x), (_, y) in zip(a, b):
                if form(x) != form(y):
                    fail("event %d %s: form %r, wanted %r" % (i, k, y, x))
                offs.add(ns(y) - ns(x))
        if len(offs) != 1:
            fail("pass %d: %d different offsets, e.g. %r" % (
                p + 1, len(offs), sorted(offs)[:3]))
        off = offs.pop()
        if p == 0 and ns(out[0]["time"]) < args.t0 * 1000:
            fail("the first event's time %s is before the start %d us" % (
                out[0]["time"], args.t0))
        if prev is not None and off < prev:
            fail("pass %d's offset %d is less than the one before (%d)" % (
                p + 1, off, prev))
        prev = off
    print("%d passes, one offset each (last %.3f s)" % (args.passes,
                                                        prev / 1e9))


def sc_fresh(args):
    orig, out = load(args.orig), load(args.out)
    if len(out) != len(orig) * args.passes:
        fail("%d events, wanted %d" % (len(out), len(orig) * args.passes))
    seen = set()
    olds = {o["id"] for o in orig}
    for k, r in enumerate(out):
        o = orig[k % len(orig)]
        if without(r, ["id"]) != without(o, ["id"]):
            fail("event %d: more than its id changed" % k)
        i = r["id"]
        if not GUID.match(i) or i in seen or i in olds:
            fail("event %d: id %r not new, unique and a GUID" % (k, i))
        if GUID.match(o["id"]) and (i[14] != o["id"][14] or
                                    "89ab".find(i[19].lower()) < 0):
            fail("event %d: version/variant of %s not those of %s" % (
                k, i, o["id"]))
        seen.add(i)
    print("%d fresh ids, all different" % len(seen))


def sc_mapped(args):
    orig, out = load(args.orig), load(args.out)
    if len(out) != len(orig):
        fail("%d events, wanted %d" % (len(out), len(orig)))
    n = 0
    for o, r in zip(orig, out):
        if o.get("source") == args.old:
            n += 1
            o = dict(o, source=args.new)
        if o != r:
            fail("%r, wanted %r" % (r, o))
    if n == 0:
        fail("no event of %s" % args.old)
    print("%d events renamed" % n)


async def sc_server(args):
    want = [dict(e, source=args.new) for e in load(args.expect)
            if e.get("source") == args.old]
    ids = [line.strip() for line in open(args.ids)]
    flt = [{"modifier": "include", "resourceTypes": ["*"],
            "sourceIds": [args.new.partition("/")[2]], "eventTypes": ["*"]}]
    tok = token_or_fail(args)
    ws = await connect(args, tok)
    c = Conn(ws)
    sid = await subscribe(c, flt)
    st = await c.cmd({"command": "getState", "commandId": 3})
    srcs = {s["source"] for s in st["states"]}
    if srcs != {args.new}:
        fail("getState sources %r, wanted only %s" % (srcs, args.new))
    await c.until_events(args.cut, timeout=args.timeout)
    got = c.events[:]
    await ws.close()
    # Resume by the last fresh id received.
    ws = await connect(args, tok)
    c = Conn(ws)
    r = await c.cmd({"command": "startSession", "commandId": 1,
                     "sessionId": sid, "eventId": got[-1]["id"]})
    if r.get("status") != 200 or r.get("sessionId") != sid:
        fail("resume by fresh id %s: %r" % (got[-1]["id"], r))
    await c.until_events(len(want) - len(got), timeout=args.timeout)
    got += c.events
    await ws.close()
    if len(got) != len(want):
        fail("%d events, wanted %d" % (len(got), len(want)))
    gi = [e["id"] for e in got]
    wi = [i for i, e in zip(ids, load(args.expect))
          if e.get("source") == args.old]
    if gi != wi:
        k = next(k for k in range(len(gi)) if gi[k] != wi[k])
        fail("event %d: id %s, wanted %s (resumed after %d)" % (
            k, gi[k], wi[k], args.cut))
    offs = set()
    for g, w in zip(got, want):
        keys = ["id"] + [k for k, _ in stamps(w)]
        if without(g, keys) != without(w, keys):
            fail("%r, wanted %r" % (g, w))
        for (_, x), (_, y) in zip(stamps(w), stamps(g)):
            offs.add(ns(y) - ns(x))
    if len(offs) != 1 or ns(got[0]["time"]) < args.t0 * 1000:
        fail("offsets %r, first time %s, start %d" % (
            sorted(offs)[:3], got[0]["time"], args.t0))
    if args.rest:
        url = "http://127.0.0.1:%d/api/rest/v1/%s" % (args.port, args.new)
        req = urllib.request.Request(url, headers={
            "Authorization": "Bearer " + tok})
        doc = json.load(urllib.request.urlopen(req, timeout=10))
        if doc["data"].get("displayName") != args.rest:
            fail("REST %s: %r, wanted %r" % (args.new, doc, args.rest))
    print("%d events of %s, resumed by a fresh id after %d; getState and "
          "REST under the new id" % (len(got), args.new, args.cut))


def main():
    ap = argparse.ArgumentParser()
    essclient.conn_args(ap, port_required=False)
    ap.add_argument("--timeout", type=float, default=30)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("retime")
    p.add_argument("orig")
    p.add_argument("out")
    p.add_argument("t0", type=int)
    p.add_argument("passes", type=int)
    p = sub.add_parser("fresh")
    p.add_argument("orig")
    p.add_argument("out")
    p.add_argument("passes", type=int)
    p = sub.add_parser("mapped")
    p.add_argument("orig")
    p.add_argument("out")
    p.add_argument("old")
    p.add_argument("new")
    p = sub.add_parser("server")
    p.add_argument("--expect", required=True)
    p.add_argument("--ids", required=True)
    p.add_argument("--old", required=True)
    p.add_argument("--new", required=True)
    p.add_argument("--t0", type=int, required=True)
    p.add_argument("--cut", type=int, default=20)
    p.add_argument("--rest")
    args = ap.parse_args()
    essclient.run({"retime": sc_retime, "fresh": sc_fresh,
                   "mapped": sc_mapped, "server": sc_server}[args.cmd], args)


if __name__ == "__main__":
    main()
