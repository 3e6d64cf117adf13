#!/usr/bin/env python3
"""sample_ess.py: a client written the way Milestone's official Python sample
for the Events and State WebSocket API works (docs/ess-protocol.md section 8.1): urllib for the IDP token, then

    while True:
        try:
            async with connect(uri, extra_headers={"Authorization":
                               f"Bearer {token}"}) as web_socket:
                session = await start_session(web_socket, session_id,
                                              last_event_id)
                if session["status"] == 201:
                    await create_subscription(web_socket, filters)
                    session_id = session["sessionId"]
                    await get_state(web_socket)
                while True:
                    events = await receive_events(web_socket)
                    last_event_id = events["events"][-1]["id"]
        except Exception:
            await asyncio.sleep(...)        # then reconnect and resume

with the websockets library's defaults (ping every 20 s, 1 MiB max message),
commandId counting from 1, the URI with a trailing slash, and every message
that is neither the awaited response nor {"events":[...]} raising.  What the
sample only prints is checked here, and the received event ids are written
one per line to --out, so the test can compare them with evsim --log-sent.
Stops after --total events; exits 1 with "FAIL: ..." on a violation.
"""
import argparse
import asyncio
import json
import sys
import time
import urllib.parse
import urllib.request

from websockets import connect

command_id = 0


class ProtocolError(Exception):
    """A message the official sample would not accept: fatal here."""


def next_command_id():
    global command_id
    command_id += 1
    return command_id


async def send_command(web_socket, command, pending):
    """Sends a command and returns its response; event messages that
    arrive first go to pending (the sample skips them)."""
    await web_socket.send(json.dumps(command))
    while True:
        message = json.loads(await web_socket.recv())
        if message.get("commandId") == command["commandId"]:
            if type(message["commandId"]) is not type(command["commandId"]):
                raise ProtocolError("commandId type changed: %r" % message)
            return message
        if list(message.keys()) == ["events"] and message["events"]:
            pending.extend(message["events"])
            continue
        raise ProtocolError("unexpected message: %r" % str(message)[:200])


async def start_session(web_socket, session_id, last_event_id, pending):
    response = await send_command(web_socket, {
        "command": "startSession", "commandId": next_command_id(),
        "sessionId": session_id, "eventId": last_event_id}, pending)
    if response["status"] not in (200, 201):
        raise ProtocolError("startSession: %r" % response)
    if response["status"] == 200 and response["sessionId"] != session_id:
        raise ProtocolError("200 with another sessionId: %r" % response)
    if response["status"] == 201 and response["sessionId"] == session_id:
        raise ProtocolError("201 with the old sessionId")
    return response


async def create_subscription(web_socket, filters, pending):
    response = await send_command(web_socket, {
        "command": "addSubscription", "commandId": next_command_id(),
        "filters": filters}, pending)
    if response["status"] != 200 or not response.get("subscriptionId"):
        raise ProtocolError("addSubscription: %r" % response)
    return response


async def get_state(web_socket, pending):
    response = await send_command(web_socket, {
        "command": "getState", "commandId": next_command_id()}, pending)
    if response["status"] != 200 or not isinstance(response.get("states"),
                                                   list):
        raise ProtocolError("getState: %r" % str(response)[:200])
    return response


async def receive_events(web_socket):
    message = json.loads(await web_socket.recv())
    if list(message.keys()) != ["events"] or not message["events"]:
        raise ProtocolError("not an event message: %r" % str(message)[:200])
    return message


def get_token(args):
    form = urllib.parse.urlencode({
        "grant_type": "password", "username": args.user,
        "password": args.password,
        "client_id": "GrantValidatorClient"}).encode()
    req = urllib.request.Request(
        "http://127.0.0.1:%d/API/IDP/connect/token" % args.port, data=form)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["access_token"]


async def main(args):
    access_token = get_token(args)
    gateway_ws_uri = "ws://127.0.0.1:%d/api/ws/events/v1/" % args.port
    subscription_filters = [{"modifier": "include",
                             "resourceTypes": ["*"], "sourceIds": ["*"],
                             "eventTypes": ["*"]}]
    session_id, last_event_id = "", ""
    got, connections, resumed = [], 0, 0
    deadline = time.monotonic() + args.timeout
    out = open(args.out, "w")
    while len(got) < args.total:
        if time.monotonic() > deadline:
            raise ProtocolError("timeout: %d of %d events" % (len(got),
                                                             args.total))
        pending = []
        try:
            async with connect(gateway_ws_uri, extra_headers={
                    "Authorization": f"Bearer {access_token}"}) as web_socket:
                connections += 1
                if web_socket.subprotocol is not None:
                    raise ProtocolError("subprotocol %r negotiated"
                                        % web_socket.subprotocol)
                session = await start_session(web_socket, session_id,
                                              last_event_id, pending)
                if session["status"] == 201:
                    await create_subscription(web_socket,
                                              subscription_filters, pending)
                    session_id = session["sessionId"]
                    await get_state(web_socket, pending)
                else:
                    resumed += 1
                while len(got) + len(pending) < args.total:
                    events = await receive_events(web_socket)
                    pending.extend(events["events"])
                    last_event_id = pending[-1]["id"]
        except ProtocolError:
            raise
        except Exception:
            await asyncio.sleep(args.reconnect_delay)
        for e in pending:
            out.write(e["id"] + "\n")
        got.extend(pending)
        if got:
            last_event_id = got[-1]["id"]
    out.close()
    print("%d events over %d connections, %d resumed" % (len(got),
                                                         connections,
                                                         resumed))
    if resumed < args.min_resumes:
        raise ProtocolError("%d resumes, wanted at least %d"
                            % (resumed, args.min_resumes))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--total", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--min-resumes", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--reconnect-delay", type=float, default=1.0)
    a = ap.parse_args()
    try:
        asyncio.run(main(a))
    except ProtocolError as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
