#!/usr/bin/env python3
"""conformance.py: protocol conformance and misbehaving clients against the
gateway module (evsim), used by tests/integration/gateway_conformance.sh.
Reuses essclient.py's helpers (token, connection, frame checks).  Each
subcommand is one scenario; "FAIL: why" on stderr and exit 1 on the first
violation, exit 0 otherwise.

  protocol   pipelined commands answered in order; commandId echoed with
             its JSON type (0, a string, 2**53 + 1); "Include" casing;
             startSession without sessionId/eventId; unknown commands;
             getState in one message; pings answered; no subprotocol
  bad KIND   one misbehaving client, checked to be closed with a clear
             code and reason: json (1007), big (1009), binary (1003),
             order (400, then 1008 "no session"), nosub (1008 "no
             subscription"), slow-http / slow-upgrade (408 and close),
             idle-http (closed), no-read (1008 "client too slow", seen in
             /evsim/stats)
  timeline   --clock session: a client that stops reading stalls only its
             own timeline; this one receives --total events in order
  slow MODE  slow readers against --log-sent: "stop" stops reading until the
             server counted it as too slow, then reads on and must find a
             gapless run of the events sent, a close 1008 "client too slow"
             and the close logged with its address in --sim-log; "burst"
             reads in bursts with pauses (keeping up on average) and must
             get every event up to the --total-th sent, in order, unclosed
  order      commands in the wrong order (before authenticate, before
             startSession) are each answered with their commandId, an
             error status and errorText, and the connection stays usable:
             authenticate, startSession and addSubscription then work and
             events flow
  reader     subscribes and reads until the connection ends (to be killed)
  idle       a WebSocket that never starts a session; waits for the close
"""
import argparse
import asyncio
import json
import socket
import sys
import time
import urllib.request

import websockets
import websockets.exceptions

import essclient
from essclient import ALL, Conn, connect, fail, token_or_fail

BIG_ID = 2 ** 53 + 1          # a double cannot hold it: echoed as text


async def expect_close(ws, code, reason_has, timeout=10):
    """Reads until the server closes; checks the code and reason."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except asyncio.TimeoutError:
        fail("not closed within %.0f s (wanted %d)" % (timeout, code))
    except websockets.exceptions.ConnectionClosed as e:
        if e.rcvd is None or e.rcvd.code != code:
            fail("closed with %r, wanted %d" % (e.rcvd, code))
        if reason_has.lower() not in e.rcvd.reason.lower():
            fail("close reason %r lacks %r" % (e.rcvd.reason, reason_has))
        print("closed: %d %s" % (e.rcvd.code, e.rcvd.reason))


async def sc_protocol(args):
    tok = token_or_fail(args)
    async with connect(args, tok) as ws:
        if ws.subprotocol is not None:
            fail("subprotocol %r negotiated" % ws.subprotocol)
        c = Conn(ws)
        flt = {"modifier": "Include", "resourceTypes": ["Cameras"],
               "sourceIds": ["*"], "eventTypes": ["*"]}
        cmds = [
            {"command": "startSession", "commandId": 0},
            {"command": "addSubscription", "commandId": "sub-1",
             "filters": [flt], "subscriptionId": "", "extra": {"x": 1}},
            {"command": "noSuchCommand", "commandId": BIG_ID},
            {"command": "getState", "commandId": -3},
            {"command": "removeSubscription", "commandId": 1.5,
             "subscriptionId": "00000000-0000-4000-8000-000000000000"},
            {"command": "startSession", "commandId": [1, 2]},
        ]
        # Pipelined: one burst, no waiting.
        for cmd in cmds:
            await ws.send(json.dumps(cmd))
        resp = []
        for cmd in cmds:
            r = await c.response(cmd["commandId"])
            if json.dumps(r["commandId"]) != json.dumps(cmd["commandId"]):
                fail("commandId %r echoed as %r" % (cmd["commandId"],
                                                    r["commandId"]))
            resp.append(r)
        if resp[0].get("status") != 201 or not resp[0].get("sessionId"):
            fail("startSession without sessionId/eventId: %r" % resp[0])
        if resp[1].get("status") != 200:
            fail("addSubscription with Include casing: %r" % resp[1])
        if resp[2].get("status") != 400 or "errorText" not in resp[2].get(
                "error", {}):
            fail("unknown command: %r" % resp[2])
        st = resp[3].get("states")
        if resp[3].get("status") != 200 or not isinstance(st, list) or \
                not st:
            fail("getState: %r" % str(resp[3])[:200])
        for s in st:
            if not s["source"].lower().startswith("cameras/"):
                fail("state outside the filter: %r" % s)
        if resp[4].get("status") != 404:
            fail("removeSubscription of an unknown id: %r" % resp[4])
        if resp[5].get("status") != 400:
            fail("second startSession: %r" % resp[5])
        # Pings are answered while events flow.  Messages are read on
        # meanwhile: the library only sees the pong once its queue has room.
        for _ in range(3):
            pong = await ws.ping()
            deadline = time.monotonic() + 10
            while not pong.done():
                left = deadline - time.monotonic()
                if left <= 0:
                    fail("ping not answered")
                if await c.recv_one(left) is not None:
                    fail("unexpected response")
        await c.until_events(args.count)
        for e in c.events:
            if not e["source"].lower().startswith("cameras/"):
                fail("event outside the filter: %r" % e)
    print("%d responses in order, %d events" % (len(resp), len(c.events)))


def raw_conn(args):
    return socket.create_connection(("127.0.0.1", args.port), timeout=20)


def read_until_eof(s):
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def stats(args):
    with urllib.request.urlopen("http://127.0.0.1:%d/evsim/stats"
                                % args.port, timeout=10) as r:
        return json.loads(r.read())


async def stalled_client(args, tok):
    """A subscribed client that then reads nothing: a small receive buffer
    and websockets' own queue of one message; once both are full, nothing
    more is read from the socket.  Returns the connection."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", args.port))
    ws = await websockets.connect(
        "ws://127.0.0.1:%d/api/ws/events/v1" % args.port, sock=s,
        extra_headers={"Authorization": "Bearer " + tok}, max_queue=1,
        read_limit=1024, ping_interval=None, max_size=None)
    c = Conn(ws)
    await c.cmd({"command": "startSession", "commandId": 1})
    await c.cmd({"command": "addSubscription", "commandId": 2,
                 "filters": ALL})
    return ws


async def bad_ws(args, tok):
    kind = args.kind
    if kind == "json":
        async with connect(args, tok) as ws:
            await ws.send("{\"command\": \"startSession\", ")
            await expect_close(ws, 1007, "json")
    elif kind == "big":
        async with connect(args, tok) as ws:
            await ws.send("{\"command\":\"getState\",\"commandId\":1,"
                          "\"pad\":\"" + "x" * args.size + "\"}")
            await expect_close(ws, 1009, "")
    elif kind == "binary":
        async with connect(args, tok) as ws:
            await ws.send(b"\x00\x01binary")
            await expect_close(ws, 1003, "")
    elif kind == "order":
        async with connect(args, tok) as ws:
            c = Conn(ws)
            r = await c.cmd({"command": "addSubscription", "commandId": 1,
                             "filters": ALL})
            if r.get("status") != 400:
                fail("addSubscription before startSession: %r" % r)
            r = await c.cmd({"command": "getState", "commandId": 2})
            if r.get("status") != 400:
                fail("getState before startSession: %r" % r)
            await expect_close(ws, 1008, "no session")
    elif kind == "nosub":
        async with connect(args, tok) as ws:
            c = Conn(ws)
            r = await c.cmd({"command": "startSession", "commandId": 1})
            if r.get("status") != 201:
                fail("startSession: %r" % r)
            await expect_close(ws, 1008, "no subscription")
    elif kind == "no-read":
        before = stats(args)["slow_closes"]
        ws = await stalled_client(args, tok)
        deadline = time.monotonic() + 60
        while stats(args)["slow_closes"] <= before:
            if time.monotonic() > deadline:
                fail("a client that does not read was not closed")
            await asyncio.sleep(0.05)
        ws.transport.abort()    # a close handshake would wait for reading
        print("closed as too slow")
    else:
        fail("unknown kind " + kind)


def bad_http(args):
    kind = args.kind
    s = raw_conn(args)
    if kind == "slow-http":
        s.sendall(b"GET /api/.well-known/uris HTTP/1.1\r\nHost: x\r\n")
    elif kind == "slow-upgrade":
        s.sendall(b"GET /api/ws/events/v1 HTTP/1.1\r\nHost: x\r\n"
                  b"Upgrade: websocket\r\nConnection: Upgrade\r\n")
    elif kind == "idle-http":
        s.sendall(b"GET /api/.well-known/uris HTTP/1.1\r\nHost: x\r\n\r\n")
        if essclient.read_responses(s, 1) != [200]:
            fail("no answer to a keep-alive request")
    data = read_until_eof(s)
    s.close()
    if kind == "idle-http":
        if data:
            fail("idle keep-alive connection got %r" % data[:100])
        print("idle keep-alive connection closed")
        return
    if not data.startswith(b"HTTP/1.1 408 "):
        fail("slow request answered %r, wanted 408" % data[:100])
    if b"connection: close" not in data.lower():
        fail("408 without Connection: close")
    print("408 and closed")


def sc_bad(args):
    if args.kind in ("slow-http", "slow-upgrade", "idle-http"):
        return bad_http(args)
    return bad_ws(args, token_or_fail(args))


async def sc_timeline(args):
    """--clock session: a stalled client does not stall this one."""
    tok = token_or_fail(args)
    stalled = await stalled_client(args, tok)
    # The stalled client's timeline has filled its backlog before we start.
    deadline = time.monotonic() + 30
    while stats(args)["events_published"] < args.stall_events:
        if time.monotonic() > deadline:
            fail("the stalled client's timeline did not fill")
        await asyncio.sleep(0.02)
    async with connect(args, tok) as ws:
        c = Conn(ws)
        await c.cmd({"command": "startSession", "commandId": 1})
        await c.cmd({"command": "addSubscription", "commandId": 2,
                     "filters": ALL})
        await c.until_events(args.total, timeout=60)
    stalled.transport.abort()
    ids = [e["id"] for e in c.events][:args.total]
    if len(ids) != args.total or len(set(ids)) != len(ids):
        fail("%d events, %d distinct, wanted %d" % (len(ids), len(set(ids)),
                                                   args.total))
    with open(args.out, "w") as f:
        f.write("\n".join(ids) + "\n")
    print("%d events while another client stalled" % len(ids))


def log_ids(path):
    """Event ids of a --log-sent file (complete lines only)."""
    ids = []
    with open(path) as f:
        for line in f:
            if line.endswith("\n"):
                ids.extend(e["id"] for e in json.loads(line)["events"])
    return ids


def check_run(got, path, what):
    """got (event ids) must be a gapless run of the events sent."""
    if not got:
        fail("%s: no events" % what)
    sent = log_ids(path)
    try:
        i = sent.index(got[0])
    except ValueError:
        fail("%s: first event %s was never sent" % (what, got[0]))
    if sent[i:i + len(got)] != got:
        for k, (a, b) in enumerate(zip(got, sent[i:])):
            if a != b:
                fail("%s: event %d is %s, %s was sent there" % (what, k, a, b))
        fail("%s: %d events, only %d sent from the first" % (
            what, len(got), len(sent) - i))
    return i


async def slow_stop(args, tok):
    """Stops reading until the server gives up on us, then reads the rest:
    a gapless run of events, then the close frame 1008."""
    before = stats(args)["slow_closes"]
    ws = await stalled_client(args, tok)
    port = ws.transport.get_extra_info("sockname")[1]
    deadline = time.monotonic() + 60
    while stats(args)["slow_closes"] <= before:
        if time.monotonic() > deadline:
            fail("a client that does not read was not closed")
        await asyncio.sleep(0.05)
    c = Conn(ws)
    try:
        while True:
            await c.recv_one(20)
    except websockets.exceptions.ConnectionClosed as e:
        if e.rcvd is None or e.rcvd.code != 1008 or \
                "too slow" not in e.rcvd.reason:
            fail("closed with %r, wanted 1008 client too slow" % (e.rcvd,))
    check_run([e["id"] for e in c.events], args.log, "stopped client")
    with open(args.sim_log) as f:
        if ("127.0.0.1:%d: client too slow" % port) not in f.read():
            fail("no 'client too slow' line with 127.0.0.1:%d in %s"
                 % (port, args.sim_log))
    print("closed 1008 after %d events in order" % len(c.events))


async def slow_burst(args, tok):
    """Reads --burst events, pauses --pause s, and so on, until it has the
    --total-th event sent: every event from its first on, never closed."""
    async with connect(args, tok) as ws:
        c = Conn(ws)
        await c.cmd({"command": "startSession", "commandId": 1})
        await c.cmd({"command": "addSubscription", "commandId": 2,
                     "filters": ALL})
        deadline = time.monotonic() + args.timeout
        last, pauses, mark, scanned, done = None, 0, 0, 0, False
        looked = 0.0
        while not done:
            if last is None and time.monotonic() - looked > 0.2:
                looked = time.monotonic()
                sent = log_ids(args.log)
                if len(sent) >= args.total:
                    last = sent[args.total - 1]
            if last is not None:
                done = any(e["id"] == last for e in c.events[scanned:])
                scanned = len(c.events)
                if done:
                    break
            if len(c.events) - mark >= args.burst:
                mark = len(c.events)
                pauses += 1
                await asyncio.sleep(args.pause)
            if time.monotonic() > deadline:
                fail("%d events after %.0f s" % (len(c.events),
                                                 args.timeout))
            try:
                # Short waits: the last event may be in already while the
                # log that names it is read again.
                raw = await asyncio.wait_for(ws.recv(), 0.2)
                if c.frame(raw) is not None:
                    fail("unexpected response")
            except asyncio.TimeoutError:
                pass
            except websockets.exceptions.ConnectionClosed as e:
                fail("a client that keeps up was closed: %r after %d "
                     "events" % (e.rcvd, len(c.events)))
    ids = [e["id"] for e in c.events]
    i = check_run(ids, args.log, "bursty client")
    if i + len(ids) < args.total:
        fail("bursty client: stopped before the %d-th event" % args.total)
    if args.from_first and i != 0:
        fail("bursty client: first event is the %d-th sent" % (i + 1))
    print("%d events in order over %d pauses, not closed" % (len(ids),
                                                             pauses))


async def sc_slow(args):
    tok = token_or_fail(args)
    if args.mode == "stop":
        await slow_stop(args, tok)
    elif args.mode == "burst":
        await slow_burst(args, tok)
    else:
        fail("unknown mode " + args.mode)


async def sc_order(args):
    tok = token_or_fail(args)
    async with connect(args) as ws:        # no Bearer: authenticate later
        c = Conn(ws)
        early = [
            ({"command": "addSubscription", "commandId": "a",
              "filters": ALL}, 401),
            ({"command": "getState", "commandId": 2}, 401),
            ({"command": "startSession", "commandId": 3}, 401),
            ({"command": "authenticate", "commandId": 4,
              "token": "Bearer " + tok}, 200),
            ({"command": "getState", "commandId": 5}, 400),
            ({"command": "addSubscription", "commandId": 6,
              "filters": ALL}, 400),
            ({"command": "removeSubscription", "commandId": 7,
              "subscriptionId": "x"}, 400),
            ({"command": "startSession", "commandId": 8}, 201),
            ({"command": "addSubscription", "commandId": 9,
              "filters": ALL}, 200),
            ({"command": "getState", "commandId": 10}, 200),
        ]
        # Pipelined, as a client that does not wait would send them.
        for cmd, _ in early:
            await ws.send(json.dumps(cmd))
        for cmd, want in early:
            r = await c.response(cmd["commandId"])
            if r.get("status") != want:
                fail("%s (commandId %r): %r, wanted status %d" % (
                    cmd["command"], cmd["commandId"], r, want))
            if want >= 400 and not isinstance(
                    r.get("error", {}).get("errorText"), str):
                fail("error without errorText: %r" % r)
        await c.until_events(args.count)
    print("wrong order answered with errors; then %d events" %
          len(c.events))


async def sc_reader(args):
    tok = token_or_fail(args)
    async with connect(args, tok) as ws:
        c = Conn(ws)
        await c.cmd({"command": "startSession", "commandId": 1})
        await c.cmd({"command": "addSubscription", "commandId": 2,
                     "filters": ALL})
        try:
            while True:
                await ws.recv()
        except websockets.exceptions.ConnectionClosed:
            pass


async def sc_idle(args):
    tok = token_or_fail(args)
    async with connect(args, tok) as ws:
        try:
            while True:
                await ws.recv()
        except websockets.exceptions.ConnectionClosed as e:
            print("closed: %r" % (e.rcvd,))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--path", default="/api/ws/events/v1")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("protocol")
    p.add_argument("--count", type=int, default=20)
    p = sub.add_parser("bad")
    p.add_argument("kind")
    p.add_argument("--size", type=int, default=2 << 20)
    p = sub.add_parser("timeline")
    p.add_argument("--total", type=int, required=True)
    p.add_argument("--stall-events", type=int, default=20000)
    p.add_argument("--out", required=True)
    p = sub.add_parser("slow")
    p.add_argument("mode")
    p.add_argument("--log", required=True)
    p.add_argument("--sim-log")
    p.add_argument("--total", type=int, default=0)
    p.add_argument("--burst", type=int, default=500)
    p.add_argument("--pause", type=float, default=0.05)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--from-first", action="store_true")
    p = sub.add_parser("order")
    p.add_argument("--count", type=int, default=20)
    sub.add_parser("reader")
    sub.add_parser("idle")
    args = ap.parse_args()
    # essclient's helpers read these.
    args.tls, args.cafile, args.token = False, None, None
    args.token_path = "/API/IDP/connect/token"
    fn = {"protocol": sc_protocol, "bad": sc_bad,
          "timeline": sc_timeline, "slow": sc_slow, "order": sc_order,
          "reader": sc_reader, "idle": sc_idle}[args.cmd]
    essclient.run(fn, args)


if __name__ == "__main__":
    main()
