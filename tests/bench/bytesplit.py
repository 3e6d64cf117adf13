#!/usr/bin/python3
"""bytesplit.py: where an archive's bytes go (docs/measurements.md).

Walks every sealed segment given by its block headers and trailer
(formats/segment.md, "Block header", "Trailer") and prints, per part of
the file, its bytes, bytes/event and share: segment headers, block
headers, zstd frames (the msgpack records), GUID columns (the event ids),
index metadata, id filters, trailers.  Reads sealed segments only; a
measuring aid, not a verifier (use `evtool verify`).

usage: bytesplit.py SEGMENT...
"""
import struct
import sys


def split(path, tot):
    """Adds the parts of one sealed segment to tot; returns its events."""
    d = open(path, "rb").read()
    tr = d[-128:]
    if tr[:8] != b"\x89EVTIDX\n":
        sys.exit("bytesplit.py: %s: not a sealed segment (no trailer)" % path)
    data_end, _, meta_len, _, filt_len = struct.unpack_from("<5Q", tr, 16)
    (nevents,) = struct.unpack_from("<Q", tr, 72)
    tot["segment header"] += 64
    tot["trailer"] += 128
    tot["index metadata"] += meta_len
    tot["id filter"] += filt_len
    off = 64
    while off < data_end:
        if d[off:off + 4] != b"\x9eEBK":
            sys.exit("bytesplit.py: %s: offset %d: not a block header" % (path, off))
        zlen, rawlen, nguid = struct.unpack_from("<3I", d, off + 8)
        (flags,) = struct.unpack_from("<I", d, off + 36)
        # Revisions 1.4 (block version 2) and 1.6 (3): a packed column
        # holds 122 bits per id.
        packed = d[off + 6] in (2, 3) and flags & 0x10
        glen = (122 * nguid + 7) // 8 if packed else 16 * nguid
        tot["block headers"] += 64
        tot["zstd frames (records)"] += zlen
        tot["GUID columns (ids)"] += glen
        tot["records before zstd"] += rawlen
        off += 64 + zlen + glen
    return nevents


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    parts = ["segment header", "block headers", "zstd frames (records)",
             "GUID columns (ids)", "index metadata", "id filter", "trailer"]
    tot = dict.fromkeys(parts + ["records before zstd"], 0)
    n = sum(split(p, tot) for p in sys.argv[1:])
    size = sum(tot[p] for p in parts)
    print("%d events, %d bytes, %.2f bytes/event" % (n, size, size / max(n, 1)))
    for p in parts:
        print("  %-22s %11d  %6.2f bytes/event  %5.1f %%"
              % (p, tot[p], tot[p] / max(n, 1), 100.0 * tot[p] / max(size, 1)))
    z = tot["zstd frames (records)"]
    nofilt = size - tot["id filter"]
    print("  without the id filters: %.2f bytes/event" % (nofilt / max(n, 1)))
    print("  records: %.2f bytes/event before zstd (in columnar form for "
          "blocks of revision 1.4 and later), ratio %.2f"
          % (tot["records before zstd"] / max(n, 1), tot["records before zstd"] / max(z, 1)))


main()
