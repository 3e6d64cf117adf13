#!/usr/bin/python3
"""natssub.py: a test-only core NATS subscriber (the client protocol over a
plain socket, no library): evplay_publish.sh's view of what a test system
listening on the bus receives.

    natssub.py HOST:PORT SUBJECT OUT READY [COUNT]

Connects (headers on), subscribes to SUBJECT, makes sure the server has the
subscription (PING/PONG), then writes READY and appends each message to OUT
as one JSON line {"subject":..., "headers":{...}, "data":...} (data: the
payload as text), flushed at once.  Exits 0 after COUNT messages (default:
never), on SIGTERM, or 1 when the server closes the connection.
"""
import json
import signal
import socket
import sys


def headers(block):
    """The headers of an HMSG header block (NATS/1.0 line first)."""
    h = {}
    for line in block.decode().split("\r\n")[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            h[k.strip()] = v.strip()
    return h


class Conn:
    def __init__(self, hostport):
        host, port = hostport.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)))
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            self.more()
        i = self.buf.index(b"\r\n")
        ln, self.buf = self.buf[:i], self.buf[i + 2:]
        return ln.decode()

    def take(self, n):
        while len(self.buf) < n + 2:
            self.more()
        b, self.buf = self.buf[:n], self.buf[n + 2:]
        return b

    def more(self):
        b = self.s.recv(65536)
        if not b:
            sys.exit(1)
        self.buf += b

    def send(self, text):
        self.s.sendall(text.encode() + b"\r\n")


def main():
    hostport, subject, out, ready = sys.argv[1:5]
    count = int(sys.argv[5]) if len(sys.argv) > 5 else -1
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    c = Conn(hostport)
    if not c.line().startswith("INFO "):
        sys.exit("natssub: no INFO from the server")
    c.send('CONNECT {"verbose":false,"pedantic":false,"headers":true,'
           '"no_responders":true,"protocol":1,"lang":"test","version":"0"}')
    c.send("SUB %s 1" % subject)
    c.send("PING")
    f = open(out, "a")
    n = 0
    while n != count:
        ln = c.line()
        op = ln.split(" ")
        if op[0] == "PONG" and ready:
            open(ready, "w").write("ready\n")
            ready = None
        elif op[0] == "PING":
            c.send("PONG")
        elif op[0] == "-ERR":
            sys.exit("natssub: " + ln)
        elif op[0] in ("MSG", "HMSG"):
            hlen = int(op[-2]) if op[0] == "HMSG" else 0
            body = c.take(int(op[-1]))
            rec = {"subject": op[1],
                   "headers": headers(body[:hlen]) if hlen else {},
                   "data": body[hlen:].decode("utf-8", "replace")}
            f.write(json.dumps(rec) + "\n")
            f.flush()
            n += 1


if __name__ == "__main__":
    main()
