#!/usr/bin/env python3
"""reportref.py: checks an `evtool report` HTML file against the facts of
its archive computed here independently, from `evtool cat --tsv` (every
received frame) and `cat --markers` alone.

  reportref.py TSV MARKERS HTML FROM_US TO_US [--lanes N] [--rows N]
               [--around ID] [--lookback US|all]

Checks: one lane per busiest source (most events in the window, ties by
id), in that order; per lane as many bars as state intervals (the state
of each (source, state group) at the window's start from the last
getState answer and the events received in the look-back before it (1 h
unless --lookback), then one per change: a stateful event of another
type, or a getState answer in the window, which sets the groups it names
and ends the others; a run of intervals each narrower than NARROW of the
1,000 timeline columns is one bar) and as
many ticks as timeline columns holding a stateless event; a shaded gap
per GAP marker; the events table's rows (the first N, their ids in
order) and the count of the rest; the events-by-type rows; the --around
row and line; no element from the archive's text (no <script>, no
attribute injected).  Exits 1 with the first difference.
"""
import json
import sys
from html.parser import HTMLParser

COLS = 1000
NARROW = 4      # EVT_REPORT_NARROW of include/evtape/report.h


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = set()
        self.lanes = []        # [source, bars, ticks]
        self.lane = None
        self.rows = []         # event ids of the events table
        self.table = None
        self.types = 0
        self.gaps = 0
        self.around_line = False
        self.around_rows = []
        self.more = ''
        self.in_more = False
        self.attrs_seen = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        for k, _ in attrs:
            self.attrs_seen.add(k)
        cls = a.get('class', '')
        if tag == 'table':
            self.table = a.get('id')
        if tag == 'g' and cls == 'lane':
            self.lane = [a['data-source'], 0, 0]
            self.lanes.append(self.lane)
        if tag == 'rect' and cls == 'bar':
            self.lane[1] += 1
        if tag == 'line' and cls == 'tick':
            self.lane[2] += 1
        if tag == 'rect' and cls == 'gap':
            self.gaps += 1
        if tag == 'line' and a.get('id') == 'around':
            self.around_line = True
        if tag == 'tr' and self.table == 'events' and 'id' in a:
            self.rows.append(a['id'][3:])
            if cls == 'around':
                self.around_rows.append(a['id'][3:])
        if tag == 'tr' and self.table == 'types':
            self.types += 1
        if tag == 'p' and a.get('id') == 'more':
            self.in_more = True

    def handle_endtag(self, tag):
        if tag == 'g':
            self.lane = None
        if tag == 'p':
            self.in_more = False

    def handle_data(self, data):
        if self.in_more:
            self.more += data


def frames(tsv):
    for line in open(tsv, encoding='utf-8'):
        rx, msg = line.rstrip('\n').split('\t', 1)
        yield int(rx), json.loads(msg)


def main():
    tsv, markers, html, lo, hi = sys.argv[1:6]
    lo, hi = int(lo), int(hi)
    opts = sys.argv[6:]
    lanes_n = int(opts[opts.index('--lanes') + 1]) if '--lanes' in opts \
        else 20
    rows_n = int(opts[opts.index('--rows') + 1]) if '--rows' in opts \
        else 500
    around = opts[opts.index('--around') + 1] if '--around' in opts \
        else None
    back = opts[opts.index('--lookback') + 1] if '--lookback' in opts \
        else str(3600 * 10**6)
    since = None if back == 'all' else lo - int(back)
    state, events, answers = {}, [], []
    for rx, m in frames(tsv):
        if rx >= hi:
            break
        if rx < lo:
            if since is not None and rx < since:
                continue
            if 'states' in m:
                state = {}
            for e in m.get('states', []) + m.get('events', []):
                if 'stategroupid' in e:
                    state[(e['source'].lower(),
                           e['stategroupid'].lower())] = e['type'].lower()
            continue
        events += [(rx, e) for e in m.get('events', [])]
        if 'states' in m:
            answers.append((rx, m['states']))
    count = {}
    for _, e in events:
        count[e['source']] = count.get(e['source'], 0) + 1
    busiest = sorted(count, key=lambda s: (-count[s], s))[:lanes_n]
    want = []
    def col(rx):
        return max(0, min(COLS - 1, (rx - lo) * COLS // (hi - lo)))

    for src in busiest:
        # cur: group -> [type, start]; thin: group -> its last bar is
        # made of intervals each shorter than a column (a narrow one after
        # such a bar is merged into it, not drawn as a new bar).
        cur = {g: [t, lo] for (s, g), t in state.items()
               if s == src.lower()}
        thin, bars, cols = {}, [0], set()

        def close(g, end):
            narrow = (end - cur[g][1]) * COLS < (hi - lo) * NARROW
            if not (narrow and thin.get(g)):
                bars[0] += 1
                thin[g] = narrow

        def enter(g, t, rx):
            if g not in cur or cur[g][0] != t:
                if g in cur:
                    close(g, rx)
                cur[g] = [t, rx]

        # The events and getState answers in receive order (an answer
        # before the events of its time: frames are read in order, and
        # the events list is of messages only; ties do not occur here).
        timeline = sorted([(rx, 0, e) for rx, e in events] +
                          [(rx, 1, st) for rx, st in answers],
                          key=lambda x: (x[0], -x[1]))
        for rx, kind, x in timeline:
            if kind == 1:
                named = set()
                for e in x:
                    if e['source'].lower() == src.lower() and \
                            'stategroupid' in e:
                        g = e['stategroupid'].lower()
                        named.add(g)
                        enter(g, e['type'].lower(), rx)
                for g in [g for g in cur if g not in named]:
                    close(g, rx)
                    del cur[g]
                continue
            e = x
            if e['source'] != src:
                continue
            if 'stategroupid' not in e:
                cols.add(col(rx))
                continue
            enter(e['stategroupid'].lower(), e['type'].lower(), rx)
        for g in cur:
            close(g, hi)
        want.append([src, bars[0], len(cols)])
    p = Page()
    p.feed(open(html, encoding='utf-8').read())
    gaps = sum(1 for line in open(markers, encoding='utf-8')
               if line.split('\t')[1] == 'GAP' and
               lo <= int(line.split('\t')[0]) < hi)

    def fail(what, got, exp):
        sys.exit('%s: report has %r, the archive says %r' % (what, got, exp))

    if p.lanes != want:
        fail('lanes [source, bars, ticks]', p.lanes, want)
    ids = [e['id'] for _, e in events]
    if p.rows != ids[:rows_n]:
        fail('events table rows', p.rows[:5], ids[:5])
    rest = len(ids) - min(rows_n, len(ids))
    if (rest and str(rest) + ' more' not in p.more) or \
            (not rest and 'All %d' % len(ids) not in p.more):
        fail('the count of the rest', p.more, rest)
    if p.types - 1 != len({e['type'] for _, e in events}):
        fail('events by type rows', p.types - 1,
             len({e['type'] for _, e in events}))
    if p.gaps != gaps:
        fail('shaded gaps', p.gaps, gaps)
    if around is not None and (p.around_rows != [around] or
                               not p.around_line):
        fail('the around event', (p.around_rows, p.around_line), around)
    bad = p.tags - {'html', 'head', 'meta', 'title', 'style', 'body', 'h1',
                    'h2', 'p', 'table', 'tbody', 'tr', 'th', 'td', 'a', 'code',
                    'svg', 'g', 'rect', 'line', 'text', 'small'}
    if bad:
        fail('elements', sorted(bad), 'only the report\'s own')
    if p.attrs_seen - {'lang', 'charset', 'id', 'class', 'href', 'width',
                       'height', 'xmlns', 'x', 'y', 'x1', 'y1', 'x2', 'y2',
                       'fill', 'data-source', 'text-anchor'}:
        fail('attributes', sorted(p.attrs_seen), 'only the report\'s own')


if __name__ == '__main__':
    main()
