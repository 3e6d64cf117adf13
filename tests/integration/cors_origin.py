#!/usr/bin/env python3
"""cors_origin.py: the web server of the page's origin for browser_cors.sh.

Serves cors_page.html from 127.0.0.1 on a free port (written to the ready
file), and holds GET /hold open until the page POSTs its outcome to /done
(or 90 s pass): the page's <img src="/hold"> keeps the browser's load event,
at which chromium --dump-dom dumps the DOM, until the outcome is in it.
Each outcome line is also appended to the log file.  Runs until killed.
usage: cors_origin.py READY-FILE LOG-FILE
"""
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "cors_page.html"), "rb").read()
done = threading.Event()
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/cors_page.html":
            self.reply(200, "text/html; charset=utf-8", PAGE)
        elif path == "/hold":
            done.wait(90)
            with lock:
                done.clear()    # the next page load waits again
            self.reply(404, "text/plain", b"")
        else:
            self.reply(404, "text/plain", b"")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        line = self.rfile.read(n).decode("utf-8", "replace")
        if self.path == "/done":
            with open(sys.argv[2], "a") as f:
                f.write(line.replace("\n", " ") + "\n")
            done.set()
        self.reply(204, "text/plain", b"")


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
