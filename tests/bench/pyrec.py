#!/usr/bin/python3
"""pyrec.py: the baseline of the ingest benchmark.

A recorder built the way Milestone's Python sample (the seed) works: the
`websockets` library, a token from the IDP, startSession, addSubscription,
getState, then a receive loop that decodes every message with json.loads,
keeps events[-1]["id"] as the resume cursor and writes every event as a JSON
line into a zstd stream (level 3, like `zstd -3`).  It stops after N events
and prints "EVENTS SECONDS" (seconds from the first byte of the session to the
last event written and the file closed).

usage: pyrec.py BASE_URL PASSWORD_FILE OUT.zst N
"""
import asyncio
import json
import sys
import time
import urllib.parse
import urllib.request

import websockets
import zstandard


def token(base, password):
    form = urllib.parse.urlencode({
        "grant_type": "password", "username": "bench",
        "password": password, "client_id": "GrantValidatorClient"}).encode()
    req = urllib.request.Request(base + "/API/IDP/connect/token", data=form)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())["access_token"]


async def command(ws, cmd, skipped):
    """Sends a command and returns its response; event messages arriving
    meanwhile go to skipped (the sample drops them; we count them)."""
    await ws.send(json.dumps(cmd))
    while True:
        m = json.loads(await ws.recv())
        if m.get("commandId") == cmd["commandId"]:
            return m
        skipped.append(m)


async def record(base, password, out, n):
    tok = token(base, password)
    uri = base.replace("http", "ws", 1) + "/api/ws/events/v1/"
    with open(out, "wb") as f:
        w = zstandard.ZstdCompressor(level=3).stream_writer(f)
        async with websockets.connect(
                uri, extra_headers={"Authorization": "Bearer " + tok},
                max_size=None) as ws:
            t0 = time.monotonic()
            early = []
            await command(ws, {"command": "startSession", "commandId": 1,
                               "sessionId": "", "eventId": ""}, early)
            await command(ws, {"command": "addSubscription", "commandId": 2,
                               "filters": [{"modifier": "include",
                                            "resourceTypes": ["*"],
                                            "sourceIds": ["*"],
                                            "eventTypes": ["*"]}]}, early)
            st = await command(ws, {"command": "getState", "commandId": 3},
                               early)
            w.write((json.dumps(st) + "\n").encode())
            got = 0
            last_event_id = ""
            while got < n:
                msg = early.pop(0) if early else json.loads(await ws.recv())
                events = msg.get("events")
                if not events:
                    continue
                last_event_id = events[-1]["id"]
                for ev in events:
                    w.write((json.dumps(ev) + "\n").encode())
                got += len(events)
        w.close()
        t1 = time.monotonic()
    print(got, "%.3f" % (t1 - t0), last_event_id != "")


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    base, pwfile, out, n = sys.argv[1:]
    password = open(pwfile).read().strip()
    asyncio.run(record(base.rstrip("/"), password, out, int(n)))


if __name__ == "__main__":
    main()
