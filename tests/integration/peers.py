#!/usr/bin/env python3
"""peers.py: peers that misbehave at the edges of a connection, for
tests/integration/serve_faults.sh.  Each subcommand is one scenario; it
prints "FAIL: why" on stderr and exits 1 on the first violation, exits 0
otherwise.

  leave       a client of evplay/evsim takes N events of its session and
              leaves for good: a clean close (1000) or a dropped TCP
              connection (RST, no close frame)
  other-user  a session cannot be resumed with another user's token
  ping-flood  a client that sends pings and never reads what comes back;
              ends when the server drops it
  gateway     a gateway (token endpoint + Events and State WebSocket) for
              evrec whose first connection sends events, then floods pings
              and stops reading; later connections behave.  Every event
              message sent is logged (one per line, as evsim --log-sent)

Needs python3-websockets (Debian 12: 10.4) for `leave` (essclient.py).
"""
import argparse
import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import essclient  # noqa: E402
from essclient import Conn, fail  # noqa: E402

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# ------------------------------------------------------------ leave

async def start(args, tok, sid="", eid=""):
    """A connection with a startSession sent; returns (ws, Conn, response)."""
    ws = await essclient.connect(args, tok)
    c = Conn(ws)
    r = await c.cmd({"command": "startSession", "commandId": 1,
                     "sessionId": sid, "eventId": eid})
    return ws, c, r


async def subscribed(args, tok):
    """A new session subscribed to everything: (ws, Conn, session id)."""
    ws = await essclient.connect(args, tok)
    c = Conn(ws)
    return ws, c, await essclient.subscribe(c)


async def sc_leave(args):
    """Starts a session, subscribes, takes --after events, then leaves:
    --how close sends a 1000 close frame, --how drop resets the TCP
    connection without one.  Prints the session id."""
    ws, c, _ = await subscribed(args, essclient.token_or_fail(args))
    await c.until_events(args.after)
    if args.how == "close":
        await ws.close(1000)
    else:
        sock = ws.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        ws.transport.abort()
    print("left after %d events (%s)" % (len(c.events), args.how))


# ------------------------------------------------------------ other user

async def sc_other_user(args):
    """--user's session, left after --after events, cannot be resumed with
    a token of --other (201 and a new session, as for an unknown one); its
    own user resumes it (200) afterwards."""
    mine = essclient.token_or_fail(args)
    if args.other_token:
        theirs = args.other_token
    else:
        st, body = essclient.get_token(args, user=args.other)
        if st != 200:
            fail("token for %s: %d %r" % (args.other, st, body))
        theirs = body["access_token"]
    ws, c, sid = await subscribed(args, mine)
    await c.until_events(args.after)
    last = c.events[-1]["id"]
    await ws.close(1000)
    ws, c, r = await start(args, theirs, sid, last)
    if r.get("status") != 201 or r.get("sessionId") in (None, sid):
        fail("another user resumed session %s: %r" % (sid, r))
    await ws.close(1000)
    ws, c, r = await start(args, mine, sid, last)
    if r.get("status") != 200 or r.get("sessionId") != sid:
        fail("its own user could not resume session %s: %r" % (sid, r))
    await ws.close(1000)
    print("session %s: refused to the other user, resumed by its own"
          % sid)


# ------------------------------------------------------------ ping flood

def ws_frame(op, payload, mask):
    """One final frame; masked with a random key when mask."""
    n = len(payload)
    head = bytes([0x80 | op])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def sc_ping_flood(args):
    """Upgrades with a Bearer token, starts a session (answer unread),
    then sends 125-byte pings and never reads.  A small receive buffer
    makes the server's side fill up soon.  Passes when the server drops
    the connection before --timeout."""
    tok = essclient.token_or_fail(args)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", args.port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Authorization: Bearer %s\r\n\r\n"
               % (args.path, args.port, key, tok)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            fail("no upgrade response")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        fail("upgrade: %r" % head[:80])
    s.sendall(ws_frame(1, json.dumps({
        "command": "startSession", "commandId": 1, "sessionId": "",
        "eventId": ""}).encode(), True))
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("flooding\n")
    batch = b"".join(ws_frame(9, b"p" * 125, True) for _ in range(64))
    s.settimeout(1)
    sent = 0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        try:
            s.sendall(batch)
            sent += 64
        except socket.timeout:
            continue    # the server stopped reading for a moment
        except OSError as e:
            print("dropped by the server after %d pings (%s)" % (sent, e))
            return
    fail("still connected after %d pings in %g s" % (sent, args.timeout))


# ------------------------------------------------------------ gateway

class Gateway:
    """A minimal, hostile gateway for evrec (asyncio streams, no
    websockets library: it must be able not to read)."""

    def __init__(self, args):
        self.args = args
        self.conns = 0
        self.next_id = 0
        self.log = open(args.log_sent, "w")
        self.flooded = asyncio.Event()
        self.served = asyncio.Event()

    def event_msg(self, n):
        evs = []
        for _ in range(n):
            self.next_id += 1
            evs.append({"id": "00000000-0000-4000-8000-%012d" % self.next_id,
                        "time": "2026-01-05T08:00:00.0000000Z",
                        "type": "6eb95dd6-7ccc-4bce-99f8-af0d0b582d77",
                        "source": "cameras/a8a8b9dc-3995-49ed-9b00-"
                                  "62caac2ce74a"})
        text = json.dumps({"events": evs}, separators=(",", ":"))
        self.log.write(text + "\n")
        self.log.flush()
        return text.encode()

    async def read_frame(self, r):
        """One client frame: (opcode, unmasked payload)."""
        h = await r.readexactly(2)
        n = h[1] & 0x7f
        if n == 126:
            n = struct.unpack("!H", await r.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await r.readexactly(8))[0]
        key = await r.readexactly(4) if h[1] & 0x80 else b"\0\0\0\0"
        p = await r.readexactly(n)
        return h[0] & 0x0f, bytes(b ^ key[i % 4] for i, b in enumerate(p))

    async def handle(self, r, w):
        try:
            await self.http(r, w)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            w.close()

    async def http(self, r, w):
        head = await r.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        hdr = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdr[k.strip().lower()] = v.strip()
        if method == "POST":
            await r.readexactly(int(hdr.get("content-length", "0")))
            body = json.dumps({"access_token": "t" * 40, "expires_in": 3600,
                               "token_type": "Bearer",
                               "scope": "managementserver"}).encode()
            w.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                    % len(body) + body)
            await w.drain()
            return
        if "sec-websocket-key" not in hdr:
            w.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                    b"Connection: close\r\n\r\n")
            await w.drain()
            return
        acc = base64.b64encode(hashlib.sha1(
            (hdr["sec-websocket-key"] + WS_GUID).encode()).digest())
        w.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc +
                b"\r\n\r\n")
        self.conns += 1
        await self.websocket(r, w, self.conns)

    async def websocket(self, r, w, conn):
        subscribed = False
        while True:
            op, p = await self.read_frame(r)
            if op == 8:
                w.write(ws_frame(8, p[:2], False))
                await w.drain()
                return
            if op == 9:
                w.write(ws_frame(10, p, False))
                continue
            if op != 1:
                continue
            cmd = json.loads(p)
            cid = cmd.get("commandId")
            name = cmd.get("command")
            if name == "startSession":
                resp = {"commandId": cid, "status": 201,
                        "sessionId": "session-%d" % conn}
            elif name == "addSubscription":
                resp = {"commandId": cid, "status": 200,
                        "subscriptionId": "sub-%d" % conn}
                subscribed = True
            elif name == "getState":
                resp = {"commandId": cid, "status": 200, "states": []}
            else:
                resp = {"commandId": cid, "status": 200}
            w.write(ws_frame(1, json.dumps(resp).encode(), False))
            await w.drain()
            if subscribed and name == "getState":
                break
        for _ in range(self.args.messages):
            w.write(ws_frame(1, self.event_msg(self.args.per_message),
                             False))
        await w.drain()
        if conn == 1:
            await self.flood(w)
        else:
            self.served.set()
            while True:     # behave: answer pings until evrec leaves
                op, p = await self.read_frame(r)
                if op == 9:
                    w.write(ws_frame(10, p, False))
                elif op == 8:
                    w.write(ws_frame(8, p[:2], False))
                    await w.drain()
                    return

    async def flood(self, w):
        """Pings, and never a read again, until evrec drops us."""
        batch = b"".join(ws_frame(9, b"p" * 125, False) for _ in range(64))
        sock = w.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        n = 0
        try:
            while not w.is_closing():
                w.write(batch)
                n += 64
                await w.drain()
        except ConnectionError:
            pass
        print("connection 1: dropped by evrec after %d pings" % n,
              flush=True)

    async def main(self):
        srv = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        with open(self.args.ready, "w") as f:
            f.write("%d\n" % port)
        async with srv:
            await srv.serve_forever()


def sc_gateway(args):
    g = Gateway(args)
    try:
        asyncio.run(g.main())
    except KeyboardInterrupt:
        pass


def main():
    ap = argparse.ArgumentParser()
    essclient.conn_args(ap, port_required=False)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("leave")
    p.add_argument("--after", type=int, default=100)
    p.add_argument("--how", choices=["close", "drop"], default="close")
    p = sub.add_parser("other-user")
    p.add_argument("--after", type=int, default=20)
    p.add_argument("--other", default="bob")
    p.add_argument("--other-token", help="a static token as the other user")
    p = sub.add_parser("ping-flood")
    p.add_argument("--ready")
    p.add_argument("--timeout", type=float, default=60)
    p = sub.add_parser("gateway")
    p.add_argument("--ready", required=True)
    p.add_argument("--log-sent", required=True)
    p.add_argument("--messages", type=int, default=100)
    p.add_argument("--per-message", type=int, default=3)
    args = ap.parse_args()
    fn = {"leave": sc_leave, "other-user": sc_other_user,
          "ping-flood": sc_ping_flood,
          "gateway": sc_gateway}[args.cmd]
    essclient.run(fn, args)


if __name__ == "__main__":
    main()
