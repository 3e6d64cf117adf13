#!/usr/bin/env python3
"""evplay_follow.py: clients of `evplay --listen --follow` (the fan-out
gateway), used by tests/integration/evplay_follow.sh.  The reference is
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
"""
import argparse
import asyncio
import json
import time

import essclient
from conformance import stalled_client
from essclient import ALL, Conn, connect, fail, subscribe, token_or_fail
from evplay_server import delivered, filtered_state


def sent_events(path):
    """The events of the --log-sent file so far: whole lines, up to one
    that does not read yet (evsim's stdio may be between writes)."""
    evs = []
    try:
        with open(path) as f:
            for line in f:
                if not line.endswith("\n"):
                    break
                try:
                    evs.extend(json.loads(line)["events"])
                except ValueError:
                    break
    except FileNotFoundError:
        pass
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


async def client(args, name, filters, drop, rewind=False, whole=False):
    """drop: away until evsim sent --away more, then resumes after the
    last event it got; rewind: resumes at once after the first event
    evsim sent (never in this session's history: from the archive);
    whole: every event sent, from the first (evplay --from before it)."""
    tok = token_or_fail(args)
    got = []
    ws = await connect(args, tok)
    c = Conn(ws)
    sid = await subscribe(c, filters)
    nstates = len(await filtered_state(c, filters))
    resumed = 0
    if drop or rewind:
        await c.until_events(args.drop_after, timeout=args.timeout)
        got.extend(c.events)
        await ws.close()
        if rewind:
            got = []
            after = sent_events(args.sent)[0]["id"]
        else:
            await sent_at_least(args, len(sent_events(args.sent)) +
                                args.away)
            after = got[-1]["id"]
        ws = await connect(args, tok)
        c = Conn(ws)
        r = await c.cmd({"command": "startSession", "commandId": 4,
                         "sessionId": sid, "eventId": after})
        if r.get("status") != 200:
            fail("%s: the resume was refused: %r" % (name, r))
        resumed = 1
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
        ", resumed once" if resumed else "")


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
    print(await client(args, "whole", ALL, False, whole=True))


async def sc_fanout(args):
    t = args.type
    one = [{"modifier": "include", "resourceTypes": ["*"],
            "sourceIds": ["*"], "eventTypes": [t]}]
    rest = ALL + [{"modifier": "exclude", "resourceTypes": ["*"],
                   "sourceIds": ["*"], "eventTypes": [t]}]
    out = await asyncio.gather(client(args, "all", ALL, False),
                               client(args, "type", one, False),
                               client(args, "not-type", rest, True),
                               client(args, "rewind", one, False, True),
                               stalled(args))
    for line in out:
        print(line)


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
    args = ap.parse_args()
    essclient.run({"fanout": sc_fanout, "whole": sc_whole}[args.cmd], args)


if __name__ == "__main__":
    main()
