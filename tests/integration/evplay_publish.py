#!/usr/bin/python3
"""evplay_publish.py: the checks of evplay_publish.sh on what evplay
--publish put on the bus, read back as JSON lines (natsdump's stream dump,
or natssub.py's core messages: {"subject","headers","data"}), against
evplay's stdout lines of the same options.  Written from formats/nats.md,
not from the C code.

  events MSGS PREFIX STDOUT [TSV [PASSES]]
      the event messages (subject PREFIX.ev.*.*), in order, are exactly
      STDOUT's lines: payload, subject tokens, Nats-Msg-Id (the event's
      id; ":pN" in pass N > 1), Evtape-Kind, Evtape-Item, one archive
      uuid in Evtape-Frame, frame references in archive order within a
      pass, Evtape-Replay-Pass 1..PASSES; with TSV (evtool cat --tsv of
      the archive, all events replayed) each Evtape-Rx is the receive
      time of the event's frame.
  marks MSGS PREFIX TSV
      the mk messages are the archive's non-MSG frames: getState answers
      on PREFIX.mk.states with their text, in order.
  ids MSGS
      no two Nats-Msg-Ids alike.
  same MSGS1 PREFIX1 MSGS2 PREFIX2
      the messages of both (evrec --publish, evplay --publish of its
      archive: events, session and config markers, ...) have the same
      subjects after the prefix, payloads and Nats-Msg-Id, Evtape-Frame,
      Evtape-Item, Evtape-Rx and Evtape-Kind headers, in the same order.
"""
import json
import re
import sys


def token(s, upto=False):
    if not isinstance(s, str):
        return "_"
    if upto:
        s = s.split("/", 1)[0]
    t = re.sub(r"[^A-Za-z0-9_-]", "_", s)
    return t or "_"


def load(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def fail(msg):
    print("# " + msg)
    sys.exit(1)


def frame_ref(h):
    u, seg, ordn = h["Evtape-Frame"].split("/")
    return u, int(seg), int(ordn)


def rx_of_events(tsv):
    """Receive time of each event of the archive, in order."""
    out = []
    for line in open(tsv):
        rx, text = line.rstrip("\n").split("\t", 1)
        try:
            m = json.loads(text)
        except ValueError:
            continue
        if isinstance(m, dict) and isinstance(m.get("events"), list):
            out += [int(rx)] * len(m["events"])
    return out


def events(msgs, prefix, stdout, tsv=None, passes=1):
    ev = [m for m in load(msgs) if m["subject"].startswith(prefix + ".ev.")]
    want = [line.rstrip("\n") for line in open(stdout) if line.strip()]
    if len(ev) != len(want):
        fail("%d event messages, stdout has %d lines" % (len(ev), len(want)))
    rxs = rx_of_events(tsv) if tsv else None
    uuids = set()
    last = {}
    per_pass = len(want) // passes
    for k, (m, line) in enumerate(zip(ev, want)):
        h = m["headers"]
        if m["data"] != line:
            fail("message %d: %r is not stdout's %r" % (k, m["data"][:80],
                                                        line[:80]))
        e = json.loads(line)
        subj = "%s.ev.%s.%s" % (prefix, token(e.get("source"), True),
                                token(e.get("type")))
        if m["subject"] != subj:
            fail("message %d: subject %s, want %s" % (k, m["subject"], subj))
        p = int(h.get("Evtape-Replay-Pass", "0"))
        if p != k // per_pass + 1:
            fail("message %d: Evtape-Replay-Pass %d" % (k, p))
        mid = e["id"] + ("" if p == 1 else ":p%d" % p)
        if h.get("Nats-Msg-Id") != mid:
            fail("message %d: Nats-Msg-Id %s, want %s" % (
                k, h.get("Nats-Msg-Id"), mid))
        if h.get("Evtape-Kind") != "event":
            fail("message %d: Evtape-Kind %s" % (k, h.get("Evtape-Kind")))
        i, n = map(int, h["Evtape-Item"].split("/"))
        if not 0 <= i < n:
            fail("message %d: Evtape-Item %s" % (k, h["Evtape-Item"]))
        u, seg, ordn = frame_ref(h)
        uuids.add(u)
        ref = (seg, ordn, i)
        if p in last and ref <= last[p]:
            fail("message %d: frame reference %s not after %s" % (
                k, ref, last[p]))
        last[p] = ref
        if rxs is not None and int(h["Evtape-Rx"]) != rxs[k % per_pass]:
            fail("message %d: Evtape-Rx %s, the frame's %d" % (
                k, h["Evtape-Rx"], rxs[k % per_pass]))
    if len(uuids) != 1:
        fail("archive uuids in Evtape-Frame: %s" % uuids)


def marks(msgs, prefix, tsv):
    mk = [m for m in load(msgs) if m["subject"].startswith(prefix + ".mk.")]
    want = []
    for line in open(tsv):
        rx, text = line.rstrip("\n").split("\t", 1)
        if '"states"' in text and '"events"' not in text:
            want.append((rx, text))
    got = [(m["headers"].get("Evtape-Rx"), m["data"]) for m in mk
           if m["subject"] == prefix + ".mk.states"]
    if got != want or not want:
        fail("getState answers on the bus %r, in the archive %r" % (
            [g[0] for g in got], [w[0] for w in want]))
    for m in mk:
        if m["headers"].get("Evtape-Kind") != m["subject"].rsplit(".", 1)[1]:
            fail("mk message: subject %s, Evtape-Kind %s" % (
                m["subject"], m["headers"].get("Evtape-Kind")))


def ids(msgs):
    seen = [m["headers"].get("Nats-Msg-Id") for m in load(msgs)]
    if len(set(seen)) != len(seen) or None in seen:
        fail("%d messages, %d distinct ids" % (len(seen), len(set(seen))))


def same(m1, p1, m2, p2):
    keys = ("Nats-Msg-Id", "Evtape-Frame", "Evtape-Item", "Evtape-Rx",
            "Evtape-Kind")

    def view(path, prefix):
        return [(m["subject"][len(prefix):], m["data"]) +
                tuple(m["headers"].get(k) for k in keys)
                for m in load(path) if m["subject"].startswith(prefix + ".")]
    a, b = view(m1, p1), view(m2, p2)
    kinds = {x[-1] for x in a}
    if not a or a != b or not {"event", "session", "config"} <= kinds:
        d = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y),
                 min(len(a), len(b)))
        fail("%d and %d messages (kinds %s); first difference at %d: "
             "%s / %s" % (len(a), len(b), sorted(kinds), d,
                          a[d][2:] if d < len(a) else None,
                          b[d][2:] if d < len(b) else None))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "events":
        events(args[0], args[1], args[2], args[3] if len(args) > 3 else None,
               int(args[4]) if len(args) > 4 else 1)
    elif cmd == "marks":
        marks(*args)
    elif cmd == "same":
        same(*args)
    elif cmd == "ids":
        ids(*args)
    else:
        sys.exit("unknown check " + cmd)
