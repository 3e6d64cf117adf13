#!/usr/bin/env python3
"""natsfeed.py: a test-only publisher of evtape NATS messages (the issue
16 contract: subjects P.ev.<rt>.<type> / P.mk.<kind>, headers Nats-Msg-Id,
Evtape-Rx, -Frame, -Item, -Site, -Kind), speaking the NATS client
protocol over a plain socket (no client library needed).

  natsfeed.py PORT create STREAM SUBJECTS      make a file stream
  natsfeed.py PORT feed SITE PREFIX FILE       publish FILE's lines
  natsfeed.py PORT tsv SITE PREFIX UUID FILE   publish a TSV file's frames
                                               (formats/tsv.md, as evgen
                                               writes them) as evrec
                                               --publish would

FILE lines: "rx<TAB>frame<TAB>kind<TAB>payload" (kind event|session|gap|
config|states|json|raw; frame "uuid/seq/ord"; events of one frame on
consecutive lines).  Every publish is a request with a reply inbox and
JetStream's acks are all awaited (pipelined, 1000 at a time), so the
stream holds everything when it exits 0.
"""
import json
import os
import socket
import sys


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", int(port)))
        self.buf = b""
        self.line()  # INFO
        self.s.sendall(b'CONNECT {"verbose":false,"pedantic":false,'
                       b'"headers":true,"no_responders":true}\r\n'
                       b"SUB _INBOX.feed%d.* 1\r\n" % os.getpid())
        self.n = 0
        self.out = []

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise SystemExit("natsfeed: connection closed")
            self.buf += d
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def take(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.s.recv(65536)
        d, self.buf = self.buf[:n], self.buf[n + 2:]
        return d

    def reply(self):
        """Waits for the next message on the inbox; returns its payload."""
        while True:
            ln = self.line()
            if ln.startswith(b"PING"):
                self.s.sendall(b"PONG\r\n")
            elif ln.startswith(b"MSG"):
                return self.take(int(ln.split()[-1]))
            elif ln.startswith(b"HMSG"):
                d = self.take(int(ln.split()[-1]))
                hl = int(ln.split()[-2])
                return d[hl:] if len(d) > hl else d[:hl]
            elif ln.startswith(b"-ERR"):
                raise SystemExit("natsfeed: " + ln.decode())

    inflight = 0

    def publish(self, subj, payload, headers):
        """Sends a request without waiting for its reply (drain does)."""
        self.n += 1
        self.inflight += 1
        inbox = "_INBOX.feed%d.%d" % (os.getpid(), self.n)
        h = "NATS/1.0\r\n" + "".join("%s: %s\r\n" % kv for kv in
                                     headers) + "\r\n"
        hb = h.encode()
        self.out.append(b"HPUB %s %s %d %d\r\n" % (
            subj.encode(), inbox.encode(), len(hb),
            len(hb) + len(payload)) + hb + payload + b"\r\n")

    def drain(self):
        """Sends what publish queued and awaits every JetStream ack."""
        self.s.sendall(b"".join(self.out))
        self.out = []
        while self.inflight > 0:
            ack = json.loads(self.reply())
            if "error" in ack:
                raise SystemExit("natsfeed: " + json.dumps(ack))
            self.inflight -= 1

    def request(self, subj, payload):
        """Sends one request and returns its reply."""
        self.publish(subj, payload, [])
        self.s.sendall(b"".join(self.out))
        self.out = []
        self.inflight -= 1
        return self.reply()


def token(s):
    t = "".join(c if c.isalnum() and c.isascii() or c in "_-" else "_"
                for c in s)
    return t or "_"


def subject(prefix, kind, payload):
    if kind != "event":
        return "%s.mk.%s" % (prefix, "session" if kind == "session" else
                             kind)
    try:
        ev = json.loads(payload)
    except ValueError:
        ev = None
    if not isinstance(ev, dict):
        return prefix + ".ev._._"
    src = ev.get("source")
    typ = ev.get("type")
    rt = token(src.split("/")[0]) if isinstance(src, str) else "_"
    return "%s.ev.%s.%s" % (prefix, rt, token(typ) if isinstance(typ, str)
                            else "_")


def tsv_rows(uuid, path):
    """The rows of a TSV file's frames: a MSG frame's events one a row
    (frame uuid/1/<line>), other JSON frames as states or json, the rest
    raw."""
    rows = []
    for o, ln in enumerate(open(path)):
        rx, text = ln.rstrip("\n").split("\t", 1)
        ref = "%s/1/%d" % (uuid, o)
        try:
            v = json.loads(text)
        except ValueError:
            rows.append((rx, ref, "raw", text))
            continue
        if isinstance(v, dict) and isinstance(v.get("events"), list):
            for ev in v["events"]:
                rows.append((rx, ref, "event", json.dumps(
                    ev, separators=(",", ":"), ensure_ascii=False)))
        elif isinstance(v, dict) and "states" in v:
            rows.append((rx, ref, "states", text))
        else:
            rows.append((rx, ref, "json", text))
    return rows


def feed(c, site, prefix, rows):
    for i, (rx, frame, kind, payload) in enumerate(rows):
        h = [("Evtape-Rx", rx), ("Evtape-Frame", frame),
             ("Evtape-Site", site), ("Evtape-Kind", kind)]
        mid = None
        if kind == "event":
            j = i
            while j > 0 and rows[j - 1][1] == frame and rows[j - 1][2] == kind:
                j -= 1
            k = i
            while (k + 1 < len(rows) and rows[k + 1][1] == frame and
                   rows[k + 1][2] == kind):
                k += 1
            h.append(("Evtape-Item", "%d/%d" % (i - j, k - j + 1)))
            try:
                ev = json.loads(payload)
                if isinstance(ev, dict) and isinstance(ev.get("id"), str) \
                        and ev["id"]:
                    mid = ev["id"]
            except ValueError:
                pass
            if mid is None:
                mid = frame.replace("/", ":") + ":%d" % (i - j)
        else:
            mid = frame.replace("/", ":")
        h.insert(0, ("Nats-Msg-Id", mid))
        c.publish(subject(prefix, kind, payload), payload.encode(), h)
        if c.inflight >= 1000:
            c.drain()
    c.drain()


def main():
    c = Conn(sys.argv[1])
    if sys.argv[2] == "create":
        cfg = {"name": sys.argv[3], "subjects": sys.argv[4].split(","),
               "storage": "file", "duplicate_window": 120000000000}
        r = json.loads(c.request("$JS.API.STREAM.CREATE." + sys.argv[3],
                                 json.dumps(cfg).encode()))
        if "error" in r:
            raise SystemExit("natsfeed: " + json.dumps(r))
    elif sys.argv[2] == "tsv":
        feed(c, sys.argv[3], sys.argv[4], tsv_rows(sys.argv[5], sys.argv[6]))
    else:
        feed(c, sys.argv[3], sys.argv[4], [
            ln.rstrip("\n").split("\t", 3) for ln in open(sys.argv[5])])


main()
