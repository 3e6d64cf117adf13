"""catstate.py DIR: the state of DIR's catalog by formats/catalog.md
alone: "current", "stale" (valid, not current), "invalid" or "absent".
The directory is stat()ed before the catalog is read, as the spec says."""
import os
import struct
import sys

from crc32c import crc32c


def state(d):
    """The catalog state of directory d."""
    st = os.stat(d)
    try:
        with open(os.path.join(d, "CATALOG"), "rb") as f:
            b = f.read()
    except FileNotFoundError:
        return "absent"
    if len(b) < 64 or b[:8] != b"\x89EVTCAT\n" or \
            crc32c(b[:60]) != struct.unpack_from("<I", b, 60)[0]:
        return "invalid"
    ver, hs, ss, rs, dev, ino, ms, mns, fl, ns, nr, bcrc = \
        struct.unpack_from("<HHHHQQqIIIII", b, 8)
    end = hs + ns * ss + nr * rs
    if ver != 1 or hs < 64 or ss < 72 or rs < 16 or ns > 1 << 24 or \
            nr > 1 << 20 or end > len(b) or crc32c(b[64:end]) != bcrc:
        return "invalid"
    if hs >= 72:
        # Revision 1.6: the roll-up runs, after the run entries.
        nsum, scrc = struct.unpack_from("<II", b, 64)
        if nsum > 1 << 20 or end + nsum * rs > len(b) or \
                crc32c(b[end:end + nsum * rs]) != scrc:
            return "invalid"
    prev = 0
    for i in range(ns):
        seq, = struct.unpack_from("<Q", b, hs + i * ss)
        if not prev < seq <= 999999999999:
            return "invalid"
        prev = seq
    if fl & 1 and (dev, ino, ms, mns) == (st.st_dev, st.st_ino,
                                          st.st_mtime_ns // 10**9,
                                          st.st_mtime_ns % 10**9):
        return "current"
    return "stale"


if __name__ == "__main__":
    print(state(sys.argv[1]))
