#!/usr/bin/env python3
"""evplay_follow.py: clients of `evplay --listen --follow` (the fan-out
gateway), used by tests/integration/evplay_follow.sh and
evplay_fanout50.sh.  The reference is
evsim's --log-sent file (every message it sent, one a line).  Reuses
essclient.py (token, connection, frame checks) and evplay_server.py (the
filter semantics).  "FAIL: why" on stderr and exit 1 on the first
violation, exit 0 otherwise.

  fanout  three clients at once with different filters (all events; one
          type; everything but that type), each getState answered within
          its filter; the third drops after --drop-after events and
          resumes (startSession with its session and last event id) once
          evsim sent --away more.  Once evsim sent --total events, each
          client's events are exactly the sent events of its filter from
          the first one it got to the last one sent: none twice, none
          missing, in order.  A fourth (the one type) resumes after the
          first event evsim sent, which its session never had: it gets
          every sent event of its filter after that one.  A fifth
          subscribes to everything and stops reading while evsim sends
          --away events, then gets every one from its first, once.
  whole   one client of an evplay started with --from before the first
          event: every event sent, from the first, once.
  fan50   50 clients of ten kinds of filters (types, sources, a resource
          type, excludes, two includes), connecting one after the other
          mid-stream; ten drop and resume with their session (two of them
          twice): each gets exactly the sent events of its filter from its
          first on, once, in order.
  gapless the ids a client wrote (sample_ess.py --out) are consecutive
          events evsim sent.
"""
import argparse
import asyncio
import json
import time

import essclient
from conformance import stalled_client
from essclient import ALL, Conn, connect, fail, subscribe, token_or_fail
from evplay_server import delivered, filtered_state, guid


_sent = {}


def sent_events(path):
    """The events of the --log-sent file so far: whole lines, up to one
    that does not read yet (evsim's stdio may be between writes).  Read
    on from where the last call stopped (many clients poll it); the list
    is shared: callers copy what they keep across an await."""
    off, evs = _sent.get(path, (0, []))
    try:
        with open(path, "rb") as f:
            f.seek(off)
            for line in f:
                if not line.endswith(b"\n"):
                    break
                try:
                    evs.extend(json.loads(line)["events"])
                except ValueError:
                    break
                off += len(line)
    except FileNotFoundError:
        pass
    _sent[path] = (off, evs)
    return evs


async def sent_at_least(args, n):
    """Waits (bounded) until evsim logged n events; returns them."""
    deadline = time.monotonic() + args.timeout
    while True:
        evs = sent_events(args.sent)
        if len(evs) >= n:
            return evs
        if time.monotonic() > deadline:
            fail("evsim logged %d events, waited for %d" % (len(evs), n))
        await asyncio.sleep(0.05)


async def until_id(c, last, timeout):
    """Receives until the event with id last arrived."""
    deadline = time.monotonic() + timeout
    while not c.events or c.events[-1]["id"] != last:
        left = deadline - time.monotonic()
        if left <= 0:
            fail("event %s did not arrive (%d events)" % (last,
                                                         len(c.events)))
        if await c.recv_one(left) is not None:
            fail("unexpected response")


async def client(args, name, filters, drops=0, rewind=False, whole=False,
                 after=None, away=None, start=0):
    """drops: away (until evsim sent away, default --away, more) that
    many times after `after` (default --drop-after) events each, then
    resumes after the last event it got; rewind: resumes at once after
    the first event evsim sent (never in this session's history: from the
    archive); whole: every event sent, from the first (evplay --from
    before it); start: connects once evsim sent that many events."""
    after = after or getattr(args, "drop_after", 0)
    away = away or getattr(args, "away", 0)
    if start:
        await sent_at_least(args, start)
    tok = token_or_fail(args)
    got = []
    ws = await connect(args, tok)
    c = Conn(ws)
    sid = await subscribe(c, filters)
    nstates = len(await filtered_state(c, filters))
    resumed = 0
    for _ in range(1 if rewind else drops):
        await c.until_events(after, timeout=args.timeout)
        got.extend(c.events)
        await ws.close()
        if rewind:
            got = []
            last = sent_events(args.sent)[0]["id"]
        else:
            await sent_at_least(args, len(sent_events(args.sent)) + away)
            last = got[-1]["id"]
        ws = await connect(args, tok)
        c = Conn(ws)
        r = await c.cmd({"command": "startSession", "commandId": 4,
                         "sessionId": sid, "eventId": last})
        if r.get("status") != 200:
            fail("%s: the resume was refused: %r" % (name, r))
        resumed += 1
    sent = await sent_at_least(args, args.total)
    if rewind:
        sent = sent[1:]
    want = [e["id"] for e in sent if delivered(e, filters)]
    if not want:
        fail("%s: the filter selects nothing" % name)
    await until_id(c, want[-1], args.timeout)
    await ws.close()
    ids = [e["id"] for e in got + c.events]
    if len(set(ids)) != len(ids):
        fail("%s: events received twice" % name)
    if ids[0] not in want:
        fail("%s: event %s was not sent or is outside the filter"
             % (name, ids[0]))
    i0 = want.index(ids[0])
    if (rewind or whole) and i0 != 0:
        fail("%s: the first event after the one it resumed after is %s, "
             "not %s" % (name, ids[0], want[0]))
    if ids != want[i0:]:
        for k, (a, b) in enumerate(zip(ids, want[i0:])):
            if a != b:
                fail("%s: event %d is %s, wanted %s" % (name, k, a, b))
        fail("%s: %d events, wanted %d" % (name, len(ids), len(want) - i0))
    return "%s: %d events (sent %d..%d of its filter), %d states%s" % (
        name, len(ids), i0 + 1, len(want), nstates,
        ", resumed after the first event sent" if rewind else
        ", %d resume%s" % (resumed, "s"[resumed == 1:]) if resumed
        else "")


async def stalled(args):
    """Subscribes to everything, then reads nothing until evsim sent
    --away more events; then reads on: every sent event from the first
    one it got, once."""
    tok = token_or_fail(args)
    ws = await stalled_client(args, tok)
    await sent_at_least(args, len(sent_events(args.sent)) + args.away)
    c = Conn(ws)
    sent = await sent_at_least(args, args.total)
    want = [e["id"] for e in sent]
    await until_id(c, want[-1], args.timeout)
    await ws.close()
    ids = [e["id"] for e in c.events]
    i0 = want.index(ids[0]) if ids[0] in want else -1
    if i0 < 0 or ids != want[i0:]:
        fail("stalled: not every sent event from its first one, once")
    return "stalled: %d events (sent %d..%d), read nothing for %d sent" % (
        len(ids), i0 + 1, len(want), args.away)


async def sc_whole(args):
    print(await client(args, "whole", ALL, whole=True))


async def sc_fanout(args):
    t = args.type
    one = [{"modifier": "include", "resourceTypes": ["*"],
            "sourceIds": ["*"], "eventTypes": [t]}]
    rest = ALL + [{"modifier": "exclude", "resourceTypes": ["*"],
                   "sourceIds": ["*"], "eventTypes": [t]}]
    out = await asyncio.gather(client(args, "all", ALL),
                               client(args, "type", one),
                               client(args, "not-type", rest, 1),
                               client(args, "rewind", one, rewind=True),
                               stalled(args))
    for line in out:
        print(line)


def flt(types=("*",), sources=("*",), rtypes=("*",), mod="include"):
    return {"modifier": mod, "resourceTypes": list(rtypes),
            "sourceIds": list(sources), "eventTypes": list(types)}


def fan_filters(evs):
    """Ten kinds of filters over the types and sources of the events sent
    so far: all; a type; all but it; two rarer types; a source; three
    sources (GUIDs upper-cased); a resource type; a type but two sources;
    a source and a type at once; a type or a source (two includes)."""
    count = {}
    for e in evs:
        count[e["type"]] = count.get(e["type"], 0) + 1
    t = sorted(count, key=lambda k: -count[k])
    if len(t) < 4:
        fail("the first %d events have %d types, wanted 4" % (len(evs),
                                                              len(t)))
    src = []
    for e in evs:
        if e["source"] not in src:
            src.append(e["source"])
    g = [guid(x) for x in src]
    rts = sorted({x.partition("/")[0] for x in src})
    return [ALL, [flt([t[0]])], ALL + [flt([t[0]], mod="exclude")],
            [flt(t[2:4])], [flt(sources=g[:1])],
            [flt(sources=[x.upper() for x in g[1:4]])],
            [flt(rtypes=[rts[-1].capitalize()])],
            [flt([t[1]]), flt(sources=g[:2], mod="exclude")],
            [flt([t[0]], g[4:5])], [flt([t[3]]), flt(sources=g[5:6])]]


async def sc_fan50(args):
    """--clients clients (default 50), client i with filter kind i % 10,
    connecting once evsim sent 10 * i more events; one in five drops and
    resumes (the first ten twice), away for --away to 3 x --away events."""
    args.token = token_or_fail(args)
    evs = list(await sent_at_least(args, 1))
    kinds = fan_filters(evs)
    jobs = []
    for i in range(args.clients):
        k = i % 10
        drops = 0
        if (i // 10 + k) % 5 == 0:
            drops = 2 if i < 10 else 1
        jobs.append(client(args, "c%02d/kind %d" % (i, k), kinds[k], drops,
                           after=2 + i % 5, away=args.away * (1 + i % 3),
                           start=len(evs) + 10 * i))
    out = await asyncio.gather(*jobs)
    for line in out:
        print(line)
    print("%d clients, %d of them resumed: each every event of its filter "
          "from its first, once, in order" % (len(out),
                                     sum(" resume" in x for x in out)))


def sc_gapless(args):
    """The ids in --ids (one a line) are a run of consecutive events
    evsim sent (none missing, none twice), of at least --min ids."""
    ids = [x.strip() for x in open(args.ids) if x.strip()]
    sent = [e["id"] for e in sent_events(args.sent)]
    if len(ids) < args.min or ids[0] not in sent:
        fail("%d ids, the first %s sent: %s" % (len(ids), ids[:1],
                                                ids[0] in sent if ids
                                                else "-"))
    i0 = sent.index(ids[0])
    if ids != sent[i0:i0 + len(ids)]:
        fail("not a gapless run of the events sent from the %dth" % (i0 + 1))
    print("%d events, sent %d..%d" % (len(ids), i0 + 1, i0 + len(ids)))


def main():
    ap = argparse.ArgumentParser()
    essclient.conn_args(ap)
    ap.add_argument("--sent", required=True)
    ap.add_argument("--total", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=60)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("fanout")
    p.add_argument("--type", required=True)
    p.add_argument("--drop-after", type=int, default=200)
    p.add_argument("--away", type=int, default=800)
    sub.add_parser("whole")
    p = sub.add_parser("fan50")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--away", type=int, default=400)
    p.add_argument("--drop-after", type=int, default=3)
    p = sub.add_parser("gapless")
    p.add_argument("--ids", required=True)
    p.add_argument("--min", type=int, default=1)
    args = ap.parse_args()
    essclient.run({"fanout": sc_fanout, "whole": sc_whole, "fan50": sc_fan50,
                   "gapless": sc_gapless}[args.cmd], args)


if __name__ == "__main__":
    main()
