/*
 * rollup.c: the archive's summary roll-up (rollup.h, formats/rollup.md).
 *
 * A run file covers a set of sealed segments.  Its byte layout:
 *
 *   OFFSET        SIZE  FIELD
 *   0             256   header (below)
 *   256           64*S  segment table, ascending seq
 *   256+64*S      rest  the summary of the SUMMED segments (segment.md,
 *                       "Summary", every table key a text)
 *
 *   header: 0 magic "\x89EVTSUM\n" | 8 u16 version 1 or 2 | 10 u16
 *   hdr_size 256 | 12 u16 level | 14 u16 flags (bit 0: sessions) | 16 u32
 *   S | 20 u32 bucket_s (version 2; reserved in 1: one second) |
 *   24 u64 events | 32 u64 records | 40 u64 blocks | 48 i64 first_rx |
 *   56 i64 last_rx | 64 u64 sessions | 72..79 reserved | 80 u64 cfg_seq |
 *   88 u32 cfg_block |
 *   92 u32 cfg_frame | 96 i64 cfg_rx | 104 11 x u64 frames |
 *   192..247 reserved | 248 u32 body_crc | 252 u32 crc of bytes 0..251
 *
 *   entry: 0 u64 seq | 8 u64 size | 16 i64 mtime_ns | 24 i64 first_rx |
 *   32 i64 last_rx | 40 u64 nrecords | 48 u32 trl_crc | 52 u32 flags |
 *   56 u64 reserved
 *
 * Building: a stats count (stats.c) adds up the inputs' summaries, the
 * segments' own (decoded with their dictionaries) or smaller runs' (a
 * merge), and exports the total as one summary whose keys are texts
 * (packed against an empty dictionary), so that the run needs no
 * segment's dictionary to be read.  Maintenance lists only the runs'
 * headers (evt_ru_add) or loads them (catch-up); a merge reads its inputs
 * whole, one at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/catalog.h"
#include "evtape/crc32c.h"
#include "evtape/dict.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/idindex.h"
#include "evtape/rollup.h"
#include "evtape/segment.h"
#include "evtape/select.h"
#include "evtape/stats.h"
#include "le.h"

#define RU_F_SESSIONS 0x1	/* header flags: sessions counted */

/* Header and entry offsets (formats/rollup.md, "Header"). */
enum {
	RU_MAGIC = 0, RU_VERSION = 8, RU_HDR_SIZE = 10, RU_LEVEL = 12,
	RU_FLAGS = 14, RU_SESSIONS = 64,
	RU_NSEGS = 16, RU_BUCKET_S = 20, RU_EVENTS = 24, RU_RECORDS = 32, RU_BLOCKS = 40,
	RU_FIRST = 48, RU_LAST = 56, RU_CFG_SEQ = 80, RU_CFG_BLOCK = 88,
	RU_CFG_FRAME = 92, RU_CFG_RX = 96, RU_FRAMES = 104, RU_BODY_CRC = 248,
	RU_CRC = 252,
};
enum {
	RE_SEQ = 0, RE_SIZE = 8, RE_MTIME = 16, RE_FIRST = 24, RE_LAST = 32,
	RE_NREC = 40, RE_TRL_CRC = 48, RE_FLAGS = 52,
};

/* Whether the environment turns roll-ups off. */
static int
ru_off(void)
{
	const char *e = getenv("EVTAPE_NO_ROLLUP");
	return e != NULL && *e != 0;
}

/* Formats a run file name. */
void
evt_ru_name(uint64_t lo, uint64_t hi, char *out, size_t cap)
{
	evt_run_name("sum", ".evs", lo, hi, out, cap);
}

/* Parses a run file name; see rollup.h. */
int
evt_ru_parse_name(const char *name, uint64_t *lo, uint64_t *hi)
{
	return evt_run_parse_name(name, "sum", ".evs", lo, hi);
}

/* Reads the segment table at p (S entries) into run, checking it. */
static int
parse_segs(const uint8_t *p, struct evt_ru_run *run, const char **why,
    uint64_t *at)
{
	uint64_t recs = 0;
	int64_t first = INT64_MAX, last = INT64_MIN;
	for (uint32_t i = 0; i < run->nsegs; i++, p += EVT_RU_SEG_SIZE) {
		struct evt_ru_seg *s = &run->segs[i];
		uint64_t off = EVT_RU_HDR_SIZE + (uint64_t)i * EVT_RU_SEG_SIZE;
		*s = (struct evt_ru_seg){le64_get(p + RE_SEQ),
		    le64_get(p + RE_SIZE), (int64_t)le64_get(p + RE_MTIME),
		    (int64_t)le64_get(p + RE_FIRST),
		    (int64_t)le64_get(p + RE_LAST), le64_get(p + RE_NREC),
		    le32_get(p + RE_TRL_CRC), le32_get(p + RE_FLAGS)};
		if (s->seq < run->lo || s->seq > run->hi ||
		    (i > 0 && s->seq <= s[-1].seq))
			return evt_parse_fail(why, at,
			    "segment table not ascending "
			    "within the name's range", off, EVT_ERR_CORRUPT);
		if ((s->flags & ~EVT_RU_SUMMED) != 0 ||
		    (s->nrecords > 0 && s->first_rx > s->last_rx))
			return evt_parse_fail(why, at,
			    "segment entry: unknown flags or "
			    "first_rx > last_rx", off, EVT_ERR_CORRUPT);
		recs += s->nrecords;
		if (s->nrecords > 0 && s->first_rx < first)
			first = s->first_rx;
		if (s->nrecords > 0 && s->last_rx > last)
			last = s->last_rx;
	}
	if (recs != run->records || (recs > 0 && (first != run->first_rx ||
	    last != run->last_rx)))
		return evt_parse_fail(why, at,
		    "records, first_rx or last_rx differ from "
		    "the segment table's", RU_RECORDS, EVT_ERR_CORRUPT);
	return 0;
}

/* Whether the header's CONFIG position names a SUMMED entry. */
static int
cfg_ok(const struct evt_ru_run *run)
{
	if (run->cfg_seq == 0)
		return 1;
	for (uint32_t i = 0; i < run->nsegs; i++)
		if (run->segs[i].seq == run->cfg_seq)
			return (run->segs[i].flags & EVT_RU_SUMMED) != 0 &&
			    run->frames[EVT_K_CONFIG] > 0;
	return 0;
}

/* Parses a run; see rollup.h. */
int
evt_ru_parse(const uint8_t *buf, size_t len, uint64_t lo, uint64_t hi,
    struct evt_ru_run *run, const char **why, uint64_t *at)
{
	memset(run, 0, sizeof *run);
	run->lo = lo;
	run->hi = hi;
	if (len < EVT_RU_HDR_SIZE || memcmp(buf, EVT_RU_MAGIC, 8) != 0 ||
	    le32_get(buf + RU_CRC) != evt_crc32c(0, buf, RU_CRC))
		return evt_parse_fail(why, at,
		    "not a roll-up run (magic or header CRC)",
		    0, EVT_ERR_CORRUPT);
	unsigned version = le16_get(buf + RU_VERSION);
	if ((version != 1 && version != EVT_RU_VERSION) ||
	    le16_get(buf + RU_HDR_SIZE) != EVT_RU_HDR_SIZE)
		return evt_parse_fail(why, at,
		    "unknown roll-up version or header size",
		    RU_VERSION, EVT_ERR_VERSION);
	uint32_t bs = version == 1 ? 1 : le32_get(buf + RU_BUCKET_S);
	if ((version != 1 && bs < 2) || bs > 86400 || 86400 % bs != 0)
		return evt_parse_fail(why, at, "a version 2 run's bucket_s "
		    "is not 2 .. 86,400 dividing 86,400", RU_BUCKET_S,
		    EVT_ERR_CORRUPT);
	run->bucket_us = (int64_t)bs * EVT_SUM_BUCKET_US;
	run->level = le16_get(buf + RU_LEVEL);
	run->nsegs = le32_get(buf + RU_NSEGS);
	uint64_t tab = (uint64_t)run->nsegs * EVT_RU_SEG_SIZE;
	if (run->nsegs == 0 || run->nsegs > EVT_RU_PARSE_SEGS ||
	    EVT_RU_HDR_SIZE + tab > len)
		return evt_parse_fail(why, at,
		    "segment count 0, too large, or past the "
		    "end of the file", RU_NSEGS, EVT_ERR_CORRUPT);
	if (le32_get(buf + RU_BODY_CRC) != evt_crc32c(0, buf +
	    EVT_RU_HDR_SIZE, len - EVT_RU_HDR_SIZE))
		return evt_parse_fail(why, at, "body CRC mismatch",
		    EVT_RU_HDR_SIZE,
		    EVT_ERR_CORRUPT);
	run->events = le64_get(buf + RU_EVENTS);
	run->records = le64_get(buf + RU_RECORDS);
	run->blocks = le64_get(buf + RU_BLOCKS);
	run->first_rx = (int64_t)le64_get(buf + RU_FIRST);
	run->last_rx = (int64_t)le64_get(buf + RU_LAST);
	run->cfg_seq = le64_get(buf + RU_CFG_SEQ);
	run->cfg = (struct evt_sum_pos){le32_get(buf + RU_CFG_BLOCK),
	    le32_get(buf + RU_CFG_FRAME), (int64_t)le64_get(buf + RU_CFG_RX)};
	for (int k = 0; k <= EVT_K_MAX; k++)
		run->frames[k] = le64_get(buf + RU_FRAMES + 8 * k);
	run->has_sessions = le16_get(buf + RU_FLAGS) & RU_F_SESSIONS;
	run->sessions = run->has_sessions ? le64_get(buf + RU_SESSIONS) : 0;
	if ((run->segs = calloc(run->nsegs, sizeof *run->segs)) == NULL)
		return EVT_ERR_NOMEM;
	int rc = parse_segs(buf + EVT_RU_HDR_SIZE, run, why, at);
	if (rc == 0 && !cfg_ok(run))
		rc = evt_parse_fail(why, at,
		    "cfg_seq names no summed segment, or no "
		    "CONFIG frame is counted", RU_CFG_SEQ, EVT_ERR_CORRUPT);
	if (rc != 0) {
		evt_ru_free(run);
		return rc;
	}
	run->sum = buf + EVT_RU_HDR_SIZE + tab;
	run->sum_len = len - EVT_RU_HDR_SIZE - (size_t)tab;
	return 0;
}

/* Decodes a run's summary; see rollup.h. */
int
evt_ru_sum(const struct evt_ru_run *run, struct evt_sum *s, const char **why)
{
	struct evt_dict none;
	evt_dict_init(&none);
	int rc = evt_sum_decode_w(run->sum, run->sum_len, &none, UINT32_MAX,
	    run->bucket_us, s, why);
	evt_dict_free(&none);
	if (rc != 0)
		return rc;
	int summed = 0;
	for (uint32_t i = 0; i < run->nsegs; i++)
		summed |= (run->segs[i].flags & EVT_RU_SUMMED) != 0;
	*why = "the summary is incomplete, holds positions, or counts events "
	    "without a summed segment";
	if (!s->complete || s->has_config || s->nstates > 0 ||
	    (!summed && s->events > 0))
		return EVT_ERR_CORRUPT;
	return 0;
}

/* Frees a run; see rollup.h. */
void
evt_ru_free(struct evt_ru_run *run)
{
	free(run->segs);
	free(run->file);
	memset(run, 0, sizeof *run);
}

/* Reads and checks a run file; see rollup.h. */
int
evt_ru_load(const char *path, struct evt_ru_run *run, const char **why,
    uint64_t *at)
{
	const char *base = strrchr(path, '/');
	uint64_t lo, hi;
	memset(run, 0, sizeof *run);
	if (!evt_ru_parse_name(base != NULL ? base + 1 : path, &lo, &hi))
		return evt_parse_fail(why, at, "not a roll-up file name", 0,
		    EVT_ERR_ARG);
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return evt_parse_fail(why, at, "cannot open", 0, EVT_ERR_IO);
	struct stat st;
	uint8_t *buf = NULL;
	int rc;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > EVT_RU_MAX_FILE)
		rc = evt_parse_fail(why, at,
		    "not a regular file of at most 256 MiB", 0,
		    EVT_ERR_CORRUPT);
	else if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		rc = EVT_ERR_NOMEM;
	else if (evt_pread_full(fd, buf, (size_t)st.st_size, 0) != 0)
		rc = evt_parse_fail(why, at, "read error", 0, EVT_ERR_IO);
	else
		rc = evt_ru_parse(buf, (size_t)st.st_size, lo, hi, run, why, at);
	close(fd);
	if (rc != 0)
		free(buf);
	else
		run->file = buf;
	return rc;
}

/*
 * Identities of segments.
 */

/* The modification time of st in nanoseconds. */
static int64_t
mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* What same_file compares besides the size. */
enum { SF_MTIME = 1, SF_CRC = 2 };

/* Whether the segment file of entry s in directory fd dfd is still the one
 * the run covered: its size, and as how says its modification time
 * (readers: cheap, and catches a rewrite in place) and its trailer's CRC
 * (verify: a copy without its times is the same segment). */
static int
same_file(int dfd, const struct evt_ru_seg *s, int how)
{
	char name[32];
	struct stat st;
	evt_segment_name(s->seq, name, sizeof name);
	if (fstatat(dfd, name, &st, 0) != 0 || (uint64_t)st.st_size != s->size ||
	    ((how & SF_MTIME) && mtime_ns(&st) != s->mtime_ns))
		return 0;
	if (!(how & SF_CRC))
		return 1;
	uint8_t b[4];
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	int ok = fd >= 0 && s->size >= 4 && evt_pread_full(fd, b, 4,
	    s->size - 4) ==
	    0 && le32_get(b) == s->trl_crc;
	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * The builder: a run's total, from segments or from runs.
 */
struct acc {
	const char *dir;
	struct evt_sel sel;	/* empty: everything */
	struct evt_stats *st;
	struct evt_ru_seg *segs;
	uint32_t nsegs, cap;
	uint64_t events, records, blocks;
	int64_t first_rx, last_rx;
	uint64_t frames[EVT_K_MAX + 1];
	uint64_t sessions;
	int no_sessions;	/* a merged run did not count them */
	uint64_t cfg_seq;
	struct evt_sum_pos cfg;
	int64_t bucket_us;	/* the run's bucket width */
};

/* Starts a total in buckets of bucket_us. */
static int
acc_init(struct acc *a, const char *dir, int64_t bucket_us)
{
	memset(a, 0, sizeof *a);
	a->dir = dir;
	a->first_rx = INT64_MAX;
	a->last_rx = INT64_MIN;
	a->bucket_us = bucket_us;
	a->sel = (struct evt_sel){.from = INT64_MIN, .to = INT64_MAX};
	a->st = evt_stats_new(&a->sel, bucket_us);
	return a->st != NULL ? 0 : EVT_ERR_NOMEM;
}

/* Frees a total. */
static void
acc_free(struct acc *a)
{
	evt_stats_free(a->st);
	free(a->segs);
	a->st = NULL;
	a->segs = NULL;
}

/* Appends entry e (and its trailer facts) to the total. */
static int
acc_entry(struct acc *a, const struct evt_ru_seg *e)
{
	if (a->nsegs == a->cap) {
		uint32_t c = a->cap ? a->cap * 2 : 16;
		struct evt_ru_seg *s = realloc(a->segs, c * sizeof *s);
		if (s == NULL)
			return EVT_ERR_NOMEM;
		a->segs = s;
		a->cap = c;
	}
	a->segs[a->nsegs++] = *e;
	a->records += e->nrecords;
	if (e->nrecords > 0 && e->first_rx < a->first_rx)
		a->first_rx = e->first_rx;
	if (e->nrecords > 0 && e->last_rx > a->last_rx)
		a->last_rx = e->last_rx;
	return 0;
}

/* The identity and trailer facts of open sealed segment r (file name,
 * number seq, in directory fd dfd) into e. */
static int
seg_entry(int dfd, const char *name, uint64_t seq, struct evt_segr *r,
    struct evt_ru_seg *e)
{
	const struct evt_seg_info *si = evt_segr_info(r);
	struct stat st;
	uint8_t b[4];
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	int ok = fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size ==
	    si->size && si->size >= 4 && evt_pread_full(fd, b, 4,
	    si->size - 4) == 0;
	if (fd >= 0)
		close(fd);
	if (!ok)
		return EVT_ERR_IO;
	*e = (struct evt_ru_seg){seq, si->size, mtime_ns(&st),
	    si->first_rx, si->last_rx, si->nrecords, le32_get(b), 0};
	return 0;
}

/* Adds the summary of segment r (entry e) to the total when it is usable
 * and complete: e->flags gets EVT_RU_SUMMED. */
static int
acc_summary(struct acc *a, struct evt_segr *r, struct evt_ru_seg *e)
{
	const struct evt_seg_info *si = evt_segr_info(r);
	size_t len;
	const uint8_t *p = evt_segr_summary(r, &len);
	struct evt_sum s;
	const char *why;
	if (p == NULL)
		return 0;
	int rc = evt_sum_decode(p, len, evt_segr_decoder(r)->dict,
	    si->nblocks, &s, &why);
	if (rc == 0 && s.complete) {
		rc = evt_stats_add_sum(a->st, &s, 1);
		e->flags |= EVT_RU_SUMMED;
		if (s.has_config) {
			a->cfg_seq = e->seq;
			a->cfg = s.config;
		}
	}
	evt_sum_free(&s);
	return rc == EVT_ERR_NOMEM ? rc : 0;
}

/* Segment reader callback: notes that opening the segment reported
 * something (*arg). */
static void
noted_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	*(int *)arg = 1;
}

/* Adds sealed segment seq (with a usable index) to the total; one that is
 * not, or whose opening reports anything (a reader must open it to
 * report it), is left out: 0, and readers read it themselves. */
static int
acc_seg(struct acc *a, int dfd, uint64_t seq)
{
	char name[32];
	struct evt_segr *r;
	int noted = 0;
	evt_segment_name(seq, name, sizeof name);
	char *path = evt_path_join(a->dir, name);
	if (path == NULL)
		return EVT_ERR_NOMEM;
	int rc = evt_segr_open(path, noted_cb, &noted, &r);
	free(path);
	if (rc != 0)
		return rc == EVT_ERR_NOMEM ? rc : 0;
	const struct evt_seg_info *si = evt_segr_info(r);
	struct evt_ru_seg e;
	if (si->sealed && evt_segr_load_index(r) == 0 && !noted &&
	    si->seq == seq && !si->hdr_damaged &&
	    seg_entry(dfd, name, seq, r, &e) == 0 &&
	    (rc = acc_summary(a, r, &e)) == 0 && (rc = acc_entry(a, &e)) == 0 &&
	    (rc = evt_ru_seg_sessions(r, &a->sessions)) == 0) {
		a->events += si->nevents;
		a->blocks += si->nblocks;
		for (int k = 0; k <= EVT_K_MAX; k++)
			a->frames[k] += si->frames[k];
	}
	evt_segr_close(r);
	return rc;
}

/* Adds run r (loaded) to the total: EVT_ERR_CORRUPT if its summary does
 * not check. */
static int
acc_run(struct acc *a, const struct evt_ru_run *r)
{
	struct evt_sum s;
	const char *why;
	int rc = evt_ru_sum(r, &s, &why);
	if (rc == 0)
		rc = evt_stats_add_sum(a->st, &s, 1);
	evt_sum_free(&s);
	for (uint32_t i = 0; rc == 0 && i < r->nsegs; i++)
		rc = acc_entry(a, &r->segs[i]);
	if (rc != 0)
		return rc;
	a->events += r->events;
	a->blocks += r->blocks;
	for (int k = 0; k <= EVT_K_MAX; k++)
		a->frames[k] += r->frames[k];
	a->sessions += r->sessions;
	a->no_sessions |= !r->has_sessions;
	if (r->cfg_seq > a->cfg_seq) {
		a->cfg_seq = r->cfg_seq;
		a->cfg = r->cfg;
	}
	return 0;
}

/* Orders entries by seq. */
static int
cmp_ent(const void *x, const void *y)
{
	const struct evt_ru_seg *a = x, *b = y;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Encodes the total as a run file's bytes into out; EVT_ERR_CORRUPT when
 * its summary comes out incomplete (too many texts or seconds). */
static int
acc_encode(struct acc *a, unsigned level, struct evt_buf *out)
{
	struct evt_sum s;
	memset(&s, 0, sizeof s);
	int rc = evt_stats_export(a->st, &s);
	if (rc == 0 && !s.complete)
		rc = EVT_ERR_CORRUPT;
	size_t tab = (size_t)a->nsegs * EVT_RU_SEG_SIZE;
	if (rc == 0 && evt_buf_grow(out, EVT_RU_HDR_SIZE + tab) != 0)
		rc = EVT_ERR_NOMEM;
	if (rc != 0) {
		evt_sum_free(&s);
		return rc;
	}
	qsort(a->segs, a->nsegs, sizeof *a->segs, cmp_ent);
	uint8_t *h = out->p;
	memset(h, 0, EVT_RU_HDR_SIZE + tab);
	memcpy(h + RU_MAGIC, EVT_RU_MAGIC, 8);
	/* Version 1 where it says all (one-second buckets), so that
	 * readers of revision 1.5 keep using those runs. */
	int coarse = a->bucket_us != EVT_SUM_BUCKET_US;
	le16_put(h + RU_VERSION, coarse ? EVT_RU_VERSION : 1);
	le16_put(h + RU_HDR_SIZE, EVT_RU_HDR_SIZE);
	le16_put(h + RU_LEVEL, (uint16_t)level);
	if (!a->no_sessions) {
		le16_put(h + RU_FLAGS, RU_F_SESSIONS);
		le64_put(h + RU_SESSIONS, a->sessions);
	}
	le32_put(h + RU_NSEGS, a->nsegs);
	if (coarse)
		le32_put(h + RU_BUCKET_S, (uint32_t)(a->bucket_us /
		    EVT_SUM_BUCKET_US));
	le64_put(h + RU_EVENTS, a->events);
	le64_put(h + RU_RECORDS, a->records);
	le64_put(h + RU_BLOCKS, a->blocks);
	le64_put(h + RU_FIRST, (uint64_t)a->first_rx);
	le64_put(h + RU_LAST, (uint64_t)a->last_rx);
	le64_put(h + RU_CFG_SEQ, a->cfg_seq);
	le32_put(h + RU_CFG_BLOCK, a->cfg.block);
	le32_put(h + RU_CFG_FRAME, a->cfg.frame);
	le64_put(h + RU_CFG_RX, (uint64_t)a->cfg.rx);
	for (int k = 0; k <= EVT_K_MAX; k++)
		le64_put(h + RU_FRAMES + 8 * k, a->frames[k]);
	for (uint32_t i = 0; i < a->nsegs; i++) {
		uint8_t *p = h + EVT_RU_HDR_SIZE + (size_t)i * EVT_RU_SEG_SIZE;
		const struct evt_ru_seg *e = &a->segs[i];
		le64_put(p + RE_SEQ, e->seq);
		le64_put(p + RE_SIZE, e->size);
		le64_put(p + RE_MTIME, (uint64_t)e->mtime_ns);
		le64_put(p + RE_FIRST, (uint64_t)e->first_rx);
		le64_put(p + RE_LAST, (uint64_t)e->last_rx);
		le64_put(p + RE_NREC, e->nrecords);
		le32_put(p + RE_TRL_CRC, e->trl_crc);
		le32_put(p + RE_FLAGS, e->flags);
	}
	out->len = EVT_RU_HDR_SIZE + tab;
	struct evt_dict none;
	evt_dict_init(&none);
	rc = evt_sum_pack(&s, &none, out);
	evt_dict_free(&none);
	evt_sum_free(&s);
	if (rc != 0)
		return rc;
	h = out->p;
	le32_put(h + RU_BODY_CRC, evt_crc32c(0, h + EVT_RU_HDR_SIZE,
	    out->len - EVT_RU_HDR_SIZE));
	le32_put(h + RU_CRC, evt_crc32c(0, h, RU_CRC));
	return 0;
}

/* Writes the total as a run of dir (temporary, then renamed); *name gets
 * its file name.  A total without segments writes nothing (1). */
static int
acc_write(struct acc *a, unsigned level, char *name, size_t cap)
{
	if (a->nsegs == 0)
		return 1;
	struct evt_buf out = {0};
	int rc = acc_encode(a, level, &out);
	char tmpn[64];
	evt_ru_name(a->segs[0].seq, a->segs[a->nsegs - 1].seq, name, cap);
	snprintf(tmpn, sizeof tmpn, ".%.*s.tmp", EVT_RU_NAME_LEN - 4, name);
	char *tmp = evt_path_join(a->dir, tmpn), *fin = evt_path_join(a->dir,
	    name);
	int fd = -1;
	if (rc == 0 && (tmp == NULL || fin == NULL))
		rc = EVT_ERR_NOMEM;
	if (rc == 0 && (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0644)) < 0)
		rc = EVT_ERR_IO;
	for (size_t off = 0; rc == 0 && off < out.len;) {
		ssize_t k = write(fd, out.p + off, out.len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			rc = EVT_ERR_IO;
		else
			off += (size_t)k;
	}
	if (fd >= 0 && close(fd) != 0 && rc == 0)
		rc = EVT_ERR_IO;
	if (rc == 0)
		evt_test_kill_point("sum-tmp");
	if (rc == 0 && rename(tmp, fin) != 0)
		rc = EVT_ERR_IO;
	if (rc != 0 && fd >= 0)
		unlink(tmp);
	free(tmp);
	free(fin);
	evt_buf_free(&out);
	return rc;
}

/*
 * The directory as maintenance sees it.
 */
struct rlist {
	const char *dir;
	int dfd;
	uint64_t *seqs;		/* segments, ascending */
	size_t nseg;
	struct evt_ru_run *runs;	/* headers only (add) or loaded */
	char **names;
	size_t nrun, rcap;
	evt_ru_warn_cb warn;
	void *arg;
};

/* Emits a maintenance warning. */
#define rwarn(l, ...) evt_warnf((l)->warn, (l)->arg, __VA_ARGS__)

/* Orders sequence numbers. */
static int
cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* Frees a listing. */
static void
rl_free(struct rlist *l)
{
	for (size_t i = 0; i < l->nrun; i++) {
		evt_ru_free(&l->runs[i]);
		free(l->names[i]);
	}
	free(l->runs);
	free(l->names);
	free(l->seqs);
	if (l->dfd >= 0)
		close(l->dfd);
	l->runs = NULL;
	l->names = NULL;
	l->seqs = NULL;
	l->nrun = l->nseg = 0;
	l->dfd = -1;
}

/* Deletes file name of the directory. */
static void
rl_unlink(struct rlist *l, const char *name)
{
	unlinkat(l->dfd, name, 0);
}

/* Removes run k from the listing (and, when del, its file). */
static void
rl_remove(struct rlist *l, size_t k, int del)
{
	if (del)
		rl_unlink(l, l->names[k]);
	evt_ru_free(&l->runs[k]);
	free(l->names[k]);
	l->nrun--;
	l->runs[k] = l->runs[l->nrun];
	l->names[k] = l->names[l->nrun];
}

/* Reads the header of run file name into *r (segs NULL): 0 if it
 * checks. */
static int
head_load(struct rlist *l, const char *name, struct evt_ru_run *r)
{
	uint8_t h[EVT_RU_HDR_SIZE];
	uint64_t lo, hi;
	int fd = openat(l->dfd, name, O_RDONLY | O_CLOEXEC);
	int ok = fd >= 0 && evt_pread_full(fd, h, sizeof h, 0) == 0 &&
	    evt_ru_parse_name(name, &lo, &hi) && memcmp(h, EVT_RU_MAGIC, 8) ==
	    0 && le32_get(h + RU_CRC) == evt_crc32c(0, h, RU_CRC) &&
	    (le16_get(h + RU_VERSION) == 1 ||
	    le16_get(h + RU_VERSION) == EVT_RU_VERSION);
	if (fd >= 0)
		close(fd);
	memset(r, 0, sizeof *r);
	if (!ok)
		return EVT_ERR_CORRUPT;
	*r = (struct evt_ru_run){.lo = lo, .hi = hi,
	    .level = le16_get(h + RU_LEVEL), .nsegs = le32_get(h + RU_NSEGS),
	    .bucket_us = (le16_get(h + RU_VERSION) == 1 ? 1 :
	    (int64_t)le32_get(h + RU_BUCKET_S)) * EVT_SUM_BUCKET_US,
	    .first_rx = (int64_t)le64_get(h + RU_FIRST),
	    .last_rx = (int64_t)le64_get(h + RU_LAST)};
	return 0;
}

/* How a listing takes the runs: their headers, their names alone
 * (verify), or loaded whole, deleting those that do not check. */
enum { RL_HEADERS, RL_NAMES, RL_FULL };

/* Appends run file name to the listing as mode (RL_*) says. */
static int
rl_add_run(struct rlist *l, const char *name, int mode)
{
	if (l->nrun == l->rcap) {
		size_t c = l->rcap ? l->rcap * 2 : 16;
		struct evt_ru_run *r = realloc(l->runs, c * sizeof *r);
		char **n = realloc(l->names, c * sizeof *n);
		if (r != NULL)
			l->runs = r;
		if (n != NULL)
			l->names = n;
		if (r == NULL || n == NULL)
			return EVT_ERR_NOMEM;
		l->rcap = c;
	}
	struct evt_ru_run *r = &l->runs[l->nrun];
	int rc;
	const char *why = "header does not check";
	uint64_t at = 0;
	memset(r, 0, sizeof *r);
	if (mode == RL_FULL) {
		char *p = evt_path_join(l->dir, name);
		rc = p == NULL ? EVT_ERR_NOMEM : evt_ru_load(p, r, &why, &at);
		free(p);
	} else {
		rc = mode == RL_NAMES ? 0 : head_load(l, name, r);
	}
	if (rc == EVT_ERR_NOMEM)
		return rc;
	if (rc != 0) {
		if (mode == RL_FULL) {
			rwarn(l, "%s/%s: offset %" PRIu64 ": %s; deleted (the "
			    "roll-up is rebuilt from the segments)", l->dir,
			    name, at, why);
			rl_unlink(l, name);
		}
		return 0;
	}
	if ((l->names[l->nrun] = strdup(name)) == NULL) {
		evt_ru_free(r);
		return EVT_ERR_NOMEM;
	}
	l->nrun++;
	return 0;
}

/* Lists the directory (evt_dir_list, the archive's one listing):
 * segments, and runs as mode (RL_*) says; temporaries are deleted when
 * RL_FULL. */
static int
rl_scan(struct rlist *l, int mode)
{
	struct evt_listing dl;
	int rc = evt_dir_list(l->dir, &dl);
	if (rc == EVT_ERR_NOTFOUND)
		rc = EVT_ERR_IO;
	if (rc == 0 && (l->dfd = open(l->dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		rc = EVT_ERR_IO;
	if (rc == 0 && (l->seqs = malloc((dl.nseg + 1) *
	    sizeof *l->seqs)) == NULL)
		rc = EVT_ERR_NOMEM;
	for (size_t i = 0; rc == 0 && i < dl.nseg; i++)
		l->seqs[l->nseg++] = dl.segs[i].seq;	/* ascending */
	for (size_t i = 0; rc == 0 && i < dl.nsum; i++)
		rc = rl_add_run(l, dl.sums[i], mode);
	for (size_t i = 0; rc == 0 && mode == RL_FULL && i < dl.ntemp; i++) {
		if (strncmp(dl.temps[i], ".sum-", 5) != 0)
			continue;
		/* A write that died: only the lock holder writes. */
		rl_unlink(l, dl.temps[i]);
		rwarn(l, "%s/%s: removed an unfinished roll-up run", l->dir,
		    dl.temps[i]);
	}
	evt_listing_free(&dl);
	return rc;
}

/* Opens a listing of dir. */
static int
rl_open(struct rlist *l, const char *dir, int mode, evt_ru_warn_cb warn,
    void *arg)
{
	*l = (struct rlist){.dir = dir, .dfd = -1, .warn = warn, .arg = arg};
	int rc = rl_scan(l, mode);
	if (rc != 0)
		rl_free(l);
	return rc;
}

/* Orders sizes (run indexes). */
static int
cmp_size(const void *x, const void *y)
{
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	return a < b ? -1 : a > b;
}

/* The listing qsort's comparators below look runs up in (under
 * cache_mu). */
static const struct rlist *sort_l;

/* Orders run indexes by their lo. */
static int
cmp_lo(const void *x, const void *y)
{
	uint64_t a = sort_l->runs[*(const size_t *)x].lo,
	    b = sort_l->runs[*(const size_t *)y].lo;
	return a < b ? -1 : a > b;
}

/* Orders run indexes by segment count, largest first. */
static int
cmp_nsegs(const void *x, const void *y)
{
	uint32_t a = sort_l->runs[*(const size_t *)x].nsegs,
	    b = sort_l->runs[*(const size_t *)y].nsegs;
	return a > b ? -1 : a < b;
}

/* Builds a run of level in buckets of bucket_us over segments seqs[0..n)
 * of l's directory; *name gets its file name ("" when none of them could
 * be taken). */
static int
build_segs(struct rlist *l, const uint64_t *seqs, size_t n, unsigned level,
    int64_t bucket_us, char *name, size_t cap)
{
	struct acc a;
	int rc = acc_init(&a, l->dir, bucket_us);
	*name = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = acc_seg(&a, l->dfd, seqs[i]);
	if (rc == 0)
		rc = acc_write(&a, level, name, cap);
	acc_free(&a);
	return rc < 0 ? rc : 0;
}

/* The writers' bounds (formats/rollup.md, "Building and maintaining"):
 * segments of a one-second run, buckets a run may span; the environment
 * variable EVTAPE_RU_LIMITS="SEGS,BUCKETS" lowers them (tests: coarse
 * runs on archives of seconds). */
static void
limits(uint64_t *segs, int64_t *buckets)
{
	const char *e = getenv("EVTAPE_RU_LIMITS");
	unsigned long long s = 0, b = 0;
	*segs = EVT_RU_MAX_SEGS;
	*buckets = EVT_RU_MAX_SPAN;
	if (e != NULL && sscanf(e, "%llu,%llu", &s, &b) == 2 && s >= 1 &&
	    s <= EVT_RU_MAX_SEGS && b >= 1 && b <= EVT_RU_MAX_SPAN) {
		*segs = s;
		*buckets = (int64_t)b;
	}
}

/* The bucket widths of runs, finest first (formats/rollup.md, "Coarse
 * runs"): each a multiple of the one before. */
static const int64_t ru_widths[] = {EVT_SUM_BUCKET_US,
    EVT_RU_COARSE1_S * EVT_SUM_BUCKET_US, EVT_RU_COARSE2_S *
    EVT_SUM_BUCKET_US};

/* The bucket width runs idx[0..n) of l become one run in: the finest of
 * ru_widths, no finer than any input's, within the writers' bounds of
 * segments and buckets spanned; 0 if none is.  A coarse width only for a
 * span seconds cannot hold: many segments in a short span stay in runs
 * of seconds, which every report width can use. */
static int64_t
mergeable(const struct rlist *l, const size_t *idx, size_t n)
{
	uint64_t segs = 0, fine_segs;
	int64_t lo = INT64_MAX, hi = INT64_MIN, wmin = 0, span;
	limits(&fine_segs, &span);
	for (size_t i = 0; i < n; i++) {
		const struct evt_ru_run *r = &l->runs[idx[i]];
		segs += r->nsegs;
		wmin = r->bucket_us > wmin ? r->bucket_us : wmin;
		if (r->first_rx <= r->last_rx) {
			lo = r->first_rx < lo ? r->first_rx : lo;
			hi = r->last_rx > hi ? r->last_rx : hi;
		}
	}
	for (size_t i = 0; i < sizeof ru_widths / sizeof *ru_widths; i++) {
		int64_t w = ru_widths[i];
		uint64_t most = i == 0 ? fine_segs : EVT_RU_COARSE_SEGS;
		int fits = lo > hi || hi / w - lo / w < span;
		if (w >= wmin && segs <= most && fits)
			return w;
		if (fits)
			return 0;
	}
	return 0;
}

/* Merges runs idx[0..n) of l into one of level in buckets of bucket_us
 * (*name); the inputs are deleted after the rename, and replaced in the
 * listing by its header. */
static int
merge_runs(struct rlist *l, size_t *idx, size_t n, unsigned level,
    int64_t bucket_us)
{
	struct acc a;
	char name[64] = "";
	int rc = acc_init(&a, l->dir, bucket_us);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct evt_ru_run r;
		const char *why;
		uint64_t at;
		char *p = evt_path_join(l->dir, l->names[idx[i]]);
		rc = p == NULL ? EVT_ERR_NOMEM : evt_ru_load(p, &r, &why, &at);
		free(p);
		if (rc == 0)
			rc = acc_run(&a, &r);
		evt_ru_free(&r);
	}
	if (rc == 0)
		rc = acc_write(&a, level, name, sizeof name);
	acc_free(&a);
	if (rc != 0)
		return rc;
	evt_test_kill_point("sum-rename");
	/* Highest index first: removing swaps the last run in. */
	qsort(idx, n, sizeof *idx, cmp_size);
	for (size_t i = n; i-- > 0;) {
		rl_remove(l, idx[i], strcmp(l->names[idx[i]], name) != 0);
		evt_test_kill_point("sum-drop");
	}
	return rl_add_run(l, name, RL_HEADERS);
}

/* One merge of EVT_RU_FANOUT runs of one level, the oldest that may
 * merge: 1 if one was made, 0 if none, or EVT_ERR_NOMEM. */
static int
merge_once(struct rlist *l)
{
	size_t *idx = calloc(l->nrun + 1, sizeof *idx);
	if (idx == NULL)
		return EVT_ERR_NOMEM;
	int rc = 0;
	for (unsigned lev = 0; lev < EVT_RU_MAX_LEVEL && rc == 0; lev++) {
		size_t n = 0;
		for (size_t k = 0; k < l->nrun; k++)
			if (l->runs[k].level == lev)
				idx[n++] = k;
		sort_l = l;
		qsort(idx, n, sizeof *idx, cmp_lo);
		for (size_t i = 0; i + EVT_RU_FANOUT <= n && rc == 0; i++) {
			int64_t w = mergeable(l, idx + i, EVT_RU_FANOUT);
			if (w == 0)
				continue;
			rc = merge_runs(l, idx + i, EVT_RU_FANOUT, lev + 1, w);
			/* A total past the bounds (too many texts): left. */
			rc = rc == 0 ? 1 : rc == EVT_ERR_NOMEM ? rc : 0;
		}
	}
	free(idx);
	return rc;
}

/* Merges until nothing merges. */
static int
merge_all(struct rlist *l)
{
	int rc;
	while ((rc = merge_once(l)) == 1)
		;
	return rc;
}

/*
 * The listing of run headers a writer keeps from one seal to the next, so
 * that a seal does not list a directory of thousands of segments again
 * (an import into small segments spent a third of its time there).  Only
 * the lock holder changes runs, and its catch-up on opening (and prune,
 * repair) drops the cache, so it stays true.  Guarded by cache_mu, which
 * also lets one maintainer of a process work at a time (add on the
 * sealing thread, catch-up of retention on the caller's).
 */
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct rlist cache = {.dfd = -1};
static char *cache_dir;
/* Segments sealed since the last run was built: a run is built over
 * EVT_RU_FANOUT of them at once (level 1), a file write and a merge per
 * segment having cost an import into small segments a third more time;
 * those a writer leaves pending are read from their summaries until the
 * next writer's catch-up covers them. */
static uint64_t pending[EVT_RU_FANOUT];
static size_t npending;

/* Drops the cached listing and the pending segments; cache_mu held. */
static void
cache_drop(void)
{
	rl_free(&cache);
	free(cache_dir);
	cache_dir = NULL;
	npending = 0;
}

/* Adds a run for a sealed segment; see rollup.h. */
int
evt_ru_add(const char *dir, uint64_t seq, evt_ru_warn_cb warn, void *arg)
{
	char name[64];
	int rc = 0;
	if (ru_off())
		return 0;
	pthread_mutex_lock(&cache_mu);
	if (cache_dir == NULL || strcmp(cache_dir, dir) != 0) {
		cache_drop();
		if ((cache_dir = strdup(dir)) == NULL)
			rc = EVT_ERR_NOMEM;
		if (rc == 0)
			rc = rl_open(&cache, cache_dir, RL_HEADERS, warn, arg);
	}
	cache.warn = warn;
	cache.arg = arg;
	if (rc == 0)
		pending[npending++] = seq;
	if (rc == 0 && npending == EVT_RU_FANOUT) {
		npending = 0;
		rc = build_segs(&cache, pending, EVT_RU_FANOUT, 1,
		    EVT_SUM_BUCKET_US, name, sizeof name);
		if (rc == 0 && *name != 0)
			rc = rl_add_run(&cache, name, RL_HEADERS);
		if (rc == 0)
			rc = merge_all(&cache);
	}
	if (rc != 0)
		cache_drop();
	pthread_mutex_unlock(&cache_mu);
	return rc;
}

/* The listing index of segment seq, or SIZE_MAX. */
static size_t
seg_index(const struct rlist *l, uint64_t seq)
{
	const uint64_t *at = bsearch(&seq, l->seqs, l->nseg, sizeof seq,
	    cmp_u64);
	return at != NULL ? (size_t)(at - l->seqs) : SIZE_MAX;
}

/*
 * Keeps run r (file name) when its segments are all listed, the same
 * files, and not covered already (a larger run taken before it: r is a
 * merge's input left by a crash), marking them in covered[]; else deletes
 * it, first building a run over its remaining segments unless another
 * covers them.  keep: room for r's segments.
 */
static int
tidy_run(struct rlist *l, const struct evt_ru_run *r, const char *name,
    int full, uint8_t *covered, uint64_t *keep)
{
	size_t nkeep = 0, overlap = 0;
	for (uint32_t i = 0; i < r->nsegs; i++) {
		size_t at = seg_index(l, r->segs[i].seq);
		if (at != SIZE_MAX && covered[at])
			overlap++;
		else if (at != SIZE_MAX && same_file(l->dfd, &r->segs[i],
		    SF_MTIME | (full ? SF_CRC : 0)))
			keep[nkeep++] = r->segs[i].seq;
	}
	char fresh[64] = "";
	int rc = 0;
	if (overlap == 0 && nkeep < r->nsegs && nkeep > 0) {
		rwarn(l, "%s/%s: %zu covered segments gone or rewritten; "
		    "rebuilt over the others", l->dir, name, r->nsegs - nkeep);
		rc = build_segs(l, keep, nkeep, r->level, r->bucket_us, fresh,
		    sizeof fresh);
	}
	if (overlap == 0 && (nkeep == r->nsegs || *fresh != 0))
		for (size_t i = 0; i < nkeep; i++)
			covered[seg_index(l, keep[i])] = 1;
	if (nkeep < r->nsegs && strcmp(fresh, name) != 0)
		rl_unlink(l, name);
	return rc;
}

/* Tidies every run of l, largest first (tidy_run). */
static int
tidy_runs(struct rlist *l, int full, uint8_t *covered)
{
	size_t *idx = calloc(l->nrun + 1, sizeof *idx);
	uint64_t *keep = calloc(EVT_RU_PARSE_SEGS, sizeof *keep);
	int rc = idx == NULL || keep == NULL ? EVT_ERR_NOMEM : 0;
	for (size_t k = 0; rc == 0 && k < l->nrun; k++)
		idx[k] = k;
	sort_l = l;
	if (rc == 0)
		qsort(idx, l->nrun, sizeof *idx, cmp_nsegs);
	for (size_t j = 0; rc == 0 && j < l->nrun; j++)
		rc = tidy_run(l, &l->runs[idx[j]], l->names[idx[j]], full,
		    covered, keep);
	free(keep);
	free(idx);
	return rc;
}

/* Catches up; see rollup.h. */
int
evt_ru_catch_up(const char *dir, int full, evt_ru_warn_cb warn, void *arg)
{
	struct rlist l;
	char name[64];
	if (ru_off())
		return 0;
	/* One maintainer at a time: retention runs on the recorder's event
	 * loop while its sealing thread may be adding a run. */
	pthread_mutex_lock(&cache_mu);
	cache_drop();
	int rc = rl_open(&l, dir, RL_FULL, warn, arg);
	if (rc != 0) {
		pthread_mutex_unlock(&cache_mu);
		return rc;
	}
	uint8_t *covered = calloc(l.nseg + 1, 1);
	rc = covered == NULL ? EVT_ERR_NOMEM : tidy_runs(&l, full, covered);
	/* Newest first: the writer's first rotation may wait for this. */
	size_t todo = full ? SIZE_MAX : 256;
	for (size_t i = l.nseg; rc == 0 && i-- > 0 && todo > 0;) {
		if (covered[i])
			continue;
		todo--;
		rc = build_segs(&l, &l.seqs[i], 1, 0, EVT_SUM_BUCKET_US, name,
		    sizeof name);
	}
	free(covered);
	rl_free(&l);
	if (rc == 0 && (rc = rl_open(&l, dir, RL_HEADERS, warn, arg)) == 0) {
		rc = merge_all(&l);
		rl_free(&l);
	}
	pthread_mutex_unlock(&cache_mu);
	return rc;
}

/*
 * Recounts the recorder sessions of run r's segments (every one listed in
 * l and the same file) into *n, as the writer counted them (acc_seg).
 * Returns 1 when they differ from r's `sessions` (formats/rollup.md: no
 * reader checks it, verify does), 0 when they agree or a segment cannot be
 * read (a run over it is reported otherwise, or not used), or
 * EVT_ERR_NOMEM.
 */
static int
run_sessions(const struct rlist *l, const struct evt_ru_run *r, uint64_t *n)
{
	*n = 0;
	for (uint32_t i = 0; i < r->nsegs; i++) {
		char name[32];
		struct evt_segr *sr;
		evt_segment_name(r->segs[i].seq, name, sizeof name);
		char *path = evt_path_join(l->dir, name);
		if (path == NULL)
			return EVT_ERR_NOMEM;
		int rc = evt_segr_open(path, NULL, NULL, &sr);
		free(path);
		if (rc != 0)
			return rc == EVT_ERR_NOMEM ? rc : 0;
		rc = evt_segr_info(sr)->sealed && evt_segr_load_index(sr) ==
		    0 ? evt_ru_seg_sessions(sr, n) : 1;
		evt_segr_close(sr);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	return *n != r->sessions;
}

/* Checks every run file; see rollup.h. */
int
evt_ru_verify(const char *dir, evt_ru_report_cb report, void *arg)
{
	struct rlist l;
	if (ru_off())
		return 0;
	int rc = rl_open(&l, dir, RL_NAMES, NULL, NULL);
	if (rc != 0)
		return rc;
	int problems = 0;
	for (size_t k = 0; k < l.nrun && rc == 0; k++) {
		char *p = evt_path_join(dir, l.names[k]);
		struct evt_ru_run r = {0};
		struct evt_sum s;
		const char *why;
		uint64_t at = 0;
		rc = p == NULL ? EVT_ERR_NOMEM : evt_ru_load(p, &r, &why, &at);
		if (rc == 0) {
			rc = evt_ru_sum(&r, &s, &why);
			at = EVT_RU_HDR_SIZE + (uint64_t)r.nsegs *
			    EVT_RU_SEG_SIZE;
			evt_sum_free(&s);
		}
		for (uint32_t i = 0; rc == 0 && i < r.nsegs; i++)
			if (seg_index(&l, r.segs[i].seq) != SIZE_MAX &&
			    !same_file(l.dfd, &r.segs[i], SF_CRC)) {
				why = "stale: a covered segment is no longer "
				    "the same file (size or trailer CRC)";
				at = EVT_RU_HDR_SIZE + (uint64_t)i *
				    EVT_RU_SEG_SIZE;
				rc = EVT_ERR_CORRUPT;
			}
		uint64_t n;
		char m[160];
		if (rc == 0 && r.has_sessions && r.nsegs > 0 &&
		    seg_index(&l, r.segs[0].seq) != SIZE_MAX &&
		    (rc = run_sessions(&l, &r, &n)) == 1) {
			snprintf(m, sizeof m, "sessions %" PRIu64 ", but its "
			    "segments hold %" PRIu64 " recorder sessions",
			    r.sessions, n);
			why = m;
			at = RU_SESSIONS;
			rc = EVT_ERR_CORRUPT;
		}
		if (rc != 0 && rc != EVT_ERR_NOMEM) {
			report(arg, p, at, why);
			problems++;
			rc = 0;
		}
		evt_ru_free(&r);
		free(p);
	}
	rl_free(&l);
	return rc != 0 ? rc : problems;
}

/*
 * The readers' view.
 */

/* Closes a view; NULL is fine. */
void
evt_ru_view_close(struct evt_ru_view *v)
{
	if (v == NULL)
		return;
	for (size_t k = 0; k < v->nrun; k++)
		evt_ru_free(&v->runs[k]);
	free(v->runs);
	free(v->cover);
	free(v->first);
	free(v);
}

/* Whether run r may answer for its segments: each listed in seqs[0..n)
 * and the same file; *where gets their listing indexes. */
static int
view_run_ok(int dfd, const struct evt_ru_run *r, const uint64_t *seqs,
    size_t n, size_t *where)
{
	for (uint32_t i = 0; i < r->nsegs; i++) {
		const uint64_t *at = bsearch(&r->segs[i].seq, seqs, n,
		    sizeof *seqs, cmp_u64);
		if (at == NULL || !same_file(dfd, &r->segs[i], SF_MTIME))
			return 0;
		where[i] = (size_t)(at - seqs);
	}
	return 1;
}

/* Decides which usable run covers which segment: larger runs first, a
 * run overlapping one already taken is not used. */
static int
view_assign(struct evt_ru_view *v, int dfd, const uint64_t *seqs, size_t n)
{
	struct rlist tmp = {.runs = v->runs, .nrun = v->nrun};
	size_t *idx = calloc(v->nrun + 1, sizeof *idx);
	size_t most = 1;
	for (size_t k = 0; k < v->nrun; k++)
		most = v->runs[k].nsegs > most ? v->runs[k].nsegs : most;
	size_t *where = calloc(most, sizeof *where);
	if (idx == NULL || where == NULL) {
		free(idx);
		free(where);
		return EVT_ERR_NOMEM;
	}
	for (size_t k = 0; k < v->nrun; k++)
		idx[k] = k;
	pthread_mutex_lock(&cache_mu);	/* sort_l */
	sort_l = &tmp;
	qsort(idx, v->nrun, sizeof *idx, cmp_nsegs);
	pthread_mutex_unlock(&cache_mu);
	for (size_t j = 0; j < v->nrun; j++) {
		const struct evt_ru_run *r = &v->runs[idx[j]];
		if (!view_run_ok(dfd, r, seqs, n, where))
			continue;
		uint32_t i;
		for (i = 0; i < r->nsegs && v->cover[where[i]] == SIZE_MAX; i++)
			;
		if (i < r->nsegs)
			continue;
		for (i = 0; i < r->nsegs; i++)
			v->cover[where[i]] = idx[j];
		v->first[idx[j]] = where[0];
	}
	free(idx);
	free(where);
	return 0;
}

/*
 * The names of dir's run files into dl->sums (the rest of *dl empty):
 * from the catalog when it is current and lists them (revision 1.6), so
 * that a directory of 10,000 segments is not listed again; else from a
 * listing.  Returns 0, or an evt_err of evt_dir_list.
 */
static int
view_names(const char *dir, struct evt_listing *dl)
{
	struct evt_cat c;
	memset(dl, 0, sizeof *dl);
	int rc = evt_cat_load(dir, &c);
	if (rc == 1 && c.has_sums) {
		if ((dl->sums = calloc(c.nsum + 1, sizeof *dl->sums)) == NULL)
			rc = EVT_ERR_NOMEM;
		for (uint32_t i = 0; rc == 1 && i < c.nsum; i++) {
			struct evt_cat_run r;
			char name[EVT_RU_NAME_LEN + 1];
			evt_cat_sum_at(&c, i, &r);
			evt_ru_name(r.lo, r.hi, name, sizeof name);
			if ((dl->sums[dl->nsum] = strdup(name)) == NULL)
				rc = EVT_ERR_NOMEM;
			else
				dl->nsum++;
		}
		evt_cat_free(&c);
		return rc == 1 ? 0 : rc;
	}
	evt_cat_free(&c);
	return rc < 0 ? rc : evt_dir_list(dir, dl);
}

/* Opens the readers' view; see rollup.h. */
int
evt_ru_view_open(const char *dir, const uint64_t *seqs, size_t n,
    struct evt_ru_view **out)
{
	*out = NULL;
	if (ru_off())
		return 0;
	struct evt_ru_view *v = calloc(1, sizeof *v);
	struct evt_listing dl;
	/* A directory that does not list has no runs: the segments answer. */
	int dfd = -1, rc = v == NULL ? EVT_ERR_NOMEM : view_names(dir, &dl);
	if (rc == 0)
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else if (rc != EVT_ERR_NOMEM)
		rc = 0;
	if (rc == 0 && dfd >= 0 && dl.nsum > 0 &&
	    (v->runs = calloc(dl.nsum, sizeof *v->runs)) == NULL)
		rc = EVT_ERR_NOMEM;
	for (size_t i = 0; rc == 0 && dfd >= 0 && i < dl.nsum; i++) {
		char *p = evt_path_join(dir, dl.sums[i]);
		const char *why;
		uint64_t at;
		int lr = p == NULL ? EVT_ERR_NOMEM : evt_ru_load(p,
		    &v->runs[v->nrun], &why, &at);
		free(p);
		if (lr == EVT_ERR_NOMEM)
			rc = lr;
		else if (lr == 0)
			v->nrun++;	/* others: verify reports them */
	}
	if (v != NULL)
		evt_listing_free(&dl);
	if (rc == 0 && ((v->cover = malloc((n + 1) * sizeof *v->cover)) ==
	    NULL || (v->first = calloc(v->nrun + 1, sizeof *v->first)) ==
	    NULL))
		rc = EVT_ERR_NOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++)
		v->cover[i] = SIZE_MAX;
	if (rc == 0 && dfd >= 0)
		rc = view_assign(v, dfd, seqs, n);
	if (dfd >= 0)
		close(dfd);
	if (rc != 0) {
		evt_ru_view_close(v);
		return rc;
	}
	*out = v;
	return 0;
}

/* Whether rec is a recorder session's SESSION marker; see rollup.h. */
int
evt_ru_rec_session(struct evt_segr *r, const struct evt_rec *rec)
{
	if (rec->kind != EVT_K_SESSION)
		return 0;
	struct evt_buf body = {0}, tail = {0};
	struct evt_jparser jp;
	evt_json_init(&jp, 0);
	int rc = evt_rdec_frame_head(evt_segr_decoder(r), rec, &body, &tail);
	const char *b = (const char *)body.p;
	long ev = rc == 0 && evt_json_parse(&jp, b, body.len) > 0 &&
	    jp.tok[0].type == EVT_J_OBJECT ? evt_ess_member(b, jp.tok, 0,
	    "event") : -1;
	const struct evt_jtok *e = ev >= 0 ? &jp.tok[ev] : NULL;
	int yes = e != NULL && e->type == EVT_J_STRING &&
	    ((e->len == 3 && memcmp(b + e->off, "new", 3) == 0) ||
	    (e->len == 7 && memcmp(b + e->off, "resumed", 7) == 0));
	evt_json_free(&jp);
	evt_buf_free(&body);
	evt_buf_free(&tail);
	return rc == EVT_ERR_NOMEM ? rc : yes;
}

/* Counts the recorder sessions of sealed segment r; see rollup.h. */
int
evt_ru_seg_sessions(struct evt_segr *r, uint64_t *n)
{
	uint32_t nb, f;
	const struct evt_blkent *b = evt_segr_blocks(r, &nb);
	struct evt_rec rec;
	uint64_t off;
	int rc = 0;
	for (uint32_t i = 0; rc >= 0 && i < nb; i++) {
		if (evt_segr_block_flags(r, i, &f) != 0 ||
		    ((f & EVT_BLKF_SET) && !(f & EVT_BLKF_SESSION)) ||
		    evt_segr_rewind_block(r, i) != 1)
			continue;
		int k;
		while ((rc = evt_segr_next(r, &rec, &off)) == 1 &&
		    off == b[i].off)
			if ((k = evt_ru_rec_session(r, &rec)) < 0)
				return k;
			else
				*n += (uint64_t)k;
	}
	return rc == EVT_ERR_NOMEM ? rc : 0;
}
