/*
 * test_segment.c: unit tests for segment files (src/segment_writer.c,
 * src/segment_reader.c) and the archive directory (src/archive.c).
 *
 * Everything happens in a private mkdtemp() directory.  A corpus of frames
 * (generator messages, getState responses, other JSON, RAW lines, markers)
 * is written with a small block size so a segment has many blocks; reading
 * back rebuilds every frame (header + items + tail) and compares it with
 * the input, which is kept canonical (compact, no escapes) so that the
 * decoder's output must equal it byte for byte.  Block boundaries used for
 * expectations are computed here from the block headers, not taken from
 * the reader.
 *
 * Crash resume: an unsealed segment is truncated at every offset within its
 * last two blocks and at random ones; evt_segw_resume() must keep exactly
 * the complete blocks, and appending + sealing must give a segment where
 * all kept and new events read and are found by id.
 *
 * Corruption: bytes are flipped in block headers, payloads, GUID columns,
 * the trailer and the index; the reader must report (file, offset) and
 * still return every frame of the undamaged blocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/crc32c.h"
#include "evtape/err.h"
#include "evtape/gen.h"
#include "evtape/json.h"
#include "evtape/record.h"
#include "evtape/segment.h"
#include "jcanon.h"
#define T_RNG_SEED 0x853C49E6748FEA9BULL
#include "t.h"

/* Aborts on out of memory in the test itself. */
static void
need(int rc)
{
	if (rc != 0) {
		fprintf(stderr, "test_segment: out of memory\n");
		abort();
	}
}

/* Compares two byte strings (either may be NULL when empty). */
static int
same(const void *a, size_t al, const void *b, size_t bl)
{
	return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static char tmpdir[64];

/* Returns "tmpdir/name"; the same name gives the same string, valid to
 * the end of the program. */
static const char *
tpath(const char *name)
{
	static char paths[64][256];
	static int n;
	char b[256];
	snprintf(b, sizeof b, "%s/%s", tmpdir, name);
	for (int i = 0; i < n; i++)
		if (strcmp(paths[i], b) == 0)
			return paths[i];
	if (n == 64)
		abort();
	memcpy(paths[n], b, sizeof b);
	return paths[n++];
}

/* Little-endian loads for the test's own parsing of files. */
static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Reads a whole file into *out (malloc'ed); returns its size. */
static size_t
slurp(const char *path, uint8_t **out)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		*out = NULL;
		return 0;
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	*out = malloc(n > 0 ? (size_t)n : 1);
	if (*out == NULL)
		abort();
	size_t got = fread(*out, 1, (size_t)n, f);
	fclose(f);
	return got;
}

/* Writes bytes to a file, replacing it. */
static void
spit(const char *path, const uint8_t *p, size_t n)
{
	unlink(path);
	FILE *f = fopen(path, "wb");
	if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n)) {
		fprintf(stderr, "test_segment: cannot write %s\n", path);
		abort();
	}
	fclose(f);
}

/* Copies file a to b, keeping the first n bytes (all if n == SIZE_MAX),
 * and flips the byte at flip (if < n) with xor mask. */
static void
copy_file(const char *a, const char *b, size_t n, size_t flip, uint8_t mask)
{
	uint8_t *p;
	size_t len = slurp(a, &p);
	if (n > len)
		n = len;
	if (flip < n)
		p[flip] ^= mask;
	spit(b, p, n);
	free(p);
}

/* Size of a file. */
static uint64_t
fsize(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/*
 * The corpus: frames in the order written, and the events in them.
 */
struct frame {
	int kind;     /* header kind; markers: EVT_K_SESSION etc. */
	int64_t rx;
	char *text;   /* canonical text: what must read back */
	size_t len;
	char *in;     /* corpus: the text as written (NULL: same as text) */
	size_t inlen;
	uint64_t blk; /* offset of the block holding it (after a scan) */
	int bad;      /* read: an item of it did not decode */
};

struct flist {
	struct frame *f;
	size_t n, cap;
};

struct event {
	char *id;
	size_t idlen;
	char *json;
	size_t len;
	size_t frame; /* index into the corpus */
};

struct corpus {
	struct flist fl;
	struct event *ev;
	size_t nev, evcap;
};

/* Appends a frame (text copied). */
static void
fl_add(struct flist *l, int kind, int64_t rx, const char *text, size_t len,
    uint64_t blk)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->f = realloc(l->f, l->cap * sizeof *l->f);
		if (l->f == NULL)
			abort();
	}
	struct frame *f = &l->f[l->n++];
	f->kind = kind;
	f->rx = rx;
	f->text = malloc(len + 1);
	if (f->text == NULL)
		abort();
	if (len > 0)
		memcpy(f->text, text, len);
	f->text[len] = 0;
	f->len = len;
	f->in = NULL;
	f->inlen = 0;
	f->blk = blk;
	f->bad = 0;
}

/* Frees a frame list's contents. */
static void
fl_free(struct flist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->f[i].text);
		free(l->f[i].in);
	}
	free(l->f);
	memset(l, 0, sizeof *l);
}

/* Records the events of a canonical message text. */
static void
corpus_events(struct corpus *c, const char *msg, size_t len, size_t fi)
{
	struct evt_jparser p;
	evt_json_init(&p, 0);
	if (evt_json_parse(&p, msg, len) < 1 || p.tok[0].type != EVT_J_OBJECT)
		goto out;
	uint32_t j = 1, arr = 0;
	for (uint32_t m = 0; m < p.tok[0].size; m++) {
		const struct evt_jtok *k = &p.tok[j];
		uint32_t v = k->next;
		if (arr == 0 && k->len == 6 && memcmp(msg + k->off, "events",
		    6) == 0 && p.tok[v].type == EVT_J_ARRAY)
			arr = v;
		j = p.tok[v].next;
	}
	if (arr == 0)
		goto out;
	j = arr + 1;
	for (uint32_t i = 0; i < p.tok[arr].size; i++) {
		const struct evt_jtok *t = &p.tok[j];
		if (t->type == EVT_J_OBJECT) {
			if (c->nev == c->evcap) {
				c->evcap = c->evcap ? 2 * c->evcap : 1024;
				c->ev = realloc(c->ev, c->evcap * sizeof *c->ev);
				if (c->ev == NULL)
					abort();
			}
			struct event *e = &c->ev[c->nev];
			memset(e, 0, sizeof *e);
			e->frame = fi;
			e->len = t->len;
			e->json = malloc(t->len + 1);
			if (e->json == NULL)
				abort();
			memcpy(e->json, msg + t->off, t->len);
			e->json[t->len] = 0;
			uint32_t f = j + 1;
			for (uint32_t m = 0; m < t->size; m++) {
				const struct evt_jtok *kt = &p.tok[f];
				const struct evt_jtok *vt = &p.tok[f + 1];
				if (e->id == NULL && kt->len == 2 &&
				    memcmp(msg + kt->off, "id", 2) == 0 &&
				    vt->type == EVT_J_STRING) {
					e->id = malloc(vt->len + 1);
					if (e->id == NULL)
						abort();
					int n = evt_json_unescape(msg + vt->off,
					    vt->len, e->id);
					e->idlen = n > 0 ? (size_t)n : 0;
					e->id[e->idlen] = 0;
				}
				f = vt->next;
			}
			if (e->id != NULL)
				c->nev++;
			else
				free(e->json);
		}
		j = t->next;
	}
out:
	evt_json_free(&p);
}

/* Adds a frame to the corpus: written as text, expected canonical. */
static void
corpus_add(struct corpus *c, int kind, int64_t rx, const char *text,
    size_t len)
{
	struct evt_jparser p;
	struct evt_buf cb = {0};
	evt_json_init(&p, 0);
	p.lone_surrogates = 1;
	if (kind != EVT_K_RAW && evt_json_parse(&p, text, len) > 0)
		jcanon(&p, text, 0, &cb);
	else
		need(evt_buf_put(&cb, text, len));
	evt_json_free(&p);
	fl_add(&c->fl, kind, rx, (char *)cb.p, cb.len, 0);
	struct frame *f = &c->fl.f[c->fl.n - 1];
	f->in = malloc(len + 1);
	if (f->in == NULL)
		abort();
	if (len > 0)
		memcpy(f->in, text, len);
	f->inlen = len;
	if (kind == EVT_K_MSG)
		corpus_events(c, (char *)cb.p, cb.len, c->fl.n - 1);
	evt_buf_free(&cb);
}

/* Frees a corpus. */
static void
corpus_free(struct corpus *c)
{
	fl_free(&c->fl);
	for (size_t i = 0; i < c->nev; i++) {
		free(c->ev[i].id);
		free(c->ev[i].json);
	}
	free(c->ev);
	memset(c, 0, sizeof *c);
}

/* Builds a corpus of n generator messages with other frames mixed in. */
static void
corpus_build(struct corpus *c, uint64_t seed, int n, int64_t start_us)
{
	struct evt_gen_opts o = {.seed = seed, .ncameras = 40,
	    .data_fraction = 0.05, .start_us = start_us};
	struct evt_gen *g = evt_gen_new(&o);
	if (g == NULL)
		abort();
	char tmp[512];
	for (int i = 0; i < n; i++) {
		const char *json;
		int64_t rx;
		uint32_t nev;
		size_t len = evt_gen_next(g, &json, &rx, &nev);
		corpus_add(c, EVT_K_MSG, rx, json, len);
		switch (i % 23) {
		case 5: {
			int k = snprintf(tmp, sizeof tmp, "garbage line %d "
			    "\x01\xff not json", i);
			corpus_add(c, EVT_K_RAW, rx, tmp, (size_t)k);
			break;
		}
		case 9: {
			int k = snprintf(tmp, sizeof tmp, "{\"commandId\":%d,"
			    "\"status\":200,\"result\":{\"n\":[1,2.5,-3e7,"
			    "\"x\"]}}", i);
			corpus_add(c, EVT_K_JSON, rx + 1, tmp, (size_t)k);
			break;
		}
		case 13: {
			const char *st;
			size_t sl = evt_gen_states(g, &st);
			struct evt_buf b = {0};
			int k = snprintf(tmp, sizeof tmp, "{\"commandId\":%d,"
			    "\"status\":200,\"states\":", i);
			need(evt_buf_put(&b, tmp, (size_t)k));
			need(evt_buf_put(&b, st, sl));
			need(evt_buf_putc(&b, '}'));
			corpus_add(c, EVT_K_STATES, rx + 2, (char *)b.p, b.len);
			evt_buf_free(&b);
			break;
		}
		case 17: {
			int k = snprintf(tmp, sizeof tmp, "{\"event\":\"connected\""
			    ",\"session\":\"s%d\"}", i);
			corpus_add(c, EVT_K_SESSION, rx + 3, tmp, (size_t)k);
			break;
		}
		case 20: {
			int k = snprintf(tmp, sizeof tmp, "{\"from_us\":%lld,"
			    "\"reason\":\"resume failed\"}", (long long)rx);
			corpus_add(c, EVT_K_GAP, rx + 4, tmp, (size_t)k);
			break;
		}
		default:
			break;
		}
	}
	evt_gen_free(g);
}

/* Writes frames [from, to) of a corpus into an open writer. */
static int
write_frames(struct evt_segw *w, const struct flist *l, size_t from,
    size_t to)
{
	int bad = 0;
	for (size_t i = from; i < to; i++) {
		const struct frame *f = &l->f[i];
		const char *in = f->in ? f->in : f->text;
		size_t inlen = f->in ? f->inlen : f->len;
		int rc;
		if (f->kind >= EVT_K_SESSION)
			rc = evt_segw_marker(w, f->kind, f->rx, in, inlen);
		else
			rc = evt_segw_frame(w, f->rx, in, inlen);
		if (rc < 0 || (f->kind < EVT_K_SESSION && rc != f->kind))
			bad++;
	}
	return bad;
}

/*
 * Reading back.
 */

/* One problem reported by a reader. */
struct report {
	char path[256];
	uint64_t off;
	char what[200];
};

struct reports {
	struct report r[64];
	int n;
};

/* Error callback: keeps the first reports. */
static void
err_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	struct reports *rs = arg;
	if (rs == NULL)
		return;
	if (rs->n < 64) {
		struct report *r = &rs->r[rs->n];
		snprintf(r->path, sizeof r->path, "%s", path);
		r->off = off;
		snprintf(r->what, sizeof r->what, "%s", what);
	}
	rs->n++;
}

/* Reads every frame of an open reader into out; returns decode problems
 * (not counting those the reader reported through its callback). */
static int
read_frames(struct evt_segr *r, struct flist *out)
{
	struct evt_rec rec;
	struct evt_buf text = {0}, tail = {0};
	uint64_t boff = 0, hoff = 0;
	int open = 0, bad = 0, rc, kind = 0;
	uint32_t left = 0, emitted = 0;
	int64_t rx = 0;
	int fbad = 0;
	evt_segr_rewind(r, INT64_MIN);
	while ((rc = evt_segr_next(r, &rec, &boff)) == 1) {
		struct evt_rdec *d = evt_segr_decoder(r);
		if (rec.kind == EVT_K_STRDEF || rec.kind == EVT_K_SHAPEDEF)
			continue;
		if (rec.kind == EVT_K_EVENT || rec.kind == EVT_K_ITEM) {
			if (!open) {
				bad++;
				continue;
			}
			if (emitted++ > 0)
				need(evt_buf_putc(&text, ','));
			if (evt_rdec_item_json(d, &rec, &text) < 0) {
				bad++;
				fbad = 1;
			}
			if (--left == 0) {
				need(evt_buf_put(&text, tail.p, tail.len));
				fl_add(out, kind, rx, (char *)text.p, text.len,
				    hoff);
				out->f[out->n - 1].bad = fbad;
				open = 0;
			}
			continue;
		}
		if (open) {
			bad++; /* a message lost its last items */
			open = 0;
		}
		text.len = 0;
		kind = rec.kind;
		rx = rec.rx_us;
		hoff = boff;
		fbad = 0;
		if (evt_rdec_frame_head(d, &rec, &text, &tail) < 0)
			bad++;
		if ((rec.kind == EVT_K_MSG || rec.kind == EVT_K_STATES) &&
		    rec.nitems > 0) {
			open = 1;
			left = rec.nitems;
			emitted = 0;
			continue;
		}
		need(evt_buf_put(&text, tail.p, tail.len));
		fl_add(out, kind, rx, (char *)text.p, text.len, hoff);
	}
	if (rc < 0)
		bad++;
	if (open)
		bad++;
	evt_buf_free(&text);
	evt_buf_free(&tail);
	return bad;
}

/* Opens path and reads every frame; returns decode problems, or -1 if
 * the open failed.  Reports go to rs. */
static int
read_all(const char *path, struct flist *out, struct reports *rs,
    int *sealed)
{
	struct evt_segr *r;
	if (evt_segr_open(path, err_cb, rs, &r) != 0)
		return -1;
	if (sealed != NULL)
		*sealed = evt_segr_info(r)->sealed;
	int bad = read_frames(r, out);
	evt_segr_close(r);
	return bad;
}

/* Compares a read list with the expected frames (expected given by index
 * list); prints the first difference.  Returns 1 if equal. */
static int
fl_equal(const struct flist *got, const struct frame *const *want, size_t n)
{
	if (got->n != n) {
		printf("#   %zu frames read, %zu expected\n", got->n, n);
	}
	for (size_t i = 0; i < got->n && i < n; i++) {
		const struct frame *a = &got->f[i], *b = want[i];
		if (a->kind != b->kind || a->rx != b->rx ||
		    !same(a->text, a->len, b->text, b->len)) {
			printf("#   frame %zu differs: kind %d/%d rx %lld/%lld\n"
			    "#     got:  %.300s\n#     want: %.300s\n", i,
			    a->kind, b->kind, (long long)a->rx,
			    (long long)b->rx, a->text, b->text);
			return 0;
		}
	}
	return got->n == n;
}

/* Compares a read list with frames [from, to) of a list. */
static int
fl_equal_range(const struct flist *got, const struct flist *l, size_t from,
    size_t to)
{
	const struct frame **w = malloc((to - from + 1) * sizeof *w);
	if (w == NULL)
		abort();
	for (size_t i = from; i < to; i++)
		w[i - from] = &l->f[i];
	int ok = fl_equal(got, w, to - from);
	free(w);
	return ok;
}

/* Looks events up by id; returns how many were not found or differ. */
static int
find_events(struct evt_segr *r, const struct event *ev, size_t n,
    int verbose)
{
	struct evt_buf out = {0};
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		struct evt_rec rec;
		uint64_t boff;
		int rc = evt_segr_find(r, ev[i].id, ev[i].idlen, &rec, &boff);
		out.len = 0;
		if (rc == 1)
			rc = evt_rdec_item_json(evt_segr_decoder(r), &rec,
			    &out) == 0 ? 1 : -1;
		if (rc != 1 || !same(out.p, out.len, ev[i].json, ev[i].len)) {
			if (verbose && bad < 3)
				printf("#   find %s: rc %d\n#     got:  %.*s\n"
				    "#     want: %s\n", ev[i].id, rc,
				    (int)(out.len > 300 ? 300 : out.len),
				    (char *)out.p, ev[i].json);
			bad++;
		}
	}
	evt_buf_free(&out);
	return bad;
}

/* Opens path and finds events; returns failures (-1 if unopenable). */
static int
find_all(const char *path, const struct event *ev, size_t n, int verbose)
{
	struct evt_segr *r;
	if (evt_segr_open(path, NULL, NULL, &r) != 0)
		return -1;
	int bad = find_events(r, ev, n, verbose);
	evt_segr_close(r);
	return bad;
}

/* Like find_all on at most k events spread over ev[0..n) (the first and
 * the last included): lookups by scanning cost a pass each. */
static int
find_sample(const char *path, const struct event *ev, size_t n, size_t k,
    int verbose)
{
	if (n <= k)
		return find_all(path, ev, n, verbose);
	struct event *sm = malloc(k * sizeof *sm);
	if (sm == NULL)
		abort();
	for (size_t i = 0; i < k; i++)
		sm[i] = ev[i * (n - 1) / (k - 1)];
	int bad = find_all(path, sm, k, verbose);
	free(sm);
	return bad;
}

/* Counts ids (random GUIDs and other texts) that must not be found. */
static int
find_absent(const char *path, int n)
{
	struct evt_segr *r;
	if (evt_segr_open(path, NULL, NULL, &r) != 0)
		return -1;
	int found = 0;
	for (int i = 0; i < n; i++) {
		char id[40];
		uint8_t g[16];
		for (int k = 0; k < 16; k++)
			g[k] = (uint8_t)rng();
		evt_guid_format(g, id);
		id[36] = 0;
		struct evt_rec rec;
		uint64_t boff;
		if (evt_segr_find(r, id, 36, &rec, &boff) != 0)
			found++;
		snprintf(id, sizeof id, "no-such-id-%d", i);
		if (evt_segr_find(r, id, strlen(id), &rec, &boff) != 0)
			found++;
	}
	struct evt_rec rec;
	if (evt_segr_find(r, "", 0, &rec, NULL) != 0)
		found++;
	evt_segr_close(r);
	return found;
}

/*
 * The block table, from the file's bytes (the test's own parse).
 */
struct blk {
	uint64_t off, end;
	uint32_t zlen, nguid;
};

/* Walks block headers from offset 64 up to limit; returns the count. */
static size_t
block_table(const uint8_t *p, uint64_t limit, struct blk *out, size_t cap)
{
	uint64_t off = EVT_SEG_HDR_SIZE;
	size_t n = 0;
	while (off + EVT_BLK_HDR_SIZE <= limit && n < cap) {
		const uint8_t *h = p + off;
		if (memcmp(h, EVT_BLK_MAGIC, 4) != 0)
			break;
		uint32_t zlen = le32(h + 8), nguid = le32(h + 16);
		/* A packed column (revision 1.4, block versions 2 and 3):
		 * 122 bits an entry. */
		int packed = (h[6] == EVT_BLK_VERSION_COL ||
		    h[6] == EVT_BLK_VERSION_JOIN) &&
		    (le32(h + 36) & EVT_BLKF_PACKED);
		uint64_t glen = packed ? (122ull * nguid + 7) / 8 :
		    16ull * nguid;
		uint64_t end = off + EVT_BLK_HDR_SIZE + zlen + glen;
		if (end > limit)
			break;
		out[n].off = off;
		out[n].end = end;
		out[n].zlen = zlen;
		out[n].nguid = nguid;
		n++;
		off = end;
	}
	return n;
}

/* Sets frame block offsets of the corpus range [from, to) from a read. */
static int
assign_blocks(struct flist *l, size_t from, size_t to, const struct flist *rd)
{
	if (rd->n != to - from)
		return 0;
	for (size_t i = from; i < to; i++)
		l->f[i].blk = rd->f[i - from].blk;
	return 1;
}

/*
 * Tests.
 */

static struct corpus C;
static size_t g_nfr; /* frames of C in the segment being cut */
#define NBLK_MAX 4096
#define SMALL SIZE_MAX /* find every kept event */

/* Write, seal, read back, find. */
static void
test_roundtrip(void)
{
	const char *p = tpath("rt.evt");
	uint8_t uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	    16};
	struct evt_segw_opts o = {.block_bytes = 2048, .level = 1};
	struct evt_segw *w;
	T_EQ(evt_segw_create(p, 7, uuid, 1234567, &o, &w), 0, "create");
	struct evt_segw *w2;
	T_EQ(evt_segw_create(p, 7, uuid, 1234567, &o, &w2), EVT_ERR_EXISTS,
	    "create over an existing file fails");
	T_EQ(write_frames(w, &C.fl, 0, C.fl.n), 0, "write %zu frames",
	    C.fl.n);
	T_EQ(evt_segw_events(w), C.nev, "writer counts events");
	size_t idl;
	const char *lid = evt_segw_last_id(w, &idl);
	const struct event *last = &C.ev[C.nev - 1];
	T_OK(lid != NULL && same(lid, idl, last->id, last->idlen),
	    "writer's last id");
	T_EQ(evt_segw_created(w), 1234567, "creation time");
	T_EQ(evt_segw_seal(w), 0, "seal");

	struct flist rd = {0};
	struct reports rs = {0};
	int sealed = 0;
	int bad = read_all(p, &rd, &rs, &sealed);
	T_OK(bad == 0 && rs.n == 0 && sealed, "sealed segment reads clean "
	    "(bad %d, reports %d)", bad, rs.n);
	T_OK(fl_equal_range(&rd, &C.fl, 0, C.fl.n), "every frame reads back "
	    "equal");
	assign_blocks(&C.fl, 0, C.fl.n, &rd);
	fl_free(&rd);

	struct evt_segr *r;
	T_EQ(evt_segr_open(p, err_cb, &rs, &r), 0, "open");
	const struct evt_seg_info *si = evt_segr_info(r);
	uint32_t nb;
	evt_segr_load_index(r);
	evt_segr_blocks(r, &nb);
	uint64_t want_frames[EVT_K_MAX + 1] = {0};
	for (size_t i = 0; i < C.fl.n; i++)
		want_frames[C.fl.f[i].kind]++;
	T_OK(si->seq == 7 && memcmp(si->uuid, uuid, 16) == 0 &&
	    si->created_us == 1234567, "header facts");
	T_EQ(si->nevents, C.nev, "trailer event count");
	T_OK(si->nblocks == nb && nb > 20, "many blocks (%u)", nb);
	T_OK(si->first_rx == C.fl.f[0].rx && si->last_rx >=
	    C.fl.f[C.fl.n - 1].rx, "trailer rx range");
	T_OK(memcmp(si->frames, want_frames, sizeof want_frames) == 0,
	    "frames per kind in the index");
	const char *rl = evt_segr_last_id(r, &idl);
	T_OK(rl != NULL && same(rl, idl, last->id, last->idlen),
	    "reader's last id");
	T_EQ(evt_segr_check_filter(r), 0, "filter checksum");
	T_EQ(find_events(r, C.ev, C.nev, 1), 0, "find every one of %zu ids",
	    C.nev);
	evt_segr_close(r);
	T_EQ(find_absent(p, 300), 0, "absent ids are not found");

	/* Upper-case spelling of a lower-case GUID id finds the event. */
	struct event up = C.ev[C.nev / 2];
	up.id = strdup(up.id);
	for (char *q = up.id; *q; q++)
		if (*q >= 'a' && *q <= 'f')
			*q = (char)(*q - 'a' + 'A');
	T_EQ(find_all(p, &up, 1, 1), 0, "find by upper-case spelling of "
	    "an id");
	free(up.id);

	/* Reading from a receive time skips earlier blocks. */
	T_EQ(evt_segr_open(p, NULL, NULL, &r), 0, "open again");
	int64_t mid = C.fl.f[C.fl.n / 2].rx;
	evt_segr_rewind(r, mid);
	struct evt_rec rec;
	int64_t first = INT64_MAX;
	int rc;
	while ((rc = evt_segr_next(r, &rec, NULL)) == 1)
		if (rec.kind != EVT_K_STRDEF && rec.kind != EVT_K_SHAPEDEF &&
		    rec.rx_us < first)
			first = rec.rx_us;
	T_OK(rc == 0 && first <= mid && first > C.fl.f[0].rx,
	    "rewind(from_rx) skips blocks before it");
	/* A forced block scan of a sealed segment reads the same. */
	evt_segr_close(r);
	T_EQ(evt_segr_open(p, err_cb, &rs, &r), 0, "open for a forced scan");
	evt_segr_force_scan(r);
	bad = read_frames(r, &rd);
	T_OK(bad == 0 && rs.n == 0 && fl_equal_range(&rd, &C.fl, 0, C.fl.n),
	    "forced scan of a sealed segment reads the same");
	fl_free(&rd);
	evt_segr_close(r);

	/* A sealed segment cannot be resumed. */
	struct evt_seg_recovery rec2;
	T_EQ(evt_segw_resume(p, &o, &w, &rec2), EVT_ERR_EXISTS,
	    "resume of a sealed segment: EVT_ERR_EXISTS");
}

/* Segments with more than 1024 blocks: the id filter's location shift. */
static void
test_many_blocks(void)
{
	const char *p = tpath("many.evt");
	uint8_t uuid[16] = {0};
	struct evt_segw_opts o = {.block_bytes = 1, .level = 1};
	struct evt_segw *w;
	struct corpus c = {0};
	corpus_build(&c, 99, 2300, 0);
	T_EQ(evt_segw_create(p, 1, uuid, 1, &o, &w), 0, "create");
	T_EQ(write_frames(w, &c.fl, 0, c.fl.n), 0, "write one frame per "
	    "block");
	T_EQ(evt_segw_seal(w), 0, "seal");
	struct evt_segr *r;
	T_EQ(evt_segr_open(p, NULL, NULL, &r), 0, "open");
	T_OK(evt_segr_info(r)->nblocks == c.fl.n, "%zu blocks", c.fl.n);
	T_EQ(find_events(r, c.ev, c.nev, 1), 0, "find every one of %zu ids "
	    "across %zu blocks", c.nev, c.fl.n);
	uint32_t first = 0, count = 0;
	T_OK(evt_segr_probe(r, evt_id_key(c.ev[0].id, c.ev[0].idlen), &first,
	    &count) == 1 && count > 1 && first == 0,
	    "probe names a block range (count %u)", count);
	evt_segr_close(r);
	T_EQ(find_absent(p, 200), 0, "absent ids are not found");
	struct flist rd = {0};
	T_OK(read_all(p, &rd, NULL, NULL) == 0 &&
	    fl_equal_range(&rd, &c.fl, 0, c.fl.n), "all frames read back");
	fl_free(&rd);
	corpus_free(&c);
}

/* Empty segments, sealed and not. */
static void
test_empty(void)
{
	const char *p = tpath("empty.evt");
	uint8_t uuid[16] = {0};
	struct evt_segw *w;
	T_EQ(evt_segw_create(p, 1, uuid, 1, NULL, &w), 0, "create empty");
	evt_segw_close(w);
	struct flist rd = {0};
	struct reports rs = {0};
	int sealed = 1;
	T_OK(read_all(p, &rd, &rs, &sealed) == 0 && rd.n == 0 && rs.n == 0 &&
	    !sealed, "unsealed empty segment reads as nothing, no errors");
	T_EQ(find_absent(p, 3), 0, "nothing found in it");
	struct evt_seg_recovery rec;
	T_EQ(evt_segw_resume(p, NULL, &w, &rec), 0, "resume the empty one");
	T_OK(rec.valid_end == EVT_SEG_HDR_SIZE && rec.cut_bytes == 0 &&
	    rec.blocks == 0, "nothing to cut");
	T_EQ(evt_segw_seal(w), 0, "seal it empty");
	T_OK(read_all(p, &rd, &rs, &sealed) == 0 && rd.n == 0 && rs.n == 0 &&
	    sealed, "sealed empty segment reads as nothing, no errors");
	T_EQ(find_absent(p, 3), 0, "nothing found in the sealed one");
	unlink(p);
	/* Files too short or not segments. */
	spit(p, (const uint8_t *)"short", 5);
	struct evt_segr *r;
	rs.n = 0;
	T_OK(evt_segr_open(p, err_cb, &rs, &r) < 0 && rs.n == 1 &&
	    rs.r[0].off == 0, "short file: error reported at offset 0");
	uint8_t junk[300];
	memset(junk, 'x', sizeof junk);
	spit(p, junk, sizeof junk);
	rs.n = 0;
	T_OK(evt_segr_open(p, err_cb, &rs, &r) == EVT_ERR_CORRUPT &&
	    rs.n == 1, "not a segment: EVT_ERR_CORRUPT, reported");
	T_OK(evt_segw_resume(p, NULL, &w, &rec) < 0, "resume of junk fails");
	T_OK(evt_segr_open(tpath("nonexistent.evt"), NULL, NULL, &r) ==
	    EVT_ERR_IO, "missing file: EVT_ERR_IO");
	unlink(p);
}

/* An unsealed segment (closed without sealing) reads by scan and find. */
static void
test_unsealed(void)
{
	const char *p = tpath("open.evt");
	uint8_t uuid[16] = {9};
	struct evt_segw_opts o = {.block_bytes = 2048, .level = 1};
	struct evt_segw *w;
	T_EQ(evt_segw_create(p, 2, uuid, 5, &o, &w), 0, "create");
	write_frames(w, &C.fl, 0, C.fl.n);
	T_EQ(evt_segw_flush(w), 0, "flush");
	T_EQ(evt_segw_sync(w), 0, "sync");
	/* What was never flushed is lost at close: write more, no flush. */
	evt_segw_frame(w, 1, L("{\"events\":[]}"));
	evt_segw_close(w);
	struct flist rd = {0};
	struct reports rs = {0};
	int sealed = 1;
	int bad = read_all(p, &rd, &rs, &sealed);
	T_OK(bad == 0 && rs.n == 0 && !sealed, "unsealed segment scans "
	    "clean");
	T_OK(fl_equal_range(&rd, &C.fl, 0, C.fl.n), "every flushed frame "
	    "reads back equal");
	fl_free(&rd);
	T_EQ(find_sample(p, C.ev, C.nev, 200, 1), 0, "find 200 ids spread "
	    "over the segment by scan");
	T_EQ(find_absent(p, 20), 0, "absent ids are not found");
	struct evt_segr *r;
	T_EQ(evt_segr_open(p, NULL, NULL, &r), 0, "open");
	T_EQ(evt_segr_probe(r, 1, NULL, NULL), EVT_ERR_STATE,
	    "probe without an index: EVT_ERR_STATE");
	size_t idl;
	evt_segr_rewind(r, INT64_MIN);
	struct evt_rec rec;
	while (evt_segr_next(r, &rec, NULL) == 1)
		;
	uint32_t nb;
	evt_segr_blocks(r, &nb);
	T_OK(nb > 20, "scan built the block directory (%u)", nb);
	(void)idl;
	evt_segr_close(r);
}

/* Checks one truncation of the unsealed segment at t; returns 0, or 1 for
 * a failure (printing the first problems), plus 2 if only the damaged
 * block count of the recovery was wrong. */
static int
check_truncation(const char *src, const struct blk *bt, size_t nbt,
    uint64_t t, const struct corpus *extra, int *printed, size_t sample)
{
	const char *p = tpath("trunc.evt");
	copy_file(src, p, (size_t)t, SIZE_MAX, 0);
	/* Expected: complete blocks before t. */
	size_t keep = 0;
	while (keep < nbt && bt[keep].end <= t)
		keep++;
	uint64_t vend = keep ? bt[keep - 1].end : EVT_SEG_HDR_SIZE;
	size_t nf = 0;
	while (nf < g_nfr && C.fl.f[nf].blk < vend)
		nf++;
	size_t ne = 0;
	while (ne < C.nev && C.ev[ne].frame < nf)
		ne++;
	int fails = 0;
	char why[400] = "";

	/* The torn file reads up to its last complete block. */
	struct flist rd = {0};
	struct reports rs = {0};
	int bad = read_all(p, &rd, &rs, NULL);
	if (bad != 0 || !fl_equal_range(&rd, &C.fl, 0, nf) ||
	    (t != vend && rs.n == 0)) {
		snprintf(why, sizeof why, "torn read: bad %d, %zu/%zu frames, "
		    "%d reports", bad, rd.n, nf, rs.n);
		fails++;
	}
	fl_free(&rd);

	struct evt_segw *w;
	struct evt_seg_recovery rec;
	struct evt_segw_opts o = {.block_bytes = 2048, .level = 1};
	int rc = evt_segw_resume(p, &o, &w, &rec);
	if (rc != 0) {
		snprintf(why, sizeof why, "resume returned %d", rc);
		fails++;
		goto out;
	}
	if (rec.valid_end != vend || rec.cut_bytes != t - vend ||
	    rec.blocks != keep) {
		snprintf(why, sizeof why, "recovery: end %llu/%llu cut %llu "
		    "blocks %u/%zu bad %u", (unsigned long long)rec.valid_end,
		    (unsigned long long)vend, (unsigned long long)rec.cut_bytes,
		    rec.blocks, keep, rec.bad_blocks);
		fails++;
	}
	int badcount = rec.bad_blocks != 0;
	if (fsize(p) != vend) {
		snprintf(why, sizeof why, "file not cut to %llu",
		    (unsigned long long)vend);
		fails++;
	}
	size_t idl;
	const char *lid = evt_segw_last_id(w, &idl);
	if (ne > 0 && (lid == NULL || !same(lid, idl, C.ev[ne - 1].id,
	    C.ev[ne - 1].idlen))) {
		snprintf(why, sizeof why, "last id after resume");
		fails++;
	}
	if (evt_segw_events(w) != ne) {
		snprintf(why, sizeof why, "events after resume %llu, want %zu",
		    (unsigned long long)evt_segw_events(w), ne);
		fails++;
	}
	write_frames(w, &extra->fl, 0, extra->fl.n);
	if (evt_segw_seal(w) != 0) {
		snprintf(why, sizeof why, "seal after resume failed");
		fails++;
		goto out;
	}
	/* Kept + new frames, all readable and findable. */
	const struct frame **want = malloc((nf + extra->fl.n) * sizeof *want);
	if (want == NULL)
		abort();
	for (size_t i = 0; i < nf; i++)
		want[i] = &C.fl.f[i];
	for (size_t i = 0; i < extra->fl.n; i++)
		want[nf + i] = &extra->fl.f[i];
	rs.n = 0;
	int sealed = 0;
	bad = read_all(p, &rd, &rs, &sealed);
	if (bad != 0 || rs.n != 0 || !sealed ||
	    !fl_equal(&rd, want, nf + extra->fl.n)) {
		snprintf(why, sizeof why, "after seal: bad %d, reports %d "
		    "(%s), %zu/%zu frames", bad, rs.n, rs.n ? rs.r[0].what : "",
		    rd.n, nf + extra->fl.n);
		fails++;
	}
	free(want);
	fl_free(&rd);
	/* One reader for all lookups: kept (a sample when asked), new,
	 * and the first event cut off, which must be gone. */
	struct evt_segr *r;
	if (evt_segr_open(p, NULL, NULL, &r) != 0) {
		snprintf(why, sizeof why, "cannot open after seal");
		fails++;
		goto out;
	}
	size_t k = ne < sample ? ne : sample;
	int nf1 = 0;
	for (size_t i = 0; i < k; i++)
		nf1 += find_events(r, &C.ev[k > 1 ? i * (ne - 1) / (k - 1) :
		    ne - 1], 1, 0);
	int nf2 = find_events(r, extra->ev, extra->nev, 0);
	if (nf1 != 0 || nf2 != 0) {
		snprintf(why, sizeof why, "find after resume: %d kept, %d new "
		    "missing", nf1, nf2);
		fails++;
	}
	if (ne < C.nev && find_events(r, &C.ev[ne], 1, 0) != 1) {
		snprintf(why, sizeof why, "a cut event is still found");
		fails++;
	}
	evt_segr_close(r);
	if (badcount && fails == 0)
		return 2;
out:
	if (fails > 0 && (*printed)++ < 5)
		printf("#   cut at %llu (keep %zu blocks): %s\n",
		    (unsigned long long)t, keep, why);
	return fails > 0;
}

/* Resume after a crash at many truncation offsets. */
static void
test_resume(void)
{
	const char *src = tpath("crash.evt");
	uint8_t uuid[16] = {7};
	struct evt_segw_opts o = {.block_bytes = 600, .level = 1};
	struct evt_segw *w;
	/* A prefix of the corpus, for speed: the shortest of at least 40
	 * frames whose last two blocks hold at most 1000 bytes (every
	 * offset in them is a test case). */
	size_t nfr, size = 0, nbt = 0;
	static struct blk bt[NBLK_MAX];
	for (nfr = 40; nfr < 100; nfr++) {
		unlink(src);
		if (evt_segw_create(src, 3, uuid, 5, &o, &w) != 0)
			break;
		write_frames(w, &C.fl, 0, nfr);
		evt_segw_flush(w);
		evt_segw_close(w);
		uint8_t *bytes;
		size = slurp(src, &bytes);
		nbt = block_table(bytes, size, bt, NBLK_MAX);
		free(bytes);
		if (nbt >= 6 && size - bt[nbt - 2].off <= 1000)
			break;
	}
	T_OK(nbt >= 6 && bt[nbt - 1].end == size, "unsealed segment of %zu "
	    "frames, %zu blocks, %zu bytes", nfr, nbt, size);
	struct flist rd = {0};
	T_OK(read_all(src, &rd, NULL, NULL) == 0 &&
	    assign_blocks(&C.fl, 0, nfr, &rd), "unsealed segment reads");
	fl_free(&rd);
	g_nfr = nfr;

	/* New frames to append after each resume. */
	struct corpus extra = {0};
	corpus_build(&extra, 4242, 4, C.fl.f[nfr].rx + 1000000);
	corpus_add(&extra, EVT_K_RAW, C.fl.f[nfr].rx + 2000000, L("raw \xff"));
	corpus_add(&extra, EVT_K_SESSION, C.fl.f[nfr].rx + 2000001,
	    L("{\"event\":\"resumed\"}"));

	int fails = 0, printed = 0, cases = 0, badcount = 0, rc;
	uint64_t from = bt[nbt - 2].off;
	for (uint64_t t = from; t <= size; t++, cases++) {
		rc = check_truncation(src, bt, nbt, t, &extra, &printed, 12);
		fails += rc & 1;
		badcount += (rc & 2) != 0;
	}
	T_EQ(fails, 0, "resume at every offset of the last two blocks (%d "
	    "cuts)", cases);
	fails = 0;
	for (int i = 0; i < 150; i++) {
		rc = check_truncation(src, bt, nbt, EVT_SEG_HDR_SIZE +
		    rng() % (size - EVT_SEG_HDR_SIZE), &extra, &printed, SMALL);
		fails += rc & 1;
		badcount += (rc & 2) != 0;
	}
	T_EQ(fails, 0, "resume at 150 random offsets");
	fails = 0;
	for (size_t i = 0; i < nbt; i++) {
		rc = check_truncation(src, bt, nbt, bt[i].off, &extra,
		    &printed, SMALL);
		fails += rc & 1;
		badcount += (rc & 2) != 0;
	}
	T_EQ(fails, 0, "resume at every block boundary");

	/* A sealed segment whose trailer or index was cut: the index region
	 * goes, every block stays. */
	const char *sp = tpath("sealed-cut.evt");
	T_EQ(evt_segw_create(sp, 4, uuid, 5, &o, &w), 0, "create");
	write_frames(w, &C.fl, 0, nfr);
	evt_segw_seal(w);
	uint64_t ssize = fsize(sp);
	fails = 0;
	int n = 0;
	for (uint64_t t = bt[nbt - 1].end; t < ssize; t += 1 + rng() % 13) {
		rc = check_truncation(sp, bt, nbt, t, &extra, &printed, 12);
		fails += rc & 1;
		badcount += (rc & 2) != 0;
		n++;
	}
	T_EQ(fails, 0, "resume of a sealed segment cut in its index (%d "
	    "cuts)", n);
	/* struct evt_seg_recovery: bad_blocks counts "damaged blocks inside
	 * the kept range"; the archive warns "N damaged places kept (run
	 * evtool verify)" when it is not 0.  A torn tail is not inside. */
	T_EQ(badcount, 0, "regression: resume must not count a torn tail as a "
	    "damaged block (cuts with rec.bad_blocks != 0)");

	/* A resumed segment can be resumed again (crash after resume). */
	const char *p = tpath("twice.evt");
	copy_file(src, p, (size_t)(bt[nbt - 1].off + 10), SIZE_MAX, 0);
	struct evt_seg_recovery rec;
	T_EQ(evt_segw_resume(p, &o, &w, &rec), 0, "first resume");
	write_frames(w, &extra.fl, 0, 2);
	evt_segw_flush(w);
	evt_segw_close(w);
	T_EQ(evt_segw_resume(p, &o, &w, &rec), 0, "second resume");
	T_EQ(rec.cut_bytes, 0, "nothing to cut the second time");
	write_frames(w, &extra.fl, 2, extra.fl.n);
	T_EQ(evt_segw_seal(w), 0, "seal");
	struct reports rs = {0};
	int bad = read_all(p, &rd, &rs, NULL);
	size_t nf = 0;
	while (nf < nfr && C.fl.f[nf].blk < bt[nbt - 1].off)
		nf++;
	const struct frame **want = malloc((nf + extra.fl.n) * sizeof *want);
	for (size_t i = 0; i < nf; i++)
		want[i] = &C.fl.f[i];
	for (size_t i = 0; i < extra.fl.n; i++)
		want[nf + i] = &extra.fl.f[i];
	T_OK(bad == 0 && rs.n == 0 && fl_equal(&rd, want, nf + extra.fl.n),
	    "resumed twice: kept and new frames read back");
	T_EQ(find_all(p, extra.ev, extra.nev, 1), 0, "new events found");
	free(want);
	fl_free(&rd);
	corpus_free(&extra);
}

/* Damages one byte of a segment and checks what reads. */
struct damage_case {
	const char *name;
	size_t blk;    /* which block */
	int where;     /* 0 header byte, 1 payload byte, 2 GUID column */
	size_t delta;  /* offset inside that region */
};

/* Checks a copy of src with byte `at` flipped: every frame outside block
 * `bad` (an index into bt) reads, the damage is reported at the block's
 * offset.  Returns 1 if all is well. */
static int
check_damage(const char *src, const struct blk *bt, size_t bad, uint64_t at,
    int sealed_src, int strict, size_t *strict_count)
{
	const char *p = tpath("damaged.evt");
	copy_file(src, p, SIZE_MAX, (size_t)at, 0x5a);
	struct flist rd = {0};
	struct reports rs = {0};
	int nbad = read_all(p, &rd, &rs, NULL);
	/* Expected: every frame whose block is not the damaged one. */
	const struct frame **want = malloc(C.fl.n * sizeof *want);
	struct event *evk = malloc(C.nev * sizeof *evk);
	struct event *evl = malloc(C.nev * sizeof *evl);
	if (want == NULL || evk == NULL || evl == NULL)
		abort();
	size_t n = 0, nk = 0, nl = 0;
	for (size_t i = 0; i < C.fl.n; i++)
		if (C.fl.f[i].blk != bt[bad].off)
			want[n++] = &C.fl.f[i];
	for (size_t i = 0; i < C.nev; i++) {
		if (C.fl.f[C.ev[i].frame].blk != bt[bad].off)
			evk[nk++] = C.ev[i];
		else
			evl[nl++] = C.ev[i];
	}
	int ok = 1;
	if (rs.n < 1 || rs.r[0].off != bt[bad].off ||
	    strcmp(rs.r[0].path, p) != 0) {
		printf("#   damage at %llu in block %llu: %d reports, first "
		    "at %llu: %s\n", (unsigned long long)at,
		    (unsigned long long)bt[bad].off, rs.n,
		    rs.n ? (unsigned long long)rs.r[0].off : 0ull,
		    rs.n ? rs.r[0].what : "");
		ok = 0;
	}
	if (strict && (nbad != 0 || !fl_equal(&rd, want, n))) {
		printf("#   damage at %llu: %d decode problems, %zu/%zu "
		    "frames\n", (unsigned long long)at, nbad, rd.n, n);
		ok = 0;
	}
	if (!strict) {
		/* Unsealed: records after the damage that use definitions
		 * from the damaged block cannot decode (segment.md,
		 * "Placeholders").  Every frame before the damaged block must
		 * read, and whatever reads cleanly must be right. */
		size_t before = 0, j = 0, wrong = 0, clean = 0;
		while (before < n && want[before]->blk < bt[bad].off)
			before++;
		for (size_t i = 0; i < rd.n; i++) {
			if (rd.f[i].bad)
				continue;
			clean++;
			while (j < n && !(want[j]->kind == rd.f[i].kind &&
			    want[j]->rx == rd.f[i].rx && same(want[j]->text,
			    want[j]->len, rd.f[i].text, rd.f[i].len)))
				j++;
			if (j == n)
				wrong++;
			else
				j++;
		}
		int prefix = rd.n >= before;
		for (size_t i = 0; prefix && i < before; i++)
			prefix = !rd.f[i].bad && rd.f[i].kind ==
			    want[i]->kind && same(rd.f[i].text, rd.f[i].len,
			    want[i]->text, want[i]->len);
		if (wrong > 0 || !prefix) {
			printf("#   damage at %llu: %zu frames wrong, prefix of "
			    "%zu %s\n", (unsigned long long)at, wrong, before,
			    prefix ? "ok" : "lost");
			ok = 0;
		}
		if (strict_count != NULL)
			*strict_count += clean;
	}
	if (strict) {
		int f1 = sealed_src ? find_all(p, evk, nk, 0) :
		    find_sample(p, evk, nk, 30, 0);
		int f2 = sealed_src ? find_all(p, evl, nl, 0) :
		    find_sample(p, evl, nl, 30, 0);
		if (!sealed_src && nl > 30)
			nl = 30;
		if (f1 != 0 || f2 != (int)nl) {
			printf("#   find: %d of %zu intact missing, %d of %zu "
			    "damaged not found\n", f1, nk, f2, nl);
			ok = 0;
		}
	}
	fl_free(&rd);
	free(want);
	free(evk);
	free(evl);
	return ok;
}

/*
 * Checks a copy of sealed src with the byte `at` of block `bad`'s GUID
 * column flipped: the index's check list (revision 1.2) confines the loss
 * to the events whose ids sit in the damaged range.  Every frame outside
 * the block reads unchanged and in order; the block's frames are whole or
 * absent (those that lost events; at least one did).  Returns 1 if all is
 * well.  (damage.sh counts the events lost: at most the range's.)
 */
static int
check_guid_damage(const char *src, const struct blk *bt, size_t bad,
    uint64_t at)
{
	const char *p = tpath("damaged.evt");
	copy_file(src, p, SIZE_MAX, (size_t)at, 0x5a);
	struct flist rd = {0};
	struct reports rs = {0};
	read_all(p, &rd, &rs, NULL);
	int ok = rs.n >= 1 && rs.r[0].off == bt[bad].off;
	size_t k = 0, inblk = 0, intact = 0;
	for (size_t i = 0; i < C.fl.n && ok; i++) {
		const struct frame *w = &C.fl.f[i];
		int mine = w->blk == bt[bad].off;
		inblk += mine;
		int same_frame = k < rd.n && rd.f[k].kind == w->kind &&
		    rd.f[k].rx == w->rx && same(rd.f[k].text, rd.f[k].len,
		    w->text, w->len);
		/* Frames of the damaged block: whole, or absent (read_frames
		 * drops a frame that lost items). */
		if (mine && !same_frame)
			continue;
		intact += mine;
		ok = same_frame;
		k++;
	}
	ok = ok && k == rd.n && intact < inblk;
	if (!ok)
		printf("#   GUID column damage at %llu in block %llu: %d reports "
		    "(first at %llu), %zu of %zu frames of the block intact, "
		    "%zu of %zu frames matched\n",
		    (unsigned long long)at, (unsigned long long)bt[bad].off,
		    rs.n, rs.n ? (unsigned long long)rs.r[0].off : 0ull, intact,
		    inblk, k, rd.n);
	fl_free(&rd);
	return ok;
}

/* Corruption of blocks, trailer and index. */
static void
test_corruption(void)
{
	const char *sp = tpath("sealed.evt"), *up = tpath("unsealed.evt");
	uint8_t uuid[16] = {5};
	struct evt_segw_opts o = {.block_bytes = 2048, .level = 1};
	struct evt_segw *w;
	evt_segw_create(sp, 1, uuid, 5, &o, &w);
	write_frames(w, &C.fl, 0, C.fl.n);
	evt_segw_seal(w);
	evt_segw_create(up, 1, uuid, 5, &o, &w);
	write_frames(w, &C.fl, 0, C.fl.n);
	evt_segw_flush(w);
	evt_segw_close(w);
	uint8_t *bytes;
	size_t size = slurp(sp, &bytes);
	uint64_t data_end = le64(bytes + size - EVT_TRAILER_SIZE + 16);
	uint64_t meta_off = le64(bytes + size - EVT_TRAILER_SIZE + 24);
	uint64_t meta_len = le64(bytes + size - EVT_TRAILER_SIZE + 32);
	uint64_t filt_off = le64(bytes + size - EVT_TRAILER_SIZE + 40);
	static struct blk bt[NBLK_MAX];
	size_t nbt = block_table(bytes, data_end, bt, NBLK_MAX);
	free(bytes);
	T_OK(nbt > 20 && bt[nbt - 1].end == data_end, "sealed segment of %zu "
	    "blocks", nbt);
	struct flist rd0 = {0};
	T_OK(read_all(sp, &rd0, NULL, NULL) == 0 &&
	    assign_blocks(&C.fl, 0, C.fl.n, &rd0), "clean copy reads");
	fl_free(&rd0);
	uint8_t *ub;
	size_t usize = slurp(up, &ub);
	static struct blk ubt[NBLK_MAX];
	size_t nubt = block_table(ub, usize, ubt, NBLK_MAX);
	free(ub);
	T_OK(nubt == nbt && ubt[nbt - 1].end == usize, "same blocks unsealed");

	/* Sealed: damage in any block loses only that block. */
	size_t picks[] = {0, 1, nbt / 2, nbt - 2, nbt - 1};
	static const size_t hdr_bytes[] = {0, 4, 8, 12, 20, 28, 40, 56, 60,
	    63};
	int ok = 1;
	for (size_t i = 0; i < sizeof picks / sizeof picks[0]; i++)
		for (size_t k = 0; k < sizeof hdr_bytes / sizeof hdr_bytes[0];
		    k++)
			ok &= check_damage(sp, bt, picks[i], bt[picks[i]].off +
			    hdr_bytes[k], 1, 1, NULL);
	T_OK(ok, "sealed: a damaged block header loses only that block");
	ok = 1;
	for (size_t i = 0; i < sizeof picks / sizeof picks[0]; i++) {
		const struct blk *b = &bt[picks[i]];
		for (int k = 0; k < 4; k++)
			ok &= check_damage(sp, bt, picks[i], b->off +
			    EVT_BLK_HDR_SIZE + rng() % b->zlen, 1, 1, NULL);
	}
	T_OK(ok, "sealed: a damaged payload loses only that block");
	ok = 1;
	int tried = 0;
	for (size_t i = 0; i < nbt; i++) {
		const struct blk *b = &bt[i];
		if (b->nguid == 0)
			continue;
		tried++;
		ok &= check_guid_damage(sp, bt, i, b->off + EVT_BLK_HDR_SIZE +
		    b->zlen + rng() % (b->end - b->off - EVT_BLK_HDR_SIZE -
		    b->zlen));
	}
	T_OK(ok && tried > 10, "sealed: a damaged GUID column loses only "
	    "events of that block whose ids it hit (%d blocks)", tried);

	/* Unsealed: the scan resynchronises on the next block. */
	ok = 1;
	for (size_t k = 0; k < sizeof hdr_bytes / sizeof hdr_bytes[0]; k++)
		ok &= check_damage(up, ubt, nbt - 1, ubt[nbt - 1].off +
		    hdr_bytes[k], 0, 1, NULL);
	for (int k = 0; k < 4; k++)
		ok &= check_damage(up, ubt, nbt - 1, ubt[nbt - 1].off +
		    EVT_BLK_HDR_SIZE + rng() % ubt[nbt - 1].zlen, 0, 1, NULL);
	T_OK(ok, "unsealed: damage in the last block loses only that block");
	/* A block in the middle whose definitions later blocks rely on. */
	ok = 1;
	size_t clean = 0;
	for (size_t k = 0; k < sizeof hdr_bytes / sizeof hdr_bytes[0]; k++)
		ok &= check_damage(up, ubt, nbt / 2, ubt[nbt / 2].off +
		    hdr_bytes[k], 0, 0, &clean);
	T_OK(ok, "unsealed: a damaged block in the middle: reported at its "
	    "offset, earlier frames read, what decodes is right");
	for (size_t i = 0; i < 3; i++)
		ok &= check_damage(up, ubt, i, ubt[i].off + EVT_BLK_HDR_SIZE +
		    ubt[i].zlen / 2, 0, 0, &clean);
	T_OK(ok, "unsealed: damage in an early block: reported, what "
	    "decodes is right (%zu clean frames in all)", clean);

	/* Trailer damage: read as unsealed, everything still reads. */
	const char *p = tpath("damaged.evt");
	static const size_t trl_bytes[] = {0, 7, 8, 10, 12, 16, 24, 40, 72,
	    104, 110, 124, 127};
	ok = 1;
	for (size_t k = 0; k < sizeof trl_bytes / sizeof trl_bytes[0]; k++) {
		uint64_t at = size - EVT_TRAILER_SIZE + trl_bytes[k];
		copy_file(sp, p, SIZE_MAX, (size_t)at, 0x21);
		struct flist rd = {0};
		struct reports rs = {0};
		int sealed = 1;
		int bad = read_all(p, &rd, &rs, &sealed);
		int good = bad == 0 && !sealed && rs.n >= 1 &&
		    fl_equal_range(&rd, &C.fl, 0, C.fl.n) &&
		    find_sample(p, C.ev, C.nev, 25, 1) == 0;
		if (!good)
			printf("#   trailer byte %zu: bad %d sealed %d reports "
			    "%d\n", trl_bytes[k], bad, sealed, rs.n);
		ok &= good;
		fl_free(&rd);
	}
	T_OK(ok, "damaged trailer: reads as unsealed, reported, every frame "
	    "and id still there");

	/* Index (meta) damage: reported, the blocks are scanned. */
	ok = 1;
	for (int k = 0; k < 6; k++) {
		uint64_t at = meta_off + rng() % meta_len;
		copy_file(sp, p, SIZE_MAX, (size_t)at, 0x10);
		struct flist rd = {0};
		struct reports rs = {0};
		int sealed = 0;
		int bad = read_all(p, &rd, &rs, &sealed);
		int good = bad == 0 && sealed && rs.n == 1 &&
		    rs.r[0].off == meta_off &&
		    fl_equal_range(&rd, &C.fl, 0, C.fl.n) &&
		    find_sample(p, C.ev, C.nev, 25, 1) == 0;
		if (!good)
			printf("#   meta byte at %llu: bad %d reports %d (%s "
			    "at %llu)\n", (unsigned long long)at, bad, rs.n,
			    rs.n ? rs.r[0].what : "", rs.n ?
			    (unsigned long long)rs.r[0].off : 0ull);
		ok &= good;
		fl_free(&rd);
	}
	T_OK(ok, "damaged index: reported at its offset, every frame and id "
	    "still there");

	/* Filter damage: the checksum check reports it. */
	copy_file(sp, p, SIZE_MAX, (size_t)filt_off + 3, 0xff);
	struct evt_segr *r;
	struct reports rs = {0};
	evt_segr_open(p, err_cb, &rs, &r);
	T_OK(evt_segr_check_filter(r) == EVT_ERR_CHECKSUM && rs.n == 1 &&
	    rs.r[0].off == filt_off, "damaged id filter: checksum reported");
	evt_segr_close(r);

	/* Segment header damage: refused with EVT_ERR_CORRUPT. */
	ok = 1;
	static const size_t seg_bytes[] = {0, 7, 9, 16, 30, 50, 60};
	for (size_t k = 0; k < sizeof seg_bytes / sizeof seg_bytes[0]; k++) {
		copy_file(sp, p, SIZE_MAX, seg_bytes[k], 0x01);
		rs.n = 0;
		int rc = evt_segr_open(p, err_cb, &rs, &r);
		if (rc == 0) {
			evt_segr_close(r);
			ok = 0;
		}
		ok &= rs.n >= 1 && (rc == EVT_ERR_CORRUPT ||
		    rc == EVT_ERR_VERSION);
	}
	T_OK(ok, "damaged segment header: open fails, reported");

	/* Resume of an unsealed segment with a damaged middle block keeps
	 * the good blocks after it. */
	copy_file(up, p, SIZE_MAX, (size_t)ubt[nbt - 3].off + 70, 0x40);
	struct evt_seg_recovery rec;
	T_EQ(evt_segw_resume(p, &o, &w, &rec), 0, "resume with a damaged "
	    "block");
	T_OK(rec.valid_end == usize && rec.cut_bytes == 0 &&
	    rec.blocks == nbt - 1 && rec.bad_blocks >= 1, "damaged block "
	    "counted, good blocks after it kept (blocks %u bad %u)",
	    rec.blocks, rec.bad_blocks);
	evt_segw_seal(w);
	struct flist rd = {0};
	rs.n = 0;
	read_all(p, &rd, &rs, NULL);
	size_t n = 0;
	for (size_t i = 0; i < C.fl.n; i++)
		if (C.fl.f[i].blk != ubt[nbt - 3].off)
			n++;
	T_OK(rd.n == n, "sealed after resume: %zu of %zu frames read", rd.n,
	    n);
	fl_free(&rd);
}

/* Writes v little-endian at p. */
static void
le32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/*
 * Block headers are checksummed, but a file is hostile input
 * (README, "Layout and hacking"): a header with a valid CRC and absurd dictionary bases must
 * be reported as damage and skipped, not stop the scan.
 */
static void
test_crafted_headers(void)
{
	const char *src = tpath("crafted-src.evt"), *p = tpath("crafted.evt");
	uint8_t uuid[16] = {4};
	struct evt_segw_opts o = {.block_bytes = 1024, .level = 1};
	struct evt_segw *w;
	evt_segw_create(src, 1, uuid, 1, &o, &w);
	write_frames(w, &C.fl, 0, 30);
	evt_segw_flush(w);
	evt_segw_close(w);
	uint8_t *b;
	size_t n = slurp(src, &b);
	static struct blk bt[NBLK_MAX];
	size_t nbt = block_table(b, n, bt, NBLK_MAX);
	static const struct {
		size_t field;
		uint32_t v;
		const char *what;
		int bug;
	} cases[] = {
		{28, 0x7fffffff, "str_base 2^31-1", 1},
		{28, 1u << 20, "str_base 2^20", 0},
		{32, 0xffffff, "shape_base 2^24-1", 1},
		{12, 0x3fffffff, "rawlen 2^30-1 (zstd frame says less)", 0},
		{16, 1u << 26, "nguid 2^26", 0},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		uint8_t *c = malloc(n);
		if (c == NULL || nbt < 2)
			abort();
		memcpy(c, b, n);
		uint8_t *h = c + bt[1].off;
		le32_put(h + cases[k].field, cases[k].v);
		le32_put(h + 60, evt_crc32c(0, h, 60));
		spit(p, c, n);
		free(c);
		struct evt_segr *r;
		struct reports rs = {0};
		struct evt_rec rec;
		int rc = evt_segr_open(p, err_cb, &rs, &r);
		uint64_t recs = 0;
		if (rc == 0) {
			evt_segr_rewind(r, INT64_MIN);
			while ((rc = evt_segr_next(r, &rec, NULL)) == 1)
				recs++;
			evt_segr_close(r);
		}
		T_OK(rc == 0 && rs.n >= 1 && recs > 0, "%scrafted block header "
		    "(%s): scan goes on (rc %d), damage reported (%d)",
		    cases[k].bug ? "regression: " : "", cases[k].what, rc,
		    rs.n);
	}
	free(b);
}

/*
 * Dictionary units (formats/records.md): damage to block 0 of an unsealed
 * segment loses at most the rest of its unit; every record of the later
 * units still decodes.  And a damaged segment header loses nothing.
 */
static void
test_units(void)
{
	/* Read on despite a damaged header only under a segment's name. */
	const char *p = tpath("units.evt"),
	    *d = tpath("units/seg-000000000001.evt");
	mkdir(tpath("units"), 0755);
	uint8_t uuid[16] = {5};
	struct evt_segw_opts o = {.block_bytes = 1024, .level = 1,
	    .unit_bytes = 4096};
	struct evt_segw *w;
	T_EQ(evt_segw_create(p, 1, uuid, 1, &o, &w), 0, "units: create");
	write_frames(w, &C.fl, 0, C.fl.n);
	evt_segw_flush(w);
	evt_segw_close(w); /* unsealed: the dictionary is in the blocks */
	uint8_t *b;
	size_t n = slurp(p, &b);
	static struct blk bt[NBLK_MAX];
	size_t nbt = block_table(b, n, bt, NBLK_MAX), nunit = 0;
	uint64_t unit2 = 0; /* offset of the second unit's first block */
	int flags_ok = nbt > 0;
	for (size_t i = 0; i < nbt; i++) {
		uint32_t fl = le32(b + bt[i].off + 36);
		if (fl & EVT_BLKF_UNIT) {
			if (++nunit == 2)
				unit2 = bt[i].off;
		}
		if (i == 0 && !(fl & EVT_BLKF_UNIT))
			flags_ok = 0;
	}
	T_OK(flags_ok && nunit >= 3, "units: block 0 and %zu more blocks "
	    "(of %zu) start a unit (flag UNIT)", nunit - 1, nbt);
	/* Records of blocks from unit 2 on, intact and with block 0 hit. */
	uint64_t good[2] = {0, 0}, late_bad = 0;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			b[bt[0].off + EVT_BLK_HDR_SIZE + 8] ^= 0x10;
			b[40] ^= 1; /* the header's creation time too */
			spit(d, b, n);
		}
		struct evt_segr *r;
		struct reports rs = {0};
		struct evt_rec rec;
		uint64_t boff;
		int rc = evt_segr_open(pass ? d : p, err_cb, &rs, &r);
		T_EQ(rc, 0, "units: open (%s)", pass ? "damaged" : "intact");
		if (rc != 0)
			continue;
		T_OK(evt_segr_info(r)->hdr_damaged == pass &&
		    evt_segr_info(r)->seq == 1, "units: header %s, sequence "
		    "number %llu", pass ? "damaged" : "intact",
		    (unsigned long long)evt_segr_info(r)->seq);
		evt_segr_rewind(r, INT64_MIN);
		while ((rc = evt_segr_next(r, &rec, &boff)) == 1) {
			struct evt_buf j = {0};
			if (boff < unit2)
				continue;
			if ((rec.kind == EVT_K_EVENT || rec.kind == EVT_K_ITEM) &&
			    evt_rdec_item_json(evt_segr_decoder(r), &rec, &j) != 0)
				late_bad++;
			else
				good[pass]++;
			evt_buf_free(&j);
		}
		for (int i = 0; i < rs.n && i < 64; i++)
			if (rs.r[i].off >= unit2)
				late_bad++;
		evt_segr_close(r);
	}
	T_OK(good[0] > 0 && good[1] == good[0] && late_bad == 0,
	    "units: block 0 and the header damaged, all %llu records of the "
	    "later units read (%llu), no problem there (%llu)",
	    (unsigned long long)good[0], (unsigned long long)good[1],
	    (unsigned long long)late_bad);
	free(b);

	/* The dictionary forgets by content, not by id. */
	struct evt_dict dict;
	evt_dict_init(&dict);
	int64_t a = evt_dict_str_add(&dict, "id", 2);
	int64_t f1 = evt_dict_str_find(&dict, "id", 2);
	evt_dict_forget(&dict);
	int64_t f2 = evt_dict_str_find(&dict, "id", 2);
	int64_t a2 = evt_dict_str_add(&dict, "id", 2);
	int64_t f3 = evt_dict_str_find(&dict, "id", 2);
	size_t len = 0;
	const char *s0 = evt_dict_str(&dict, 0, &len);
	T_OK(a == 0 && f1 == 0 && f2 == -1 && a2 == 1 && f3 == 1 &&
	    s0 != NULL && len == 2, "units: evt_dict_forget hides string 0 "
	    "from lookups (%lld), keeps it by id; the new one is found (%lld)",
	    (long long)f2, (long long)f3);
	evt_dict_free(&dict);
}

/*
 * Special ids and values.
 */
static void
test_special_ids(void)
{
	const char *p = tpath("ids.evt");
	uint8_t uuid[16] = {3};
	struct evt_segw_opts o = {.block_bytes = 512, .level = 1};
	char longid[301], id255[256], id256[257];
	memset(longid, 'L', 300);
	longid[300] = 0;
	memset(id255, 'M', 255);
	id255[255] = 0;
	memset(id256, 'N', 256);
	id256[256] = 0;
	char msgs[8][700];
	snprintf(msgs[0], 700, "{\"events\":[{\"id\":"
	    "\"A1B2C3D4-E5F6-4711-8899-AABBCCDDEEFF\",\"type\":\"t\"}]}");
	snprintf(msgs[1], 700, "{\"events\":[{\"id\":\"event-17\","
	    "\"type\":\"t\"}]}");
	snprintf(msgs[2], 700, "{\"events\":[{\"id\":\"%s\",\"type\":\"t\"}]}",
	    longid);
	snprintf(msgs[3], 700, "{\"events\":[{\"id\":"
	    "\"0a1b2c3d-0000-4000-8000-000000000001\",\"s\":\"\"}]}");
	snprintf(msgs[4], 700, "{\"events\":[{\"id\":"
	    "\"0a1b2c3d-0000-4000-8000-000000000002\",\"type\":\"t\"}]}");
	snprintf(msgs[5], 700, "{\"events\":[{\"id\":\"a/b\\\"c\","
	    "\"type\":\"t\"}]}");
	snprintf(msgs[6], 700, "{\"events\":[{\"id\":\"%s\",\"type\":\"t\"}]}",
	    id255);
	snprintf(msgs[7], 700, "{\"events\":[{\"id\":\"%s\",\"type\":\"t\"}]}",
	    id256);
	int nmsg = 8;
	const struct {
		const char *id;
		int msg; /* expected event: msgs[msg]'s only event */
		const char *what;
	} q[] = {
		{"A1B2C3D4-E5F6-4711-8899-AABBCCDDEEFF", 0,
		    "upper-case GUID id, same spelling"},
		{"a1b2c3d4-e5f6-4711-8899-aabbccddeeff", 0,
		    "upper-case GUID id, lower-case spelling"},
		{"event-17", 1, "non-GUID id"},
		{longid, 2, "300-character id: not indexed (record.h)"},
		{id255, 6, "255-character id"},
		{id256, 7, "256-character id (record.h: EVT_REC_MAX_INTERN is "
		    "the longest indexed id)"},
		{"0a1b2c3d-0000-4000-8000-000000000001", 3,
		    "event with an empty string value"},
		{"0A1B2C3D-0000-4000-8000-000000000002", 4,
		    "lower-case id, upper-case spelling"},
		{"a/b\"c", 5, "id with escapes"},
	};
	for (int sealed = 0; sealed < 2; sealed++) {
		struct evt_segw *w;
		unlink(p);
		evt_segw_create(p, 1, uuid, 1, &o, &w);
		for (int i = 0; i < nmsg; i++)
			evt_segw_frame(w, 100 + i, msgs[i], strlen(msgs[i]));
		if (sealed)
			evt_segw_seal(w);
		else {
			evt_segw_flush(w);
			evt_segw_close(w);
		}
		for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
			struct event ev = {0};
			ev.id = (char *)(uintptr_t)q[k].id;
			ev.idlen = strlen(ev.id);
			/* The event text: between "[" and "]}". */
			const char *m = msgs[q[k].msg];
			ev.json = (char *)(uintptr_t)(m + 11);
			ev.len = strlen(m) - 13;
			/* 7: the writer once indexed ids shorter than
			 * EVT_REC_MAX_INTERN only (fixed). */
			int bug = q[k].msg == 7;
			T_EQ(find_all(p, &ev, 1, q[k].msg != 2),
			    q[k].msg == 2 ? 1 : 0, "%s%s segment: find %s",
			    bug ? "regression: " : "", sealed ? "sealed" :
			    "unsealed",
			    q[k].what);
		}
	}
	/* The sealed one, read block by block as evtool verify does. */
	struct evt_segr *r;
	struct reports rs = {0};
	struct flist rd = {0};
	evt_segr_open(p, err_cb, &rs, &r);
	evt_segr_force_scan(r);
	int bad = read_frames(r, &rd);
	evt_segr_close(r);
	T_OK(bad == 0 && rs.n == 0 && rd.n == (size_t)nmsg, "regression: forced "
	    "scan (evtool verify) of a healthy sealed segment holding an "
	    "empty string value reads clean (%d problems)", bad + rs.n);
	fl_free(&rd);
	/* Unsealed, resumed and sealed: the "" must survive. */
	struct evt_segw *w;
	struct evt_seg_recovery rec;
	unlink(p);
	evt_segw_create(p, 1, uuid, 1, &o, &w);
	for (int i = 0; i < nmsg; i++)
		evt_segw_frame(w, 100 + i, msgs[i], strlen(msgs[i]));
	evt_segw_flush(w);
	evt_segw_close(w);
	evt_segw_resume(p, &o, &w, &rec);
	evt_segw_frame(w, 200, msgs[3], strlen(msgs[3]));
	evt_segw_seal(w);
	rs.n = 0;
	bad = read_all(p, &rd, &rs, NULL);
	T_OK(bad == 0 && rs.n == 0 && rd.n == (size_t)nmsg + 1 &&
	    same(rd.f[3].text, rd.f[3].len, msgs[3], strlen(msgs[3])),
	    "regression: an empty string value survives resume + seal (%d "
	    "problems)", bad + rs.n);
	fl_free(&rd);
}

/*
 * Archive.
 */

struct warns {
	char msg[16][300];
	int n;
};

/* Warning callback: keeps the first messages. */
static void
warn_cb(void *arg, const char *msg)
{
	struct warns *w = arg;
	if (w->n < 16)
		snprintf(w->msg[w->n], sizeof w->msg[0], "%s", msg);
	w->n++;
}

/* Whether any warning contains s. */
static int
warned(const struct warns *w, const char *s)
{
	for (int i = 0; i < w->n && i < 16; i++)
		if (strstr(w->msg[i], s) != NULL)
			return 1;
	return 0;
}

/* Reads every frame of an archive in order. */
static int
read_archive(const char *dir, struct flist *out, size_t *nseg)
{
	struct evt_archive *a;
	struct warns wn = {0};
	if (evt_archive_open(dir, 0, NULL, NULL, warn_cb, &wn, &a) != 0)
		return -1;
	size_t n;
	const struct evt_segref *s = evt_archive_segments(a, &n);
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		int b = read_all(s[i].path, out, NULL, NULL);
		bad += b < 0 ? 1 : b;
	}
	if (nseg != NULL)
		*nseg = n;
	evt_archive_close(a);
	return bad;
}

/* Writes frames [from, to) of a list to an archive. */
static int
archive_write(struct evt_archive *a, const struct flist *l, size_t from,
    size_t to)
{
	int bad = 0;
	for (size_t i = from; i < to; i++) {
		const struct frame *f = &l->f[i];
		const char *in = f->in ? f->in : f->text;
		size_t inlen = f->in ? f->inlen : f->len;
		int rc = f->kind >= EVT_K_SESSION ?
		    evt_archive_marker(a, f->kind, f->rx, in, inlen) :
		    evt_archive_frame(a, f->rx, in, inlen);
		bad += rc < 0;
	}
	return bad;
}

/* Appends n bytes to segment k of dir (a torn tail). */
static void
append_bytes(const char *dir, uint64_t k, const char *bytes, size_t n)
{
	char name[32], path[512];
	evt_segment_name(k, name, sizeof name);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "ab");
	if (f == NULL || fwrite(bytes, 1, n, f) != n)
		fprintf(stderr, "test_segment: cannot append to %s\n", path);
	if (f != NULL)
		fclose(f);
}

/* Removes an archive directory's files and the directory. */
static void
rm_archive(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_segment: cannot remove %s\n", dir);
}

static void
test_archive(void)
{
	const char *dir = tpath("ar");
	struct evt_archive_opts ao = {.seg = {.block_bytes = 2048,
	    .level = 1}, .seg_bytes = 16 * 1024};
	struct evt_archive *a, *a2;
	struct warns wn = {0};
	T_EQ(evt_archive_open(dir, EVT_AR_WRITE, &ao, NULL, warn_cb, &wn, &a),
	    EVT_ERR_NOTFOUND, "missing directory without EVT_AR_CREATE");
	T_EQ(evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, &ao, NULL,
	    warn_cb, &wn, &a), 0, "create archive");
	T_EQ(evt_archive_open(dir, EVT_AR_WRITE, &ao, NULL, warn_cb, &wn,
	    &a2), EVT_ERR_EXISTS, "second writer: EVT_ERR_EXISTS");
	T_EQ(evt_archive_open(dir, 0, NULL, NULL, warn_cb, &wn, &a2), 0,
	    "a reader may open while a writer holds the lock");
	evt_archive_close(a2);
	size_t half = C.fl.n / 2;
	T_EQ(archive_write(a, &C.fl, 0, half), 0, "write half the corpus");
	T_EQ(evt_archive_close(a), 0, "close seals");
	struct flist rd = {0};
	size_t nseg = 0;
	T_OK(read_archive(dir, &rd, &nseg) == 0 &&
	    fl_equal_range(&rd, &C.fl, 0, half) && nseg >= 3,
	    "rotation by size: %zu segments, all frames in order", nseg);
	fl_free(&rd);

	/* Reopen for write, crash (child exits without closing), reopen:
	 * the last segment is resumed. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct evt_archive *c;
		struct warns cw = {0};
		if (evt_archive_open(dir, EVT_AR_WRITE, &ao, NULL, warn_cb, &cw,
		    &c) != 0)
			_exit(2);
		if (archive_write(c, &C.fl, half, half + 40) != 0 ||
		    evt_archive_flush(c) != 0 || evt_archive_sync(c) != 0)
			_exit(3);
		/* A little more that is never flushed: lost in the crash. */
		if (evt_archive_frame(c, C.fl.f[half + 40].rx, L("lost")) !=
		    EVT_K_RAW)
			_exit(4);
		_exit(0);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child wrote and "
	    "crashed");
	size_t nseg2 = 0;
	rd.n = 0;
	T_OK(read_archive(dir, &rd, &nseg2) == 0 &&
	    fl_equal_range(&rd, &C.fl, 0, half + 40), "after the crash every "
	    "flushed frame reads (unsealed last segment)");
	fl_free(&rd);
	wn.n = 0;
	T_EQ(evt_archive_open(dir, EVT_AR_WRITE, &ao, NULL, warn_cb, &wn, &a),
	    0, "reopen for write");
	size_t n;
	evt_archive_segments(a, &n);
	T_OK(evt_archive_writer(a) != NULL && n == nseg2, "the last segment "
	    "is resumed (%zu segments)", n);
	T_EQ(archive_write(a, &C.fl, half + 40, C.fl.n), 0, "write the rest");
	T_EQ(evt_archive_close(a), 0, "close");
	rd.n = 0;
	T_OK(read_archive(dir, &rd, &nseg) == 0 &&
	    fl_equal_range(&rd, &C.fl, 0, C.fl.n), "whole corpus reads back "
	    "across %zu segments", nseg);
	fl_free(&rd);

	/* The newest ids for a restarted recorder's dedupe: any bound gives
	 * the tail of the whole list, and it ends with the last id. */
	{
		struct evt_archive *ra;
		size_t nall = 0, nk = 0, lid = 0;
		uint64_t *all = calloc(1 << 20, sizeof *all), few[37];
		T_EQ(evt_archive_open(dir, EVT_AR_WRITE, &ao, NULL, warn_cb, &wn,
		    &ra), 0, "reopen for the recent ids");
		T_EQ(evt_archive_recent_keys(ra, all, 1 << 20, &nall), 0,
		    "recent keys: all");
		T_EQ(evt_archive_recent_keys(ra, few, 37, &nk), 0,
		    "recent keys: 37");
		const char *last = evt_archive_last_id(ra, &lid);
		T_OK(nall > 37 && nk == 37 && memcmp(few, all + nall - 37,
		    sizeof few) == 0 && last != NULL &&
		    all[nall - 1] == evt_id_key(last, lid),
		    "recent keys: %zu in all, the last 37 are their tail and "
		    "end with the last id", nall);
		uint64_t *most = calloc(nall, sizeof *most);
		size_t nm = 0;
		T_OK(evt_archive_recent_keys(ra, most, nall - 5, &nm) == 0 &&
		    nm == nall - 5 && memcmp(most, all + 5, nm *
		    sizeof *most) == 0, "recent keys across segments: the "
		    "last %zu", nall - 5);
		free(most);
		free(all);
		evt_archive_close(ra);
	}

	/* Every segment is sealed now. */
	struct evt_archive *ar;
	evt_archive_open(dir, 0, NULL, NULL, warn_cb, &wn, &ar);
	const struct evt_segref *s = evt_archive_segments(ar, &n);
	int all_sealed = 1;
	uint64_t total = 0, size0 = n ? evt_archive_segment_size(ar, 0) : 0;
	int64_t last_rx[64] = {0};
	for (size_t i = 0; i < n; i++) {
		struct evt_segr *r;
		total += evt_archive_segment_size(ar, i);
		if (evt_segr_open(s[i].path, NULL, NULL, &r) != 0) {
			all_sealed = 0;
			continue;
		}
		all_sealed &= evt_segr_info(r)->sealed && s[i].seq == i + 1;
		if (i < 64)
			last_rx[i] = evt_segr_info(r)->last_rx;
		evt_segr_close(r);
	}
	T_OK(all_sealed, "segments numbered from 1 and sealed");
	evt_archive_close(ar);

	/* Stray files produce warnings and are left alone. */
	spit(tpath("ar/notes.txt"), (const uint8_t *)"x", 1);
	spit(tpath("ar/seg-12.evt"), (const uint8_t *)"x", 1);
	mkdir(tpath("ar/subdir"), 0755);
	wn.n = 0;
	T_EQ(evt_archive_open(dir, 0, NULL, NULL, warn_cb, &wn, &ar), 0,
	    "open with stray files");
	evt_archive_segments(ar, &n);
	T_OK(n == nseg && warned(&wn, "notes.txt") && warned(&wn,
	    "seg-12.evt") && warned(&wn, "subdir"), "stray files warned "
	    "about (%d warnings), not taken as segments", wn.n);
	evt_archive_close(ar);
	unlink(tpath("ar/notes.txt"));
	unlink(tpath("ar/seg-12.evt"));
	rmdir(tpath("ar/subdir"));

	/* Prune by bytes: never the newest. */
	const char *dir2 = tpath("ar2");
	rm_archive(dir2);
	{
		char cmd[512];
		snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", dir, dir2);
		if (system(cmd) != 0)
			abort();
	}
	uint64_t freed = 0;
	evt_archive_open(dir2, EVT_AR_WRITE, &ao, NULL, warn_cb, &wn, &ar);
	T_EQ(evt_archive_prune(ar, total * 10, 0, 0, &freed), 0,
	    "prune under the limit deletes nothing");
	int del = evt_archive_prune(ar, total - 1, 0, 0, &freed);
	T_OK(del == 1 && freed == size0, "prune just under the total "
	    "deletes the oldest only");
	del = evt_archive_prune(ar, 1, 0, 0, &freed);
	evt_archive_segments(ar, &n);
	T_OK(del == (int)nseg - 2 && n == 1, "prune to 1 byte keeps the "
	    "newest (%d deleted)", del);
	evt_archive_close(ar);
	evt_archive_open(dir2, 0, NULL, NULL, warn_cb, &wn, &ar);
	s = evt_archive_segments(ar, &n);
	T_OK(n == 1 && s[0].seq == nseg, "only the newest is left");
	evt_archive_close(ar);
	/* The newest is kept even when it is open and the limit tiny. */
	evt_archive_open(dir2, EVT_AR_WRITE, &ao, NULL, warn_cb, &wn, &ar);
	archive_write(ar, &C.fl, 0, 5);
	T_EQ(evt_archive_prune(ar, 1, 1, INT64_MAX / 2, &freed), 1,
	    "prune with a new open segment deletes the sealed one only");
	evt_archive_segments(ar, &n);
	T_OK(n == 1 && evt_archive_writer(ar) != NULL, "the open segment "
	    "stays");
	evt_archive_close(ar);
	rm_archive(dir2);

	/* Prune by age. */
	{
		char cmd[512];
		snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", dir, dir2);
		if (system(cmd) != 0)
			abort();
	}
	evt_archive_open(dir2, 0, NULL, NULL, warn_cb, &wn, &ar);
	s = evt_archive_segments(ar, &n);
	int64_t last1 = last_rx[0], last2 = last_rx[1];
	int64_t newest = last_rx[n - 1 < 64 ? n - 1 : 63];
	T_EQ(evt_archive_prune(ar, 0, 1000, last1 + 1000, &freed), 0,
	    "nothing older than the age");
	T_EQ(evt_archive_prune(ar, 0, 1000, last2 + 1001, &freed), 2,
	    "prune by age deletes segments 1 and 2");
	T_EQ(evt_archive_prune(ar, 0, 1, newest + 1000000, &freed),
	    (int)n - 3, "all old: everything but the newest");
	evt_archive_segments(ar, &n);
	T_EQ(n, 1, "newest kept");
	evt_archive_close(ar);
	rm_archive(dir2);

	/* Older unsealed segments are sealed when opening for write. */
	const char *dir3 = tpath("ar3");
	mkdir(dir3, 0755);
	uint8_t uuid[16] = {1};
	for (int k = 1; k <= 3; k++) {
		char name[32];
		evt_segment_name((uint64_t)k, name, sizeof name);
		char path[512];
		snprintf(path, sizeof path, "%s/%s", dir3, name);
		struct evt_segw *w;
		evt_segw_create(path, (uint64_t)k, uuid, 1, &ao.seg, &w);
		write_frames(w, &C.fl, (size_t)(k - 1) * 20, (size_t)k * 20);
		evt_segw_flush(w);
		evt_segw_close(w);
	}
	/* And a torn tail on the last. */
	append_bytes(dir3, 3, "\x9e" "EBKtorn", 8);
	wn.n = 0;
	T_EQ(evt_archive_open(dir3, EVT_AR_WRITE, &ao, NULL, warn_cb, &wn,
	    &ar), 0, "open an archive left by a crash");
	T_OK(warned(&wn, "torn tail of 8 bytes"), "warning for the torn "
	    "tail (%d)", wn.n);
	/* The older ones are sealed on the sealing thread meanwhile; every
	 * frame reads at any moment. */
	rd.n = 0;
	T_OK(read_archive(dir3, &rd, &nseg) == 0 &&
	    fl_equal_range(&rd, &C.fl, 0, 60), "all frames read while the "
	    "older segments are being sealed");
	fl_free(&rd);
	archive_write(ar, &C.fl, 60, 80);
	evt_archive_close(ar);
	T_OK(warned(&wn, "sealed 2 older segment(s) left unsealed"),
	    "warning for the seal of the older segments (%d)", wn.n);
	for (int k = 1; k <= 3; k++) {
		char name[32], path[512];
		struct evt_segr *r = NULL;
		evt_segment_name((uint64_t)k, name, sizeof name);
		snprintf(path, sizeof path, "%s/%s", dir3, name);
		T_OK(evt_segr_open(path, NULL, NULL, &r) == 0 &&
		    evt_segr_info(r)->sealed, "segment %d sealed after close", k);
		if (r != NULL)
			evt_segr_close(r);
	}
	rd.n = 0;
	T_OK(read_archive(dir3, &rd, &nseg) == 0 &&
	    fl_equal_range(&rd, &C.fl, 0, 80), "all frames of the recovered "
	    "archive read");
	fl_free(&rd);
	char name[32];
	evt_segment_name(1, name, sizeof name);
	T_OK(strcmp(name, "seg-000000000001.evt") == 0, "segment name");
	rm_archive(dir3);
	rm_archive(dir);
}

/* Whether the archive's resume point is (id, session body). */
static int
resume_is(const struct evt_archive *a, const char *id, const char *sess)
{
	size_t n, m;
	const char *gi = evt_archive_last_id(a, &n);
	const char *gs = evt_archive_session(a, &m);
	int ok_id = id == NULL ? gi == NULL :
	    gi != NULL && n == strlen(id) && memcmp(gi, id, n) == 0;
	int ok_s = sess == NULL ? gs == NULL :
	    gs != NULL && m == strlen(sess) && memcmp(gs, sess, m) == 0;
	if (!ok_id || !ok_s)
		printf("#   id %.*s session %.*s\n", gi ? (int)n : 4,
		    gi ? gi : "NULL", gs ? (int)m : 4, gs ? gs : "NULL");
	return ok_id && ok_s;
}

/* Counts the SESSION markers of one segment file. */
static int
count_sessions(const char *path)
{
	struct evt_segr *r;
	if (evt_segr_open(path, NULL, NULL, &r) != 0)
		return -1;
	struct evt_rec re;
	uint64_t boff;
	int n = 0, rc = evt_segr_rewind(r, INT64_MIN);
	while (rc == 0 && (rc = evt_segr_next(r, &re, &boff)) == 1) {
		rc = 0;
		n += re.kind == EVT_K_SESSION;
	}
	evt_segr_close(r);
	return rc < 0 ? -1 : n;
}

/* The last event id and SESSION body survive rotation, close, crash. */
static void
test_resume_point(void)
{
	const char *dir = tpath("rp");
	struct evt_archive_opts ao = {.seg = {.block_bytes = 256,
	    .level = 1}, .seg_bytes = 1024};
	struct evt_archive *a;
	struct warns wn = {0};
	char msg[256];
	static const char s_new[] = "{\"event\":\"new\",\"sessionId\":\"s1\"}";
	static const char s_cont[] =
	    "{\"event\":\"continued\",\"sessionId\":\"s1\"}";
	T_EQ(evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, &ao, NULL,
	    warn_cb, &wn, &a), 0, "resume point: create");
	T_OK(resume_is(a, NULL, NULL), "empty archive: no id, no session");
	int64_t rx = INT64_C(1767600000000000);
	T_EQ(evt_archive_marker(a, EVT_K_SESSION, rx, L(s_new)), 0,
	    "SESSION marker");
	T_EQ(evt_archive_set_carry(a, L(s_cont)), 0, "set carry");
	T_OK(resume_is(a, NULL, s_new), "the marker is the last session");
	int bad = 0;
	for (int i = 0; i < 300; i++) {
		int n = snprintf(msg, sizeof msg, "{\"events\":[{\"id\":"
		    "\"00000000-0000-4000-8000-%012d\",\"type\":\"t\"}]}",
		    i);
		bad += evt_archive_frame(a, rx + i, msg, (size_t)n) != EVT_K_MSG;
		if (i == 150) /* a non-event frame does not move the id */
			bad += evt_archive_frame(a, rx + i, L("{\"x\":1}")) !=
			    EVT_K_JSON;
	}
	T_EQ(bad, 0, "300 event messages");
	size_t nseg;
	const struct evt_segref *sg = evt_archive_segments(a, &nseg);
	T_OK(nseg >= 3, "rotated into %zu segments", nseg);
	T_OK(resume_is(a, "00000000-0000-4000-8000-000000000299", s_cont),
	    "in memory: last id and the carried body");
	int c2 = nseg >= 2 ? count_sessions(sg[1].path) : -1;
	T_EQ(c2, 1, "a rotated-in segment starts with the carried marker");
	T_EQ(evt_archive_close(a), 0, "close");

	T_EQ(evt_archive_open(dir, EVT_AR_WRITE, &ao, NULL, warn_cb, &wn, &a),
	    0, "reopen after a clean close (newest segment sealed)");
	T_OK(resume_is(a, "00000000-0000-4000-8000-000000000299", s_cont),
	    "found on disk: last id and session");
	/* A crash: the child writes, flushes part, dies without closing. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct evt_archive *c = a;
		if (evt_archive_marker(c, EVT_K_SESSION, rx + 400,
		    L("{\"event\":\"new\",\"sessionId\":\"s2\"}")) != 0 ||
		    evt_archive_frame(c, rx + 401, L("{\"events\":[{\"id\":"
		    "\"11111111-0000-4000-8000-000000000001\"}]}")) != EVT_K_MSG ||
		    evt_archive_flush(c) != 0)
			_exit(3);
		if (evt_archive_frame(c, rx + 402, L("{\"events\":[{\"id\":"
		    "\"22222222-0000-4000-8000-000000000002\"}]}")) != EVT_K_MSG)
			_exit(4);
		_exit(0); /* the last frame was never flushed */
	}
	int st = -1;
	waitpid(pid, &st, 0);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child wrote and died");
	T_EQ(evt_archive_close(a), 0, "parent's handle closed (nothing new)");
	/* The parent's handle had no open segment (the newest was sealed),
	 * so the child wrote a new one, left unsealed by its death. */
	T_EQ(evt_archive_open(dir, EVT_AR_WRITE, &ao, NULL, warn_cb, &wn, &a),
	    0, "reopen after the crash");
	T_OK(resume_is(a, "11111111-0000-4000-8000-000000000001",
	    "{\"event\":\"new\",\"sessionId\":\"s2\"}"),
	    "after kill: the last flushed id and the child's session");
	T_EQ(evt_archive_close(a), 0, "close");

	/* Without a carry, a SESSION deep inside a sealed segment is still
	 * found (full scan of the newest segment). */
	const char *dir2 = tpath("rp2");
	struct evt_archive_opts big = {.seg = {.block_bytes = 512,
	    .level = 1}};
	T_EQ(evt_archive_open(dir2, EVT_AR_WRITE | EVT_AR_CREATE, &big, NULL,
	    warn_cb, &wn, &a), 0, "second archive");
	bad = evt_archive_marker(a, EVT_K_SESSION, rx, L(s_new)) != 0;
	for (int i = 0; i < 200; i++) {
		int n = snprintf(msg, sizeof msg, "{\"events\":[{\"id\":"
		    "\"00000000-0000-4000-8000-%012d\"}]}", i);
		bad += evt_archive_frame(a, rx + i, msg, (size_t)n) != EVT_K_MSG;
	}
	T_EQ(bad, 0, "a marker then 200 messages in many blocks");
	T_EQ(evt_archive_close(a), 0, "close");
	T_EQ(evt_archive_open(dir2, EVT_AR_WRITE, &big, NULL, warn_cb, &wn,
	    &a), 0, "reopen");
	T_OK(resume_is(a, "00000000-0000-4000-8000-000000000199", s_new),
	    "session found by scanning back through the blocks");
	T_EQ(evt_archive_close(a), 0, "close");
}

/* Opens segment k of dir; NULL if it cannot. */
static struct evt_segr *
open_seg(const char *dir, uint64_t k)
{
	char name[32], path[512];
	struct evt_segr *r = NULL;
	evt_segment_name(k, name, sizeof name);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (evt_segr_open(path, NULL, NULL, &r) != 0)
		return NULL;
	return r;
}

/* Counts how many of the ids "00000000-0000-4000-8000-<i>" for i in
 * [from, to) segment k of dir finds, and how often the id of the last
 * event occurs in the whole archive's frames (must be once). */
static int
found_ids(const char *dir, uint64_t k, int from, int to)
{
	struct evt_segr *r = open_seg(dir, k);
	if (r == NULL)
		return -1;
	int n = 0;
	for (int i = from; i < to; i++) {
		char id[64];
		struct evt_rec re;
		uint64_t boff;
		snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i);
		n += evt_segr_find(r, id, strlen(id), &re, &boff) == 1;
	}
	evt_segr_close(r);
	return n;
}

/*
 * Crash recovery: the resume scan passes records over undecoded and
 * decodes only the last block with events; the seal reads the id keys back
 * from the file.  Kill-like states: a torn tail after a block without
 * events, a STATES frame after the last message, a crash while an older
 * segment was being sealed (cut index), a crash right after a resume.
 */
static void
test_crash_recovery(void)
{
	const char *dir = tpath("cr");
	struct evt_archive_opts ao = {.seg = {.block_bytes = 300,
	    .level = 1}};
	struct evt_archive *a;
	struct warns wn = {0};
	char msg[256];
	static const char s1[] = "{\"event\":\"new\",\"sessionId\":\"c1\"}";
	static const char s2[] = "{\"event\":\"resumed\",\"sessionId\":\"c1\"}";
	static const char states[] = "{\"commandId\":1,\"status\":200,"
	    "\"states\":[{\"id\":\"33333333-0000-4000-8000-000000000003\","
	    "\"type\":\"s\"}]}";
	int64_t rx = INT64_C(1767600000000000);
	T_EQ(evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, &ao, NULL,
	    warn_cb, &wn, &a), 0, "crash recovery: create");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int bad = evt_archive_marker(a, EVT_K_SESSION, rx, L(s1)) != 0;
		for (int i = 0; i < 100; i++) {
			int n = snprintf(msg, sizeof msg, "{\"events\":[{\"id\":"
			    "\"00000000-0000-4000-8000-%012d\",\"type\":\"t\"}]}",
			    i);
			if (i == 99) /* the last message shares its block with
					a STATES frame */
				bad += evt_archive_flush(a) != 0;
			bad += evt_archive_frame(a, rx + i, msg, (size_t)n) !=
			    EVT_K_MSG;
		}
		bad += evt_archive_frame(a, rx + 200, L(states)) != EVT_K_STATES;
		bad += evt_archive_flush(a) != 0;
		/* The last blocks hold no event of a message. */
		bad += evt_archive_marker(a, EVT_K_SESSION, rx + 201, L(s2)) !=
		    0;
		bad += evt_archive_flush(a) != 0;
		bad += evt_archive_frame(a, rx + 202, L("{\"x\":1}")) !=
		    EVT_K_JSON;
		bad += evt_archive_flush(a) != 0;
		_exit(bad ? 3 : 0);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child wrote and died");
	evt_archive_close(a);
	/* A torn tail: half a block header. */
	append_bytes(dir, 1, "\x9e" "EBK\x40\x00\x01\x01garbage", 15);
	/* Reopen, check, append, and die again right after the resume (in a
	 * child: the parent must hold no writer that would seal the file). */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		wn.n = 0;
		if (evt_archive_open(dir, EVT_AR_WRITE, &ao, NULL, warn_cb, &wn,
		    &a) != 0)
			_exit(2);
		if (!warned(&wn, "torn tail of 15 bytes"))
			_exit(3);
		if (!resume_is(a, "00000000-0000-4000-8000-000000000099", s2))
			_exit(4);
		if (evt_segw_events(evt_archive_writer(a)) != 100)
			_exit(5);
		int bad = 0;
		for (int i = 100; i < 150; i++) {
			int n = snprintf(msg, sizeof msg, "{\"events\":[{\"id\":"
			    "\"00000000-0000-4000-8000-%012d\",\"type\":\"t\"}]}",
			    i);
			bad += evt_archive_frame(a, rx + 300 + i, msg,
			    (size_t)n) != EVT_K_MSG;
		}
		bad += evt_archive_flush(a) != 0;
		_exit(bad ? 6 : 0);
	}
	st = -1;
	waitpid(pid, &st, 0);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "after the crash: torn "
	    "tail cut, resume point = the last message's id (not the STATES "
	    "item's) and the last SESSION body, 100 events; appended 50 and "
	    "died again (exit %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	T_EQ(evt_archive_open(dir, EVT_AR_WRITE, &ao, NULL, warn_cb, &wn, &a),
	    0, "reopen after the second crash");
	T_OK(resume_is(a, "00000000-0000-4000-8000-000000000149", s2),
	    "resume point after the second crash");
	T_EQ(evt_segw_events(evt_archive_writer(a)), 150, "150 events, none "
	    "doubled");
	T_EQ(evt_archive_rotate(a), 0, "rotate: seal on the thread");
	int n = snprintf(msg, sizeof msg, "{\"events\":[{\"id\":"
	    "\"00000000-0000-4000-8000-%012d\",\"type\":\"t\"}]}", 150);
	T_EQ(evt_archive_frame(a, rx + 500, msg, (size_t)n), EVT_K_MSG,
	    "write into a new segment");
	T_EQ(evt_archive_frame(a, rx + 501, L(states)), EVT_K_STATES,
	    "and a STATES frame into the same block (its GUID column then "
	    "holds more than the message ids)");
	T_EQ(evt_archive_close(a), 0, "close");
	struct evt_segr *r = open_seg(dir, 1);
	T_OK(r != NULL && evt_segr_info(r)->sealed &&
	    evt_segr_info(r)->nevents == 150, "segment 1 sealed with 150 "
	    "events");
	if (r != NULL)
		evt_segr_close(r);
	T_EQ(found_ids(dir, 1, 0, 150), 150, "the sealed filter (keys read "
	    "back from the file) finds every id, before and after the crashes");
	T_EQ(found_ids(dir, 2, 0, 150), 0, "none of them in segment 2");
	T_EQ(found_ids(dir, 2, 150, 151), 1, "segment 2 finds its own");
	{
		struct evt_segr *r2 = open_seg(dir, 2);
		struct evt_rec re;
		uint64_t boff;
		T_OK(r2 != NULL && evt_segr_find(r2,
		    L("33333333-0000-4000-8000-000000000003"), &re, &boff) == 0,
		    "segment 2: the STATES item's id is not indexed");
		if (r2 != NULL)
			evt_segr_close(r2);
	}
	{
		struct evt_segr *r1 = open_seg(dir, 1);
		struct evt_rec re;
		uint64_t boff;
		T_OK(r1 != NULL && evt_segr_find(r1,
		    L("33333333-0000-4000-8000-000000000003"), &re, &boff) == 0,
		    "a STATES item's id is not indexed");
		if (r1 != NULL)
			evt_segr_close(r1);
	}

	/* A crash while segment 2 was being sealed: cut its index. */
	{
		char name[32], path[512];
		struct stat sb;
		evt_segment_name(2, name, sizeof name);
		snprintf(path, sizeof path, "%s/%s", dir, name);
		T_OK(stat(path, &sb) == 0 && truncate(path, sb.st_size - 40) ==
		    0, "cut segment 2 inside its trailer");
	}
	T_EQ(evt_archive_open(dir, EVT_AR_WRITE, &ao, NULL, warn_cb, &wn, &a),
	    0, "reopen with a half-sealed newest segment");
	T_OK(resume_is(a, "00000000-0000-4000-8000-000000000150", s2),
	    "resume point from the half-sealed segment and the one before");
	T_EQ(evt_segw_events(evt_archive_writer(a)), 1, "its 1 event kept");
	T_EQ(evt_archive_close(a), 0, "close");
	T_EQ(found_ids(dir, 2, 150, 151), 1, "resealed: id found");
	T_EQ(found_ids(dir, 1, 0, 150), 150, "segment 1 unchanged");
	rm_archive(dir);
}


/* Rewrites the flags of the block header at off in a segment file (with
 * its header CRC). */
static void
set_block_flags(const char *path, uint64_t off, uint32_t flags)
{
	uint8_t *p;
	size_t n = slurp(path, &p);
	if (off + EVT_BLK_HDR_SIZE > n)
		abort();
	le32_put(p + off + 36, flags);
	le32_put(p + off + 60, evt_crc32c(0, p + off, 60));
	spit(path, p, n);
	free(p);
}

/* The resume point of segment path by evt_seg_tail is (id, sess). */
static int
tail_is(const char *path, const char *id, const char *sess, int *rc)
{
	struct evt_seg_tail t;
	*rc = evt_seg_tail(path, &t);
	if (*rc != 0)
		return 0;
	int ok = same(t.last_id, t.last_id_len, id, strlen(id)) &&
	    t.have_session && same(t.session.p, t.session.len, sess,
	    strlen(sess)) && t.blocks_read <= 2 && t.blocks > 10;
	if (!ok)
		printf("#   id %.*s, %u of %u blocks read\n",
		    (int)t.last_id_len, t.last_id, t.blocks_read, t.blocks);
	evt_buf_free(&t.session);
	return ok;
}

/*
 * A crashed segment larger than resume_bytes is left, not resumed: its
 * resume point comes from the block header flags (evt_seg_tail), the same
 * as a full resume finds, it is sealed in the background, and recording
 * goes on in a new segment.  Blocks without flags, or damage in a block
 * the flags point to before the torn tail, make the archive resume the
 * segment instead.
 */
static void
test_seg_tail(void)
{
	const char *dir = tpath("st"), *dir2 = tpath("st2");
	struct evt_archive_opts ao = {.seg = {.block_bytes = 300,
	    .level = 1}, .resume_bytes = 1};
	static const char s1[] = "{\"event\":\"new\",\"sessionId\":\"t1\"}";
	static const char s2[] =
	    "{\"event\":\"resumed\",\"sessionId\":\"t1\"}";
	static const char id199[] = "00000000-0000-4000-8000-000000000199";
	int64_t rx = INT64_C(1767600000000000);
	uint8_t uuid[16] = {2};
	char path[512], path2[512], name[32], msg[256];
	struct evt_segw *w;
	int bad = 0, rc;
	mkdir(dir, 0755);
	evt_segment_name(1, name, sizeof name);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(path2, sizeof path2, "%s/%s", dir2, name);
	bad += evt_segw_create(path, 1, uuid, rx, &ao.seg, &w) != 0;
	bad += evt_segw_marker(w, EVT_K_SESSION, rx, L(s1)) < 0;
	for (int i = 0; i < 200; i++) {
		if (i == 120)
			bad += evt_segw_marker(w, EVT_K_SESSION, rx + i,
			    L(s2)) < 0;
		int n = snprintf(msg, sizeof msg, "{\"events\":[{\"id\":"
		    "\"00000000-0000-4000-8000-%012d\",\"type\":\"t\"}]}", i);
		bad += evt_segw_frame(w, rx + i, msg, (size_t)n) != EVT_K_MSG;
	}
	/* After the last event: a frame without events. */
	bad += evt_segw_frame(w, rx + 300, L("{\"x\":1}")) != EVT_K_JSON;
	bad += evt_segw_flush(w) != 0;
	evt_segw_close(w);
	T_EQ(bad, 0, "tail: a crashed segment, two markers, 200 messages");
	append_bytes(dir, 1, "\x9e" "EBKtorn", 8);
	T_OK(tail_is(path, id199, s2, &rc), "tail: last id and SESSION "
	    "body from at most two blocks (rc %d)", rc);
	/* What a full resume finds (on a copy: it cuts the tail). */
	mkdir(dir2, 0755);
	copy_file(path, path2, SIZE_MAX, SIZE_MAX, 0);
	struct evt_seg_recovery rec;
	size_t n1 = 0, n2 = 0;
	const char *p1 = NULL, *p2 = NULL;
	rc = evt_segw_resume(path2, &ao.seg, &w, &rec);
	if (rc == 0) {
		p1 = evt_segw_last_id(w, &n1);
		p2 = evt_segw_session(w, &n2);
	}
	T_OK(rc == 0 && same(p1, n1, id199, 36) && same(p2, n2, s2,
	    strlen(s2)), "tail: a full resume agrees");
	if (rc == 0)
		evt_segw_close(w);
	rm_archive(dir2);

	/* The archive leaves it. */
	struct evt_archive *a;
	struct warns wn = {0};
	mkdir(dir2, 0755);
	copy_file(path, path2, SIZE_MAX, SIZE_MAX, 0);
	T_EQ(evt_archive_open(dir, EVT_AR_WRITE, &ao, NULL, warn_cb, &wn, &a),
	    0, "tail: open after the crash");
	T_OK(warned(&wn, "left unsealed by a crash") &&
	    evt_archive_writer(a) == NULL && resume_is(a, id199, s2),
	    "tail: the segment is left, the resume point found");
	bad = 0;
	for (int i = 200; i < 210; i++) {
		int n = snprintf(msg, sizeof msg, "{\"events\":[{\"id\":"
		    "\"00000000-0000-4000-8000-%012d\",\"type\":\"t\"}]}", i);
		bad += evt_archive_frame(a, rx + i, msg, (size_t)n) != EVT_K_MSG;
	}
	size_t nseg;
	evt_archive_segments(a, &nseg);
	T_OK(bad == 0 && nseg == 2, "tail: recording goes on in segment 2");
	T_EQ(evt_archive_close(a), 0, "tail: close");
	T_OK(warned(&wn, "sealed 1 older segment(s) left unsealed"),
	    "tail: the left segment was sealed");
	struct evt_segr *r1 = open_seg(dir, 1), *r2 = open_seg(dir, 2);
	T_OK(r1 != NULL && r2 != NULL && evt_segr_info(r1)->sealed &&
	    evt_segr_info(r2)->sealed && evt_segr_info(r1)->nevents == 200 &&
	    evt_segr_info(r2)->nevents == 10, "tail: both sealed, 200 + 10 "
	    "events");
	evt_segr_close(r1);
	evt_segr_close(r2);

	/* The flags of the copy: the last block has none (a 1.0 writer's):
	 * the headers cannot tell, and the archive resumes the segment. */
	uint8_t *p;
	size_t len = slurp(path2, &p);
	struct blk bt[256];
	size_t nb = block_table(p, len, bt, 256);
	size_t sess_blk = nb;
	for (size_t i = 0; i < nb; i++)
		if (le32(p + bt[i].off + 36) & EVT_BLKF_SESSION)
			sess_blk = i;
	uint32_t last_flags = nb ? le32(p + bt[nb - 1].off + 36) : 0;
	uint32_t last_nevent = nb ? le32(p + bt[nb - 1].off + 24) : 0;
	free(p);
	T_OK(nb > 10 && sess_blk + 2 < nb && (last_flags & EVT_BLKF_SET),
	    "tail: %zu blocks with flags, the last SESSION in block %zu",
	    nb, sess_blk);
	if (nb == 0 || sess_blk == nb)
		return;
	char path3[512];
	snprintf(path3, sizeof path3, "%s/x", dir2);
	copy_file(path2, path3, SIZE_MAX, SIZE_MAX, 0);
	/* (A packed GUID column stays packed: that bit is geometry.) */
	set_block_flags(path2, bt[nb - 1].off, last_flags & EVT_BLKF_PACKED);
	T_OK(!tail_is(path2, id199, s2, &rc) && rc == EVT_ERR_AGAIN,
	    "tail: a block without flags: cannot tell");
	wn.n = 0;
	T_EQ(evt_archive_open(dir2, EVT_AR_WRITE, &ao, NULL, warn_cb, &wn, &a),
	    0, "tail: open");
	T_OK(!warned(&wn, "left unsealed") && evt_archive_writer(a) != NULL &&
	    resume_is(a, id199, s2), "tail: resumed instead, same point");
	evt_archive_close(a);
	/* Damage in the block holding the last SESSION (not the tail). */
	copy_file(path3, path2, SIZE_MAX, bt[sess_blk].off + 70, 0x55);
	T_OK(!tail_is(path2, id199, s2, &rc) && rc == EVT_ERR_AGAIN,
	    "tail: damage before the torn tail: cannot tell");
	/* A good block header after garbage: not a torn tail. */
	copy_file(path3, path2, bt[nb - 1].off, SIZE_MAX, 0);
	{
		uint8_t *q;
		size_t ql = slurp(path3, &q);
		FILE *f = fopen(path2, "ab");
		if (f == NULL || fwrite("garbage!", 1, 8, f) != 8 ||
		    fwrite(q + bt[nb - 1].off, 1, ql - bt[nb - 1].off, f) !=
		    ql - bt[nb - 1].off)
			abort();
		fclose(f);
		free(q);
	}
	T_OK(!tail_is(path2, id199, s2, &rc) && rc == EVT_ERR_AGAIN,
	    "tail: a block after damage: cannot tell");
	/* The last block's payload damaged: the torn tail, passed over (its
	 * events with it, as a full resume does). */
	copy_file(path3, path2, SIZE_MAX, bt[nb - 1].off + 70, 0x55);
	char idn[64];
	snprintf(idn, sizeof idn, "00000000-0000-4000-8000-%012u",
	    199 - last_nevent); /* one event per message */
	T_OK(tail_is(path2, idn, s2, &rc),
	    "tail: a bad last block is the torn tail (rc %d, %u events)", rc,
	    last_nevent);
	/* A crash right after the next segment was created (nothing in it
	 * yet) while the left one was still being sealed: the resume point
	 * is read from the unsealed older segment, not from an older sealed
	 * one (which would double events). */
	const char *dir3 = tpath("st3");
	char path4[512];
	mkdir(dir3, 0755);
	snprintf(path4, sizeof path4, "%s/%s", dir3, name);
	copy_file(path3, path4, SIZE_MAX, SIZE_MAX, 0);
	evt_segment_name(2, name, sizeof name);
	snprintf(path4, sizeof path4, "%s/%s", dir3, name);
	T_EQ(evt_segw_create(path4, 2, uuid, rx + 500, &ao.seg, &w), 0,
	    "tail: an empty newest segment");
	evt_segw_close(w);
	wn.n = 0;
	struct evt_archive_opts dflt = {.seg = ao.seg};
	T_EQ(evt_archive_open(dir3, EVT_AR_WRITE, &dflt, NULL, warn_cb, &wn,
	    &a), 0, "tail: open");
	T_OK(evt_archive_writer(a) != NULL && resume_is(a, id199, s2),
	    "tail: the empty newest is resumed, the resume point read from "
	    "the unsealed one before it");
	T_EQ(evt_archive_close(a), 0, "tail: close");
	T_OK(warned(&wn, "sealed 1 older segment(s) left unsealed"),
	    "tail: and that one sealed");
	rm_archive(dir3);
	rm_archive(dir2);
	rm_archive(dir);
}

int
main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/evt-test-segment-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	corpus_build(&C, 1, 400, 0);
	test_roundtrip();
	test_empty();
	test_unsealed();
	test_many_blocks();
	test_resume();
	test_corruption();
	test_special_ids();
	test_crafted_headers();
	test_units();
	test_archive();
	test_resume_point();
	test_crash_recovery();
	test_seg_tail();
	corpus_free(&C);
	rm_archive(tmpdir);
	T_DONE();
}
