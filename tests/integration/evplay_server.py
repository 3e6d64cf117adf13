#!/usr/bin/env python3
"""evplay_server.py: scenarios against evplay's server mode, used by
tests/integration/evplay_server.sh.  The reference is the served archive
itself: --tsv names its `evtool cat --tsv` output (every frame with its
receive time), from which the expected messages, their grouping and the
expected states are computed.  Reuses essclient.py (token, connection,
frame checks), conformance.py (expect_close, stalled_client) and
stateref.py (the state table).  "FAIL: why" on stderr and exit 1 on the
first violation, exit 0 otherwise.

  filters     include + exclude filters in one subscription: exactly the
              matching events, each recorded message at most one message,
              in order; getState within the filter
  state       getState right behind the subscription (in the same write)
              and after every --every events equals the archive's state at
              this client's position (the last event it received), for the
              sources subscribed
  timelines   two clients, the second subscribing after the first got
              --late-after events: --clock session: each gets the whole
              replay from the start point; --shared: the late one joins
              mid-stream and gets a gapless run to the end
  stall       a subscribed client that stops reading does not delay
              another client, which receives every event, and once it
              reads again it gets every event too (--clock session;
              --shared --exit-when-done [--loop N]: a gapless run from
              where it joined to the end)
  until-close receives until the server closes with --code: exactly the
              events of --ids (one id a line), in order
  control     /evplay/status fields (401 without a token); pause, resume,
              speed, seek (to and by) with a Bearer token: 401 without,
              400 for bad values, 404 for an unknown session; the events
              follow the controls
  closed      subscribes, writes --ready once an event arrived, then
              expects the server to close with --code (SIGTERM: 1001)
  snapshot    no network: the first getState answer in B (`evtool cat
              --tsv`) == A's state after the events B had before it
  timing      no network: compares the event messages of two `evtool cat
              --tsv` outputs (A served at --speed, B recorded from it):
              same grouping, inter-arrival deviation printed, a generous
              bound on the span asserted
"""
import argparse
import asyncio
import datetime
import json
import time
import urllib.error
import urllib.request

import websockets.exceptions

import essclient
from conformance import expect_close, stalled_client
from essclient import ALL, Conn, connect, fail, subscribe, token_or_fail
import stateref


def load_messages(path, from_us=None):
    """The event messages of an `evtool cat --tsv` file at or after
    from_us: a list of (rx, [event objects])."""
    out = []
    for line in open(path, encoding="utf-8"):
        rx, _, text = line.rstrip("\n").partition("\t")
        if from_us is not None and int(rx) < from_us:
            continue
        try:
            obj = json.loads(text)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("events"), list) \
                and obj["events"] and "commandId" not in obj:
            out.append((int(rx), obj["events"]))
    return out


def guid(source):
    return source.partition("/")[2] or source


def flt_match(ev, f):
    """docs/ess-protocol.md section 6, case-insensitively."""
    rt = ev["source"].partition("/")[0]
    ok = lambda lst, v: "*" in lst or v.lower() in [x.lower() for x in lst]
    return (ok(f["resourceTypes"], rt) and ok(f["sourceIds"],
                                               guid(ev["source"]))
            and ok(f["eventTypes"], ev["type"]))


def delivered(ev, filters):
    """At least one include filter matches, no exclude filter does."""
    inc = [f for f in filters if f["modifier"].lower() == "include"]
    exc = [f for f in filters if f["modifier"].lower() == "exclude"]
    return (any(flt_match(ev, f) for f in inc)
            and not any(flt_match(ev, f) for f in exc))


def grouped(c):
    """The ids a Conn received, grouped as the messages were."""
    out, i = [], 0
    for n in c.sizes:
        out.append([e["id"] for e in c.events[i:i + n]])
        i += n
    return out


async def send_at_once(ws, cmds):
    """Sends the commands in one socket write, so that the server reads
    them together (pipelined for certain, not only in effect)."""
    tr, frames = ws.transport, []
    tr.write = frames.append
    try:
        for x in cmds:
            await ws.send(json.dumps(x))
    finally:
        del tr.write
    tr.write(b"".join(frames))


# ----------------------------------------------------------- filters

async def filtered_state(c, filters):
    """getState on Conn c: answered, every state within the filters;
    returns the states."""
    r = await c.cmd({"command": "getState", "commandId": 3})
    if r.get("status") != 200 or not isinstance(r.get("states"), list):
        fail("getState: %r" % str(r)[:200])
    for s in r["states"]:
        if not delivered(s, filters):
            fail("state outside the filters: %r" % s)
    return r["states"]


async def sc_filters(args):
    msgs = load_messages(args.tsv, args.from_us)
    types = {}
    for _, evs in msgs:
        for e in evs:
            types[e["type"]] = types.get(e["type"], 0) + 1
    common = sorted(types, key=lambda t: -types[t])[:2]
    sources = []
    for _, evs in msgs:
        for e in evs:
            if e["source"] not in sources:
                sources.append(e["source"])
    excl = [guid(s).upper() for s in sources[:3]]
    filters = [{"modifier": "Include", "resourceTypes": ["Cameras"],
                "sourceIds": ["*"], "eventTypes": common},
               {"modifier": "exclude", "resourceTypes": ["*"],
                "sourceIds": excl, "eventTypes": ["*"]}]
    want = []
    for _, evs in msgs:
        ids = [e["id"] for e in evs if delivered(e, filters)]
        if ids:
            want.append(ids)
    nwant = sum(len(m) for m in want)
    if not want or nwant == sum(len(e) for _, e in msgs):
        fail("the filters select nothing or everything (%d)" % nwant)
    tok = token_or_fail(args)
    async with connect(args, tok) as ws:
        c = Conn(ws)
        await subscribe(c, filters)
        states = await filtered_state(c, filters)
        await c.until_events(nwant, timeout=args.timeout)
    got = grouped(c)
    if got != want:
        for i, (a, b) in enumerate(zip(got, want)):
            if a != b:
                fail("message %d: got %s, wanted %s" % (i, a, b))
        fail("%d messages, wanted %d" % (len(got), len(want)))
    print("%d events in %d messages as filtered from the archive, %d states"
          % (nwant, len(want), len(states)))


# ------------------------------------------------------------- state

async def sc_state(args):
    msgs = load_messages(args.tsv, args.from_us)
    rx_of = {e["id"]: rx for rx, evs in msgs for e in evs}
    at = msgs[0][0] if args.from_us is None else args.from_us
    start = stateref.table(args.tsv, at, incl=False)
    if args.sources:
        chosen = sorted({k[0] for k in start})[:args.sources]
        filters = [{"modifier": "include", "resourceTypes": ["cameras"],
                    "sourceIds": [guid(s) for s in chosen],
                    "eventTypes": ["*"]}]
    else:
        chosen, filters = None, ALL

    def expected(c):
        if c.events:
            tab = stateref.table(args.tsv, rx_of[c.events[-1]["id"]])
        else:
            tab = start
        return {str(v.get("id")) for k, v in tab.items()
                if chosen is None or k[0] in chosen}

    tok = token_or_fail(args)
    checked = []
    async with connect(args, tok) as ws:
        c = Conn(ws)
        # The first getState right behind the subscription, in one write.
        cmds = [{"command": "startSession", "commandId": 1},
                {"command": "addSubscription", "commandId": 2,
                 "filters": filters},
                {"command": "getState", "commandId": 10}]
        await send_at_once(ws, cmds)
        r = [await c.response(x["commandId"]) for x in cmds]
        if r[0].get("status") != 201 or r[1].get("status") != 200:
            fail("startSession, addSubscription: %r" % r[:2])
        r = r[2]
        for i in range(args.checks + 1):
            if i:
                await c.until_events(len(c.events) + args.every,
                                     timeout=args.timeout)
                r = await c.cmd({"command": "getState",
                                 "commandId": 10 + i})
            if r.get("status") != 200 or not isinstance(r.get("states"),
                                                        list):
                fail("getState: %r" % str(r)[:200])
            got = {s.get("id") for s in r["states"]}
            want = expected(c)
            if not want:
                fail("the reference state is empty")
            if got != want:
                fail("getState after %d events: %d states, %d expected; "
                     "extra %s, missing %s" % (
                         len(c.events), len(got), len(want),
                         sorted(got - want)[:3], sorted(want - got)[:3]))
            checked.append("%d:%d" % (len(c.events), len(got)))
    print("getState == archive state at the position (events:states) %s"
          % " ".join(checked))


# --------------------------------------------------------- timelines

async def drain_to_end(c, last_id, timeout, count=0):
    """Reads until the event last_id arrived last, and at least count
    events (a --loop replay passes last_id each time)."""
    deadline = time.monotonic() + timeout
    while (not c.events or c.events[-1]["id"] != last_id
           or len(c.events) < count):
        left = deadline - time.monotonic()
        if left <= 0:
            fail("the end of the archive did not arrive (%d events)"
                 % len(c.events))
        try:
            if await c.recv_one(left) is not None:
                fail("unexpected response")
        except websockets.exceptions.ConnectionClosed as e:
            fail("closed after %d events: %s" % (len(c.events), e))


async def sc_timelines(args):
    ids = [e["id"] for _, evs in load_messages(args.tsv, args.from_us)
           for e in evs]
    tok = token_or_fail(args)
    ws1 = await connect(args, tok)
    a = Conn(ws1)
    await subscribe(a)
    await a.until_events(args.late_after, timeout=args.timeout)
    ws2 = await connect(args, tok)
    b = Conn(ws2)
    await subscribe(b)
    joined = len(a.events)
    await asyncio.gather(drain_to_end(a, ids[-1], args.timeout),
                         drain_to_end(b, ids[-1], args.timeout))
    await ws1.close()
    await ws2.close()
    ga = [e["id"] for e in a.events]
    gb = [e["id"] for e in b.events]
    if ga != ids:
        fail("first client: %d events, not the archive's %d in order"
             % (len(ga), len(ids)))
    if args.shared:
        j = ids.index(gb[0]) if gb and gb[0] in ids else -1
        if j < args.late_after or gb != ids[j:]:
            fail("late client on the shared clock: starts at event %d "
                 "(the other had %d), gapless %s" % (j, joined,
                                                     gb == ids[j:]))
        print("shared clock: the late client joined at event %d of %d "
              "(the first client had %d), then gapless" % (j, len(ids),
                                                          joined))
    else:
        if gb != ids:
            fail("second client: %d events, not the archive's %d in order"
                 % (len(gb), len(ids)))
        print("two timelines: each got all %d events from the start "
              "(the second subscribed after %d)" % (len(ids), joined))


async def read_until_close(c, code, timeout):
    """Reads events until the server closes with code."""
    try:
        while True:
            if await c.recv_one(timeout) is not None:
                fail("unexpected response")
    except websockets.exceptions.ConnectionClosed as e:
        if e.rcvd is None or e.rcvd.code != code:
            fail("closed with %r, wanted %d" % (e.rcvd, code))


async def sc_stall(args):
    ids = [e["id"] for _, evs in load_messages(args.tsv, args.from_us)
           for e in evs] * args.loops
    tok = token_or_fail(args)
    stalled = await stalled_client(args, tok)
    async with connect(args, tok) as ws:
        c = Conn(ws)
        await subscribe(c)
        if args.shared:
            # --exit-when-done: the end comes once the stalled client is
            # gone too.
            await read_until_close(c, 1001, args.timeout)
        else:
            await drain_to_end(c, ids[-1], args.timeout, len(ids))
    if not args.shared:
        # Per-session timelines never drop: once it reads again, the
        # stalled client gets every event too.
        s = Conn(stalled)
        await drain_to_end(s, ids[-1], args.timeout, len(ids))
        if [e["id"] for e in s.events] != ids:
            fail("the stalled client: %d events, not the archive's %d in "
                 "order" % (len(s.events), len(ids)))
    stalled.transport.abort()
    got = [e["id"] for e in c.events]
    if args.shared:
        # Joined the running shared timeline: a gapless run to the end.
        j = len(ids) - len(got)
        if j < 0 or got != ids[j:]:
            fail("%d events, not a gapless run to the end" % len(got))
    elif got != ids:
        fail("%d events, not the archive's %d in order" % (len(got),
                                                           len(ids)))
    print("%d events while another client stalled" % len(got))


async def sc_until_close(args):
    """Receives until the server closes (--exit-when-done: 1001); the
    events must be exactly those of --ids, in order."""
    want = open(args.ids).read().split()
    tok = token_or_fail(args)
    async with connect(args, tok) as ws:
        c = Conn(ws)
        await subscribe(c)
        await read_until_close(c, args.code, args.timeout)
    got = [e["id"] for e in c.events]
    if got != want:
        for i, (a, b) in enumerate(zip(got, want)):
            if a != b:
                fail("event %d: got %s, wanted %s" % (i, a, b))
        fail("%d events, wanted %d" % (len(got), len(want)))
    print("%d events as expected, then closed with %d" % (len(got),
                                                         args.code))


# ----------------------------------------------------------- control

def http(args, method, path, bearer=None):
    """One request: (status, parsed JSON body or None)."""
    h = {"Authorization": "Bearer " + bearer} if bearer else {}
    req = urllib.request.Request(essclient.base_url(args) + path,
                                 method=method, headers=h,
                                 data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, context=essclient.ssl_ctx(args),
                                    timeout=10) as r:
            st, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        st, body = e.code, e.read()
    try:
        return st, json.loads(body)
    except ValueError:
        return st, None


def status(args):
    """GET /evplay/status with a token (it needs one)."""
    args.token = token_or_fail(args)
    st, doc = http(args, "GET", "/evplay/status", args.token)
    if st != 200 or not isinstance(doc, dict):
        fail("GET /evplay/status: %d %r" % (st, doc))
    return doc


def timeline(args, sid):
    for t in status(args)["timelines"]:
        if t.get("session") == sid:
            return t
    fail("no timeline of session %s in /evplay/status" % sid)


def post(args, path, tok, want=200):
    st, doc = http(args, "POST", path, tok)
    if st != want:
        fail("POST %s: %d %r, wanted %d" % (path, st, doc, want))
    if want == 200 and (not isinstance(doc, dict) or doc.get("ok") is not True
                        or not isinstance(doc.get("timelines"), int)):
        fail("POST %s: body %r" % (path, doc))
    return doc


def iso(us):
    return datetime.datetime.fromtimestamp(
        us / 1e6, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def until_sent(c, args, sid):
    """Paused: waits until the status says so and every event the timeline
    sent has arrived; returns the timeline."""
    deadline = time.monotonic() + args.timeout
    while True:
        t = timeline(args, sid)
        if t["paused"] and len(c.events) >= t["events"]:
            if len(c.events) > t["events"]:
                fail("%d events arrived, the status says %d" % (
                    len(c.events), t["events"]))
            return t
        left = deadline - time.monotonic()
        if left <= 0:
            fail("paused: %d events arrived, the status says %d (%r)"
                 % (len(c.events), t["events"], t))
        try:
            m = await asyncio.wait_for(c.ws.recv(), min(left, 0.05))
        except asyncio.TimeoutError:
            continue
        if c.frame(m) is not None:
            fail("unexpected response")


async def quiet(c, secs):
    """Nothing arrives for secs (a check of absence, not a wait for an
    event)."""
    try:
        m = await asyncio.wait_for(c.ws.recv(), secs)
    except asyncio.TimeoutError:
        return
    fail("a frame arrived while paused: %r" % m[:200])


async def next_message(c, args):
    """Waits for the next event message; returns its ids."""
    n, k = len(c.events), len(c.sizes)
    await c.until_events(n + 1, timeout=args.timeout)
    return [e["id"] for e in c.events[n:n + c.sizes[k]]]


async def sc_control(args):
    msgs = load_messages(args.tsv, args.from_us)
    tok = token_or_fail(args)
    for bearer in (None, "not-a-valid-token-0123456789abcdef"):
        st, doc = http(args, "GET", "/evplay/status", bearer)
        if st != 401 or doc != {"error": "Bearer token required"}:
            fail("GET /evplay/status without a valid token: %d %r"
                 % (st, doc))
    doc = status(args)
    for k, ty in (("clock", str), ("clients", int), ("timelines", list)):
        if not isinstance(doc.get(k), ty):
            fail("status lacks %s: %r" % (k, doc))
    if doc["clock"] != "session":
        fail("clock %r, wanted session" % doc["clock"])
    for path in ("/evplay/pause", "/evplay/resume", "/evplay/speed?x=2",
                 "/evplay/seek?by=1"):
        post(args, path, None, 401)
        post(args, path, "not-a-valid-token-0123456789abcdef", 401)
    async with connect(args, tok) as ws:
        c = Conn(ws)
        sid = await subscribe(c)
        await c.until_events(args.every, timeout=args.timeout)
        t = timeline(args, sid)
        want = {"session": str, "position_us": int, "position": str,
                "speed": (int, float), "paused": bool, "finished": bool,
                "events": int, "frames": int, "lag_us": int}
        for k, ty in want.items():
            if not isinstance(t.get(k), ty):
                fail("timeline lacks %s: %r" % (k, t))
        if status(args)["clients"] < 1:
            fail("status counts no client")
        # Pause: the timeline stops, the events sent so far arrive, then
        # nothing; the position stands still.
        post(args, "/evplay/pause?session=" + sid, tok)
        t1 = await until_sent(c, args, sid)
        await quiet(c, 0.5)
        t2 = timeline(args, sid)
        if t2["position_us"] != t1["position_us"] or \
                t2["events"] != t1["events"]:
            fail("the position moved while paused: %r -> %r" % (t1, t2))
        # Resume: the next recorded message follows the last one sent.
        n = len(c.sizes)
        post(args, "/evplay/resume?session=" + sid, tok)
        got = await next_message(c, args)
        if got != [e["id"] for e in msgs[n][1]]:
            fail("after resume: %s, wanted message %d %s" % (got, n,
                                                             msgs[n][1]))
        # Speed.
        post(args, "/evplay/speed?x=3.5&session=" + sid, tok)
        if timeline(args, sid)["speed"] != 3.5:
            fail("speed not 3.5: %r" % timeline(args, sid))
        # The number forms of the command line (cli.c): no exponents,
        # blanks, "inf" or hex, as --speed refuses them.
        for bad in ("x=0", "x=-2", "x=fast", "y=2", "x=1e1", "x=inf",
                    "x=%202", "x=0x2"):
            post(args, "/evplay/speed?" + bad, tok, 400)
        for bad in ("to=yesterday", "by=soon", "x=1", "by=1e1",
                    "by=nan", "by=+1"):
            post(args, "/evplay/seek?" + bad, tok, 400)
        post(args, "/evplay/pause?session=no-such-session", tok, 404)
        post(args, "/evplay/seek?by=1&session=no-such-session", tok, 404)
        # Seek forward (past the next 1,000 messages, several seconds)
        # while paused: after resume, the first message is the first
        # recorded at or after the target.
        post(args, "/evplay/pause", tok)
        await until_sent(c, args, sid)
        k = len(c.sizes) + 1000
        target = (msgs[k][0] + msgs[k + 1][0]) // 2
        post(args, "/evplay/seek?to=%s&session=%s" % (iso(target), sid), tok)
        # The position is the receive time of the timeline's current
        # frame: the target, or the first frame after it once loaded.
        t = timeline(args, sid)
        if not target <= t["position_us"] <= msgs[k + 1][0]:
            fail("seek?to=%s: position %d, wanted %d..%d" % (
                iso(target), t["position_us"], target, msgs[k + 1][0]))
        post(args, "/evplay/resume", tok)
        got = await next_message(c, args)
        if got != [e["id"] for e in msgs[k + 1][1]]:
            fail("after seek?to: %s, wanted message %d" % (got, k + 1))
        # Seek back by 2 s: the messages from there are sent again.
        post(args, "/evplay/pause", tok)
        t = await until_sent(c, args, sid)
        post(args, "/evplay/seek?by=-2&session=" + sid, tok)
        t2 = timeline(args, sid)
        back = t["position_us"] - 2000000
        j = next(i for i, m in enumerate(msgs) if m[0] >= back)
        if not back <= t2["position_us"] <= msgs[j][0]:
            fail("seek?by=-2: position %d, wanted %d..%d" % (
                t2["position_us"], back, msgs[j][0]))
        post(args, "/evplay/resume", tok)   # also for later timelines
        got = await next_message(c, args)
        if got != [e["id"] for e in msgs[j][1]]:
            fail("after seek?by=-2: %s, wanted message %d" % (got, j))
        doc = post(args, "/evplay/speed?x=1", tok)
        if doc["timelines"] < 1:
            fail("speed for all: %r" % doc)
    print("status, pause, resume, speed, seek to and by, 401/400/404 as "
          "specified; %d events" % len(c.events))


async def sc_closed(args):
    tok = token_or_fail(args)
    async with connect(args, tok) as ws:
        c = Conn(ws)
        await subscribe(c)
        await c.until_events(1, timeout=args.timeout)
        open(args.ready, "w").write("subscribed\n")
        await expect_close(ws, args.code, "", timeout=args.timeout)


# ------------------------------------------------------------ timing

def sc_timing(args):
    a = load_messages(args.a)
    b = load_messages(args.b)
    ga = [[e["id"] for e in evs] for _, evs in a]
    gb = [[e["id"] for e in evs] for _, evs in b]
    if ga != gb:
        fail("the event messages differ (%d vs %d)" % (len(ga), len(gb)))
    dev = [(rb - b[0][0]) - (ra - a[0][0]) / args.speed
           for (ra, _), (rb, _) in zip(a, b)]
    span_a = (a[-1][0] - a[0][0]) / args.speed
    span_b = b[-1][0] - b[0][0]
    worst = max(dev, key=abs)
    print("%d messages: recorded span %.3f s at %gx, re-recorded %.3f s; "
          "inter-arrival deviation max %+.1f ms, mean %+.2f ms"
          % (len(a), span_a / 1e6, args.speed, span_b / 1e6, worst / 1e3,
             sum(dev) / len(dev) / 1e3))
    # A generous structural bound: the replay kept the recorded pace (it
    # did not go at top speed, nor take twice as long).
    if not 0.5 * span_a <= span_b <= 2 * span_a + 1e6:
        fail("re-recorded span %.3f s, recorded %.3f s at %gx"
             % (span_b / 1e6, span_a / 1e6, args.speed))


def sc_snapshot(args):
    """B's first getState answer == A's state at the position of the
    events B had received before it."""
    rx_of, first = {}, None
    for rx, evs in load_messages(args.a):
        first = rx if first is None else first
        for e in evs:
            rx_of[e["id"]] = rx
    last = None
    for line in open(args.b, encoding="utf-8"):
        obj = json.loads(line.partition("\t")[2])
        if isinstance(obj.get("events"), list) and obj["events"]:
            last = obj["events"][-1]["id"]
        elif isinstance(obj.get("states"), list):
            break
    else:
        fail("no getState answer in " + args.b)
    if last is None:
        want = stateref.table(args.a, first, incl=False)
    else:
        want = stateref.table(args.a, rx_of[last])
    want = {v["id"] for v in want.values()}
    got = {s["id"] for s in obj["states"]}
    if not want or got != want:
        fail("getState answer: %d states, %d expected after event %s"
             % (len(got), len(want), last))
    print("%d states == the archive's state after event %s"
          % (len(got), last))


def main():
    ap = argparse.ArgumentParser()
    essclient.conn_args(ap, port_required=False)   # timing needs none
    ap.add_argument("--tsv", help="`evtool cat --tsv` of the archive")
    ap.add_argument("--from-us", type=int, help="the replay's start point")
    ap.add_argument("--timeout", type=float, default=30)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("filters")
    p = sub.add_parser("state")
    p.add_argument("--sources", type=int, default=0)
    p.add_argument("--checks", type=int, default=3)
    p.add_argument("--every", type=int, default=200)
    p = sub.add_parser("timelines")
    p.add_argument("--late-after", type=int, default=300)
    p.add_argument("--shared", action="store_true")
    p = sub.add_parser("stall")
    p.add_argument("--shared", action="store_true",
                   help="and --exit-when-done")
    p.add_argument("--loops", type=int, default=1)
    p = sub.add_parser("until-close")
    p.add_argument("--ids", required=True)
    p.add_argument("--code", type=int, default=1001)
    p = sub.add_parser("control")
    p.add_argument("--every", type=int, default=50)
    p = sub.add_parser("closed")
    p.add_argument("--ready", required=True)
    p.add_argument("--code", type=int, default=1001)
    p = sub.add_parser("snapshot")
    p.add_argument("a")
    p.add_argument("b")
    p = sub.add_parser("timing")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--speed", type=float, default=1)
    args = ap.parse_args()
    fn = {"filters": sc_filters, "state": sc_state,
          "timelines": sc_timelines, "stall": sc_stall,
          "control": sc_control, "closed": sc_closed,
          "timing": sc_timing, "snapshot": sc_snapshot,
          "until-close": sc_until_close}[args.cmd]
    essclient.run(fn, args)


if __name__ == "__main__":
    main()
