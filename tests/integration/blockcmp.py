#!/usr/bin/env python3
"""blockcmp.py: how many blocks of one archive are byte for byte blocks of
another (formats/segment.md, "Block": a block is its 64-byte header, its
zstd frame and its GUID column).

usage: blockcmp.py OUT SRC
Walks the blocks of every segment of OUT and of SRC from offset 64, by
their headers (zlen at 8, nguid at 16, version at 6, flags at 36: a
packed column when bit 4 is set in a version 2 or 3 block), up to the
first bytes that are not a block header; prints "SAME TOTAL": the blocks
of OUT whose bytes are those of a block of SRC, and all blocks of OUT.
"""
import glob
import os
import struct
import sys

MAGIC = b"\x9eEBK"


def blocks(path):
    """The bytes of each block of a segment file, in file order."""
    data = open(path, "rb").read()
    off = 64
    while off + 64 <= len(data) and data[off:off + 4] == MAGIC:
        version = data[off + 6]
        zlen, _, nguid = struct.unpack_from("<III", data, off + 8)
        flags = struct.unpack_from("<I", data, off + 36)[0]
        packed = version in (2, 3) and flags & 0x10
        glen = (122 * nguid + 7) // 8 if packed else 16 * nguid
        end = off + 64 + zlen + glen
        yield data[off:end]
        off = end


def archive(d):
    for seg in sorted(glob.glob(os.path.join(d, "seg-*.evt"))):
        yield from blocks(seg)


def main():
    src = set(archive(sys.argv[2]))
    out = list(archive(sys.argv[1]))
    print(sum(1 for b in out if b in src), len(out))


if __name__ == "__main__":
    main()
