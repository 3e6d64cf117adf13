#!/usr/bin/env python3
"""essclient.py: a test client of the simulated gateway (evsim), used by
tests/integration/evsim.sh.  Each subcommand is one scenario: it talks to
the gateway over HTTP/WebSocket like the official Milestone samples do
(urllib for the IDP token, the `websockets` library for ESS), checks what
it gets, prints "FAIL: why" on stderr and exits 1 on the first violation,
exits 0 otherwise.

Checks applied to every event message in every scenario: the message is
exactly {"events":[...]}, the array is not empty, there is no commandId.
Needs python3-websockets (Debian 12: 10.4).
"""
import argparse
import asyncio
import json
import socket
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import websockets
import websockets.exceptions

MOTION_START = "6eb95dd6-7ccc-4bce-99f8-af0d0b582d77"
ALL = [{"modifier": "include", "resourceTypes": ["*"], "sourceIds": ["*"],
        "eventTypes": ["*"]}]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def ssl_ctx(args):
    if not args.tls:
        return None
    ctx = ssl.create_default_context(cafile=args.cafile)
    return ctx


def base_url(args, ws=False):
    scheme = ("wss" if ws else "https") if args.tls else ("ws" if ws else "http")
    return "%s://127.0.0.1:%d" % (scheme, args.port)


def get_token(args, user=None, password=None, grant="password"):
    """POSTs the IDP form; returns (status, parsed body or None)."""
    form = {"grant_type": grant,
            "username": args.user if user is None else user,
            "password": args.password if password is None else password,
            "client_id": "GrantValidatorClient"}
    data = urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(base_url(args) + args.token_path, data=data,
                                 headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ssl_ctx(args),
                                    timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, None


def token_or_fail(args):
    if args.token:
        return args.token
    st, body = get_token(args)
    if st != 200:
        fail("token endpoint answered %d %r" % (st, body))
    return body["access_token"]


def matches(ev, flt):
    """docs/ess-protocol.md section 6: one include filter, no excludes."""
    src = ev["source"]
    rt, _, sid = src.partition("/")
    ok = lambda lst, v: "*" in lst or v.lower() in [x.lower() for x in lst]
    return (ok(flt["resourceTypes"], rt) and ok(flt["sourceIds"], sid or rt)
            and ok(flt["eventTypes"], ev["type"]))


class Conn:
    """One ESS connection: commands, and every frame checked on arrival."""

    def __init__(self, ws):
        self.ws = ws
        self.events = []      # event objects, in arrival order
        self.garbage = 0      # text frames that are not JSON
        self.messages = 0
        self.sizes = []       # events per message, in arrival order

    def frame(self, raw):
        """Classifies one frame; returns the parsed response or None."""
        try:
            m = json.loads(raw)
        except ValueError:
            self.garbage += 1
            return None
        if isinstance(m, dict) and "events" in m:
            if list(m.keys()) != ["events"]:
                fail("event message with other members: %r" % list(m.keys()))
            if not isinstance(m["events"], list) or not m["events"]:
                fail("empty or non-array events: %r" % raw[:200])
            self.messages += 1
            self.sizes.append(len(m["events"]))
            self.events.extend(m["events"])
            return None
        if isinstance(m, dict) and "commandId" in m:
            return m
        fail("unsolicited frame that is neither events nor a response: %r"
             % raw[:200])

    async def recv_one(self, timeout=10):
        try:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
        except asyncio.TimeoutError:
            fail("nothing arrived for %.1f s (%d events so far)"
                 % (timeout, len(self.events)))
        return self.frame(raw)

    async def cmd(self, obj, timeout=10):
        """Sends a command and returns its response (same commandId, same
        JSON type); event messages in between are collected."""
        await self.ws.send(json.dumps(obj))
        return await self.response(obj.get("commandId"), timeout)

    async def response(self, cid, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                fail("no response to commandId %r" % (cid,))
            m = await self.recv_one(left)
            if m is None:
                continue
            if m["commandId"] != cid or type(m["commandId"]) is not type(cid):
                fail("response with commandId %r (%s), wanted %r (%s)" % (
                    m["commandId"], type(m["commandId"]).__name__, cid,
                    type(cid).__name__))
            return m

    async def until_events(self, n, timeout=20):
        deadline = time.monotonic() + timeout
        while len(self.events) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                fail("only %d of %d events arrived" % (len(self.events), n))
            m = await self.recv_one(left)
            if m is not None:
                fail("unexpected response %r" % m)


async def subscribe(c, filters=ALL):
    """startSession and one addSubscription on Conn c; returns the
    sessionId."""
    r = await c.cmd({"command": "startSession", "commandId": 1,
                     "sessionId": "", "eventId": ""})
    if r.get("status") != 201 or not r.get("sessionId"):
        fail("startSession: %r" % r)
    a = await c.cmd({"command": "addSubscription", "commandId": 2,
                     "filters": filters})
    if a.get("status") != 200:
        fail("addSubscription: %r" % a)
    return r["sessionId"]


def connect(args, bearer=None, headers=None):
    h = dict(headers or {})
    if bearer is not None:
        h["Authorization"] = "Bearer " + bearer
    return websockets.connect(base_url(args, True) + args.path,
                              extra_headers=h, max_size=None,
                              ssl=ssl_ctx(args), ping_interval=None,
                              open_timeout=10, close_timeout=5)


def logged_events(path, want, timeout=10):
    """Event ids of the --log-sent file, waiting until it holds want."""
    deadline = time.monotonic() + timeout
    while True:
        ids = []
        try:
            with open(path) as f:
                for line in f:
                    if line.endswith("\n"):
                        ids.extend(e["id"] for e in json.loads(line)["events"])
        except FileNotFoundError:
            pass
        if len(ids) >= want or time.monotonic() > deadline:
            return ids
        time.sleep(0.02)


# ------------------------------------------------------------ scenarios

def sc_token(args):
    st, body = get_token(args, grant=args.grant)
    if st != args.expect:
        fail("status %d, wanted %d (%r)" % (st, args.expect, body))
    if st == 200:
        if set(body) != {"access_token", "expires_in", "token_type", "scope"}:
            fail("token body keys %r" % sorted(body))
        if body["token_type"] != "Bearer" or body["scope"] != "managementserver":
            fail("token body %r" % {k: body[k] for k in body
                                     if k != "access_token"})
        if args.expires_in is not None and body["expires_in"] != args.expires_in:
            fail("expires_in %r" % body["expires_in"])
        if len(body["access_token"]) < 32:
            fail("short token")
        if args.print:
            print(body["access_token"])
    elif args.error and (body is None or body.get("error") != args.error):
        fail("error %r, wanted %r" % (body, args.error))


def sc_http(args):
    h = {}
    if args.bearer:
        h["Authorization"] = "Bearer " + args.bearer
    req = urllib.request.Request(base_url(args) + args.url_path, headers=h)
    try:
        with urllib.request.urlopen(req, context=ssl_ctx(args),
                                    timeout=10) as r:
            st, body, hdrs = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        st, body, hdrs = e.code, e.read(), e.headers
    if st != args.expect:
        fail("GET %s: %d, wanted %d" % (args.url_path, st, args.expect))
    if st == 401 and "Bearer" not in (hdrs.get("WWW-Authenticate") or ""):
        fail("401 without WWW-Authenticate: Bearer")
    doc = json.loads(body)
    if args.count_array is not None:
        if len(doc.get("array", [])) != args.count_array:
            fail("array of %d, wanted %d" % (len(doc.get("array", [])),
                                             args.count_array))
    if args.oauth_version:
        # Clients take the major number of server_version: >= 21 means the
        # IDP speaks OAuth (docs/ess-protocol.md, 7.4).
        v = str(doc.get("server_version", ""))
        major = v.split(".")[0]
        if not major.isdigit() or int(major) < 21:
            fail("server_version %r: no OAuth major (>= 21)" % v)
    if args.has:
        text = json.dumps(doc)
        for s in args.has:
            if s not in text:
                fail("%r not in %s" % (s, text[:300]))
    if args.print:
        print(json.dumps(doc))


def sc_upgrade(args):
    """A raw upgrade request; checks the status line (and headers)."""
    s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
    if args.tls:
        s = ssl_ctx(args).wrap_socket(s, server_hostname="127.0.0.1")
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n" % (args.path, args.port))
    if args.bearer is not None:
        req += "Authorization: Bearer %s\r\n" % args.bearer
    s.sendall((req + "\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    head = data.split(b"\r\n\r\n")[0].decode("latin-1")
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) < 2 or parts[1] != str(args.expect):
        fail("status line %r, wanted %d" % (lines[0], args.expect))
    hl = [l.lower() for l in lines[1:]]
    if args.expect == 101:
        if not any(l.startswith("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=")
                   for l in hl):
            fail("bad Sec-WebSocket-Accept: %r" % hl)
        if any(l.startswith("sec-websocket-protocol") for l in hl):
            fail("a subprotocol was negotiated")
    if args.expect == 401 and not any(l.startswith("www-authenticate: bearer")
                                      for l in hl):
        fail("401 without WWW-Authenticate: Bearer: %r" % hl)


def read_responses(s, n):
    """Reads n HTTP responses (Content-Length bodies) from socket s;
    returns their status codes."""
    data, codes = b"", []
    while len(codes) < n:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                return codes
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        clen = 0
        for l in lines[1:]:
            k, _, v = l.partition(":")
            if k.strip().lower() == "content-length":
                clen = int(v)
        while len(rest) < clen:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        codes.append(int(lines[0].split(" ")[1]))
        data = rest[clen:]
    return codes


def sc_pipeline(args):
    """Three requests in one write on one keep-alive connection: three
    answers, in order."""
    s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
    req = ("GET /api/.well-known/uris HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /IDP/.well-known/openid-configuration HTTP/1.1\r\n"
           "Host: x\r\n\r\n")
    s.sendall(req.encode())
    codes = read_responses(s, 3)
    s.close()
    if codes != [200, 404, 200]:
        fail("pipelined answers %r, wanted [200, 404, 200]" % codes)


def sc_conn_limit(args):
    """--max-conns N: N connections are served, one more gets 503 or is
    closed, and once one closes a new one is served again."""
    socks = [socket.create_connection(("127.0.0.1", args.port), timeout=10)
             for _ in range(args.n)]
    probe = "GET /api/.well-known/uris HTTP/1.1\r\nHost: x\r\n\r\n"
    for s in socks:
        s.sendall(probe.encode())
        if read_responses(s, 1) != [200]:
            fail("a connection within the limit was not served")
    extra = socket.create_connection(("127.0.0.1", args.port), timeout=10)
    try:
        extra.sendall(probe.encode())
        codes = read_responses(extra, 1)
    except OSError:
        codes = []
    extra.close()
    if codes not in ([], [503]):
        fail("over the limit: %r" % codes)
    socks.pop().close()
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
        try:
            s.sendall(probe.encode())
            if read_responses(s, 1) == [200]:
                break
        except OSError:
            pass
        finally:
            s.close()
        time.sleep(0.01)
    else:
        fail("no connection served after one closed")
    for s in socks:
        s.close()


async def sc_session(args):
    tok = token_or_fail(args)
    flt = {"modifier": "include", "resourceTypes": ["cameras"],
           "sourceIds": ["*"], "eventTypes": [MOTION_START]}
    async with connect(args, tok) as ws:
        c = Conn(ws)
        r = await c.cmd({"command": "startSession", "commandId": 0,
                         "sessionId": "", "eventId": ""})
        if r.get("status") != 201 or not r.get("sessionId"):
            fail("startSession: %r" % r)
        r = await c.cmd({"command": "addSubscription", "commandId": "abc",
                         "filters": [flt]})
        if r.get("status") != 200 or not r.get("subscriptionId"):
            fail("addSubscription: %r" % r)
        r = await c.cmd({"command": "getState", "commandId": 2.5})
        if r.get("status") != 200 or not isinstance(r.get("states"), list):
            fail("getState: %r" % r)
        if not r["states"]:
            fail("getState: no states for the motion-started filter")
        for s in r["states"]:
            if not matches(s, flt) or "stategroupid" not in s:
                fail("state outside the filter: %r" % s)
        r = await c.cmd({"command": "noSuchCommand", "commandId": 77})
        if r.get("status") != 400 or "errorText" not in r.get("error", {}):
            fail("unknown command: %r" % r)
        await c.until_events(args.count)
        for e in c.events:
            if not matches(e, flt):
                fail("event outside the filter: %r" % e)
            if set(e) < {"id", "source", "specversion", "time", "type"}:
                fail("event lacks members: %r" % e)
    print("%d events in %d messages, all matching" % (len(c.events),
                                                     c.messages))


async def sc_auth_command(args):
    tok = token_or_fail(args)
    async with connect(args) as ws:
        c = Conn(ws)
        r = await c.cmd({"command": "startSession", "commandId": 1,
                         "sessionId": "", "eventId": ""})
        if r.get("status") != 401:
            fail("startSession before authenticate: %r" % r)
        r = await c.cmd({"command": "authenticate", "commandId": 2,
                         "token": "Bearer not-a-valid-token"})
        if r.get("status") != 401:
            fail("authenticate with a bad token: %r" % r)
        r = await c.cmd({"command": "authenticate", "commandId": 3,
                         "token": "Bearer " + tok})
        if r.get("status") != 200:
            fail("authenticate: %r" % r)
        r = await c.cmd({"command": "startSession", "commandId": 4,
                         "sessionId": "", "eventId": ""})
        if r.get("status") != 201:
            fail("startSession after authenticate: %r" % r)


async def sc_follow(args):
    """Receives --total events over as many connections as it takes,
    resuming after every close, then compares them with --log-sent: every
    event once, in order.  --leave-after K closes the first connection
    itself after K events and waits --pause s before resuming; with
    --claim-back J it then resumes from the event J before the last one it
    got, as if J events had been lost in flight."""
    tok = token_or_fail(args)
    sid, last = "", ""
    got, conns, resumed, refused, abnormal, garbage = [], 0, 0, 0, 0, 0
    deadline = time.monotonic() + args.timeout
    while len(got) < args.total:
        if time.monotonic() > deadline:
            fail("timeout: %d of %d events" % (len(got), args.total))
        conns += 1
        if conns > args.max_conns:
            fail("more than %d connections" % args.max_conns)
        async with connect(args, tok) as ws:
            c = Conn(ws)
            r = await c.cmd({"command": "startSession", "commandId": conns,
                             "sessionId": sid, "eventId": last})
            if sid:
                if r.get("status") == 200:
                    if r.get("sessionId") != sid:
                        fail("200 with another session id: %r" % r)
                    resumed += 1
                elif r.get("status") == 201:
                    if r.get("sessionId") == sid:
                        fail("201 with the old session id")
                    refused += 1
                    if args.expect_resume:
                        fail("resume refused: %r" % r)
                else:
                    fail("startSession: %r" % r)
            elif r.get("status") != 201:
                fail("startSession: %r" % r)
            if r["status"] == 201:
                sid = r["sessionId"]
                r = await c.cmd({"command": "addSubscription",
                                 "commandId": 1000 + conns, "filters": ALL})
                if r.get("status") != 200:
                    fail("addSubscription: %r" % r)
            try:
                while len(got) + len(c.events) < args.total:
                    if (args.leave_after and conns == 1 and
                            len(c.events) >= args.leave_after):
                        break
                    left = deadline - time.monotonic()
                    if left <= 0:
                        fail("timeout: %d of %d events" % (
                            len(got) + len(c.events), args.total))
                    m = await c.recv_one(left)
                    if m is not None:
                        fail("unexpected response %r" % m)
            except websockets.exceptions.ConnectionClosed as e:
                if e.rcvd is None:
                    abnormal += 1
            got.extend(c.events)
            garbage += c.garbage
            if args.claim_back and conns == 1 and len(got) > args.claim_back:
                # Pretend the last claim_back events were lost in flight:
                # the server must send them again after the resume.
                del got[-args.claim_back:]
            if got:
                last = got[-1]["id"]
        if args.leave_after and conns == 1:
            await asyncio.sleep(args.pause)
    del got[args.total:]  # the last message may hold more
    ids = [e["id"] for e in got]
    if args.min_refused is not None and refused < args.min_refused:
        fail("%d resumes refused, wanted at least %d" % (refused,
                                                        args.min_refused))
    if args.no_compare:
        print("%d events over %d connections, %d resumed, %d refused"
              % (len(ids), conns, resumed, refused))
        return
    if len(set(ids)) != len(ids):
        fail("duplicate events")
    logged = logged_events(args.log, args.total)
    if ids != logged[:len(ids)] or len(ids) != args.total:
        for i, (a, b) in enumerate(zip(ids, logged)):
            if a != b:
                fail("event %d differs from --log-sent: got %s, sent %s"
                     % (i, a, b))
        fail("got %d events, %d sent" % (len(ids), len(logged)))
    if args.min_resumes is not None and resumed < args.min_resumes:
        fail("%d resumes, wanted at least %d" % (resumed, args.min_resumes))
    if args.min_abnormal is not None and abnormal < args.min_abnormal:
        fail("%d abrupt closes, wanted at least %d" % (abnormal,
                                                      args.min_abnormal))
    if args.min_garbage is not None and garbage < args.min_garbage:
        fail("%d garbage frames, wanted at least %d" % (garbage,
                                                       args.min_garbage))
    if args.max_garbage is not None and garbage > args.max_garbage:
        fail("%d garbage frames" % garbage)
    print("%d events over %d connections, %d resumed, %d refused, %d abrupt, "
          "%d garbage" % (len(ids), conns, resumed, refused, abnormal, garbage))


async def sc_forgotten(args):
    """The server closes with 1001 (a recycle); a resume then gets 201."""
    tok = token_or_fail(args)
    async with connect(args, tok) as ws:
        c = Conn(ws)
        r = await c.cmd({"command": "startSession", "commandId": 1,
                         "sessionId": "", "eventId": ""})
        sid = r["sessionId"]
        await c.cmd({"command": "addSubscription", "commandId": 2,
                     "filters": ALL})
        try:
            while True:
                await c.recv_one(args.timeout)
        except websockets.exceptions.ConnectionClosed as e:
            if e.rcvd is None or e.rcvd.code != 1001:
                fail("closed with %r, wanted 1001" % (e.rcvd,))
    if not c.events:
        fail("no events before the recycle")
    async with connect(args, tok) as ws:
        c2 = Conn(ws)
        r = await c2.cmd({"command": "startSession", "commandId": 3,
                          "sessionId": sid, "eventId": c.events[-1]["id"]})
        if r.get("status") != 201 or r.get("sessionId") == sid:
            fail("resume after a recycle: %r" % r)


async def sc_steal(args):
    """A session resumed by a second connection while the first still
    holds it: 200 on the second, the first is closed with 1008."""
    tok = token_or_fail(args)
    async with connect(args, tok) as ws1:
        a = Conn(ws1)
        r = await a.cmd({"command": "startSession", "commandId": 1,
                         "sessionId": "", "eventId": ""})
        sid = r["sessionId"]
        await a.cmd({"command": "addSubscription", "commandId": 2,
                     "filters": ALL})
        await a.until_events(5)
        async with connect(args, tok) as ws2:
            b = Conn(ws2)
            r = await b.cmd({"command": "startSession", "commandId": 1,
                             "sessionId": sid,
                             "eventId": a.events[-1]["id"]})
            if r.get("status") != 200 or r.get("sessionId") != sid:
                fail("resume while held: %r" % r)
            try:
                while True:
                    await a.recv_one(10)
            except websockets.exceptions.ConnectionClosed as e:
                if e.rcvd is None or e.rcvd.code != 1008:
                    fail("first connection closed with %r, wanted 1008"
                         % (e.rcvd,))
            await b.until_events(5)


async def sc_bad_peer(args):
    """A client sending garbage is closed (1007); another keeps going."""
    tok = token_or_fail(args)
    async with connect(args, tok) as good:
        a = Conn(good)
        await a.cmd({"command": "startSession", "commandId": 1,
                     "sessionId": "", "eventId": ""})
        await a.cmd({"command": "addSubscription", "commandId": 2,
                     "filters": ALL})
        await a.until_events(10)
        async with connect(args, tok) as bad:
            await bad.send("this is { not JSON")
            try:
                while True:
                    await asyncio.wait_for(bad.recv(), 10)
            except websockets.exceptions.ConnectionClosed as e:
                if e.rcvd is None or e.rcvd.code != 1007:
                    fail("bad client closed with %r, wanted 1007" % (e.rcvd,))
        n = len(a.events)
        await a.until_events(n + 20)


async def sc_state_delay(args):
    """getState answered after the delay; a pipelined command waits behind
    it and is answered after it."""
    tok = token_or_fail(args)
    async with connect(args, tok) as ws:
        c = Conn(ws)
        await c.cmd({"command": "startSession", "commandId": 1,
                     "sessionId": "", "eventId": ""})
        t0 = time.monotonic()
        await ws.send(json.dumps({"command": "getState", "commandId": 10}))
        await ws.send(json.dumps({"command": "addSubscription",
                                  "commandId": 11, "filters": ALL}))
        r = await c.response(10, args.delay + 10)
        dt = time.monotonic() - t0
        if r.get("status") != 200:
            fail("getState: %r" % r)
        r = await c.response(11)
        if r.get("status") != 200:
            fail("addSubscription: %r" % r)
        if dt < args.delay * 0.95:
            fail("getState answered after %.3f s, delay is %.3f s" % (
                dt, args.delay))


async def sc_states(args):
    """Prints the getState answer of a new session, pipelined behind its
    subscription to everything (the state at the replay's start point,
    with the events sent before the answer): one state a line, sorted,
    then the number of those events (tests/integration/cut.sh compares
    a cut with its original)."""
    tok = token_or_fail(args)
    async with connect(args, tok) as ws:
        c = Conn(ws)
        r = await c.cmd({"command": "startSession", "commandId": 1,
                         "sessionId": "", "eventId": ""})
        if r.get("status") not in (200, 201):
            fail("startSession: %r" % r)
        await ws.send(json.dumps({"command": "addSubscription",
                                  "commandId": 2, "filters": ALL}))
        await ws.send(json.dumps({"command": "getState", "commandId": 3}))
        r = await c.response(2)
        if r.get("status") != 200:
            fail("addSubscription: %r" % r)
        r = await c.response(3)
        if r.get("status") != 200 or not isinstance(r.get("states"), list):
            fail("getState: %r" % r)
        for line in sorted(json.dumps(s, separators=(",", ":"))
                           for s in r["states"]):
            print(line)
        print("events before the answer: %d" % len(c.events))


async def sc_tls_refused(args):
    """Without the test CA the certificate must not verify."""
    ctx = ssl.create_default_context()
    try:
        async with websockets.connect(base_url(args, True) + args.path,
                                      ssl=ctx, open_timeout=10):
            pass
    except ssl.SSLCertVerificationError:
        return
    fail("connected without trusting the test CA")


def sc_slowloris(args):
    """A partial request line is closed after the HTTP timeout (evsim
    --http-timeout, well below the 10 s waited here), while another client
    is served meanwhile."""
    s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
    s.sendall(b"GET /api/.well-known/ur")
    probe = "GET /api/.well-known/uris HTTP/1.1\r\nHost: x\r\n\r\n"
    other = socket.create_connection(("127.0.0.1", args.port), timeout=10)
    other.sendall(probe.encode())
    if read_responses(other, 1) != [200]:
        fail("another client was not served while the partial one waits")
    other.close()
    try:
        data = s.recv(4096)
    except socket.timeout:
        fail("the partial request was not closed")
    except OSError:
        data = b""
    s.close()
    if data not in (b"",) and not data.startswith(b"HTTP/1.1 408"):
        fail("partial request answered %r" % data[:60])
    print("partial request closed (%r)" % data[:30])


def run(fn, args):
    """Runs a scenario function, a coroutine or not."""
    r = fn(args)
    if asyncio.iscoroutine(r):
        asyncio.run(r)


def conn_args(ap, port_required=True):
    """The options of a connection to the gateway, as main() and other
    scripts built on these helpers take them."""
    ap.add_argument("--port", type=int, required=port_required, default=0)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--cafile")
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--token", help="use this token instead of asking")
    ap.add_argument("--token-path", default="/API/IDP/connect/token")
    ap.add_argument("--path", default="/api/ws/events/v1")


def main():
    ap = argparse.ArgumentParser()
    conn_args(ap)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("token")
    p.add_argument("--grant", default="password")
    p.add_argument("--expect", type=int, default=200)
    p.add_argument("--error")
    p.add_argument("--expires-in", type=int)
    p.add_argument("--print", action="store_true")
    p = sub.add_parser("http")
    p.add_argument("url_path")
    p.add_argument("--bearer")
    p.add_argument("--expect", type=int, default=200)
    p.add_argument("--count-array", type=int)
    p.add_argument("--oauth-version", action="store_true")
    p.add_argument("--has", action="append")
    p.add_argument("--print", action="store_true")
    p = sub.add_parser("upgrade")
    p.add_argument("--bearer")
    p.add_argument("--expect", type=int, default=101)
    p = sub.add_parser("session")
    p.add_argument("--count", type=int, default=50)
    sub.add_parser("auth-command")
    p = sub.add_parser("follow")
    p.add_argument("--log", required=True)
    p.add_argument("--total", type=int, required=True)
    p.add_argument("--leave-after", type=int, default=0)
    p.add_argument("--pause", type=float, default=0.3)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--max-conns", type=int, default=1000)
    p.add_argument("--expect-resume", action="store_true")
    p.add_argument("--min-resumes", type=int)
    p.add_argument("--min-abnormal", type=int)
    p.add_argument("--min-garbage", type=int)
    p.add_argument("--max-garbage", type=int)
    p.add_argument("--claim-back", type=int, default=0)
    p.add_argument("--min-refused", type=int)
    p.add_argument("--no-compare", action="store_true")
    p = sub.add_parser("forgotten")
    p.add_argument("--timeout", type=float, default=20)
    sub.add_parser("bad-peer")
    sub.add_parser("steal")
    p = sub.add_parser("state-delay")
    p.add_argument("--delay", type=float, required=True)
    sub.add_parser("tls-refused")
    sub.add_parser("states")
    sub.add_parser("pipeline")
    p = sub.add_parser("conn-limit")
    p.add_argument("--n", type=int, required=True)
    sub.add_parser("slowloris")
    args = ap.parse_args()
    fn = {"token": sc_token, "http": sc_http, "upgrade": sc_upgrade,
          "session": sc_session, "auth-command": sc_auth_command,
          "follow": sc_follow, "forgotten": sc_forgotten,
          "bad-peer": sc_bad_peer, "steal": sc_steal, "state-delay": sc_state_delay,
          "states": sc_states,
          "tls-refused": sc_tls_refused, "pipeline": sc_pipeline,
          "conn-limit": sc_conn_limit, "slowloris": sc_slowloris}[args.cmd]
    run(fn, args)


if __name__ == "__main__":
    main()
