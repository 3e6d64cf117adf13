#!/usr/bin/python3
"""damage.py: what damage costs (`make bench`, run by damage.sh).

    damage.py EVTOOL ARCHIVE TRIALS SEED

Damages the archive's bytes at TRIALS random (seeded) positions, one at a
time, and counts the events `evtool cat` still prints; each damage is
undone before the next.  Two kinds: 16 bytes flipped (every bit inverted)
and a zeroed 4 KiB range, each starting at a position drawn uniformly
over every byte of every segment file.  Twice: the archive as written
(sealed) and a copy whose segments lost their index and trailer (read as
open segments, where the dictionary comes from the blocks themselves).
Prints one line per case: mean, median and largest loss in events.
"""
import os
import random
import shutil
import struct
import subprocess
import sys


def count(evtool, arch):
    """Events that `evtool cat` prints (damage warnings ignored)."""
    p = subprocess.run("%s cat %s 2>/dev/null | wc -l" % (evtool, arch),
                       shell=True, stdout=subprocess.PIPE, check=False)
    return int(p.stdout)


def segments(arch):
    """The segment files and their sizes."""
    names = sorted(n for n in os.listdir(arch) if n.startswith("seg-"))
    return [(os.path.join(arch, n), os.path.getsize(os.path.join(arch, n)))
            for n in names]


def unseal(src, dst):
    """A copy of the archive whose segments end at their data_end."""
    shutil.copytree(src, dst)
    for path, size in segments(dst):
        with open(path, "r+b") as f:
            f.seek(size - 128)
            t = f.read(128)
            if t[:8] == b"\x89EVTIDX\n":
                f.truncate(struct.unpack_from("<Q", t, 16)[0])


def trials(evtool, arch, n, seed, kind):
    """Losses of n damages of one kind at seeded random positions."""
    total = count(evtool, arch)
    segs = segments(arch)
    size = sum(s for _, s in segs)
    rnd = random.Random(seed)
    lost = []
    for _ in range(n):
        pos = rnd.randrange(size)
        for path, s in segs:
            if pos < s:
                break
            pos -= s
        length = min(16 if kind == "flip16" else 4096, s - pos)
        with open(path, "r+b") as f:
            f.seek(pos)
            old = f.read(length)
            f.seek(pos)
            f.write(bytes(b ^ 0xFF for b in old) if kind == "flip16"
                    else bytes(length))
        try:
            lost.append(total - count(evtool, arch))
        finally:
            with open(path, "r+b") as f:
                f.seek(pos)
                f.write(old)
    return total, lost


def main():
    evtool, arch, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        int(sys.argv[4])
    unseal(arch, arch + ".open")
    for state, a in (("sealed", arch), ("open", arch + ".open")):
        for kind in ("flip16", "zero4k"):
            total, lost = trials(evtool, a, n, seed, kind)
            lost.sort()
            mean = sum(lost) / len(lost)
            print("%s %s %d %.1f %d %d %d" % (
                state, kind, total, mean, lost[len(lost) // 2], lost[-1],
                sum(1 for x in lost if x == 0)))
    shutil.rmtree(arch + ".open")


main()
