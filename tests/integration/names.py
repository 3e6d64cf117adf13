#!/usr/bin/env python3
"""names.py: looks names up the way the official Python sample's viewers do
(state_viewer.py, event_viewer.py: GET /api/rest/v1/{source},
eventTypes/{type} and stateGroups/{stategroupid} with the Bearer token,
data.displayName, for an event type also data.state; "Unknown" on a 4xx).
usage: names.py PORT EVENTS-JSONL OUT [N]
Takes the first N (50) events of EVENTS-JSONL (evtool cat), logs in as
alice/secret and writes one line per event to OUT:
<id> <source name> | <type name> | <state> | <state group name>
"""
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

port, events, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 50
base = "http://127.0.0.1:%d" % port
form = urllib.parse.urlencode({"grant_type": "password", "username": "alice",
                               "password": "secret",
                               "client_id": "GrantValidatorClient"}).encode()
with urllib.request.urlopen(base + "/API/IDP/connect/token", form,
                            timeout=10) as r:
    token = json.loads(r.read())["access_token"]


def get(path):
    req = urllib.request.Request(base + "/api/rest/v1/" + path, headers={
        "Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())["data"]
    except urllib.error.HTTPError as e:
        if 400 <= e.code < 500:
            return {}
        raise


with open(events) as f, open(out, "w") as o:
    for line in f.readlines()[:n]:
        e = json.loads(line)
        src = get(e["source"]).get("displayName", "Unknown")
        t = get("eventTypes/" + e["type"])
        sg = get("stateGroups/" + e["stategroupid"]).get(
            "displayName", "Unknown") if "stategroupid" in e else "-"
        o.write("%s %s | %s | %s | %s\n" % (
            e["id"], src, t.get("displayName", "Unknown"),
            t.get("state", "Unknown"), sg))
