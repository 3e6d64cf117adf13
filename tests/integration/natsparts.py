#!/usr/bin/env python3
"""natsparts.py: checks of frames published as parts (formats/nats.md,
"Parts") on a natsdump JSON-lines dump, written from the format text alone
(no evtape code), and a test-only republisher of a dump's messages.

  natsparts.py check DUMP MAX STATES   the parts in DUMP: every payload at
        most MAX bytes and a JSON object of the frame's members; each
        part once; the parts of each frame joined as the format says give
        the frame's text, byte for byte: the STATES frames of STATES (the
        bodies of `evtool cat --markers` STATES lines), in order
  natsparts.py index DUMP K            the line (from 0) of DUMP holding
        the first message with Evtape-Part K/... (K "last": N/N)
  natsparts.py pub PORT DUMP FROM TO   publishes DUMP's lines [FROM, TO)
        (subject, headers, payload as they are) and awaits the acks
  natsparts.py consumer PORT STREAM DURABLE MAXACK   creates a durable
        pull consumer (explicit acks, AckWait 2 s) with MaxAckPending MAXACK
  natsparts.py asis STATES DIR_TSV     the STATES frames of DIR_TSV (`evtool
        cat --tsv` lines) are the frames of STATES cut into parts, each
        part a frame: their arrays, concatenated, are each frame's array
"""
import json
import os
import socket
import sys


def msgs(path):
    for ln in open(path):
        m = json.loads(ln)
        m["bytes"] = m["data"].encode()
        yield m


def states_texts(path):
    out = []
    for ln in open(path):
        out.append(ln.rstrip("\n").split("\t", 1)[1])
    return out


def check(dump, maxlen, states):
    frames, order = {}, []
    for m in msgs(dump):
        h = m["headers"]
        if "Evtape-Part" not in h:
            continue
        k, n = (int(x) for x in h["Evtape-Part"].split("/"))
        off, slen = (int(x) for x in h["Evtape-Part-Slice"].split("/"))
        d = m["bytes"]
        if len(d) > maxlen:
            sys.exit("part %d/%d: %d bytes > %d" % (k, n, len(d), maxlen))
        obj = json.loads(d)
        if not isinstance(obj, dict):
            sys.exit("part %d/%d: not an object" % (k, n))
        mid = h["Nats-Msg-Id"]
        if not mid.endswith(":part%d" % k):
            sys.exit("part %d/%d: Nats-Msg-Id %s" % (k, n, mid))
        key = (h["Evtape-Frame"], mid[:mid.rindex(":part")])
        if key not in frames:
            frames[key] = {}
            order.append(key)
        if k in frames[key]:
            sys.exit("part %d/%d of %s twice" % (k, n, key))
        frames[key][k] = (n, d, off, slen, obj)
    want = [s.encode() for s in states_texts(states)]
    got = []
    for key in order:
        parts = frames[key]
        n = parts[1][0]
        if sorted(parts) != list(range(1, n + 1)):
            sys.exit("%s: parts %s of %d" % (key, sorted(parts), n))
        t = b""
        keys = None
        for k in range(1, n + 1):
            _, d, off, slen, obj = parts[k]
            if keys is None:
                keys = list(obj)
            elif list(obj) != keys:
                sys.exit("%s: part %d has members %s" % (key, k, list(obj)))
            if k == 1:
                t += d[:off + slen]
            else:
                t += b"," + d[off:off + slen]
            if k == n:
                t += d[off + slen:]
        got.append(t)
    big = [w for w in want if len(w) > maxlen]
    if got != big:
        sys.exit("%d frames joined from parts, %d STATES frames over %d "
                 "bytes; equal: %s" % (len(got), len(big), maxlen,
                                      [g == w for g, w in zip(got, big)]))
    print("%d frames in %s parts" % (len(got), [len(frames[k])
                                              for k in order]))


def index(dump, k):
    for i, m in enumerate(msgs(dump)):
        p = m["headers"].get("Evtape-Part", "").split("/")
        if len(p) == 2 and p[0] == (p[1] if k == "last" else k):
            print(i)
            return
    sys.exit("no part %s" % k)


def pub(port, dump, lo, hi):
    s, f, inbox = connect(port)
    n = 0
    for i, m in enumerate(msgs(dump)):
        if i < lo or i >= hi:
            continue
        hs = m["headers"]
        hb = ("NATS/1.0\r\n" + "".join(
            "%s: %s\r\n" % (k, v) for k, v in hs.items()) + "\r\n").encode()
        d = m["bytes"]
        n += 1
        s.sendall(b"HPUB %s %s.%d %d %d\r\n" % (
            m["subject"].encode(), inbox.encode(), n, len(hb),
            len(hb) + len(d)) + hb + d + b"\r\n")
    while n > 0:
        ln = f.readline()
        if ln.startswith(b"PING"):
            s.sendall(b"PONG\r\n")
        elif ln.startswith(b"MSG") or ln.startswith(b"HMSG"):
            body = f.read(int(ln.split()[-1]) + 2)
            if b'"error"' in body:
                sys.exit("natsparts: " + body.decode())
            n -= 1
        elif ln.startswith(b"-ERR") or not ln:
            sys.exit("natsparts: %r" % ln)


def connect(port):
    s = socket.create_connection(("127.0.0.1", int(port)))
    f = s.makefile("rb")
    f.readline()  # INFO
    inbox = "_INBOX.parts%d" % os.getpid()
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
              b'"no_responders":true}\r\nSUB ' + inbox.encode() +
              b".* 1\r\n")
    return s, f, inbox


def consumer(port, stream, durable, maxack):
    s, f, inbox = connect(port)
    cfg = {"stream_name": stream, "config": {
        "durable_name": durable, "ack_policy": "explicit",
        "deliver_policy": "all", "ack_wait": 2000000000,
        "max_ack_pending": int(maxack)}}
    body = json.dumps(cfg).encode()
    s.sendall(b"PUB $JS.API.CONSUMER.DURABLE.CREATE.%s.%s %s.1 %d\r\n" % (
        stream.encode(), durable.encode(), inbox.encode(), len(body)) +
        body + b"\r\n")
    while True:
        ln = f.readline()
        if ln.startswith(b"MSG"):
            r = f.read(int(ln.split()[-1]) + 2)
            if b'"error"' in r:
                sys.exit("natsparts: " + r.decode())
            return
        if not ln or ln.startswith(b"-ERR"):
            sys.exit("natsparts: %r" % ln)


def asis(states, tsv):
    want = [json.loads(t) for t in states_texts(states)]
    got = [v for v in (json.loads(t) for t in states_texts(tsv))
           if isinstance(v, dict) and "states" in v]
    els = [e for g in got for e in g["states"]]
    if len(got) <= len(want) or els != [e for w in want
                                         for e in w["states"]]:
        sys.exit("%d frames, %d states; want more than %d frames, %d "
                 "states" % (len(got), len(els), len(want),
                             sum(len(w["states"]) for w in want)))
    print("%d frames of %d states" % (len(got), len(els)))


def main():
    a = sys.argv
    if a[1] == "check":
        check(a[2], int(a[3]), a[4])
    elif a[1] == "index":
        index(a[2], a[3])
    elif a[1] == "pub":
        pub(a[2], a[3], int(a[4]), int(a[5]))
    elif a[1] == "consumer":
        consumer(a[2], a[3], a[4], a[5])
    elif a[1] == "asis":
        asis(a[2], a[3])


main()
