#!/usr/bin/env python3
"""natspubcheck.py: checks a JetStream stream published by evrec --publish
against its archive (formats/nats.md), independently of src/natsio.c.

  natspubcheck.py DUMP CAT PREFIX SITE [--limit N]

DUMP: natsdump's JSON lines of the whole stream; CAT: `evtool cat` of the
archive (the events, one per line).  Checks that the stream's events
(PREFIX.ev.>) are the archive's events, in order, byte-equal, each once;
that subjects, Nats-Msg-Id, Evtape-* headers follow the contract; that
every Nats-Msg-Id occurs once; that markers went to PREFIX.mk.<kind>
(a frame sent as parts: each part's id ends with :part<k>, in order).
With --limit N: the stream holds exactly the first N messages a complete
publication would (a stream that refused the rest): events are then a
prefix of the archive's.  Prints what differs and exits 1, else 0.
"""
import json
import re
import sys

KINDS = {"session", "gap", "config", "states", "json", "raw"}
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def token(s):
    if not isinstance(s, str) or s == "":
        return "_"
    return "".join(c if (c.isascii() and (c.isalnum() or c in "_-")) else "_"
                   for c in s.encode("utf-8").decode("latin-1"))


def main():
    args = sys.argv[1:]
    limit = None
    if "--limit" in args:
        i = args.index("--limit")
        limit = int(args[i + 1])
        del args[i:i + 2]
    dump, cat, prefix, site = args
    msgs = [json.loads(l) for l in open(dump, encoding="utf-8")]
    want = [l.rstrip("\n") for l in open(cat, encoding="utf-8")]
    bad = []

    def fail(msg):
        if len(bad) < 20:
            bad.append(msg)
        else:
            bad.append(None)

    ids = {}
    refs = []
    events = []
    for m in msgs:
        h = m.get("headers", {})
        subj = m["subject"]
        mid = h.get("Nats-Msg-Id")
        if not isinstance(mid, str) or mid == "":
            fail("seq %d: no Nats-Msg-Id" % m["seq"])
            continue
        if mid in ids:
            fail("seq %d: Nats-Msg-Id %s again (first at seq %d)"
                 % (m["seq"], mid, ids[mid]))
        ids[mid] = m["seq"]
        if h.get("Evtape-Site") != site:
            fail("seq %d: Evtape-Site %r" % (m["seq"], h.get("Evtape-Site")))
        if not re.fullmatch(r"-?[0-9]+", h.get("Evtape-Rx", "")):
            fail("seq %d: Evtape-Rx %r" % (m["seq"], h.get("Evtape-Rx")))
        fr = re.fullmatch("(%s)/([0-9]+)/([0-9]+)" % UUID,
                          h.get("Evtape-Frame", ""))
        if fr is None:
            fail("seq %d: Evtape-Frame %r" % (m["seq"], h.get("Evtape-Frame")))
            continue
        kind = h.get("Evtape-Kind")
        part = 0
        if subj.startswith(prefix + ".ev."):
            it = re.fullmatch(r"([0-9]+)/([0-9]+)", h.get("Evtape-Item", ""))
            if kind != "event" or it is None or \
                    int(it.group(1)) >= int(it.group(2)):
                fail("seq %d: event with Evtape-Kind %r, Evtape-Item %r"
                     % (m["seq"], kind, h.get("Evtape-Item")))
                continue
            item = int(it.group(1))
            data = m.get("data")
            try:
                ev = json.loads(data)
            except (TypeError, ValueError):
                ev = None
            if isinstance(ev, dict):
                src = ev.get("source")
                rt = src.split("/", 1)[0] if isinstance(src, str) else None
                wsub = "%s.ev.%s.%s" % (prefix, token(rt), token(ev.get("type")))
                wid = ev.get("id") if isinstance(ev.get("id"), str) and \
                    ev.get("id") else None
            else:
                wsub = prefix + ".ev._._"
                wid = None
            if subj != wsub:
                fail("seq %d: subject %s, want %s" % (m["seq"], subj, wsub))
            pos = "%s:%s:%s:%d" % (fr.group(1), fr.group(2), fr.group(3), item)
            if mid != (wid if wid is not None else pos):
                fail("seq %d: Nats-Msg-Id %s, want %s"
                     % (m["seq"], mid, wid or pos))
            events.append(data)
        else:
            k = subj[len(prefix) + 4:] if subj.startswith(prefix + ".mk.") \
                else None
            if k not in KINDS or kind != k or "Evtape-Item" in h:
                fail("seq %d: subject %s with Evtape-Kind %r" % (m["seq"],
                     subj, kind))
            pos = "%s:%s:%s" % (fr.group(1), fr.group(2), fr.group(3))
            pt = re.fullmatch(r"([0-9]+)/([0-9]+)", h.get("Evtape-Part", ""))
            if pt is not None:  # a part of a frame (nats.md, "Parts")
                part = int(pt.group(1))
                pos += ":part%d" % part
            if mid != pos:
                fail("seq %d: marker Nats-Msg-Id %s, want %s"
                     % (m["seq"], mid, pos))
            item = -1
        refs.append((fr.group(1), int(fr.group(2)), int(fr.group(3)), item,
                     part))
    for a, b in zip(refs, refs[1:]):
        if a[0] == b[0] and a[1:] >= b[1:]:
            fail("frames out of archive order: %r then %r" % (a, b))
            break
    if limit is not None:
        if len(msgs) != limit:
            fail("%d messages, want exactly %d" % (len(msgs), limit))
        want = want[:len(events)]
    if len(events) != len(want):
        fail("%d events in the stream, %d in the archive"
             % (len(events), len(want)))
    for i, (g, w) in enumerate(zip(events, want)):
        if g != w:
            fail("event %d differs:\n  stream  %s\n  archive %s"
                 % (i, (g or "")[:200], w[:200]))
            break
    for b in bad:
        print(b if b is not None else "...")
        if b is None:
            break
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
