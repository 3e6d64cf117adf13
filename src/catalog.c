/*
 * catalog.c: the directory listing every part of the archive uses, and
 * the archive's catalog (catalog.h, formats/catalog.md).
 *
 * Data flow: a writer (archive.c, on the sealing thread after a seal and
 * its index work, and when a lock holder closes) calls evt_cat_update,
 * which lists the directory between two stats of it, describes every
 * sealed segment (reusing the old catalog's entry while the file's
 * identity is unchanged, else reading its trailer) and pwrites the file.
 * A reader (archive.c's open) calls evt_cat_load: one open, one read, two
 * CRCs, one stat of the directory; on any doubt it lists instead.
 *
 * Layout (formats/catalog.md; little-endian):
 *
 *   header, 72 bytes (64 before revision 1.6)
 *   OFFSET SIZE
 *        0    8  magic "\x89EVTCAT\n"
 *        8    2  version (1)
 *       10    2  hdr_size (64)
 *       12    2  seg_size (72): bytes per segment entry
 *       14    2  run_size (16): bytes per run entry
 *       16    8  dir_dev        24  8  dir_ino
 *       32    8  mtime_s (i64)  40  4  mtime_ns
 *       44    4  flags (bit 0 LISTING)
 *       48    4  nseg           52  4  nrun
 *       56    4  body_crc: CRC-32C of bytes [64, 64 + body)
 *       60    4  hdr_crc: CRC-32C of bytes [0, 60)
 *       64    4  nsum (hdr_size >= 72)  68  4  sum_crc: CRC-32C of the
 *                sum entries
 *   nseg segment entries of seg_size bytes, then nrun run entries of
 *   run_size bytes (body_crc ends here), then nsum roll-up run entries of
 *   run_size bytes; bytes after them are ignored.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/catalog.h"
#include "evtape/crc32c.h"
#include "evtape/err.h"
#include "evtape/idindex.h"
#include "evtape/natspub.h"
#include "evtape/rollup.h"
#include "evtape/segment.h"
#include "le.h"
#include "segment_int.h"

/* Header offsets (formats/catalog.md, "Header"). */
enum {
	CH_MAGIC = 0, CH_VERSION = 8, CH_HDR_SIZE = 10, CH_SEG_SIZE = 12,
	CH_RUN_SIZE = 14, CH_DEV = 16, CH_INO = 24, CH_MTIME_S = 32,
	CH_MTIME_NS = 40, CH_FLAGS = 44, CH_NSEG = 48, CH_NRUN = 52,
	CH_BODY_CRC = 56, CH_CRC = 60, CH_NSUM = 64, CH_SUM_CRC = 68,
};

/* Segment entry offsets (formats/catalog.md, "Segment entry"). */
enum {
	CE_SEQ = 0, CE_INO = 8, CE_SIZE = 16, CE_MTIME = 24, CE_FIRST_RX = 32,
	CE_LAST_RX = 40, CE_NEVENTS = 48, CE_NRECORDS = 56, CE_TRL_CRC = 64,
	CE_FLAGS = 68,
};

/* Appends a copy of name to a growing array of strings; 0 or
 * EVT_ERR_NOMEM. */
static int
push_name(char ***v, size_t *n, size_t *cap, const char *name)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		char **q = realloc(*v, c * sizeof *q);
		if (q == NULL)
			return EVT_ERR_NOMEM;
		*v = q;
		*cap = c;
	}
	if (((*v)[*n] = strdup(name)) == NULL)
		return EVT_ERR_NOMEM;
	(*n)++;
	return 0;
}

/*
 * Sorts n listed segments by sequence number: a radix sort, 8 bits a
 * pass over the bits the numbers use (qsort's comparisons were a tenth of
 * a lookup on 10,000 segments, listed in hash order).  Returns 0 or
 * EVT_ERR_NOMEM.
 */
static int
sort_lsegs(struct evt_lseg *s, size_t n)
{
	uint64_t max = 0;
	for (size_t i = 0; i < n; i++)
		max |= s[i].seq;
	struct evt_lseg *t = malloc(n * sizeof *t);
	if (t == NULL)
		return EVT_ERR_NOMEM;
	for (unsigned sh = 0; sh < 64 && (max >> sh) != 0; sh += 8) {
		size_t cnt[257] = {0};
		for (size_t i = 0; i < n; i++)
			cnt[((s[i].seq >> sh) & 0xff) + 1]++;
		for (int b = 0; b < 256; b++)
			cnt[b + 1] += cnt[b];
		for (size_t i = 0; i < n; i++)
			t[cnt[(s[i].seq >> sh) & 0xff]++] = s[i];
		memcpy(s, t, n * sizeof *s);
	}
	free(t);
	return 0;
}

/* Whether name is a temporary file of an unfinished rewrite. */
static int
is_temp(const char *name)
{
	return strncmp(name, ".compact-", 9) == 0 ||
	    strncmp(name, ".repair-", 8) == 0 || strncmp(name, ".idx-", 5) == 0 ||
	    strncmp(name, ".sum-", 5) == 0;
}

/* Files one directory entry into the listing; 0 or EVT_ERR_NOMEM. */
static int
list_one(struct evt_listing *l, const struct dirent *e, size_t *scap,
    size_t caps[4])
{
	const char *n = e->d_name;
	uint64_t seq, lo, hi;
	/* The publishing position of evrec --publish (formats/nats.md) is
	 * the recorder's, not the archive's: passed over as LOCK is. */
	if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 ||
	    strcmp(n, "LOCK") == 0 || strcmp(n, EVT_CAT_NAME) == 0 ||
	    strcmp(n, EVT_NATSPUB_FILE) == 0 ||
	    strcmp(n, EVT_NATSPUB_FILE ".tmp") == 0)
		return 0;
	if (evt_segment_parse_name(n, &seq)) {
		if (l->nseg == *scap) {
			size_t c = *scap ? *scap * 2 : 64;
			struct evt_lseg *s = realloc(l->segs, c * sizeof *s);
			if (s == NULL)
				return EVT_ERR_NOMEM;
			l->segs = s;
			*scap = c;
		}
		l->segs[l->nseg].seq = seq;
		l->segs[l->nseg++].ino = (uint64_t)e->d_ino;
		return 0;
	}
	if (evt_idx_parse_name(n, &lo, &hi))
		return push_name(&l->runs, &l->nrun, &caps[0], n);
	if (evt_ru_parse_name(n, NULL, NULL))
		return push_name(&l->sums, &l->nsum, &caps[3], n);
	if (is_temp(n))
		return push_name(&l->temps, &l->ntemp, &caps[1], n);
	return push_name(&l->strays, &l->nstray, &caps[2], n);
}

/* Lists a directory; see catalog.h. */
int
evt_dir_list(const char *dir, struct evt_listing *l)
{
	memset(l, 0, sizeof *l);
	DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? EVT_ERR_NOTFOUND : EVT_ERR_IO;
	size_t scap = 0, caps[4] = {0, 0, 0, 0};
	int rc = fstat(dirfd(d), &l->before) == 0 ? 0 : EVT_ERR_IO;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d)) != NULL)
		rc = list_one(l, e, &scap, caps);
	if (rc == 0 && fstat(dirfd(d), &l->after) != 0)
		rc = EVT_ERR_IO;
	closedir(d);
	if (rc == 0 && l->nseg > 1)
		rc = sort_lsegs(l->segs, l->nseg);
	return rc;
}

/* Frees an array of n strings. */
static void
free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Frees a listing. */
void
evt_listing_free(struct evt_listing *l)
{
	free(l->segs);
	free_names(l->runs, l->nrun);
	free_names(l->sums, l->nsum);
	free_names(l->temps, l->ntemp);
	free_names(l->strays, l->nstray);
	memset(l, 0, sizeof *l);
}

/* Decodes segment entry i. */
void
evt_cat_seg_at(const struct evt_cat *c, uint32_t i, struct evt_cat_seg *s)
{
	const uint8_t *p = c->sp + (size_t)i * c->sstride;
	s->seq = le64_get(p + CE_SEQ);
	s->ino = le64_get(p + CE_INO);
	s->size = le64_get(p + CE_SIZE);
	s->mtime_ns = (int64_t)le64_get(p + CE_MTIME);
	s->first_rx = (int64_t)le64_get(p + CE_FIRST_RX);
	s->last_rx = (int64_t)le64_get(p + CE_LAST_RX);
	s->nevents = le64_get(p + CE_NEVENTS);
	s->nrecords = le64_get(p + CE_NRECORDS);
	s->trl_crc = le32_get(p + CE_TRL_CRC);
	s->flags = le32_get(p + CE_FLAGS);
}

/* Decodes what a listing takes of segment entry i; see catalog.h. */
void
evt_cat_seg_brief(const struct evt_cat *c, uint32_t i, uint64_t *seq,
    uint64_t *size, uint32_t *flags)
{
	const uint8_t *p = c->sp + (size_t)i * c->sstride;
	*seq = le64_get(p + CE_SEQ);
	*size = le64_get(p + CE_SIZE);
	*flags = le32_get(p + CE_FLAGS);
}

/* Decodes sequence numbers and sizes of entries; see catalog.h. */
void
evt_cat_seg_sizes(const struct evt_cat *c, uint32_t i, uint32_t m,
    uint64_t *seqs, uint64_t *sizes)
{
	const uint8_t *p = c->sp + (size_t)i * c->sstride;
	for (uint32_t k = 0; k < m; k++, p += c->sstride) {
		seqs[k] = le64_get(p + CE_SEQ);
		sizes[k] = le32_get(p + CE_FLAGS) & EVT_CATS_SEALED ?
		    le64_get(p + CE_SIZE) : EVT_SIZE_UNKNOWN;
	}
}

/* Decodes run entry i. */
void
evt_cat_run_at(const struct evt_cat *c, uint32_t i, struct evt_cat_run *r)
{
	const uint8_t *p = c->rp + (size_t)i * c->rstride;
	r->lo = le64_get(p);
	r->hi = le64_get(p + 8);
}

/* Decodes roll-up run entry i. */
void
evt_cat_sum_at(const struct evt_cat *c, uint32_t i, struct evt_cat_run *r)
{
	const uint8_t *p = c->up + (size_t)i * c->rstride;
	r->lo = le64_get(p);
	r->hi = le64_get(p + 8);
}

/* Checks the ranges of n run entries at base (decoded by at_fn). */
static int
check_ranges(const struct evt_cat *c, uint32_t n, uint64_t base,
    void (*at_fn)(const struct evt_cat *, uint32_t, struct evt_cat_run *),
    const char **why, uint64_t *at)
{
	for (uint32_t i = 0; i < n; i++) {
		struct evt_cat_run r;
		at_fn(c, i, &r);
		if (r.lo == 0 || r.lo > r.hi || r.hi > UINT64_C(999999999999))
			return evt_parse_fail(why, at,
			    "run range out of order or range",
			    base + (uint64_t)i * c->rstride, EVT_ERR_CORRUPT);
	}
	return 0;
}

/* Checks the entries of a body whose CRC matched; 0 or a parse error. */
static int
check_entries(const struct evt_cat *c, uint64_t base, const char **why,
    uint64_t *at)
{
	uint64_t prev = 0;
	/* Only the fields checked are read: every open of a catalog of
	 * 10,000 segments does this. */
	for (uint32_t i = 0; i < c->nseg; i++) {
		const uint8_t *p = c->sp + (size_t)i * c->sstride;
		uint64_t off = base + (uint64_t)i * c->sstride;
		uint64_t seq = le64_get(p + CE_SEQ);
		if (seq == 0 || seq > UINT64_C(999999999999))
			return evt_parse_fail(why, at,
			    "segment number out of range", off,
			    EVT_ERR_CORRUPT);
		if (seq <= prev)
			return evt_parse_fail(why, at,
			    "segment numbers not ascending",
			    off, EVT_ERR_CORRUPT);
		if ((le32_get(p + CE_FLAGS) & EVT_CATS_SEALED) &&
		    le64_get(p + CE_NRECORDS) > 0 &&
		    (int64_t)le64_get(p + CE_FIRST_RX) >
		    (int64_t)le64_get(p + CE_LAST_RX))
			return evt_parse_fail(why, at, "first_rx after last_rx",
			    off + CE_FIRST_RX, EVT_ERR_CORRUPT);
		prev = seq;
	}
	base += (uint64_t)c->nseg * c->sstride;
	int rc = check_ranges(c, c->nrun, base, evt_cat_run_at, why, at);
	base += (uint64_t)c->nrun * c->rstride;
	return rc != 0 ? rc : check_ranges(c, c->nsum, base, evt_cat_sum_at,
	    why, at);
}

/* Parses the roll-up run table of a header of hs >= 72 bytes, after the
 * body ending at end (revision 1.6). */
static int
parse_sums(const uint8_t *buf, size_t len, unsigned hs, uint64_t end,
    struct evt_cat *c, const char **why, uint64_t *at)
{
	if (hs < EVT_CAT_HDR_SIZE_SUMS)
		return 0;	/* a catalog of revision 1.5: not known */
	c->nsum = le32_get(buf + CH_NSUM);
	uint64_t n = (uint64_t)c->nsum * c->rstride;
	if (c->nsum > EVT_CAT_MAX_RUNS || end + n > len)
		return evt_parse_fail(why, at, "roll-up run entries beyond "
		    "the end of the file or too many", CH_NSUM,
		    EVT_ERR_TRUNCATED);
	if (evt_crc32c(0, buf + end, (size_t)n) != le32_get(buf + CH_SUM_CRC))
		return evt_parse_fail(why, at, "roll-up run entries' CRC "
		    "mismatch", end, EVT_ERR_CHECKSUM);
	c->up = buf + end;
	c->has_sums = 1;
	return 0;
}

static int parse(const uint8_t *buf, size_t len, struct evt_cat *c,
    const char **why, uint64_t *at);

/* Parses a catalog; see catalog.h.  *c is empty after a failure. */
int
evt_cat_parse(const uint8_t *buf, size_t len, struct evt_cat *c,
    const char **why, uint64_t *at)
{
	int rc = parse(buf, len, c, why, at);
	if (rc != 0)
		memset(c, 0, sizeof *c);
	return rc;
}

/* Parses and checks a catalog's header and entries. */
static int
parse(const uint8_t *buf, size_t len, struct evt_cat *c,
    const char **why, uint64_t *at)
{
	memset(c, 0, sizeof *c);
	if (len < EVT_CAT_HDR_SIZE)
		return evt_parse_fail(why, at, "shorter than the header", len,
		    EVT_ERR_TRUNCATED);
	if (memcmp(buf, EVT_CAT_MAGIC, 8) != 0)
		return evt_parse_fail(why, at, "not a catalog (magic)", 0,
		    EVT_ERR_CORRUPT);
	if (evt_crc32c(0, buf, CH_CRC) != le32_get(buf + CH_CRC))
		return evt_parse_fail(why, at, "header CRC mismatch", CH_CRC,
		    EVT_ERR_CHECKSUM);
	if (le16_get(buf + CH_VERSION) != EVT_CAT_VERSION)
		return evt_parse_fail(why, at, "unknown catalog version",
		    CH_VERSION,
		    EVT_ERR_VERSION);
	unsigned hs = le16_get(buf + CH_HDR_SIZE);
	c->sstride = le16_get(buf + CH_SEG_SIZE);
	c->rstride = le16_get(buf + CH_RUN_SIZE);
	if (hs < EVT_CAT_HDR_SIZE || c->sstride < EVT_CAT_SEG_SIZE ||
	    c->rstride < EVT_CAT_RUN_SIZE)
		return evt_parse_fail(why, at, "header or entry size too small",
		    CH_HDR_SIZE, EVT_ERR_CORRUPT);
	c->nseg = le32_get(buf + CH_NSEG);
	c->nrun = le32_get(buf + CH_NRUN);
	if (c->nseg > EVT_CAT_MAX_SEGS || c->nrun > EVT_CAT_MAX_RUNS)
		return evt_parse_fail(why, at, "too many entries", CH_NSEG,
		    EVT_ERR_CORRUPT);
	uint64_t end = hs + (uint64_t)c->nseg * c->sstride +
	    (uint64_t)c->nrun * c->rstride;
	if (end > len)
		return evt_parse_fail(why, at,
		    "entries beyond the end of the file", len,
		    EVT_ERR_TRUNCATED);
	if (evt_crc32c(0, buf + EVT_CAT_HDR_SIZE,
	    (size_t)end - EVT_CAT_HDR_SIZE) != le32_get(buf + CH_BODY_CRC))
		return evt_parse_fail(why, at, "body CRC mismatch",
		    EVT_CAT_HDR_SIZE,
		    EVT_ERR_CHECKSUM);
	c->dev = le64_get(buf + CH_DEV);
	c->ino = le64_get(buf + CH_INO);
	c->mtime_s = (int64_t)le64_get(buf + CH_MTIME_S);
	c->mtime_ns = le32_get(buf + CH_MTIME_NS);
	c->flags = le32_get(buf + CH_FLAGS);
	c->sp = buf + hs;
	c->rp = c->sp + (size_t)c->nseg * c->sstride;
	int rc = parse_sums(buf, len, hs, end, c, why, at);
	return rc != 0 ? rc : check_entries(c, hs, why, at);
}

/* The encoded size; see catalog.h. */
size_t
evt_cat_size(uint32_t nseg, uint32_t nrun, uint32_t nsum)
{
	return EVT_CAT_HDR_SIZE_SUMS + (size_t)nseg * EVT_CAT_SEG_SIZE +
	    ((size_t)nrun + nsum) * EVT_CAT_RUN_SIZE;
}

/* Encodes a catalog; see catalog.h. */
void
evt_cat_encode(const struct evt_cat *h, const struct evt_cat_seg *segs,
    uint32_t nseg, const struct evt_cat_run *runs, uint32_t nrun,
    const struct evt_cat_run *sums, uint32_t nsum, uint8_t *out)
{
	size_t len = evt_cat_size(nseg, nrun, nsum);
	memset(out, 0, len);
	memcpy(out + CH_MAGIC, EVT_CAT_MAGIC, 8);
	le16_put(out + CH_VERSION, EVT_CAT_VERSION);
	le16_put(out + CH_HDR_SIZE, EVT_CAT_HDR_SIZE_SUMS);
	le16_put(out + CH_SEG_SIZE, EVT_CAT_SEG_SIZE);
	le16_put(out + CH_RUN_SIZE, EVT_CAT_RUN_SIZE);
	le64_put(out + CH_DEV, h->dev);
	le64_put(out + CH_INO, h->ino);
	le64_put(out + CH_MTIME_S, (uint64_t)h->mtime_s);
	le32_put(out + CH_MTIME_NS, h->mtime_ns);
	le32_put(out + CH_FLAGS, h->flags);
	le32_put(out + CH_NSEG, nseg);
	le32_put(out + CH_NRUN, nrun);
	le32_put(out + CH_NSUM, nsum);
	uint8_t *p = out + EVT_CAT_HDR_SIZE_SUMS;
	for (uint32_t i = 0; i < nseg; i++, p += EVT_CAT_SEG_SIZE) {
		const struct evt_cat_seg *s = &segs[i];
		le64_put(p + CE_SEQ, s->seq);
		le64_put(p + CE_INO, s->ino);
		le64_put(p + CE_SIZE, s->size);
		le64_put(p + CE_MTIME, (uint64_t)s->mtime_ns);
		le64_put(p + CE_FIRST_RX, (uint64_t)s->first_rx);
		le64_put(p + CE_LAST_RX, (uint64_t)s->last_rx);
		le64_put(p + CE_NEVENTS, s->nevents);
		le64_put(p + CE_NRECORDS, s->nrecords);
		le32_put(p + CE_TRL_CRC, s->trl_crc);
		le32_put(p + CE_FLAGS, s->flags);
	}
	for (uint32_t i = 0; i < nrun; i++, p += EVT_CAT_RUN_SIZE) {
		le64_put(p, runs[i].lo);
		le64_put(p + 8, runs[i].hi);
	}
	/* The body as a reader of revision 1.5 checks it (its header
	 * extension included); the roll-up runs by their own CRC. */
	uint8_t *body_end = p;
	for (uint32_t i = 0; i < nsum; i++, p += EVT_CAT_RUN_SIZE) {
		le64_put(p, sums[i].lo);
		le64_put(p + 8, sums[i].hi);
	}
	le32_put(out + CH_SUM_CRC, evt_crc32c(0, body_end, (size_t)(p -
	    body_end)));
	le32_put(out + CH_BODY_CRC, evt_crc32c(0, out + EVT_CAT_HDR_SIZE,
	    (size_t)(body_end - out) - EVT_CAT_HDR_SIZE));
	le32_put(out + CH_CRC, evt_crc32c(0, out, CH_CRC));
}

/* Unmaps a catalog's file. */
void
evt_cat_free(struct evt_cat *c)
{
	if (c->map != NULL)
		munmap(c->map, c->maplen);
	memset(c, 0, sizeof *c);
}

/* Finds segment seq's entry. */
int
evt_cat_find(const struct evt_cat *c, uint64_t seq, struct evt_cat_seg *e)
{
	size_t lo = 0, hi = c->nseg;
	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (le64_get(c->sp + m * c->sstride + CE_SEQ) < seq)
			lo = m + 1;
		else
			hi = m;
	}
	if (lo >= c->nseg || le64_get(c->sp + lo * c->sstride + CE_SEQ) != seq)
		return 0;
	evt_cat_seg_at(c, (uint32_t)lo, e);
	return 1;
}

/* Whether an entry proves its segment outside [from, to). */
int
evt_cat_outside(const struct evt_cat_seg *e, int64_t from, int64_t to)
{
	/* A sealed segment without records is opened: it may say why. */
	if (e == NULL || !(e->flags & EVT_CATS_SEALED) || e->nrecords == 0)
		return 0;
	return e->last_rx < from || (to != INT64_MAX && e->first_rx >= to);
}

/* Whether the directory stat st is the one catalog c recorded. */
static int
same_dir(const struct evt_cat *c, const struct stat *st)
{
	return (c->flags & EVT_CATF_LISTING) && c->dev == (uint64_t)st->st_dev &&
	    c->ino == (uint64_t)st->st_ino &&
	    c->mtime_s == (int64_t)st->st_mtim.tv_sec &&
	    c->mtime_ns == (uint32_t)st->st_mtim.tv_nsec;
}

/* Maps and parses the catalog of dir: 1 (c owns the mapping), 0 when
 * there is none, 2 when it does not parse (*why, *at say why), or
 * EVT_ERR_NOMEM. */
static int
map_cat(const char *dir, struct evt_cat *c, const char **why, uint64_t *at)
{
	memset(c, 0, sizeof *c);
	char *p = evt_path_join(dir, EVT_CAT_NAME);
	if (p == NULL)
		return EVT_ERR_NOMEM;
	int fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	free(p);
	if (fd < 0)
		return 0;
	struct stat st;
	void *m = MAP_FAILED;
	/* Mapped, not read: the pages are in the page cache already, and
	 * MAP_POPULATE maps them in one call instead of a fault each. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size >= EVT_CAT_HDR_SIZE)
		m = mmap(NULL, (size_t)st.st_size, PROT_READ,
		    MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	*why = "shorter than the header, or not a regular file";
	*at = 0;
	if (m == MAP_FAILED)
		return 2;
	if (evt_cat_parse(m, (size_t)st.st_size, c, why, at) != 0) {
		munmap(m, (size_t)st.st_size);
		return 2;
	}
	c->map = m;
	c->maplen = (size_t)st.st_size;
	return 1;
}

/* Maps and parses the catalog of dir: 1 (c owns the mapping), or 0
 * when there is none or it does not parse. */
static int
read_cat(const char *dir, struct evt_cat *c)
{
	const char *why;
	uint64_t at;
	int rc = map_cat(dir, c, &why, &at);
	return rc == 2 ? 0 : rc;
}

/* Loads a catalog for a reader; see catalog.h. */
int
evt_cat_load(const char *dir, struct evt_cat *c)
{
	const char *e = getenv("EVTAPE_NO_CATALOG");
	memset(c, 0, sizeof *c);
	if (e != NULL && *e != 0)
		return 0;
	/* The directory first: a change after this stat and before the
	 * read below makes the catalog's recorded mtime older, never
	 * equal, so a stale catalog cannot pass. */
	struct stat st;
	if (stat(dir, &st) != 0)
		return 0;
	int rc = read_cat(dir, c);
	if (rc == 1 && !same_dir(c, &st)) {
		evt_cat_free(c);
		rc = 0;
	}
	return rc;
}

/* Whether a directory mtime is old enough to be trusted: a change in the
 * same tick of the file system's clock would leave it equal.  A file
 * system with fine timestamps (nanoseconds not zero) ticks at most every
 * 10 ms (a jiffy); one of whole seconds (FAT: two) gets two seconds.
 * *wait_ms: how long until it is. */
static int
settled(const struct stat *st, long *wait_ms)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t margin = st->st_mtim.tv_nsec != 0 ?
	    EVT_CAT_SETTLE_MS * INT64_C(1000000) : INT64_C(2000000000);
	int64_t m = (int64_t)st->st_mtim.tv_sec * 1000000000 +
	    st->st_mtim.tv_nsec;
	int64_t n = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	*wait_ms = (long)((m + margin - n) / 1000000 + 1);
	return n - m >= margin;
}

/* Whether two stats of the directory show no change between them. */
static int
same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * Lists dir until the listing is settled (the directory unchanged
 * across it, its mtime old enough), waiting at most a few
 * EVT_CAT_SETTLE_MS: 1 settled, 0 not (the listing is still the last
 * one made), or a negative evt_err.
 */
static int
settled_listing(const char *dir, struct evt_listing *l)
{
	for (int attempt = 0;; attempt++) {
		int rc = evt_dir_list(dir, l);
		if (rc != 0)
			return rc;
		long wait_ms = 0;
		int same = same_stat(&l->before, &l->after);
		if (same && settled(&l->after, &wait_ms))
			return 1;
		if (attempt == 3 || (same && wait_ms > 2 * EVT_CAT_SETTLE_MS))
			return 0;
		evt_listing_free(l);
		if (same && wait_ms > 0) {
			struct timespec ts = {0, wait_ms * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
}

/* Describes sealed segment path from its header and trailer into *e
 * (flags 0 when it is not sealed or its header does not check). */
static void
describe(const char *path, struct evt_cat_seg *e)
{
	struct evt_segr *r;
	e->flags = 0;
	if (evt_segr_open(path, NULL, NULL, &r) != 0)
		return;
	const struct evt_seg_info *si = evt_segr_info(r);
	uint8_t b[4];
	if (si->sealed && !si->hdr_damaged && si->size >= 4 &&
	    pread(r->fd, b, 4, (off_t)si->size - 4) == 4) {
		e->size = si->size;
		e->trl_crc = le32_get(b);
		e->first_rx = si->first_rx;
		e->last_rx = si->last_rx;
		e->nevents = si->nevents;
		e->nrecords = si->nrecords;
		e->flags = EVT_CATS_SEALED;
	}
	evt_segr_close(r);
}

/* Fills entry e for listed segment s of dir, reusing old's entry while
 * the file is the same (inode, size, mtime). */
static int
fill_entry(const char *dir, const struct evt_lseg *s,
    const struct evt_cat *old, struct evt_cat_seg *e)
{
	char name[32];
	evt_segment_name(s->seq, name, sizeof name);
	char *p = evt_path_join(dir, name);
	if (p == NULL)
		return EVT_ERR_NOMEM;
	struct stat st;
	memset(e, 0, sizeof *e);
	e->seq = s->seq;
	e->ino = s->ino;
	if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
		int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 +
		    st.st_mtim.tv_nsec;
		struct evt_cat_seg o;
		if (evt_cat_find(old, s->seq, &o) &&
		    (o.flags & EVT_CATS_SEALED) &&
		    o.ino == (uint64_t)st.st_ino &&
		    o.size == (uint64_t)st.st_size && o.mtime_ns == mt) {
			*e = o;
		} else {
			e->ino = (uint64_t)st.st_ino;
			e->mtime_ns = mt;
			describe(p, e);
			if (e->size != (uint64_t)st.st_size)
				e->flags = 0; /* changed while read */
		}
	}
	free(p);
	return 0;
}

/* The new catalog, built in memory. */
struct newcat {
	struct evt_cat h;	/* header fields */
	struct evt_cat_seg *segs;
	struct evt_cat_run *runs, *sums;
	uint32_t nseg, nrun, nsum;
};

/* Builds the new catalog from a listing; 0 or EVT_ERR_NOMEM. */
static int
build(const char *dir, const struct evt_listing *l, int listing,
    const struct evt_cat *old, struct newcat *c)
{
	c->h.dev = (uint64_t)l->after.st_dev;
	c->h.ino = (uint64_t)l->after.st_ino;
	c->h.mtime_s = (int64_t)l->after.st_mtim.tv_sec;
	c->h.mtime_ns = (uint32_t)l->after.st_mtim.tv_nsec;
	c->h.flags = listing ? EVT_CATF_LISTING : 0;
	c->segs = calloc(l->nseg + 1, sizeof *c->segs);
	c->runs = calloc(l->nrun + 1, sizeof *c->runs);
	c->sums = calloc(l->nsum + 1, sizeof *c->sums);
	if (c->segs == NULL || c->runs == NULL || c->sums == NULL ||
	    l->nseg > EVT_CAT_MAX_SEGS || l->nrun > EVT_CAT_MAX_RUNS ||
	    l->nsum > EVT_CAT_MAX_RUNS)
		return EVT_ERR_NOMEM;
	c->nseg = (uint32_t)l->nseg;
	for (size_t i = 0; i < l->nseg; i++)
		if (fill_entry(dir, &l->segs[i], old, &c->segs[i]) != 0)
			return EVT_ERR_NOMEM;
	for (size_t i = 0; i < l->nrun; i++)
		if (evt_idx_parse_name(l->runs[i], &c->runs[c->nrun].lo,
		    &c->runs[c->nrun].hi))
			c->nrun++;
	for (size_t i = 0; i < l->nsum; i++)
		if (evt_ru_parse_name(l->sums[i], &c->sums[c->nsum].lo,
		    &c->sums[c->nsum].hi))
			c->nsum++;
	return 0;
}

/* pwrites all of b at offset off; 0 or EVT_ERR_IO. */
static int
pwrite_full(int fd, const uint8_t *b, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, b, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return errno == ENOSPC ? EVT_ERR_NOSPC : EVT_ERR_IO;
		b += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Writes catalog c into the open file fd in place: two writes with a
 * crash point between (tests kill there: the CRCs then fail), then the
 * file cut to its length. */
static int
write_cat(int fd, const struct newcat *c)
{
	size_t len = evt_cat_size(c->nseg, c->nrun, c->nsum);
	uint8_t *b = malloc(len);
	if (b == NULL)
		return EVT_ERR_NOMEM;
	evt_cat_encode(&c->h, c->segs, c->nseg, c->runs, c->nrun, c->sums,
	    c->nsum, b);
	size_t half = len / 2;
	int rc = pwrite_full(fd, b, half, 0);
	if (rc == 0) {
		evt_test_kill_point("catalog");
		rc = pwrite_full(fd, b + half, len - half, half);
	}
	if (rc == 0 && ftruncate(fd, (off_t)len) != 0)
		rc = EVT_ERR_IO;
	free(b);
	return rc;
}

/* One rewrite at a time in a process: the recorder's retention (on its
 * event loop) and its sealing thread both rewrite the file in place. */
static pthread_mutex_t update_mu = PTHREAD_MUTEX_INITIALIZER;

static int update(const char *dir);

/* Rewrites the catalog; see catalog.h. */
int
evt_cat_update(const char *dir)
{
	pthread_mutex_lock(&update_mu);
	int rc = update(dir);
	pthread_mutex_unlock(&update_mu);
	return rc;
}

/* Rewrites the catalog, update_mu held. */
static int
update(const char *dir)
{
	char *p = evt_path_join(dir, EVT_CAT_NAME);
	if (p == NULL)
		return EVT_ERR_NOMEM;
	/* Created (a directory change) before the listing, never after. */
	int fd = open(p, O_RDWR | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
	free(p);
	if (fd < 0)
		return EVT_ERR_IO;
	struct stat fst;
	struct evt_cat old;
	struct newcat c;
	struct evt_listing l;
	memset(&l, 0, sizeof l);
	memset(&c, 0, sizeof c);
	memset(&old, 0, sizeof old);
	int rc = fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode) ? EVT_ERR_IO :
	    read_cat(dir, &old);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	int listing = settled_listing(dir, &l);
	/* Strays and leftovers are warned about by every reader: a
	 * directory holding some is listed, not taken from here. */
	if (listing == 1 && (l.nstray > 0 || l.ntemp > 0))
		listing = 0;
	rc = listing < 0 ? listing : build(dir, &l, listing, &old, &c);
	if (rc == 0)
		rc = write_cat(fd, &c);
	free(c.segs);
	free(c.runs);
	free(c.sums);
	evt_cat_free(&old);
	evt_listing_free(&l);
	close(fd);
	return rc;
}

/*
 * Checking it (evtool verify).
 */

/* What verify found comparing a catalog with the directory: entries that
 * differ, the offset of the first. */
struct diff {
	uint64_t n, first;
};

/* Notes a difference at offset off. */
static void
diff_at(struct diff *d, uint64_t off)
{
	if (d->n++ == 0)
		d->first = off;
}

/* Compares the catalog's segment entries (from offset base) with the
 * listed segments of dir: the same numbers, and, when files (a current
 * catalog: readers trust its time table), each sealed entry's file of the
 * recorded size and modification time. */
static void
diff_segs(const char *dir, const struct evt_cat *c, uint64_t base,
    const struct evt_listing *l, int files, struct diff *d)
{
	size_t j = 0;
	for (uint32_t i = 0; i < c->nseg; i++) {
		struct evt_cat_seg e;
		uint64_t off = base + (uint64_t)i * c->sstride;
		evt_cat_seg_at(c, i, &e);
		while (j < l->nseg && l->segs[j].seq < e.seq) {
			diff_at(d, off);	/* not catalogued */
			j++;
		}
		if (j == l->nseg || l->segs[j].seq != e.seq) {
			diff_at(d, off);	/* catalogued, gone */
			continue;
		}
		j++;
		char name[32];
		struct stat st;
		evt_segment_name(e.seq, name, sizeof name);
		char *p = evt_path_join(dir, name);
		if (p != NULL && files && (e.flags & EVT_CATS_SEALED) &&
		    (stat(p, &st) != 0 || (uint64_t)st.st_size != e.size ||
		    (int64_t)st.st_mtim.tv_sec * 1000000000 +
		    st.st_mtim.tv_nsec != e.mtime_ns))
			diff_at(d, off);
		free(p);
	}
	for (; j < l->nseg; j++)
		diff_at(d, base + (uint64_t)c->nseg * c->sstride);
}

/* Compares n run entries at base (decoded by at_fn, named by name_fn)
 * with the listed names[0..nn): the same set. */
static void
diff_runs(const struct evt_cat *c, uint32_t n, uint64_t base,
    void (*at_fn)(const struct evt_cat *, uint32_t, struct evt_cat_run *),
    void (*name_fn)(uint64_t, uint64_t, char *, size_t), char **names,
    size_t nn, struct diff *d)
{
	size_t found = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct evt_cat_run r;
		char name[64];
		at_fn(c, i, &r);
		name_fn(r.lo, r.hi, name, sizeof name);
		size_t k;
		for (k = 0; k < nn && strcmp(names[k], name) != 0; k++)
			;
		if (k == nn)
			diff_at(d, base + (uint64_t)i * c->rstride);
		else
			found++;
	}
	if (found < nn)
		diff_at(d, base + (uint64_t)n * c->rstride);
}

/* Checks the catalog; see catalog.h. */
int
evt_cat_verify(const char *dir, evt_cat_report_cb report, void *arg)
{
	struct evt_cat c;
	struct evt_listing l;
	struct stat st;
	const char *why;
	uint64_t at;
	char *path = evt_path_join(dir, EVT_CAT_NAME), what[512];
	int cur, rc = path == NULL ? EVT_ERR_NOMEM : stat(dir, &st) != 0 ?
	    EVT_ERR_IO : map_cat(dir, &c, &why, &at);
	if (rc == 2) {
		snprintf(what, sizeof what, "damaged catalog: %s (derived "
		    "data, ignored: readers list the directory; a writer or "
		    "evtool repair rewrites it)", why);
		report(arg, path, at, what);
	}
	if (rc != 1) {
		free(path);
		return rc == 2 ? 1 : rc < 0 ? rc : 0;
	}
	cur = same_dir(&c, &st);
	struct diff d = {0};
	if ((rc = evt_dir_list(dir, &l)) == 0) {
		uint64_t hs = (uint64_t)(c.sp - (const uint8_t *)c.map),
		    rb = hs + (uint64_t)c.nseg * c.sstride;
		diff_segs(dir, &c, hs, &l, cur, &d);
		diff_runs(&c, c.nrun, rb, evt_cat_run_at, evt_idx_name,
		    l.runs, l.nrun, &d);
		if (c.has_sums)
			diff_runs(&c, c.nsum, (uint64_t)(c.up -
			    (const uint8_t *)c.map), evt_cat_sum_at,
			    evt_ru_name, l.sums, l.nsum, &d);
	}
	if (rc == 0 && d.n > 0) {
		snprintf(what, sizeof what, cur ? "catalog passes for current "
		    "but %" PRIu64 " entries differ from the directory (a "
		    "file changed in place, or the directory's time set "
		    "back): readers may skip or miss those segments; evtool "
		    "repair rewrites it" : "stale catalog: %" PRIu64 " entries "
		    "differ from the directory (ignored: readers list the "
		    "directory; the next writer rewrites it)", d.n);
		report(arg, path, d.first, what);
	}
	evt_listing_free(&l);
	evt_cat_free(&c);
	free(path);
	return rc < 0 ? rc : cur && d.n > 0;
}
