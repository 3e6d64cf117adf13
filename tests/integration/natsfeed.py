#!/usr/bin/env python3
"""natsfeed.py: a test-only publisher of evtape NATS messages (the issue
16 contract: subjects P.ev.<rt>.<type> / P.mk.<kind>, headers Nats-Msg-Id,
Evtape-Rx, -Frame, -Item, -Site, -Kind), speaking the NATS client
protocol over a plain socket (no client library needed).

  natsfeed.py PORT create STREAM SUBJECTS      make a file stream
  natsfeed.py PORT feed SITE PREFIX FILE       publish FILE's lines

FILE lines: "rx<TAB>frame<TAB>kind<TAB>payload" (kind event|session|gap|
config|states|json|raw; frame "uuid/seq/ord"; events of one frame on
consecutive lines).  Each publish waits for JetStream's ack (a request
to the subject with a reply inbox), so the stream holds everything when
it exits 0.
"""
import json
import socket
import sys


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", int(port)))
        self.buf = b""
        self.line()  # INFO
        self.s.sendall(b'CONNECT {"verbose":false,"pedantic":false,'
                       b'"headers":true,"no_responders":true}\r\n'
                       b"SUB _INBOX.feed.* 1\r\n")
        self.n = 0

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

    def request(self, subj, payload, headers=None):
        self.n += 1
        inbox = "_INBOX.feed.%d" % self.n
        if headers:
            h = "NATS/1.0\r\n" + "".join("%s: %s\r\n" % kv for kv in
                                         headers) + "\r\n"
            hb = h.encode()
            self.s.sendall(b"HPUB %s %s %d %d\r\n" % (
                subj.encode(), inbox.encode(), len(hb),
                len(hb) + len(payload)) + hb + payload + b"\r\n")
        else:
            self.s.sendall(b"PUB %s %s %d\r\n" % (
                subj.encode(), inbox.encode(), len(payload)) +
                payload + b"\r\n")
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


def feed(c, site, prefix, path):
    rows = [ln.rstrip("\n").split("\t", 3) for ln in open(path)]
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
        ack = json.loads(c.request(subject(prefix, kind, payload),
                                   payload.encode(), h))
        if "error" in ack:
            raise SystemExit("natsfeed: " + json.dumps(ack))


def main():
    c = Conn(sys.argv[1])
    if sys.argv[2] == "create":
        cfg = {"name": sys.argv[3], "subjects": sys.argv[4].split(","),
               "storage": "file", "duplicate_window": 120000000000}
        r = json.loads(c.request("$JS.API.STREAM.CREATE." + sys.argv[3],
                                 json.dumps(cfg).encode()))
        if "error" in r:
            raise SystemExit("natsfeed: " + json.dumps(r))
    else:
        feed(c, sys.argv[3], sys.argv[4], sys.argv[5])


main()
