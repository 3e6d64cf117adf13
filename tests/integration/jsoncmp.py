#!/usr/bin/env python3
"""jsoncmp.py A B [--tsv]: compares two files line by line as JSON under
evtape's losslessness contract: same keys in the same order (duplicates
kept), same values, same string contents, and number texts identical.
Only escapes and insignificant whitespace may differ.  Lines that are not
JSON must be byte-identical.  With --tsv, each line is "<rx>\\t<json>" and
the receive times must match too.  Exit 0 if equal, 1 with the first
difference otherwise."""
import json
import sys


def canon(text):
    try:
        return ("json", json.loads(text, object_pairs_hook=lambda kv: ("obj", kv),
                                   parse_float=lambda s: ("num", s),
                                   parse_int=lambda s: ("num", s),
                                   parse_constant=lambda s: ("bad", s)))
    except ValueError:
        return ("raw", text)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    tsv = "--tsv" in sys.argv
    with open(args[0], encoding="utf-8", errors="surrogateescape") as fa, \
            open(args[1], encoding="utf-8", errors="surrogateescape") as fb:
        la = fa.read().split("\n")
        lb = fb.read().split("\n")
    if la and la[-1] == "":
        la.pop()
    if lb and lb[-1] == "":
        lb.pop()
    if len(la) != len(lb):
        print("line counts differ: %d vs %d" % (len(la), len(lb)))
        return 1
    for i, (a, b) in enumerate(zip(la, lb)):
        if tsv:
            ra, _, a = a.partition("\t")
            rb, _, b = b.partition("\t")
            if ra != rb:
                print("line %d: receive time %s vs %s" % (i + 1, ra, rb))
                return 1
        if canon(a) != canon(b):
            print("line %d differs:\n  %s\n  %s" % (i + 1, a[:300], b[:300]))
            return 1
    print("equal: %d lines" % len(la))
    return 0


if __name__ == "__main__":
    sys.exit(main())
