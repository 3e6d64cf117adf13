"""hostile.py: hostile peers for evrec_hostile.sh (real sockets, 127.0.0.1).

  hostile.py hog PORT N READY RELEASE
      opens N TCP connections to 127.0.0.1:PORT that send nothing (fewer
      if connecting fails), writes their number to READY, holds them until the file RELEASE
      exists (at most 120 s), then closes them.
  hostile.py idle PORT
      opens one connection that sends nothing; exits 0 once the server
      closes it (at most 60 s), 1 otherwise.
  hostile.py get PORT PATH
      GET http://127.0.0.1:PORT/PATH; prints the status and the body.
  hostile.py fragments PORTFILE COUNTFILE
      a WebSocket "gateway" on a free port (written to PORTFILE): every
      connection is upgraded, then it gets a text message that never ends,
      an empty non-final continuation frame every 50 ms; COUNTFILE holds the
      number of connections so far.  Lives 120 s at most.
"""
import asyncio
import base64
import hashlib
import os
import socket
import sys
import time
import urllib.request


def hog(port, n, ready, release):
    socks = []
    for _ in range(n):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port),
                                                  timeout=3))
        except OSError:
            break  # the server's queue is full: hold what we have
    tmp = ready + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % len(socks))
    os.rename(tmp, ready)
    end = time.monotonic() + 120
    while not os.path.exists(release) and time.monotonic() < end:
        time.sleep(0.05)
    for s in socks:
        s.close()


def idle(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    try:
        return 0 if s.recv(1) == b"" else 1
    except OSError:
        return 0  # reset: closed as well
    finally:
        s.close()


def get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/%s" % (port, path),
                                    timeout=20) as r:
            print(r.status)
            sys.stdout.write(r.read().decode())
    except urllib.error.HTTPError as e:
        print(e.code)
    return 0


conns = 0


async def fragments_conn(reader, writer, countfile):
    global conns
    conns += 1
    tmp = countfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % conns)
    os.rename(tmp, countfile)
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        key = b""
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"sec-websocket-key:"):
                key = line.split(b":", 1)[1].strip()
        acc = base64.b64encode(hashlib.sha1(
            key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\n"
                     b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + acc + b"\r\n\r\n")
        writer.write(b"\x01\x00")  # text, not final, empty
        while True:
            writer.write(b"\x00\x00")  # continuation, not final, empty
            await writer.drain()
            await asyncio.sleep(0.05)
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def fragments(portfile, countfile):
    srv = await asyncio.start_server(
        lambda r, w: fragments_conn(r, w, countfile), "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, portfile)
    await asyncio.sleep(120)


def main():
    cmd = sys.argv[1]
    if cmd == "hog":
        hog(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
        return 0
    if cmd == "idle":
        return idle(int(sys.argv[2]))
    if cmd == "get":
        return get(int(sys.argv[2]), sys.argv[3])
    if cmd == "fragments":
        asyncio.run(fragments(sys.argv[2], sys.argv[3]))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
