/*
 * rewrite.c: replays rewritten for test systems (see rewrite.h).
 *
 *   text -> evt_json_parse (one token array per rewriter) -> walk the
 *   members that matter (id, time, source, data.startTime/endTime; a
 *   frame's events/states elements; a CONFIG body's sources ids) -> copy
 *   the text to out up to each value replaced, then the new value, ...
 *
 * Nothing else is decoded or re-encoded, so members keep their order and
 * bytes.  The fresh ids are a keyed Feistel permutation over the 122 free
 * bits of a GUID (SipHash-2-4 as the round function, the pass as the
 * tweak): deterministic, collision-free within a pass, invertible from
 * (new id, pass) with no table, which is what lets a resume or --from-id
 * by a rewritten id be mapped back with bounded memory.
 */
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/json.h"
#include "evtape/rewrite.h"
#include "evtape/timefmt.h"

#define MAP_MAX_LEN 256		/* bytes of an OLD or NEW source */
#define FEISTEL_STEPS 6
#define NS_PER_SEC 1000000000LL

/* One --map-source entry; old is lower-cased. */
struct map_ent {
	char *old, *new_;
	size_t oldlen, newlen;
	int new_whole;		/* NEW holds a '/' */
};

struct evt_rw {
	struct evt_jparser jp;
	int fresh;
	uint64_t k0, k1;	/* SipHash key of the fresh ids */
	struct map_ent *whole, *guid; /* OLD "type/guid"; OLD bare id */
	size_t nwhole, nguid, capwhole, capguid;
	struct evt_rw_stats st;
};

/* ------------------------------------------------------------ SipHash */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* SipHash-2-4 (Aumasson and Bernstein) state. */
struct sip {
	uint64_t v0, v1, v2, v3;
};

/* One SipRound. */
static inline void
sip_round(struct sip *s)
{
	s->v0 += s->v1; s->v1 = ROTL(s->v1, 13); s->v1 ^= s->v0;
	s->v0 = ROTL(s->v0, 32);
	s->v2 += s->v3; s->v3 = ROTL(s->v3, 16); s->v3 ^= s->v2;
	s->v0 += s->v3; s->v3 = ROTL(s->v3, 21); s->v3 ^= s->v0;
	s->v2 += s->v1; s->v1 = ROTL(s->v1, 17); s->v1 ^= s->v2;
	s->v2 = ROTL(s->v2, 32);
}

/* The state for key (k0, k1). */
static inline struct sip
sip_init(uint64_t k0, uint64_t k1)
{
	return (struct sip){k0 ^ 0x736f6d6570736575ULL,
	    k1 ^ 0x646f72616e646f6dULL, k0 ^ 0x6c7967656e657261ULL,
	    k1 ^ 0x7465646279746573ULL};
}

/* Absorbs one 64-bit message word (two compression rounds). */
static inline void
sip_word(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

/* The hash, after the last word (the length byte's). */
static inline uint64_t
sip_final(struct sip *s)
{
	s->v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

/* SipHash-2-4 of m[0..len) under key (k0, k1). */
static uint64_t
siphash(uint64_t k0, uint64_t k1, const uint8_t *m, size_t len)
{
	struct sip s = sip_init(k0, k1);
	uint64_t b = (uint64_t)len << 56, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		w = 0;
		for (int j = 7; j >= 0; j--)
			w = w << 8 | m[i + (size_t)j];
		sip_word(&s, w);
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)m[i + j] << (8 * j);
	sip_word(&s, b);
	return sip_final(&s);
}

/* SipHash-2-4 of the 16 bytes of two little-endian 64-bit words: the
 * same value as siphash() of those bytes, without building them (the
 * Feistel steps of a fresh id run it six times per event). */
static uint64_t
siphash2(uint64_t k0, uint64_t k1, uint64_t a, uint64_t b)
{
	struct sip s = sip_init(k0, k1);
	sip_word(&s, a);
	sip_word(&s, b);
	sip_word(&s, (uint64_t)16 << 56);
	return sip_final(&s);
}

/* ------------------------------------------------------------ the rewriter */

/* Creates an idle rewriter; see rewrite.h. */
int
evt_rw_new(struct evt_rw **out)
{
	struct evt_rw *rw = calloc(1, sizeof *rw);
	if (rw == NULL)
		return EVT_ERR_NOMEM;
	evt_json_init(&rw->jp, 0);
	rw->jp.lone_surrogates = 1; /* event texts of the archive keep them */
	*out = rw;
	return 0;
}

/* Frees the entries of one map table. */
static void
map_free(struct map_ent *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].old);
		free(t[i].new_);
	}
	free(t);
}

/* Frees a rewriter. */
void
evt_rw_free(struct evt_rw *rw)
{
	if (rw == NULL)
		return;
	evt_json_free(&rw->jp);
	map_free(rw->whole, rw->nwhole);
	map_free(rw->guid, rw->nguid);
	free(rw);
}

/* Keys the fresh ids: two SipHashes of the key under fixed keys. */
void
evt_rw_fresh_ids(struct evt_rw *rw, const char *key, size_t len)
{
	rw->fresh = 1;
	rw->k0 = siphash(0x65767461706531ULL, 0x66726573682d6964ULL,
	    (const uint8_t *)key, len);
	rw->k1 = siphash(0x65767461706532ULL, 0x66726573682d6964ULL,
	    (const uint8_t *)key, len);
}

/* Whether s is a usable map value (see evt_rw_map). */
static int
map_value_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > MAP_MAX_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

/* Lower-cases ASCII s[0..n) into out. */
static void
lower(const char *s, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
}

/* qsort/bsearch order of map entries (by old, bytes). */
static int
ent_cmp(const void *a, const void *b)
{
	const struct map_ent *x = a, *y = b;
	size_t n = x->oldlen < y->oldlen ? x->oldlen : y->oldlen;
	int c = memcmp(x->old, y->old, n);
	return c != 0 ? c : (x->oldlen > y->oldlen) - (x->oldlen < y->oldlen);
}

/* Finds the entry for key[0..n) (any case) in t[0..cnt), or NULL. */
static const struct map_ent *
map_find(const struct map_ent *t, size_t cnt, const char *key, size_t n)
{
	char low[MAP_MAX_LEN];
	if (cnt == 0 || n == 0 || n > MAP_MAX_LEN)
		return NULL;
	lower(key, n, low);
	struct map_ent k = {.old = low, .oldlen = n};
	return bsearch(&k, t, cnt, sizeof *t, ent_cmp);
}

/* Adds a map entry; see rewrite.h. */
int
evt_rw_map(struct evt_rw *rw, const char *old, const char *new_)
{
	if (!map_value_ok(old) || !map_value_ok(new_))
		return EVT_ERR_ARG;
	int whole = strchr(old, '/') != NULL;
	struct map_ent **t = whole ? &rw->whole : &rw->guid;
	size_t *cnt = whole ? &rw->nwhole : &rw->nguid;
	size_t *cap = whole ? &rw->capwhole : &rw->capguid;
	size_t ol = strlen(old);
	if (map_find(*t, *cnt, old, ol) != NULL)
		return EVT_ERR_ARG;
	if (*cnt == *cap) {
		size_t nc = *cap ? 2 * *cap : 16;
		struct map_ent *g = realloc(*t, nc * sizeof *g);
		if (g == NULL)
			return EVT_ERR_NOMEM;
		*t = g;
		*cap = nc;
	}
	struct map_ent e = {malloc(ol + 1), strdup(new_), ol, strlen(new_),
	    strchr(new_, '/') != NULL};
	if (e.old == NULL || e.new_ == NULL) {
		free(e.old);
		free(e.new_);
		return EVT_ERR_NOMEM;
	}
	lower(old, ol + 1, e.old);
	(*t)[(*cnt)++] = e;
	qsort(*t, *cnt, sizeof **t, ent_cmp);
	return 0;
}

/* Whether ids or sources change; see rewrite.h. */
int
evt_rw_changes(const struct evt_rw *rw)
{
	return rw->fresh || rw->nwhole > 0 || rw->nguid > 0;
}

/* The counters. */
void
evt_rw_stats(const struct evt_rw *rw, struct evt_rw_stats *st)
{
	*st = rw->st;
}

/* -------------------------------------------------------------- fresh ids */

/* Hex digit values plus one, 0 for other bytes (ids are parsed per
 * event: a table, not branches). */
static const unsigned char hexv1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6,
	['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* Parses a GUID-form id into its 128 bits (*hi, *lo) and whether it has an
 * upper-case letter.  Returns 1, or 0 if it is not in the GUID form. */
static int
guid_parse(const char *s, size_t len, uint64_t *hi, uint64_t *lo, int *upper)
{
	static const unsigned char pos[32] = {0, 1, 2, 3, 4, 5, 6, 7, 9, 10,
	    11, 12, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25, 26, 27, 28, 29,
	    30, 31, 32, 33, 34, 35};
	uint64_t w[2] = {0, 0};
	int bad = 0, up = 0;	/* bad: some byte not a hex digit */
	if (len != EVT_RW_GUID_LEN || s[8] != '-' || s[13] != '-' ||
	    s[18] != '-' || s[23] != '-')
		return 0;
	for (int k = 0; k < 32; k++) {
		unsigned char c = (unsigned char)s[pos[k]];
		int v = hexv1[c] - 1;
		bad |= v < 0;
		up |= c >= 'A' && c <= 'F';
		w[k >> 4] = w[k >> 4] << 4 | (uint64_t)(v & 15);
	}
	if (bad)
		return 0;
	*hi = w[0];
	*lo = w[1];
	*upper = up;
	return 1;
}

/* Writes the GUID form of (hi, lo) to out. */
static void
guid_format(uint64_t hi, uint64_t lo, int upper, char out[EVT_RW_GUID_LEN])
{
	const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int k = 0;
	for (size_t i = 0; i < EVT_RW_GUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			out[i] = '-';
			continue;
		}
		uint64_t w = k < 16 ? hi : lo;
		out[i] = hex[(w >> (4 * (15 - k % 16))) & 15];
		k++;
	}
}

/*
 * The 122 free bits of a GUID as two halves: a (60 bits: hi without the
 * version nibble, bits 12..15) and b (62 bits: lo without the two variant
 * bits, 62..63).  feistel() permutes (a, b) in place.
 */
#define A_MASK ((1ULL << 60) - 1)
#define B_MASK ((1ULL << 62) - 1)

/* Runs the Feistel steps forward (dir 1) or backward (dir -1). */
static void
feistel(const struct evt_rw *rw, uint64_t pass, uint64_t *a, uint64_t *b,
    int dir)
{
	for (int k = 0; k < FEISTEL_STEPS; k++) {
		int step = dir > 0 ? k : FEISTEL_STEPS - 1 - k;
		uint64_t tweak = pass << 8 | (uint64_t)step;
		if (step % 2 == 0)
			*a ^= siphash2(rw->k0, rw->k1, *b, tweak) & A_MASK;
		else
			*b ^= siphash2(rw->k0, rw->k1, *a, tweak) & B_MASK;
	}
}

/* Applies the permutation to a GUID-form id (dir as feistel). */
static int
guid_permute(const struct evt_rw *rw, uint64_t pass, const char *id,
    size_t len, char out[EVT_RW_GUID_LEN], int dir)
{
	uint64_t hi, lo;
	int upper;
	if (!guid_parse(id, len, &hi, &lo, &upper))
		return 0;
	uint64_t a = (hi >> 16) << 12 | (hi & 0xfff), b = lo & B_MASK;
	feistel(rw, pass, &a, &b, dir);
	hi = (a >> 12) << 16 | (hi & 0xf000) | (a & 0xfff);
	lo = (lo & ~B_MASK) | b;
	guid_format(hi, lo, upper, out);
	return 1;
}

/* The fresh id of an id (see rewrite.h); *hashed says whether it was not
 * in the GUID form. */
static size_t
fresh_id(const struct evt_rw *rw, uint64_t pass, const char *id, size_t len,
    char out[EVT_RW_GUID_LEN], int *hashed)
{
	*hashed = 0;
	if (!rw->fresh)
		return 0;
	if (guid_permute(rw, pass, id, len, out, 1))
		return EVT_RW_GUID_LEN;
	*hashed = 1;
	/* Not a GUID: a version 4 GUID from a keyed hash of (pass, id). */
	uint64_t h = siphash(rw->k0 ^ pass, rw->k1, (const uint8_t *)id, len);
	uint64_t l = siphash(rw->k0 ^ pass, rw->k1 ^ 0x5a5a5a5a5a5a5a5aULL,
	    (const uint8_t *)id, len);
	h = (h & ~0xf000ULL) | 0x4000ULL;
	l = (l & B_MASK) | (2ULL << 62);
	guid_format(h, l, 0, out);
	return EVT_RW_GUID_LEN;
}

/* The fresh id of an id; see rewrite.h. */
size_t
evt_rw_id(const struct evt_rw *rw, uint64_t pass, const char *id, size_t len,
    char out[EVT_RW_GUID_LEN])
{
	int hashed;
	return fresh_id(rw, pass, id, len, out, &hashed);
}

/* The original of a fresh GUID-form id; see rewrite.h. */
int
evt_rw_id_invert(const struct evt_rw *rw, uint64_t pass, const char *id,
    size_t len, char out[EVT_RW_GUID_LEN])
{
	return rw->fresh && guid_permute(rw, pass, id, len, out, -1);
}

/* ------------------------------------------------------------- timestamps */

/* A timestamp's fields, and where they are in its text. */
struct ts {
	int64_t y;
	unsigned mo, d, h, mi, s;
	int has_sec;
	size_t fdig, foff;	/* fraction digits, offset of the first */
	uint32_t ns;		/* the first 9 fraction digits, as ns */
	int zone_min;		/* offset east of UTC, minutes */
};

/* Reads n digits at s[*i] into *v; returns 0, or -1 if not digits. */
static int
digits(const char *s, size_t len, size_t *i, int n, unsigned *v)
{
	*v = 0;
	for (int k = 0; k < n; k++, (*i)++) {
		if (*i >= len || s[*i] < '0' || s[*i] > '9')
			return -1;
		*v = *v * 10 + (unsigned)(s[*i] - '0');
	}
	return 0;
}

/* Days in month mo of year y. */
static unsigned
mdays(int64_t y, unsigned mo)
{
	static const unsigned char n[12] = {31, 28, 31, 30, 31, 30, 31, 31,
	    30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return mo == 2 && leap ? 29 : n[mo - 1];
}

/* Parses the zone at s[i..len) ("", Z, z, +HH, +HHMM, +HH:MM). */
static int
parse_zone(const char *s, size_t len, size_t i, int *zone_min)
{
	unsigned zh, zm = 0;
	*zone_min = 0;
	if (i == len)
		return 0;
	if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len)
		return 0;
	if (s[i] != '+' && s[i] != '-')
		return -1;
	int neg = s[i++] == '-';
	if (digits(s, len, &i, 2, &zh) != 0 || zh > 23)
		return -1;
	int colon = i < len && s[i] == ':';
	i += (size_t)colon;
	if ((i < len || colon) && (digits(s, len, &i, 2, &zm) != 0 ||
	    zm > 59))
		return -1;
	if (i != len)
		return -1;
	*zone_min = (neg ? -1 : 1) * (int)(zh * 60 + zm);
	return 0;
}

/* Parses a timestamp's fields (the forms of rewrite.h). */
static int
ts_parse(const char *s, size_t len, struct ts *t)
{
	size_t i = 0;
	unsigned y;
	memset(t, 0, sizeof *t);
	if (digits(s, len, &i, 4, &y) != 0 || i >= len || s[i++] != '-' ||
	    digits(s, len, &i, 2, &t->mo) != 0 || i >= len || s[i++] != '-' ||
	    digits(s, len, &i, 2, &t->d) != 0 || i >= len ||
	    (s[i] != 'T' && s[i] != 't' && s[i] != ' ') ||
	    (i++, digits(s, len, &i, 2, &t->h)) != 0 || i >= len ||
	    s[i++] != ':' || digits(s, len, &i, 2, &t->mi) != 0)
		return -1;
	t->y = y;
	if (y < 1 || t->mo < 1 || t->mo > 12 || t->d < 1 ||
	    t->d > mdays(y, t->mo) || t->h > 23 || t->mi > 59)
		return -1;
	if (i < len && s[i] == ':') {
		i++;
		if (digits(s, len, &i, 2, &t->s) != 0 || t->s > 59)
			return -1;
		t->has_sec = 1;
		if (i < len && (s[i] == '.' || s[i] == ',')) {
			t->foff = ++i;
			while (i < len && s[i] >= '0' && s[i] <= '9') {
				if (t->fdig < 9)
					t->ns = t->ns * 10 + (uint32_t)(s[i] -
					    '0');
				t->fdig++;
				i++;
			}
			if (t->fdig == 0)
				return -1;
			for (size_t k = t->fdig; k < 9; k++)
				t->ns *= 10;
		}
	}
	return parse_zone(s, len, i, &t->zone_min);
}

/* A timestamp's precision in ns. */
static int64_t
ts_unit(const struct ts *t)
{
	int64_t u = NS_PER_SEC;
	if (!t->has_sec)
		return 60 * NS_PER_SEC;
	for (size_t k = 0; k < t->fdig && u > 1; k++)
		u /= 10;
	return u;
}

/* Parses a timestamp into its instant; see rewrite.h. */
int
evt_rw_time_parse(const char *s, size_t len, int64_t *sec, int32_t *nsec,
    int64_t *unit_ns)
{
	struct ts t;
	if (ts_parse(s, len, &t) != 0)
		return -1;
	*sec = evt_days_from_civil(t.y, t.mo, t.d) * 86400 + t.h * 3600 +
	    t.mi * 60 + t.s - (int64_t)t.zone_min * 60;
	*nsec = (int32_t)t.ns;
	*unit_ns = ts_unit(&t);
	return 0;
}

/* Writes v (0..10^n - 1) as n digits at p. */
static void
put_digits(char *p, uint64_t v, int n)
{
	for (int k = n - 1; k >= 0; k--) {
		p[k] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Shifts a timestamp's text; see rewrite.h. */
int
evt_rw_time_shift(const char *s, size_t len, int64_t shift_ns, char *out)
{
	int64_t ticks;
	if (len == EVT_TICKS_LEN && evt_ticks_parse(s, len, &ticks)) {
		/* The gateway's form (7 digits, Z): ticks of 100 ns. */
		return evt_ticks_format(ticks + shift_ns / 100, out) == 0;
	}
	struct ts t;
	if (ts_parse(s, len, &t) != 0)
		return 0;
	int64_t u = ts_unit(&t), eff = shift_ns / u * u;
	int64_t sec = evt_days_from_civil(t.y, t.mo, t.d) * 86400 +
	    t.h * 3600 + t.mi * 60 + t.s + eff / NS_PER_SEC;
	int64_t ns = (int64_t)t.ns + eff % NS_PER_SEC;
	if (ns < 0) {
		ns += NS_PER_SEC;
		sec--;
	} else if (ns >= NS_PER_SEC) {
		ns -= NS_PER_SEC;
		sec++;
	}
	int64_t days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
	int64_t sod = sec - days * 86400, y;
	unsigned mo, d;
	evt_civil_from_days(days, &y, &mo, &d);
	if (y < 1 || y > 9999)
		return 0;
	memcpy(out, s, len);
	put_digits(out, (uint64_t)y, 4);
	put_digits(out + 5, mo, 2);
	put_digits(out + 8, d, 2);
	put_digits(out + 11, (uint64_t)(sod / 3600), 2);
	put_digits(out + 14, (uint64_t)(sod / 60 % 60), 2);
	if (t.has_sec)
		put_digits(out + 17, (uint64_t)(sod % 60), 2);
	if (t.fdig > 0) {
		int n = t.fdig < 9 ? (int)t.fdig : 9;
		uint64_t v = (uint64_t)ns;
		for (int k = n; k < 9; k++)
			v /= 10;
		put_digits(out + t.foff, v, n);
	}
	return 1;
}

/* ------------------------------------------------------------ the walk */

/* One rewrite in progress: text copied to out up to `copied`. */
struct walk {
	struct evt_rw *rw;
	const struct evt_rw_pass *p;
	const char *text;
	struct evt_buf *out;
	size_t copied;
	int rc;
};

/* Replaces the contents of string token t (between its quotes) by
 * v[0..n): copies the text before it, then v. */
static void
put_value(struct walk *w, const struct evt_jtok *t, const char *v, size_t n)
{
	if (w->rc != 0)
		return;
	if (evt_buf_put(w->out, w->text + w->copied, t->off - w->copied) != 0 ||
	    evt_buf_put(w->out, v, n) != 0)
		w->rc = EVT_ERR_NOMEM;
	w->copied = (size_t)t->off + t->len;
}

/* Whether key token k is name (exactly, or in any case with nocase). */
static int
key_is(const struct walk *w, const struct evt_jtok *k, const char *name,
    int nocase)
{
	size_t n = strlen(name);
	if (k->len != n || (k->flags & EVT_JF_ESCAPED))
		return 0;
	if (!nocase)
		return memcmp(w->text + k->off, name, n) == 0;
	char low[32];
	lower(w->text + k->off, n < sizeof low ? n : sizeof low, low);
	return n < sizeof low && memcmp(low, name, n) == 0;
}

/* The decoded text of string token t into buf (cap bytes); its length, or
 * -1 if it does not fit or does not decode. */
static long
str_value(const struct walk *w, const struct evt_jtok *t, char *buf,
    size_t cap)
{
	if (t->len > cap)
		return -1;
	if (!(t->flags & EVT_JF_ESCAPED)) {
		memcpy(buf, w->text + t->off, t->len);
		return t->len;
	}
	int n = evt_json_unescape_wtf8(w->text + t->off, t->len, buf);
	return n < 0 ? -1 : n;
}

/* Shifts the timestamp in string token t. */
static void
walk_time(struct walk *w, const struct evt_jtok *t)
{
	char v[128], o[128];
	long n = str_value(w, t, v, sizeof v);
	if (n < 0 || !evt_rw_time_shift(v, (size_t)n, w->p->shift_ns, o)) {
		w->rw->st.bad_times++;
		return;
	}
	w->rw->st.times++;
	put_value(w, t, o, (size_t)n);
}

/* Gives string token t (an id) its fresh id. */
static void
walk_id(struct walk *w, const struct evt_jtok *t)
{
	char v[512], o[EVT_RW_GUID_LEN];
	long n = str_value(w, t, v, sizeof v);
	if (n < 0)
		n = 0;	/* too long for an id we keep: hashed as "" */
	int hashed;
	size_t k = fresh_id(w->rw, w->p->pass, v, (size_t)n, o, &hashed);
	w->rw->st.ids++;
	w->rw->st.hashed_ids += (uint64_t)hashed;
	put_value(w, t, o, k);
}

/* Renames the source in string token t if the map has it. */
static void
walk_source(struct walk *w, const struct evt_jtok *t)
{
	char v[MAP_MAX_LEN * 2], o[MAP_MAX_LEN * 3];
	long n = str_value(w, t, v, sizeof v);
	if (n <= 0)
		return;
	const struct map_ent *e = map_find(w->rw->whole, w->rw->nwhole, v,
	    (size_t)n);
	const char *slash = memrchr(v, '/', (size_t)n);
	size_t pre = slash != NULL ? (size_t)(slash - v) + 1 : 0;
	if (e == NULL)
		e = map_find(w->rw->guid, w->rw->nguid, v + pre, (size_t)n -
		    pre);
	if (e == NULL)
		return;
	size_t k = 0;
	if (!e->new_whole) {
		memcpy(o, v, pre);
		k = pre;
	}
	memcpy(o + k, e->new_, e->newlen);
	w->rw->st.sources++;
	put_value(w, t, o, k + e->newlen);
}

/* Rewrites the members of the event object at token index obj. */
static void
walk_object(struct walk *w, uint32_t obj)
{
	const struct evt_jtok *t = w->rw->jp.tok;
	const struct evt_rw *rw = w->rw;
	uint32_t k = obj + 1;
	w->rw->st.objects++;
	for (uint32_t i = 0; i < t[obj].size; i++, k = t[k + 1].next) {
		const struct evt_jtok *v = &t[k + 1];
		if (v->type == EVT_J_OBJECT && w->p->retime &&
		    key_is(w, &t[k], "data", 0)) {
			uint32_t dk = k + 2;
			for (uint32_t j = 0; j < v->size; j++,
			    dk = t[dk + 1].next)
				if (t[dk + 1].type == EVT_J_STRING &&
				    (key_is(w, &t[dk], "starttime", 1) ||
				    key_is(w, &t[dk], "endtime", 1)))
					walk_time(w, &t[dk + 1]);
			continue;
		}
		if (v->type != EVT_J_STRING)
			continue;
		if (w->p->retime && key_is(w, &t[k], "time", 0))
			walk_time(w, v);
		else if (rw->fresh && key_is(w, &t[k], "id", 0))
			walk_id(w, v);
		else if ((rw->nwhole || rw->nguid) &&
		    key_is(w, &t[k], "source", 0))
			walk_source(w, v);
	}
}

/* Parses text; returns 1 if it is an object to walk, 0 if it is to be
 * copied as it is. */
static int
walk_start(struct walk *w, struct evt_rw *rw, const struct evt_rw_pass *p,
    const char *text, size_t len, struct evt_buf *out)
{
	*w = (struct walk){rw, p, text, out, 0, 0};
	if (evt_json_parse(&rw->jp, text, len) < 1 ||
	    rw->jp.tok[0].type != EVT_J_OBJECT) {
		rw->st.not_objects++;
		return 0;
	}
	return 1;
}

/* Copies the rest of the text; returns the walk's status. */
static int
walk_end(struct walk *w, size_t len)
{
	if (w->rc == 0 && evt_buf_put(w->out, w->text + w->copied,
	    len - w->copied) != 0)
		w->rc = EVT_ERR_NOMEM;
	return w->rc;
}

/* Rewrites an event object text; see rewrite.h. */
int
evt_rw_event(struct evt_rw *rw, const struct evt_rw_pass *p, const char *ev,
    size_t len, struct evt_buf *out)
{
	struct walk w;
	if (walk_start(&w, rw, p, ev, len, out))
		walk_object(&w, 0);
	return walk_end(&w, len);
}

/* Finds and parses an event's time; see rewrite.h. */
int
evt_rw_event_time(struct evt_rw *rw, const char *ev, size_t len,
    int64_t *sec, int32_t *nsec, int64_t *unit_ns)
{
	static const struct evt_rw_pass none = {0, 0, 0};
	struct walk w;
	char v[128];
	if (!walk_start(&w, rw, &none, ev, len, NULL))
		return -1;
	const struct evt_jtok *t = rw->jp.tok;
	uint32_t k = 1;
	for (uint32_t i = 0; i < t[0].size; i++, k = t[k + 1].next) {
		long n;
		if (t[k + 1].type == EVT_J_STRING && key_is(&w, &t[k], "time",
		    0) && (n = str_value(&w, &t[k + 1], v, sizeof v)) >= 0)
			return evt_rw_time_parse(v, (size_t)n, sec, nsec,
			    unit_ns);
	}
	return -1;
}

/* Calls fn on every object element of the top-level array member `name`
 * (one of names[]) of the parsed root object. */
static void
walk_arrays(struct walk *w, const char *const *names, size_t nn,
    void (*fn)(struct walk *, uint32_t))
{
	const struct evt_jtok *t = w->rw->jp.tok;
	uint32_t k = 1;
	for (uint32_t i = 0; i < t[0].size; i++, k = t[k + 1].next) {
		int hit = 0;
		for (size_t j = 0; j < nn; j++)
			hit |= key_is(w, &t[k], names[j], 0);
		if (!hit || t[k + 1].type != EVT_J_ARRAY)
			continue;
		uint32_t e = k + 2;
		for (uint32_t j = 0; j < t[k + 1].size; j++, e = t[e].next)
			if (t[e].type == EVT_J_OBJECT)
				fn(w, e);
	}
}

/* Rewrites a frame's events and states; see rewrite.h. */
int
evt_rw_frame(struct evt_rw *rw, const struct evt_rw_pass *p,
    const char *text, size_t len, struct evt_buf *out)
{
	static const char *const names[] = {"events", "states"};
	struct walk w;
	if (walk_start(&w, rw, p, text, len, out))
		walk_arrays(&w, names, 2, walk_object);
	return walk_end(&w, len);
}

/* Renames the "id" of one item of a CONFIG body's sources. */
static void
config_item(struct walk *w, uint32_t obj)
{
	const struct evt_jtok *t = w->rw->jp.tok;
	uint32_t k = obj + 1;
	for (uint32_t i = 0; i < t[obj].size; i++, k = t[k + 1].next)
		if (t[k + 1].type == EVT_J_STRING && key_is(w, &t[k], "id", 0))
			walk_source(w, &t[k + 1]);
}

/* Renames a CONFIG body's sources; see rewrite.h. */
int
evt_rw_config(struct evt_rw *rw, const char *body, size_t len,
    struct evt_buf *out)
{
	static const char *const names[] = {"sources"};
	static const struct evt_rw_pass none = {0, 0, 0};
	struct walk w;
	if (walk_start(&w, rw, &none, body, len, out))
		walk_arrays(&w, names, 1, config_item);
	return walk_end(&w, len);
}
