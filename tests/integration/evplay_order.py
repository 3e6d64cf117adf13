#!/usr/bin/env python3
"""evplay_order.py: what a client of evplay --listen sees at the start of
a replay and at frames that were not events messages (evplay_order.sh).

usage: evplay_order.py PORT MODE WANT OUT
  MODE official: startSession, addSubscription, getState, each awaited as
       the official samples do; the getState answer must come before any
       event message.
  MODE nostate: startSession, addSubscription, no getState: the events
       must come anyway.
Reads until WANT events arrived (60 s at most) and writes every message
received after the addSubscription answer to OUT, one a line, in order:
"STATES <n>", "EVENTS <id> <id> ...", or "OTHER <text>" (a frame that is
neither a command answer nor an events message).  Prints "FAIL: ..." and
exits 1 on a violation.
"""
import asyncio
import json
import sys
import urllib.parse
import urllib.request

from websockets import connect


def fail(why):
    print("FAIL: " + why, file=sys.stderr)
    sys.exit(1)


async def main(port, mode, want, out):
    form = urllib.parse.urlencode({"grant_type": "password",
                                   "username": "any", "password": "x",
                                   "client_id": "GrantValidatorClient"})
    with urllib.request.urlopen("http://127.0.0.1:%d/API/IDP/connect/token"
                                % port, form.encode(), timeout=10) as r:
        token = json.loads(r.read())["access_token"]
    seen, events = [], 0
    async with connect("ws://127.0.0.1:%d/api/ws/events/v1" % port,
                       extra_headers={"Authorization": "Bearer " + token},
                       max_size=None) as ws:
        async def answer(cid):
            nonlocal events
            while True:
                text = await ws.recv()
                try:
                    m = json.loads(text)
                except ValueError:
                    m = None
                if isinstance(m, dict) and m.get("commandId") == cid:
                    return m
                if cid >= 3:  # after addSubscription: record everything
                    record(text, m)
                else:
                    fail("before the subscription: %r" % text[:200])

        def record(text, m):
            nonlocal events
            if isinstance(m, dict) and list(m) == ["events"]:
                seen.append("EVENTS " + " ".join(e["id"]
                                                 for e in m["events"]))
                events += len(m["events"])
            else:
                seen.append("OTHER " + text.replace("\n", "\\n"))

        await ws.send(json.dumps({"command": "startSession", "commandId": 1,
                                  "sessionId": "", "eventId": ""}))
        r = await answer(1)
        if r.get("status") != 201:
            fail("startSession: %r" % r)
        await ws.send(json.dumps({"command": "addSubscription",
                                  "commandId": 2, "filters": [{
                                      "modifier": "include",
                                      "resourceTypes": ["*"],
                                      "sourceIds": ["*"],
                                      "eventTypes": ["*"]}]}))
        r = await answer(2)
        if r.get("status") != 200:
            fail("addSubscription: %r" % r)
        if mode == "official":
            await ws.send(json.dumps({"command": "getState",
                                      "commandId": 3}))
            r = await answer(3)
            if r.get("status") != 200:
                fail("getState: %r" % str(r)[:200])
            seen.append("STATES %d" % len(r["states"]))
        while events < want:
            text = await asyncio.wait_for(ws.recv(), 60)
            try:
                m = json.loads(text)
            except ValueError:
                m = None
            record(text, m)
    with open(out, "w") as f:
        f.write("\n".join(seen) + "\n")


asyncio.run(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                 sys.argv[4]))
