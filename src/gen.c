/*
 * gen.c: a deterministic generator of realistic gateway traffic.
 *
 * The model follows docs/ess-protocol.md section 8 (120 s of a 2,659-camera site:
 * motion started 9,354, motion stopped 9,311, recording started 2,406,
 * recording stopped 2,373, "Recording FPS Warning" 520):
 *
 *   - ncameras cameras with random version-4 GUIDs, sources "cameras/<guid>";
 *     camera i (in creation order) has activity weight (i + 30)^-1.5, so the
 *     busiest camera gets ~1.9 % of all events, the top 10 % about three
 *     quarters, and the tail camera one event every few minutes at 200/s.
 *     Cameras are drawn with Walker's alias method (O(1) per event).
 *   - an event is a payload ("analytics") event with probability
 *     data_fraction, else motion (77.9 %), recording (19.9 %) or an FPS
 *     warning (2.2 %).  Motion and recording toggle a per-camera state, so a
 *     camera's motion events alternate started/stopped and the counts of the
 *     two stay close.  FPS warnings come from a fixed 4 % of the cameras.
 *   - messages hold 1..8 events (mean 2.94); the gaps between their receive
 *     times are exponential with mean 2.94 / rate seconds.
 *   - an event's time is its message's receive time minus a latency of
 *     2..100 ms (mean ~26 ms, full 100 ns precision); times ascend within a
 *     message and, per camera, across messages.
 *
 * Determinism: all randomness comes from two xoshiro256** streams (setup
 * and events) seeded through splitmix64 from opts.seed; no clock, no
 * rand(), no libm transcendental: the logarithm for exponential gaps is
 * computed here from +, -, *, / only and the weights use sqrt, all of which
 * IEEE 754 rounds exactly, so the doubles are the same on every machine
 * as long as no multiply-add is fused (gcc does not in ISO C mode; clang is
 * told below).
 *
 * Speed: the message is written into a buffer allocated once, from constant
 * fragments, a byte->hex table and evt_ticks_format; no snprintf.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/buf.h"
#include "evtape/gen.h"
#include "evtape/timefmt.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* Well-known types (docs/ess-protocol.md section 6). */
#define T_MOTION_START "6eb95dd6-7ccc-4bce-99f8-af0d0b582d77"
#define T_MOTION_STOP "6f55a7a7-d21c-4629-ac18-af1975e395a2"
#define SG_MOTION "720ef62a-78be-418a-8e4c-ee04ffca6429"
#define T_REC_START "4577f552-765a-438c-bc7d-e5ff1f754bc3"
#define T_REC_STOP "79a94f89-92de-4fca-8a43-5561d407423d"

/*
 * Made up here (random version-4 GUIDs): the real ids of the recording state
 * group, the "Recording FPS Warning" type and of any analytics event type are
 * site data we do not have.  Tests and tools may rely on these strings.
 */
#define SG_RECORDING "3e732c3f-c751-49e0-9f54-07cd07330586"
#define T_FPS_WARNING "6f67d5ac-9647-4eea-8c98-a5410c32cf1a"
#define T_ANALYTICS "dae618b9-0049-4bd8-aa67-b80d6da890f2"

#define GUID_LEN 36
#define MAX_PER_MSG 8
#define MAX_EVENT 2048		/* bound on one event's text, payload included */
#define STATE_MAX 320		/* bound on one state's text */
#define DEFAULT_CAMERAS 2659
#define DEFAULT_RATE 200.0
#define DEFAULT_START_US 1767600000000000LL /* 2026-01-05T08:00:00Z */
#define DEFAULT_DATA 0.005

/* Keeps start times where 100 ns ticks format (years 0001..9999). */
#define START_US_MIN (-62135510400000000LL) /* 0001-01-02T00:00:00Z */
#define START_US_MAX 221845392000000000LL   /* 9000-01-01T00:00:00Z */
#define TICKS_MIN (-621355968000000000LL)   /* 0001-01-01T00:00:00Z */
#define TICKS_MAX 2534023007999999999LL	    /* 9999-12-31T23:59:59.9999999Z */

/* Share of motion, recording and FPS events among non-payload events. */
#define MIX_MOTION (9354.0 + 9311.0)
#define MIX_REC (2406.0 + 2373.0)
#define MIX_FPS 520.0

/* Message sizes 1..8 in thousandths; the mean is 2.94 events. */
static const uint16_t size_permille[MAX_PER_MSG] = {
	300, 220, 160, 110, 80, 60, 40, 30
};
#define MEAN_PER_MSG 2.94

enum gen_kind { K_DATA, K_MOTION, K_REC, K_FPS };

/* The latest stateful event of one (camera, state group). */
struct gen_state {
	uint8_t	 id[16];
	int64_t	 ticks;
	int	 on;		/* motion present / recording */
};

struct gen_cam {
	char		 guid[GUID_LEN];
	uint8_t		 kind;		/* index into evt_gen.kind */
	int64_t		 last_ticks;	/* time of its latest event */
	struct gen_state motion;
	struct gen_state rec;
};

struct evt_gen {
	uint64_t	 s[4];		/* xoshiro256** state */
	uint32_t	 ncam;
	struct gen_cam	*cams;
	uint32_t	*alias;		/* Walker alias table over cams */
	uint32_t	*prob;		/* keep i if low 32 bits < prob[i] */
	uint32_t	 nfps;		/* cameras that raise FPS warnings */
	uint32_t	 nlate, nlate_on; /* late sources, appeared so far */
	uint32_t	 late_every;
	uint64_t	 nev;		/* events made so far */
	/* Resource types: kind[k] is "<type>/" (kind_len[k] bytes) for
	 * the "source" member, kind 0 "cameras/" by default. */
	char		 kind[EVT_GEN_MAX_KINDS][33];
	uint8_t		 kind_len[EVT_GEN_MAX_KINDS];
	char		 kind_name[EVT_GEN_MAX_KINDS][32]; /* without '/' */

	uint64_t	 thr_data;	/* kind thresholds over 2^64 */
	uint64_t	 thr_motion;
	uint64_t	 thr_rec;

	int64_t		 start_us;
	double		 gap_mean_us;
	double		 t_us;		/* receive time offset from start_us */
	uint64_t	 nmsg;

	char		 hex[512];	/* byte -> two lower-case hex digits */
	char		*buf;		/* message, MAX_PER_MSG * MAX_EVENT */
	char		*sbuf;		/* states array */
	size_t		 scap;
	const char	**sptr;		/* state texts in sbuf */
	size_t		*slen;

	uint32_t	 nlast;		/* events of the last message */
	uint32_t	 last_off[MAX_PER_MSG];
	uint32_t	 last_len[MAX_PER_MSG];
};

/* Returns x rotated left by k bits. */
static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* Returns the next xoshiro256** output of state s. */
static inline uint64_t
rnd_s(uint64_t s[4])
{
	uint64_t r, t;

	r = rotl(s[1] * 5, 7) * 9;
	t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Returns the next output of the event stream. */
static inline uint64_t
rnd(struct evt_gen *g)
{
	return rnd_s(g->s);
}

/* Returns the next splitmix64 output, used to seed xoshiro. */
static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Returns a uniform integer in [0, n) (multiply-shift; bias < n / 2^32). */
static inline uint32_t
rnd_below(struct evt_gen *g, uint32_t n)
{
	return (uint32_t)(((rnd(g) >> 32) * n) >> 32);
}

/*
 * Natural logarithm of x in (0, 1] from IEEE basic operations only, so that
 * the result does not depend on the C library: x = m * 2^e with m in
 * [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m - 1) / (m + 1)) as a series.
 */
static double
gen_ln(double x)
{
	uint64_t b;
	double m, s, s2, r;
	int e;

	memcpy(&b, &x, sizeof(b));
	e = (int)((b >> 52) & 0x7ff) - 1022;
	b = (b & 0xfffffffffffffULL) | 0x3fe0000000000000ULL;
	memcpy(&m, &b, sizeof(m));
	if (m < 0.70710678118654752440) {
		m *= 2;
		e--;
	}
	s = (m - 1) / (m + 1);
	s2 = s * s;
	r = s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 +
	    s2 * (1.0 / 11 + s2 * (1.0 / 13 + s2 * (1.0 / 15 +
	    s2 * (1.0 / 17))))))));
	return e * 0.69314718055994530942 + 2 * s + 2 * s * r;
}

/* Returns a probability as a threshold over the 64-bit outputs. */
static uint64_t
prob_thr(double p)
{
	if (!(p > 0))
		return 0;
	if (p >= 1)
		return UINT64_MAX;
	return (uint64_t)(p * 18446744073709551616.0);
}

/* Fills 16 random bytes from s shaped as a version-4, variant-1 GUID. */
static void
rnd_guid(uint64_t s[4], uint8_t id[16])
{
	uint64_t a = rnd_s(s), b = rnd_s(s);

	memcpy(id, &a, 8);
	memcpy(id + 8, &b, 8);
	id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
}

/* Writes the 36-character lower-case text of a GUID; returns the end. */
static inline char *
put_guid(const struct evt_gen *g, char *p, const uint8_t id[16])
{
	int i;

	for (i = 0; i < 16; i++) {
		memcpy(p, g->hex + 2 * id[i], 2);
		p += 2;
		if (i == 3 || i == 5 || i == 7 || i == 9)
			*p++ = '-';
	}
	return p;
}

/* Copies a string literal and advances p. */
#define PUT(p, lit)                                   \
	do {                                          \
		memcpy((p), (lit), sizeof(lit) - 1);  \
		(p) += sizeof(lit) - 1;               \
	} while (0)

/* Writes ticks in the 28-character tick form, clamped to its range. */
static inline char *
put_ticks(char *p, int64_t ticks)
{
	if (ticks < TICKS_MIN)
		ticks = TICKS_MIN;
	if (ticks > TICKS_MAX)
		ticks = TICKS_MAX;
	evt_ticks_format(ticks, p);
	return p + EVT_TICKS_LEN;
}

/*
 * Writes v / 10^dec as the shortest decimal text of that number (trailing
 * fraction zeros dropped), which is also how a double holding it prints.
 */
static char *
put_fixed(char *p, int64_t v, int dec)
{
	uint64_t u, pow = 1, f;
	int i;

	for (i = 0; i < dec; i++)
		pow *= 10;
	if (v < 0) {
		*p++ = '-';
		u = (uint64_t)0 - (uint64_t)v;
	} else
		u = (uint64_t)v;
	p = evt_put_u64(p, u / pow);
	f = u % pow;
	if (f != 0) {
		*p++ = '.';
		while (f % 10 == 0) {
			f /= 10;
			dec--;
		}
		for (i = dec - 1; i >= 0; i--) {
			p[i] = (char)('0' + f % 10);
			f /= 10;
		}
		p += dec;
	}
	return p;
}

/* Builds the alias table for weights (i + 30)^-1.5; returns -1 on no memory. */
static int
build_alias(struct evt_gen *g)
{
	uint32_t n = g->ncam, i, ns = 0, nl = 0, s, l;
	uint32_t *small, *large;
	double *p, sum = 0, x;

	p = calloc(n, sizeof(*p));
	small = calloc(n, sizeof(*small));
	large = calloc(n, sizeof(*large));
	if (p == NULL || small == NULL || large == NULL) {
		free(p);
		free(small);
		free(large);
		return -1;
	}
	for (i = 0; i < n; i++) {
		x = (double)i + 30;
		p[i] = 1 / (x * sqrt(x));
		sum += p[i];
	}
	for (i = 0; i < n; i++) {
		p[i] = p[i] * n / sum;
		if (p[i] < 1)
			small[ns++] = i;
		else
			large[nl++] = i;
	}
	while (ns > 0 && nl > 0) {
		s = small[--ns];
		l = large[nl - 1];
		g->prob[s] = (uint32_t)(p[s] * 4294967296.0);
		g->alias[s] = l;
		p[l] = (p[l] + p[s]) - 1;
		if (p[l] < 1) {
			nl--;
			small[ns++] = l;
		}
	}
	/* What is left has probability 1, up to rounding. */
	while (nl > 0) {
		l = large[--nl];
		g->prob[l] = UINT32_MAX;
		g->alias[l] = l;
	}
	while (ns > 0) {
		s = small[--ns];
		g->prob[s] = UINT32_MAX;
		g->alias[s] = s;
	}
	free(p);
	free(small);
	free(large);
	return 0;
}

/* Copies the resource types of opts as "source" prefixes; -1 if one is
 * not 1..31 ASCII letters or there are too many. */
static int
gen_kinds(struct evt_gen *g, const struct evt_gen_opts *opts)
{
	memcpy(g->kind[0], "cameras/", 8);
	g->kind_len[0] = 8;
	memcpy(g->kind_name[0], "cameras", 8);
	if (opts->nkinds > EVT_GEN_MAX_KINDS)
		return -1;
	for (size_t k = 0; k < opts->nkinds; k++) {
		size_t n = strlen(opts->kinds[k]);

		if (n == 0 || n > 31)
			return -1;
		for (size_t j = 0; j < n; j++)
			if (!((opts->kinds[k][j] | 0x20) >= 'a' &&
			    (opts->kinds[k][j] | 0x20) <= 'z'))
				return -1;
		memcpy(g->kind[k], opts->kinds[k], n);
		memcpy(g->kind_name[k], opts->kinds[k], n + 1);
		g->kind[k][n] = '/';
		g->kind_len[k] = (uint8_t)(n + 1);
	}
	return 0;
}

/* Creates a generator from opts (see gen.h); NULL on out of memory. */
struct evt_gen *
evt_gen_new(const struct evt_gen_opts *opts)
{
	struct evt_gen *g;
	struct gen_cam *c;
	uint64_t x, setup[4];
	uint8_t id[16];
	double rate, df, nonpay;
	int64_t start_ticks;
	uint32_t i;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	/*
	 * Two streams: setup (cameras, initial states) and events, so that the
	 * camera count does not shift every later draw.
	 */
	x = opts->seed;
	for (i = 0; i < 4; i++)
		g->s[i] = splitmix64(&x);
	for (i = 0; i < 4; i++)
		setup[i] = splitmix64(&x);
	for (i = 0; i < 256; i++) {
		g->hex[2 * i] = "0123456789abcdef"[i >> 4];
		g->hex[2 * i + 1] = "0123456789abcdef"[i & 15];
	}

	g->ncam = opts->ncameras != 0 ? opts->ncameras : DEFAULT_CAMERAS;
	rate = opts->rate > 0 ? opts->rate : DEFAULT_RATE;
	g->gap_mean_us = 1e6 * MEAN_PER_MSG / rate;
	g->start_us = opts->start_us != 0 ? opts->start_us : DEFAULT_START_US;
	if (g->start_us < START_US_MIN)
		g->start_us = START_US_MIN;
	if (g->start_us > START_US_MAX)
		g->start_us = START_US_MAX;
	df = opts->data_fraction;
	if (df == 0)
		df = DEFAULT_DATA;
	else if (!(df > 0))
		df = 0;
	else if (df > 1)
		df = 1;
	nonpay = 1 - df;
	g->thr_data = prob_thr(df);
	g->thr_motion = prob_thr(df + nonpay * MIX_MOTION /
	    (MIX_MOTION + MIX_REC + MIX_FPS));
	g->thr_rec = prob_thr(df + nonpay * (MIX_MOTION + MIX_REC) /
	    (MIX_MOTION + MIX_REC + MIX_FPS));
	if (df >= 1)
		g->thr_motion = g->thr_rec = UINT64_MAX;
	g->nfps = g->ncam / 25 + 1;

	if (gen_kinds(g, opts) != 0) {
		free(g);
		return NULL;
	}
	g->nlate = opts->nlate;
	g->late_every = opts->late_every != 0 ? opts->late_every : 500;
	g->cams = calloc((size_t)g->ncam + g->nlate, sizeof(*g->cams));
	g->alias = calloc(g->ncam, sizeof(*g->alias));
	g->prob = calloc(g->ncam, sizeof(*g->prob));
	g->buf = malloc((size_t)MAX_PER_MSG * MAX_EVENT + 64);
	if (g->cams == NULL || g->alias == NULL || g->prob == NULL ||
	    g->buf == NULL || build_alias(g) != 0) {
		evt_gen_free(g);
		return NULL;
	}

	/*
	 * Before the first message every camera is recording with no motion,
	 * as of a random moment in the day before start.
	 */
	start_ticks = g->start_us * 10;
	for (i = 0; i < g->ncam; i++) {
		c = &g->cams[i];
		rnd_guid(setup, id);
		put_guid(g, c->guid, id);
		rnd_guid(setup, c->motion.id);
		c->motion.ticks = start_ticks - 10000000 -
		    (int64_t)(rnd_s(setup) % 864000000000ULL);
		c->motion.on = 0;
		rnd_guid(setup, c->rec.id);
		c->rec.ticks = start_ticks - 10000000 -
		    (int64_t)(rnd_s(setup) % 864000000000ULL);
		c->rec.on = 1;
		c->last_ticks = c->motion.ticks > c->rec.ticks ?
		    c->motion.ticks : c->rec.ticks;
	}
	/* After the cameras, so that they do not depend on nlate. */
	for (i = g->ncam; i < g->ncam + g->nlate; i++) {
		rnd_guid(setup, id);
		put_guid(g, g->cams[i].guid, id);
		g->cams[i].last_ticks = start_ticks - 10000000;
	}
	for (i = 0; i < g->ncam + g->nlate; i++)
		g->cams[i].kind = (uint8_t)(opts->nkinds > 0 ?
		    i % opts->nkinds : 0);
	return g;
}

/* Frees a generator and its buffers. */
void
evt_gen_free(struct evt_gen *g)
{
	if (g == NULL)
		return;
	free(g->cams);
	free(g->alias);
	free(g->prob);
	free(g->buf);
	free(g->sbuf);
	free(g->sptr);
	free(g->slen);
	free(g);
}

/* Draws a camera by activity weight. */
static inline uint32_t
pick_camera(struct evt_gen *g)
{
	uint64_t r = rnd(g);
	uint32_t i = (uint32_t)(((r >> 32) * g->ncam) >> 32);

	return (uint32_t)r < g->prob[i] ? i : g->alias[i];
}

/* Writes the "data" payload of an analytics event that ends at ticks. */
static char *
put_payload(struct evt_gen *g, char *p, uint32_t cam, int64_t ticks)
{
	/*
	 * Descriptions as System.Text.Json writes them: it escapes '"', '&'
	 * and every non-ASCII character as \uXXXX with upper-case hex.
	 */
	static const char *const desc[8] = {
		"Person detected",
		"Vehicle detected",
		"Line crossing: north gate",
		"Loitering in zone \\u0022Parking B\\u0022",
		"Object left behind",
		"Tailgating at door \\u0026 turnstile",
		"Indgang \\u00D8st: person",
		"License plate AB 12 345",
	};
	static const char *const cls[4] = {
		"person", "vehicle", "bicycle", "bag"
	};
	static const int64_t site[2][2] = {
		{ 55676100, 12568300 },		/* Copenhagen */
		{ 45515200, -122678400 },	/* Portland */
	};
	uint64_t r = rnd(g);
	const char *d = desc[r & 7];
	int64_t dur = 2000000 + (int64_t)((r >> 3) % 98000000);
	uint32_t nobj, i, k, conf1 = 0, conf;
	const int64_t *loc = site[cam & 1];

	PUT(p, ",\"datacontenttype\":\"application/json\",\"data\":{");
	PUT(p, "\"description\":\"");
	memcpy(p, d, strlen(d));
	p += strlen(d);
	PUT(p, "\",\"startTime\":\"");
	p = put_ticks(p, ticks - dur);
	PUT(p, "\",\"endTime\":\"");
	p = put_ticks(p, ticks);
	PUT(p, "\",\"location\":{\"zone\":");
	r = rnd(g);
	p = evt_put_u64(p, 1 + r % 12);
	PUT(p, ",\"latitude\":");
	p = put_fixed(p, loc[0] + (int64_t)((r >> 8) % 2001) - 1000, 6);
	PUT(p, ",\"longitude\":");
	p = put_fixed(p, loc[1] + (int64_t)((r >> 20) % 2001) - 1000, 6);
	PUT(p, "},\"objects\":[");
	nobj = 1 + (uint32_t)((r >> 32) % 3);
	for (i = 0; i < nobj; i++) {
		r = rnd(g);
		if (i > 0)
			*p++ = ',';
		PUT(p, "{\"class\":\"");
		memcpy(p, cls[r & 3], strlen(cls[r & 3]));
		p += strlen(cls[r & 3]);
		PUT(p, "\",\"confidence\":");
		conf = 300 + (uint32_t)((r >> 2) % 700);
		if (i == 0)
			conf1 = conf;
		p = put_fixed(p, conf, 3);
		PUT(p, ",\"trackId\":");
		p = evt_put_u64(p, 1 + (r >> 12) % 999999);
		PUT(p, ",\"box\":[");
		/* Multiples of 1/64: exact binary fractions like 0.125. */
		r = rnd(g);
		for (k = 0; k < 4; k++) {
			if (k > 0)
				*p++ = ',';
			p = put_fixed(p, (int64_t)(((r >> (6 * k)) & 63) + 1) *
			    15625, 6);
		}
		PUT(p, "]}");
	}
	PUT(p, "],\"alarm\":");
	if (conf1 >= 800)
		PUT(p, "true");
	else
		PUT(p, "false");
	PUT(p, ",\"snapshots\":[]}");
	return p;
}

/* Writes one state or event object without a payload; returns the end. */
static char *
put_event_head(const struct evt_gen *g, char *p, const uint8_t id[16],
    const struct gen_cam *c, const char *sg, int64_t ticks, const char *type)
{
	PUT(p, "{\"id\":\"");
	p = put_guid(g, p, id);
	PUT(p, "\",\"source\":\"");
	memcpy(p, g->kind[c->kind], g->kind_len[c->kind]);
	p += g->kind_len[c->kind];
	memcpy(p, c->guid, GUID_LEN);
	p += GUID_LEN;
	PUT(p, "\",\"specversion\":\"1.0\",");
	if (sg != NULL) {
		PUT(p, "\"stategroupid\":\"");
		memcpy(p, sg, GUID_LEN);
		p += GUID_LEN;
		PUT(p, "\",");
	}
	PUT(p, "\"time\":\"");
	p = put_ticks(p, ticks);
	PUT(p, "\",\"type\":\"");
	memcpy(p, type, GUID_LEN);
	p += GUID_LEN;
	*p++ = '"';
	return p;
}

/* Produces the next message; see gen.h. */
size_t
evt_gen_next(struct evt_gen *g, const char **json, int64_t *rx_us,
    uint32_t *nevents)
{
	int64_t lat[MAX_PER_MSG], rx, rx_ticks, t, prev, tmp;
	uint32_t n, i, j, u, cam;
	uint64_t r;
	uint8_t id[16];
	struct gen_cam *c;
	struct gen_state *st;
	const char *sg, *type;
	enum gen_kind kind;
	char *p = g->buf;

	/* The first message arrives at start_us, then exponential gaps. */
	if (g->nmsg++ > 0)
		g->t_us -= g->gap_mean_us *
		    gen_ln((double)((rnd(g) >> 11) + 1) * 0x1p-53);
	rx = g->start_us + (int64_t)g->t_us;
	rx_ticks = rx * 10;

	u = rnd_below(g, 1000);
	for (n = 1; n < MAX_PER_MSG && u >= size_permille[n - 1]; n++)
		u -= size_permille[n - 1];

	/* Latencies 2..100 ms skewed low (product of two uniforms), sorted
	 * longest first so that event times ascend. */
	for (i = 0; i < n; i++) {
		r = rnd(g);
		lat[i] = 20000 + (int64_t)(((((r >> 32) * (r & 0xffffffff)) >>
		    32) * 980000) >> 32);
		for (j = i; j > 0 && lat[j - 1] < lat[j]; j--) {
			tmp = lat[j];
			lat[j] = lat[j - 1];
			lat[j - 1] = tmp;
		}
	}

	PUT(p, "{\"events\":[");
	prev = INT64_MIN;
	for (i = 0; i < n; i++) {
		r = rnd(g);
		if (r < g->thr_data)
			kind = K_DATA;
		else if (r < g->thr_motion)
			kind = K_MOTION;
		else if (r < g->thr_rec)
			kind = K_REC;
		else
			kind = K_FPS;
		if (kind == K_FPS)
			cam = (uint32_t)(((uint64_t)rnd_below(g, g->nfps) * 25 +
			    3) % g->ncam);
		else
			cam = pick_camera(g);
		if (i == 0 && g->nlate_on < g->nlate && g->nev >=
		    (uint64_t)(g->nlate_on + 1) * g->late_every) {
			/* A late source appears, with a stateless event. */
			kind = K_FPS;
			cam = g->ncam + g->nlate_on++;
		}
		c = &g->cams[cam];

		t = rx_ticks - lat[i];
		if (t < prev)
			t = prev;
		if (t <= c->last_ticks)
			t = c->last_ticks + 1 + (int64_t)(rnd(g) % 10000);
		if (t > rx_ticks)
			t = rx_ticks;
		if (t > c->last_ticks)
			c->last_ticks = t;
		prev = t;

		rnd_guid(g->s, id);
		st = NULL;
		sg = NULL;
		switch (kind) {
		case K_MOTION:
			st = &c->motion;
			sg = SG_MOTION;
			type = st->on ? T_MOTION_STOP : T_MOTION_START;
			break;
		case K_REC:
			st = &c->rec;
			sg = SG_RECORDING;
			type = st->on ? T_REC_STOP : T_REC_START;
			break;
		case K_FPS:
			type = T_FPS_WARNING;
			break;
		default:
			type = T_ANALYTICS;
			break;
		}
		if (st != NULL) {
			memcpy(st->id, id, sizeof(st->id));
			st->ticks = t;
			st->on = !st->on;
		}
		if (i > 0)
			*p++ = ',';
		g->last_off[i] = (uint32_t)(p - g->buf);
		p = put_event_head(g, p, id, c, sg, t, type);
		if (kind == K_DATA)
			p = put_payload(g, p, cam, t);
		*p++ = '}';
		g->last_len[i] = (uint32_t)(p - g->buf) - g->last_off[i];
	}
	g->nlast = n;
	g->nev += n;
	PUT(p, "]}");
	*p = '\0';

	*json = g->buf;
	*rx_us = rx;
	*nevents = n;
	return (size_t)(p - g->buf);
}

/* Writes the states array; sets *json to NULL and returns 0 on no memory. */
size_t
evt_gen_states(struct evt_gen *g, const char **json)
{
	const struct gen_cam *c;
	size_t need;
	uint32_t i;
	char *p;

	need = (size_t)g->ncam * 2 * STATE_MAX + 8;
	if (g->scap < need) {
		free(g->sbuf);
		g->scap = 0;
		if ((g->sbuf = malloc(need)) == NULL) {
			*json = NULL;
			return 0;
		}
		g->scap = need;
	}
	p = g->sbuf;
	*p++ = '[';
	for (i = 0; i < g->ncam; i++) {
		c = &g->cams[i];
		if (i > 0)
			*p++ = ',';
		p = put_event_head(g, p, c->motion.id, c, SG_MOTION,
		    c->motion.ticks, c->motion.on ? T_MOTION_START :
		    T_MOTION_STOP);
		PUT(p, "},");
		p = put_event_head(g, p, c->rec.id, c, SG_RECORDING,
		    c->rec.ticks, c->rec.on ? T_REC_START : T_REC_STOP);
		*p++ = '}';
	}
	*p++ = ']';
	*p = '\0';
	*json = g->sbuf;
	return (size_t)(p - g->sbuf);
}

/* Splits the last message into its event texts. */
uint32_t
evt_gen_last_events(const struct evt_gen *g, const char **ev, size_t *lens)
{
	uint32_t i;

	for (i = 0; i < g->nlast; i++) {
		ev[i] = g->buf + g->last_off[i];
		lens[i] = g->last_len[i];
	}
	return g->nlast;
}

/* Writes the states and splits them into their object texts. */
size_t
evt_gen_state_list(struct evt_gen *g, const char *const **st,
    const size_t **lens)
{
	const char *json, *p, *end;
	size_t n = 0, cap = (size_t)g->ncam * 2, len;
	int depth = 0;

	*st = NULL;
	*lens = NULL;
	if ((len = evt_gen_states(g, &json)) == 0)
		return 0;
	if (g->sptr == NULL) {
		g->sptr = calloc(cap, sizeof(*g->sptr));
		g->slen = calloc(cap, sizeof(*g->slen));
		if (g->sptr == NULL || g->slen == NULL) {
			free(g->sptr);
			free(g->slen);
			g->sptr = NULL;
			g->slen = NULL;
			return 0;
		}
	}
	/* Our own output: no braces or brackets inside strings. */
	end = json + len;
	for (p = json + 1; p < end && n < cap; p++) {
		if (*p == '{' && depth++ == 0)
			g->sptr[n] = p;
		else if (*p == '}' && --depth == 0) {
			g->slen[n] = (size_t)(p + 1 - g->sptr[n]);
			n++;
		}
	}
	*st = g->sptr;
	*lens = g->slen;
	return n;
}

/* Returns the number of cameras. */
uint32_t
evt_gen_ncameras(const struct evt_gen *g)
{
	return g->ncam;
}

/* Returns camera i's GUID (36 bytes, not NUL-terminated). */
const char *
evt_gen_camera(const struct evt_gen *g, uint32_t i)
{
	return i < g->ncam ? g->cams[i].guid : NULL;
}

/* Returns the number of sources that exist now. */
uint32_t
evt_gen_nsources(const struct evt_gen *g)
{
	return g->ncam + g->nlate_on;
}

/* Returns source i's GUID and resource type (see gen.h). */
const char *
evt_gen_source(const struct evt_gen *g, uint32_t i, const char **kind)
{
	if (i >= g->ncam + g->nlate_on)
		return NULL;
	*kind = g->kind_name[g->cams[i].kind];
	return g->cams[i].guid;
}

/* Made up like SG_RECORDING: the communication state group's id. */
#define SG_COMM "b4c6e4a2-5f0d-4c1e-9a57-3d2f8e61c0a9"

static const char *const motion_states[] = { "Motion", "No Motion" };
static const char *const rec_states[] = { "Recording", "Not Recording" };
static const char *const comm_states[] = {
	"Communication Started", "Communication Stopped", "Communication Error"
};

static const struct evt_gen_type gen_types[] = {
	{ T_MOTION_START, "MotionStarted", "Motion Started", SG_MOTION,
	    "Motion" },
	{ T_MOTION_STOP, "MotionStopped", "Motion Stopped", SG_MOTION,
	    "No Motion" },
	{ T_REC_START, "RecordingStarted", "Recording Started", SG_RECORDING,
	    "Recording" },
	{ T_REC_STOP, "RecordingStopped", "Recording Stopped", SG_RECORDING,
	    "Not Recording" },
	{ T_FPS_WARNING, "RecordingFpsWarning", "Recording FPS Warning", NULL,
	    NULL },
	{ T_ANALYTICS, "AnalyticsEvent", "Analytics Event", NULL, NULL },
	{ "dd3e6464-7dc0-405a-a92f-6150587563e8", "CommunicationStarted",
	    "Communication Started", SG_COMM, "Communication Started" },
	{ "0ee90664-2924-42a0-a816-4129d0ecabdc", "CommunicationStopped",
	    "Communication Stopped", SG_COMM, "Communication Stopped" },
	{ "a334af1c-4b4b-4957-9e5f-ab8ca07feab6", "CommunicationError",
	    "Communication Error", SG_COMM, "Communication Error" },
};

static const struct evt_gen_state_group gen_groups[] = {
	{ SG_MOTION, "Motion", motion_states, 2 },
	{ SG_RECORDING, "Recording", rec_states, 2 },
	{ SG_COMM, "Communication", comm_states, 3 },
};

/* Returns the event types of the simulated site. */
const struct evt_gen_type *
evt_gen_event_types(size_t *n)
{
	*n = sizeof(gen_types) / sizeof(gen_types[0]);
	return gen_types;
}

/* Returns the state groups of the simulated site. */
const struct evt_gen_state_group *
evt_gen_state_groups(size_t *n)
{
	*n = sizeof(gen_groups) / sizeof(gen_groups[0]);
	return gen_groups;
}
