"""ckptedit.py SEGMENT flip|garble: rewrites a sealed segment's state
checkpoint (formats/segment.md, "State checkpoint") with every checksum
made right again, as a writer with a bug or a hostile one would leave it:
flip changes a character of an entry's "type" (the checkpoint then
disagrees with the events), garble renames its "entries" key (it no
longer decodes).  The metadata is decompressed and compressed again with
the zstd program."""
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crc32c import crc32c  # noqa: E402


def main():
    path, mode = sys.argv[1], sys.argv[2]
    d = open(path, 'rb').read()
    t = bytearray(d[-128:])
    assert t[:8] == b'\x89EVTIDX\n', 'not sealed'
    meta_off, meta_len, filt_off, filt_len = struct.unpack_from('<QQQQ', t, 24)
    raw = subprocess.run(['zstd', '-q', '-d', '-c'],
                         input=d[meta_off:meta_off + meta_len],
                         stdout=subprocess.PIPE, check=True).stdout
    m = bytearray(raw)
    k = m.find(b'\xaacheckpoint')
    assert k >= 0, 'no checkpoint'
    if mode == 'flip':
        j = m.find(b'"type":"', k)
        assert j >= 0, 'no entry with a type'
        m[j + 8] = ord('0') if m[j + 8] != ord('0') else ord('1')
    else:
        j = m.find(b'entries', k)
        assert j >= 0
        m[j + 6] = ord('z')
    with tempfile.TemporaryDirectory() as td:
        src = os.path.join(td, 'm')
        open(src, 'wb').write(m)
        subprocess.run(['zstd', '-q', '-f', src, '-o', src + '.zst'],
                       check=True)
        z = open(src + '.zst', 'rb').read()
    struct.pack_into('<QQ', t, 32, len(z), meta_off + len(z))
    struct.pack_into('<I', t, 104, crc32c(z))
    struct.pack_into('<I', t, 124, crc32c(bytes(t[:124])))
    out = d[:meta_off] + z + d[filt_off:filt_off + filt_len] + bytes(t)
    open(path, 'wb').write(out)


main()
