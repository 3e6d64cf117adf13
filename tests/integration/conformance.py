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
    args = ap.parse_args()
    # essclient's helpers read these.
    args.tls, args.cafile, args.token = False, None, None
    args.token_path = "/API/IDP/connect/token"
    fn = {"protocol": sc_protocol, "bad": sc_bad,
          "timeline": sc_timeline}[args.cmd]
    essclient.run(fn, args)


if __name__ == "__main__":
    main()
