"""corruption.py: the corruption campaign of corruption.sh (TAP output).

usage: corruption.py EVTOOL EVPLAY ARCHIVE REF.jsonl WORKDIR SEED CASES

ARCHIVE is a good archive and REF.jsonl its `evtool cat`.  Each case
copies the archive, applies one damage chosen by a PRNG seeded with SEED
(bit flips, 16-byte flips, zeroed 4 KiB ranges, truncations at block
boundaries and mid-block, a segment replaced by a directory, a FIFO or a
dangling symlink, a removed middle segment) and checks the rule of
issue 10, item 2 on `evtool cat` (and `evtool verify`, and every fourth
case `evplay`): every reference event is either printed unchanged, in
order, or counted as lost on stderr, never silently dropped or altered;
the exit status is 1 whenever something was lost; where the tools cannot
count (a whole unreadable segment, a block header that does not check),
they say so ("an unknown number more in K damaged places") and fail.
When they give an exact count ("N events could not be read"), it must be
exact.
"""
import os
import random
import re
import shutil
import stat
import struct
import subprocess
import sys

evtool, evplay, archive, refpath, work, seed, ncases = sys.argv[1:8]
seed, ncases = int(seed), int(ncases)
ref = open(refpath, 'rb').read().splitlines()
segs = sorted(n for n in os.listdir(archive) if n.startswith('seg-'))
n = 0
failed = 0
SUMMARY = re.compile(rb': (?:(\d+)|at least (\d+)) events could not be '
                     rb'read(?:, and an unknown number more in (\d+) '
                     rb'damaged places)?$', re.M)


def check(ok, what):
    global n, failed
    n += 1
    failed += not ok
    print('%sok %d - %s' % ('' if ok else 'not ', n, what), flush=True)


def blocks(data):
    """Offsets of the ends of a segment's blocks (from the headers)."""
    end = len(data)
    if len(data) >= 192 and data[-128:-120] == b'\x89EVTIDX\n':
        end = struct.unpack_from('<Q', data, len(data) - 128 + 16)[0]
    off, out = 64, []
    while off + 64 <= end and data[off:off + 4] == b'\x9eEBK':
        zlen, = struct.unpack_from('<I', data, off + 8)
        nguid, = struct.unpack_from('<I', data, off + 16)
        flags, = struct.unpack_from('<I', data, off + 36)
        # A packed GUID column (revision 1.4, block versions 2 and 3):
        # 122 bits an id.
        packed = data[off + 6] in (2, 3) and flags & 0x10
        off += 64 + zlen + ((122 * nguid + 7) // 8 if packed else 16 * nguid)
        out.append(off)
    return out


def damage(rng, d):
    """Applies one damage to the archive copy d; returns its description."""
    kinds = ['bitflip', 'flip16', 'zero4k', 'trunc_block', 'trunc_mid',
             'nonreg', 'remove']
    kind = kinds[rng.randrange(len(kinds))]
    if kind == 'remove' and len(segs) < 3:
        kind = 'bitflip'
    if kind == 'remove':
        name = segs[rng.randrange(1, len(segs) - 1)]
        os.unlink(os.path.join(d, name))
        return '%s %s' % (kind, name)
    # A newest unsealed segment cut exactly at a block boundary is what a
    # writer's crash after that block leaves: nobody can tell that
    # anything is missing (formats/archive.md, "Reading an archive"), so
    # such cuts go to the sealed segments only.
    pool = segs[:-1] if kind == 'trunc_block' else segs
    sizes = [os.path.getsize(os.path.join(d, s)) for s in pool]
    name = rng.choices(pool, weights=sizes)[0]
    p = os.path.join(d, name)
    if kind == 'nonreg':
        how = rng.choice(['directory', 'fifo', 'dangling symlink'])
        os.unlink(p)
        if how == 'directory':
            os.mkdir(p)
        elif how == 'fifo':
            os.mkfifo(p)
        else:
            os.symlink(os.path.join(d, 'nowhere'), p)
        return '%s %s (%s)' % (kind, name, how)
    data = bytearray(open(p, 'rb').read())
    if kind == 'trunc_block':
        cut = rng.choice([64] + blocks(data))
        del data[cut:]
        desc = 'at block boundary %d' % cut
    elif kind == 'trunc_mid':
        cut = rng.randrange(0, len(data))
        del data[cut:]
        desc = 'at %d' % cut
    elif kind == 'bitflip':
        off = rng.randrange(len(data))
        data[off] ^= 1 << rng.randrange(8)
        desc = 'at %d' % off
    elif kind == 'flip16':
        off = rng.randrange(max(1, len(data) - 16))
        for i in range(off, min(off + 16, len(data))):
            data[i] ^= rng.randrange(1, 256)
        desc = 'at %d' % off
    else:
        off = rng.randrange(len(data))
        end = min(off + 4096, len(data))
        data[off:end] = bytes(end - off)
        desc = 'at %d' % off
    open(p, 'wb').write(data)
    return '%s %s %s' % (kind, name, desc)


def run(argv):
    """Runs a reader with a bound; returns (status, stdout, stderr)."""
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)  # (kills with SIGKILL)
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired:
        return 'hung', b'', b''


def judge(what, rc, out, err):
    """Checks the rule on one reader's output; returns (lost, said)."""
    got = out.splitlines()
    # Printed unchanged and in order: a subsequence of the reference.
    i = 0
    altered = 0
    for line in got:
        while i < len(ref) and ref[i] != line:
            i += 1
        if i == len(ref):
            altered += 1
        else:
            i += 1
    lost = len(ref) - (len(got) - altered)
    m = SUMMARY.search(err)
    known = unknown = 0
    if m:
        known = int(m.group(1) or m.group(2))
        unknown = int(m.group(3) or 0)
    said = 'said nothing' if not m else (
        '%d lost' % known if not unknown else
        'at least %d lost, %d places unknown' % (known, unknown))
    ok = rc != 'hung' and rc in (0, 1) and altered == 0
    if lost > 0:
        ok = ok and rc == 1 and m is not None and (
            known == lost if unknown == 0 else known <= lost)
    elif m is not None and unknown == 0:
        ok = ok and known == 0
    if not ok:
        print('#   %s: status %s, %d printed, %d altered, %d missing, %s'
              % (what, rc, len(got), altered, lost, said))
        for line in err.decode(errors='replace').splitlines()[:8]:
            print('#     ' + line)
    return ok, lost, said


rng = random.Random(seed)
totals = {'lost': 0, 'exact': 0, 'unknown': 0, 'clean': 0}
for case in range(ncases):
    d = os.path.join(work, 'case%d' % case)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(archive, d, symlinks=True)
    desc = damage(rng, d)
    rc, out, err = run([evtool, 'cat', d])
    ok, lost, said = judge('cat', rc, out, err)
    check(ok, 'case %d (seed %d): %s: cat: %d of %d events missing, %s, '
          'status %s' % (case, seed, desc, lost, len(ref), said, rc))
    if lost == 0:
        totals['clean'] += 1
    else:
        totals['lost'] += lost
        totals['unknown' if 'unknown' in said else 'exact'] += 1
    vrc, vout, verr = run([evtool, 'verify', d])
    check(vrc != 'hung' and (vrc == 1 or (lost == 0 and vrc == 0)),
          'case %d: verify exits %s%s' % (case, vrc,
                                         ' (something was lost)' if lost else ''))
    if case % 4 == 0:
        prc, pout, perr = run([evplay, '--top-speed', '-q', d])
        pok, plost, psaid = judge('evplay', prc, pout, perr)
        check(pok and pout == out and prc == rc,
              'case %d: evplay: plays what cat prints (%d missing, %s), '
              'status %s' % (case, plost, psaid, prc))
    for root, dirs, files in os.walk(d, topdown=False):
        for x in dirs + files:
            q = os.path.join(root, x)
            if stat.S_ISDIR(os.lstat(q).st_mode):
                os.rmdir(q)
            else:
                os.unlink(q)
    os.rmdir(d)
print('# %d cases: %d lost nothing, %d gave an exact count, %d an unknown '
      'count; %d events lost in all' % (ncases, totals['clean'],
                                        totals['exact'], totals['unknown'],
                                        totals['lost']))
print('1..%d' % n)
sys.exit(1 if failed else 0)
