#!/usr/bin/env python3
"""stamp.py: a timestamping reader for replay tests and benchmarks.

Reads lines from the file named (a FIFO: opened once Python runs, so the
writer's first line does not wait for the interpreter to start) or stdin
and writes "<monotonic us>\t<line>" to stdout
(stamped when the line arrives, written at the end).
"""
import sys
import time

out = []
buf = open(sys.argv[1], "rb") if len(sys.argv) > 1 else sys.stdin.buffer
mono = time.monotonic_ns
for line in buf:
    out.append((mono() // 1000, line))
w = sys.stdout.buffer
for t, line in out:
    w.write(b"%d\t" % t + line)
