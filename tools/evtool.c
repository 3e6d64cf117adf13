/*
 * evtool: the archive tool.
 *
 *   evtool import DIR [FILE]       lines "<rx us>\t<message>" -> archive
 *   evtool cat DIR [filters]       events (or messages, or TSV) as JSON
 *   evtool get DIR ID [--meta]     one event by id
 *   evtool state DIR [--at T]      the states (getState) as of a time
 *   evtool info DIR                counts, time span, sizes
 *   evtool ls DIR                  one line per segment
 *   evtool verify DIR              check everything; exit 1 on damage
 *   evtool repair DIR              rewrite damaged segments from what reads
 *   evtool prune DIR --max-bytes N --max-age D
 *
 * Exit status: 0 success, 1 not found / damage found, 2 usage, 3 failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/cursor.h"
#include "evtape/err.h"
#include "evtape/record.h"
#include "evtape/segment.h"
#include "evtape/state.h"
#include "evtape/timefmt.h"

#define EX_NOTFOUND 1
#define EX_USAGE 2
#define EX_FAIL 3

static const char *progname = "evtool";
static uint64_t problems;

/* Prints an error message prefixed with the program name. */
static void
errx_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
errx_msg(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Segment problem callback: "file: offset N: what". */
static void
seg_err_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	(void)arg;
	problems++;
	fprintf(stderr, "%s: %s: offset %" PRIu64 ": %s\n", progname, path, off,
	    what);
}

/* Archive warning callback. */
static void
warn_cb(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s: warning: %s\n", progname, msg);
}

/* Opens an archive or exits with a message. */
static struct evt_archive *
open_archive(const char *dir, int flags, const struct evt_archive_opts *o)
{
	struct evt_archive *a;
	int rc = evt_archive_open(dir, flags, o, seg_err_cb, warn_cb, NULL, &a);
	if (rc == 0)
		return a;
	if (rc == EVT_ERR_EXISTS)
		errx_msg("%s: archive is locked by another writer", dir);
	else if (rc == EVT_ERR_NOTFOUND)
		errx_msg("%s: no such archive directory", dir);
	else
		errx_msg("%s: %s%s%s", dir, evt_strerror(rc),
		    rc == EVT_ERR_IO ? ": " : "",
		    rc == EVT_ERR_IO ? strerror(errno) : "");
	exit(EX_FAIL);
}

/* Parses a byte size with an optional k/M/G suffix. */
static int
parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	uint64_t m = 1;
	switch (*end) {
	case 0: break;
	case 'k': case 'K': m = 1ull << 10; end++; break;
	case 'm': case 'M': m = 1ull << 20; end++; break;
	case 'g': case 'G': m = 1ull << 30; end++; break;
	case 't': case 'T': m = 1ull << 40; end++; break;
	default: return -1;
	}
	if ((*end == 'B' || *end == 'b') && end[1] == 0)
		end++;
	if (*end != 0 || (v != 0 && m > UINT64_MAX / v))
		return -1;
	*out = v * m;
	return 0;
}


/* Output buffer for stdout; flushed when large. */
static struct evt_buf obuf;

/* Writes the output buffer to stdout. */
static void
oflush(void)
{
	size_t off = 0;
	while (off < obuf.len) {
		ssize_t n = write(1, obuf.p + off, obuf.len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EPIPE)
				errx_msg("write: %s", strerror(errno));
			exit(EX_FAIL);
		}
		off += (size_t)n;
	}
	obuf.len = 0;
}

/* Flushes the output buffer once it holds 1 MiB. */
static void
omaybe(void)
{
	if (obuf.len >= (1u << 20))
		oflush();
}

/* Exits on out of memory. */
static void
oom_check(int rc)
{
	if (rc == EVT_ERR_NOMEM) {
		errx_msg("out of memory");
		exit(EX_FAIL);
	}
}

/*
 * import
 */

static int
cmd_import(int argc, char **argv)
{
	struct evt_archive_opts o = {0};
	static const struct option lo[] = {
		{"level", required_argument, NULL, 'l'},
		{"block-size", required_argument, NULL, 'b'},
		{"segment-size", required_argument, NULL, 's'},
		{"segment-age", required_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	int c;
	uint64_t v;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'l':
			o.seg.level = atoi(optarg);
			if (o.seg.level < 1 || o.seg.level > 22) {
				errx_msg("--level: 1..22");
				return EX_USAGE;
			}
			break;
		case 'b':
			if (parse_size(optarg, &v) != 0 || v < 1024 ||
			    v > (1u << 28)) {
				errx_msg("--block-size: 1k..256M");
				return EX_USAGE;
			}
			o.seg.block_bytes = v;
			break;
		case 's':
			if (parse_size(optarg, &v) != 0 || v < 4096) {
				errx_msg("--segment-size: a size >= 4k");
				return EX_USAGE;
			}
			o.seg_bytes = v;
			break;
		case 'a':
			if (evt_duration_parse(optarg, &o.seg_age_us) != 0 ||
			    o.seg_age_us <= 0) {
				errx_msg("--segment-age: a duration");
				return EX_USAGE;
			}
			break;
		default:
			return EX_USAGE;
		}
	}
	if (argc - optind < 1 || argc - optind > 2) {
		errx_msg("usage: evtool import [options] DIR [FILE]");
		return EX_USAGE;
	}
	const char *dir = argv[optind];
	FILE *in = stdin;
	const char *iname = "<stdin>";
	if (argc - optind == 2 && strcmp(argv[optind + 1], "-") != 0) {
		iname = argv[optind + 1];
		in = fopen(iname, "rb");
		if (in == NULL) {
			errx_msg("%s: %s", iname, strerror(errno));
			return EX_FAIL;
		}
	}
	/* No fsync per block; sealing fsyncs each whole segment. */
	o.seg.fsync = EVT_FSYNC_INTERVAL;
	struct evt_archive *a = open_archive(dir, EVT_AR_WRITE | EVT_AR_CREATE,
	    &o);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t lines = 0, frames[EVT_K_MAX + 1] = {0};
	int rc = 0;
	while ((n = getline(&line, &cap, in)) > 0) {
		lines++;
		if (line[n - 1] == '\n')
			line[--n] = 0;
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = 0;
		if (n == 0)
			continue;
		int64_t rx = 0;
		char *p = line;
		int neg = *p == '-';
		char *q = p + neg;
		while (*q >= '0' && *q <= '9' && q - p < 20)
			rx = rx * 10 + (*q++ - '0');
		if (q > p + neg && *q == '\t') {
			if (neg)
				rx = -rx;
			q++;
		} else {
			rx = evt_wall_us();
			q = line;
		}
		int k = evt_archive_frame(a, rx, q, (size_t)(n - (q - line)));
		if (k < 0) {
			errx_msg("%s: line %" PRIu64 ": %s", iname, lines,
			    evt_strerror(k));
			rc = EX_FAIL;
			break;
		}
		frames[k]++;
		if (k == EVT_K_RAW) {
			size_t off;
			int why = evt_archive_raw_reason(a, &off);
			if (frames[k] <= 10)
				fprintf(stderr, "%s: %s: line %" PRIu64 ": %s at "
				    "byte %zu; kept as a raw frame\n", progname,
				    iname, lines, evt_strerror(why), off);
			else if (frames[k] == 11)
				fprintf(stderr, "%s: %s: more raw frames; not "
				    "reporting each\n", progname, iname);
		}
	}
	if (ferror(in)) {
		errx_msg("%s: %s", iname, strerror(errno));
		rc = EX_FAIL;
	}
	free(line);
	if (in != stdin)
		fclose(in);
	int crc = evt_archive_close(a);
	if (crc != 0) {
		errx_msg("%s: sealing: %s", dir, evt_strerror(crc));
		rc = EX_FAIL;
	}
	fprintf(stderr, "%s: imported %" PRIu64 " lines: %" PRIu64
	    " messages, %" PRIu64 " states, %" PRIu64 " other JSON, %" PRIu64
	    " raw (not JSON)\n", progname, lines, frames[EVT_K_MSG],
	    frames[EVT_K_STATES], frames[EVT_K_JSON], frames[EVT_K_RAW]);
	return rc;
}

/*
 * Filters for cat.
 */

struct filter {
	int64_t from, to; /* receive time range [from, to) */
	char **sources, **types;
	int nsources, ntypes;
};

/* Case-insensitive comparison for GUID-bearing strings. */
static int
match_any(char **list, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcasecmp(list[i], s) == 0)
			return 1;
	return 0;
}

/* Whether a source value matches a --source filter: the whole source or
 * just its GUID after the "type/" prefix. */
static int
match_source(const struct filter *f, const char *src)
{
	if (f->nsources == 0)
		return 1;
	if (match_any(f->sources, f->nsources, src))
		return 1;
	const char *slash = strrchr(src, '/');
	return slash != NULL && match_any(f->sources, f->nsources, slash + 1);
}

/* Whether event r passes the filters. */
static int
event_passes(const struct filter *f, struct evt_rdec *d,
    const struct evt_rec *r)
{
	char v[EVT_REC_MAX_INTERN + 1];
	if (f->nsources > 0) {
		if (evt_rdec_field(d, r, "source", v, sizeof v) < 0 ||
		    !match_source(f, v))
			return 0;
	}
	if (f->ntypes > 0) {
		if (evt_rdec_field(d, r, "type", v, sizeof v) < 0 ||
		    !match_any(f->types, f->ntypes, v))
			return 0;
	}
	return 1;
}

/* Parses a --from/--to value or exits. */
static int64_t
time_arg(const char *opt, const char *s)
{
	int64_t us;
	if (evt_time_parse_user(s, &us) != 0) {
		errx_msg("%s: not a time (ISO-8601 or microseconds): %s", opt,
		    s);
		exit(EX_USAGE);
	}
	return us;
}

/* Appends a receive time prefix "<us>\t". */
static void
put_rx(int64_t rx)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%" PRId64 "\t", rx);
	oom_check(evt_buf_put(&obuf, tmp, (size_t)n));
}

enum cat_mode { CAT_EVENTS, CAT_MESSAGES, CAT_TSV, CAT_MARKERS };

/* Keeps the items of a --messages frame that pass the filters. */
static int
keep_cb(void *arg, struct evt_rdec *d, const struct evt_rec *rec)
{
	const struct filter *f = arg;
	if (rec->kind == EVT_K_EVENT)
		return event_passes(f, d, rec);
	return f->nsources == 0 && f->ntypes == 0;
}

/* Prints the events of one segment, one per line. */
static void
cat_events(struct evt_segr *r, const char *path, const struct filter *f)
{
	struct evt_rec rec;
	int in_msg = 0, rc;
	while ((rc = evt_segr_next(r, &rec, NULL)) == 1) {
		struct evt_rdec *d = evt_segr_decoder(r);
		if (rec.kind == EVT_K_STRDEF || rec.kind == EVT_K_SHAPEDEF)
			continue;
		if (rec.kind != EVT_K_EVENT && rec.kind != EVT_K_ITEM) {
			in_msg = rec.kind == EVT_K_MSG;
			continue;
		}
		if (!in_msg || rec.rx_us < f->from || rec.rx_us >= f->to ||
		    !keep_cb((void *)(uintptr_t)f, d, &rec))
			continue;
		size_t mark = obuf.len;
		rc = evt_rdec_item_json(d, &rec, &obuf);
		if (rc == 0)
			rc = evt_buf_putc(&obuf, '\n');
		else
			obuf.len = mark; /* no half lines */
		if (rc == EVT_ERR_CORRUPT)
			seg_err_cb(NULL, path, rec.off, d->err);
		oom_check(rc);
		omaybe();
	}
	oom_check(rc);
}

/* Prints the frames of one segment: --messages (gateway messages whose
 * events pass the filters), --tsv (every received frame) or --markers
 * (the recorder's SESSION, GAP and CONFIG markers, with their kind). */
static void
cat_frames(struct evt_segr *r, const char *path, enum cat_mode mode,
    const struct filter *f)
{
	struct evt_frames fr;
	struct evt_frame *fm;
	int rc;
	evt_frames_init(&fr, r, mode == CAT_MESSAGES ? keep_cb : NULL,
	    (void *)(uintptr_t)f, seg_err_cb, NULL, path);
	while ((rc = evt_frames_next(&fr, &fm)) == 1) {
		if (fm->rx_us < f->from || fm->rx_us >= f->to)
			continue;
		if (mode == CAT_MESSAGES) {
			if (fm->kind != EVT_K_MSG || fm->kept == 0)
				continue;
		} else if (mode == CAT_MARKERS) {
			static const char *const names[] = {"SESSION", "GAP",
			    "CONFIG"};

			if (fm->kind < EVT_K_SESSION || fm->kind > EVT_K_CONFIG)
				continue;
			put_rx(fm->rx_us);
			oom_check(evt_buf_put(&obuf, names[fm->kind -
			    EVT_K_SESSION], strlen(names[fm->kind -
			    EVT_K_SESSION])));
			oom_check(evt_buf_putc(&obuf, '\t'));
		} else {
			if (fm->kind >= EVT_K_SESSION)
				continue; /* markers are not received frames */
			put_rx(fm->rx_us);
		}
		oom_check(evt_buf_put(&obuf, fm->text.p, fm->text.len));
		oom_check(evt_buf_putc(&obuf, '\n'));
		omaybe();
	}
	evt_frames_free(&fr);
	oom_check(rc);
}

/* Prints the records of one segment according to mode and filters. */
static int
cat_segment(const char *path, enum cat_mode mode, const struct filter *f)
{
	struct evt_segr *r;
	if (evt_segr_open(path, seg_err_cb, NULL, &r) != 0)
		return 0; /* reported */
	const struct evt_seg_info *si = evt_segr_info(r);
	if (si->sealed && (si->last_rx < f->from || si->first_rx >= f->to) &&
	    si->nrecords > 0) {
		evt_segr_close(r);
		return 0;
	}
	evt_segr_rewind(r, f->from);
	if (mode == CAT_EVENTS)
		cat_events(r, path, f);
	else
		cat_frames(r, path, mode, f);
	evt_segr_close(r);
	return 0;
}

static int
cmd_cat(int argc, char **argv)
{
	struct filter f = {.from = INT64_MIN, .to = INT64_MAX};
	enum cat_mode mode = CAT_EVENTS;
	static const struct option lo[] = {
		{"messages", no_argument, NULL, 'm'},
		{"tsv", no_argument, NULL, 't'},
		{"markers", no_argument, NULL, 'M'},
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 'T'},
		{"source", required_argument, NULL, 's'},
		{"type", required_argument, NULL, 'y'},
		{NULL, 0, NULL, 0},
	};
	int c;
	f.sources = calloc((size_t)argc, sizeof *f.sources);
	f.types = calloc((size_t)argc, sizeof *f.types);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'm': mode = CAT_MESSAGES; break;
		case 't': mode = CAT_TSV; break;
		case 'M': mode = CAT_MARKERS; break;
		case 'f': f.from = time_arg("--from", optarg); break;
		case 'T': f.to = time_arg("--to", optarg); break;
		case 's': f.sources[f.nsources++] = optarg; break;
		case 'y': f.types[f.ntypes++] = optarg; break;
		default: return EX_USAGE;
		}
	}
	if (argc - optind != 1) {
		errx_msg("usage: evtool cat [--messages|--tsv|--markers] "
		    "[--from T] "
		    "[--to T] [--source S]... [--type T]... DIR");
		return EX_USAGE;
	}
	if ((mode == CAT_TSV || mode == CAT_MARKERS) &&
	    (f.nsources || f.ntypes)) {
		errx_msg("--tsv and --markers print whole frames; they take "
		    "no --source or --type");
		return EX_USAGE;
	}
	struct evt_archive *a = open_archive(argv[optind], 0, NULL);
	size_t n;
	const struct evt_segref *s = evt_archive_segments(a, &n);
	for (size_t i = 0; i < n; i++)
		cat_segment(s[i].path, mode, &f);
	oflush();
	evt_archive_close(a);
	free(f.sources);
	free(f.types);
	return problems ? EX_NOTFOUND : 0;
}

/*
 * state
 */

/* Prints the state table as of a receive time: the latest stateful event
 * per source and state group, seeded by the last STATES frame at or before
 * it, one JSON line each. */
static int
cmd_state(int argc, char **argv)
{
	struct filter f = {.from = INT64_MIN, .to = INT64_MAX};
	int64_t at = INT64_MAX;
	static const struct option lo[] = {
		{"at", required_argument, NULL, 'a'},
		{"source", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	int c;
	f.sources = calloc((size_t)argc, sizeof *f.sources);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'a': at = time_arg("--at", optarg); break;
		case 's': f.sources[f.nsources++] = optarg; break;
		default: return EX_USAGE;
		}
	}
	if (argc - optind != 1) {
		errx_msg("usage: evtool state [--at TIME] [--source S]... DIR");
		return EX_USAGE;
	}
	struct evt_cur *cur;
	int rc = evt_cur_open(argv[optind], seg_err_cb, warn_cb, NULL, &cur);
	if (rc != 0) {
		errx_msg("%s: %s", argv[optind], evt_strerror(rc));
		return EX_FAIL;
	}
	struct evt_state *st = evt_state_new();
	if (st == NULL)
		oom_check(EVT_ERR_NOMEM);
	rc = evt_cur_state_at(cur, at == INT64_MAX ? INT64_MAX : at + 1, st);
	oom_check(rc);
	if (rc < 0)
		errx_msg("%s: %s", argv[optind], evt_strerror(rc));
	const char *const *tx;
	const size_t *lens;
	size_t n = evt_state_list(st, &tx, &lens);
	for (size_t i = 0; i < n; i++) {
		if (!match_source(&f, evt_state_source(st, i)))
			continue;
		oom_check(evt_buf_put(&obuf, tx[i], lens[i]));
		oom_check(evt_buf_putc(&obuf, '\n'));
		omaybe();
	}
	oflush();
	evt_state_free(st);
	evt_cur_close(cur);
	free(f.sources);
	return rc < 0 ? EX_FAIL : problems ? EX_NOTFOUND : 0;
}

/*
 * get
 */

static int
cmd_get(int argc, char **argv)
{
	int meta = 0;
	static const struct option lo[] = {
		{"meta", no_argument, NULL, 'm'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c != 'm')
			return EX_USAGE;
		meta = 1;
	}
	if (argc - optind != 2) {
		errx_msg("usage: evtool get [--meta] DIR ID");
		return EX_USAGE;
	}
	const char *id = argv[optind + 1];
	struct evt_archive *a = open_archive(argv[optind], 0, NULL);
	size_t n;
	const struct evt_segref *s = evt_archive_segments(a, &n);
	int found = 0;
	for (size_t i = n; i-- > 0 && !found;) {
		struct evt_segr *r;
		if (evt_segr_open(s[i].path, seg_err_cb, NULL, &r) != 0)
			continue;
		struct evt_rec rec;
		uint64_t boff;
		int rc = evt_segr_find(r, id, strlen(id), &rec, &boff);
		oom_check(rc);
		if (rc == 1) {
			struct evt_rdec *d = evt_segr_decoder(r);
			found = 1;
			if (meta) {
				char t[28];
				evt_time_format_us(rec.rx_us, t);
				char hdr[1024];
				int k = snprintf(hdr, sizeof hdr,
				    "{\"received\":\"%s\",\"received_us\":%"
				    PRId64 ",\"segment\":", t, rec.rx_us);
				oom_check(evt_buf_put(&obuf, hdr, (size_t)k));
				const char *base = strrchr(s[i].path, '/');
				base = base ? base + 1 : s[i].path;
				k = snprintf(hdr, sizeof hdr,
				    "\"%s\",\"block_offset\":%" PRIu64
				    ",\"record_offset\":%zu,\"event\":", base,
				    boff, rec.off);
				oom_check(evt_buf_put(&obuf, hdr, (size_t)k));
			}
			rc = evt_rdec_item_json(d, &rec, &obuf);
			if (rc == EVT_ERR_CORRUPT)
				seg_err_cb(NULL, s[i].path, boff, d->err);
			if (meta)
				oom_check(evt_buf_putc(&obuf, '}'));
			oom_check(evt_buf_putc(&obuf, '\n'));
		}
		evt_segr_close(r);
	}
	oflush();
	evt_archive_close(a);
	if (!found) {
		errx_msg("%s: no event with id %s", argv[optind], id);
		return EX_NOTFOUND;
	}
	return 0;
}

/*
 * info, ls
 */

/* Facts of one segment, from its trailer and index or by a scan. */
struct segfacts {
	int sealed;
	uint64_t events, records, blocks;
	int64_t first_rx, last_rx;
	uint64_t frames[EVT_K_MAX + 1];
};

/* Collects the facts of a segment. */
static int
segment_facts(const char *path, struct segfacts *sf)
{
	struct evt_segr *r;
	memset(sf, 0, sizeof *sf);
	sf->first_rx = INT64_MAX;
	sf->last_rx = INT64_MIN;
	if (evt_segr_open(path, seg_err_cb, NULL, &r) != 0)
		return -1;
	const struct evt_seg_info *si = evt_segr_info(r);
	if (si->sealed && evt_segr_load_index(r) == 0) {
		sf->sealed = 1;
		sf->events = si->nevents;
		sf->records = si->nrecords;
		sf->blocks = si->nblocks;
		if (si->nrecords > 0) {
			sf->first_rx = si->first_rx;
			sf->last_rx = si->last_rx;
		}
		memcpy(sf->frames, si->frames, sizeof sf->frames);
		evt_segr_close(r);
		return 0;
	}
	struct evt_rec rec;
	int in_msg = 0, rc;
	evt_segr_rewind(r, INT64_MIN);
	while ((rc = evt_segr_next(r, &rec, NULL)) == 1) {
		sf->records++;
		if (rec.kind == EVT_K_STRDEF || rec.kind == EVT_K_SHAPEDEF)
			continue;
		if (rec.kind == EVT_K_EVENT || rec.kind == EVT_K_ITEM) {
			if (rec.kind == EVT_K_EVENT && in_msg)
				sf->events++;
			continue;
		}
		in_msg = rec.kind == EVT_K_MSG;
		sf->frames[rec.kind]++;
		if (rec.rx_us < sf->first_rx)
			sf->first_rx = rec.rx_us;
		if (rec.rx_us > sf->last_rx)
			sf->last_rx = rec.rx_us;
	}
	uint32_t nb;
	evt_segr_blocks(r, &nb);
	sf->blocks = nb;
	evt_segr_close(r);
	oom_check(rc);
	return 0;
}

static int
cmd_ls(int argc, char **argv)
{
	if (argc != 2) {
		errx_msg("usage: evtool ls DIR");
		return EX_USAGE;
	}
	struct evt_archive *a = open_archive(argv[1], 0, NULL);
	size_t n;
	const struct evt_segref *s = evt_archive_segments(a, &n);
	printf("%-22s %-8s %12s %10s %8s  %-27s %-27s\n", "segment", "state",
	    "bytes", "events", "blocks", "first received", "last received");
	for (size_t i = 0; i < n; i++) {
		struct segfacts sf;
		const char *base = strrchr(s[i].path, '/');
		base = base ? base + 1 : s[i].path;
		if (segment_facts(s[i].path, &sf) != 0) {
			printf("%-22s %-8s %12" PRIu64 "\n", base, "damaged",
			    s[i].size);
			continue;
		}
		char t1[28] = "-", t2[28] = "-";
		if (sf.first_rx != INT64_MAX) {
			evt_time_format_us(sf.first_rx, t1);
			evt_time_format_us(sf.last_rx, t2);
		}
		printf("%-22s %-8s %12" PRIu64 " %10" PRIu64 " %8" PRIu64
		    "  %-27s %-27s\n", base, sf.sealed ? "sealed" : "open",
		    s[i].size, sf.events, sf.blocks, t1, t2);
	}
	evt_archive_close(a);
	return 0;
}

static int
cmd_info(int argc, char **argv)
{
	if (argc != 2) {
		errx_msg("usage: evtool info DIR");
		return EX_USAGE;
	}
	struct evt_archive *a = open_archive(argv[1], 0, NULL);
	size_t n;
	const struct evt_segref *s = evt_archive_segments(a, &n);
	struct segfacts tot = {.first_rx = INT64_MAX, .last_rx = INT64_MIN};
	uint64_t bytes = 0, sealed = 0, damaged = 0;
	for (size_t i = 0; i < n; i++) {
		struct segfacts sf;
		bytes += s[i].size;
		if (segment_facts(s[i].path, &sf) != 0) {
			damaged++;
			continue;
		}
		sealed += (uint64_t)sf.sealed;
		tot.events += sf.events;
		tot.records += sf.records;
		tot.blocks += sf.blocks;
		for (int k = 0; k <= EVT_K_MAX; k++)
			tot.frames[k] += sf.frames[k];
		if (sf.first_rx < tot.first_rx)
			tot.first_rx = sf.first_rx;
		if (sf.last_rx > tot.last_rx)
			tot.last_rx = sf.last_rx;
	}
	char t1[28] = "-", t2[28] = "-";
	if (tot.first_rx != INT64_MAX) {
		evt_time_format_us(tot.first_rx, t1);
		evt_time_format_us(tot.last_rx, t2);
	}
	printf("archive:        %s\n", argv[1]);
	printf("events:         %" PRIu64 "\n", tot.events);
	printf("messages:       %" PRIu64 "\n", tot.frames[EVT_K_MSG]);
	printf("first received: %s\n", t1);
	printf("last received:  %s\n", t2);
	if (tot.first_rx != INT64_MAX)
		printf("span:           %.3f s\n",
		    (double)(tot.last_rx - tot.first_rx) / 1e6);
	printf("segments:       %zu (%" PRIu64 " sealed, %" PRIu64
	    " open, %" PRIu64 " unreadable)\n", n, sealed,
	    n - sealed - damaged, damaged);
	printf("blocks:         %" PRIu64 "\n", tot.blocks);
	printf("bytes:          %" PRIu64 "\n", bytes);
	if (tot.events > 0)
		printf("bytes/event:    %.2f\n", (double)bytes /
		    (double)tot.events);
	printf("state snapshots: %" PRIu64 "\n", tot.frames[EVT_K_STATES]);
	printf("sessions:       %" PRIu64 "\n", tot.frames[EVT_K_SESSION]);
	printf("gaps:           %" PRIu64 "\n", tot.frames[EVT_K_GAP]);
	printf("raw frames:     %" PRIu64 "\n", tot.frames[EVT_K_RAW]);
	printf("other frames:   %" PRIu64 "\n", tot.frames[EVT_K_JSON]);
	evt_archive_close(a);
	return problems ? EX_NOTFOUND : 0;
}

/*
 * verify
 */

/* Checks one segment thoroughly; returns the problems found. */
static uint64_t
verify_segment(const char *path)
{
	uint64_t before = problems;
	struct evt_segr *r;
	if (evt_segr_open(path, seg_err_cb, NULL, &r) != 0)
		return problems - before + (problems == before);
	int sealed = evt_segr_info(r)->sealed;
	/* Pass 1: every block from the header on, every record rendered. */
	evt_segr_force_scan(r);
	evt_segr_rewind(r, INT64_MIN);
	struct evt_rec rec;
	struct evt_buf tmp = {0}, tail = {0};
	uint64_t events = 0, records = 0;
	uint64_t boff, fr[EVT_K_MAX + 1] = {0};
	int in_msg = 0, rc;
	uint64_t *ids = NULL, *blks = NULL;
	size_t nids = 0, capids = 0;
	uint32_t nb0 = 0;
	while ((rc = evt_segr_next(r, &rec, &boff)) == 1) {
		struct evt_rdec *d = evt_segr_decoder(r);
		records++;
		tmp.len = 0;
		if (rec.kind == EVT_K_EVENT || rec.kind == EVT_K_ITEM) {
			rc = evt_rdec_item_json(d, &rec, &tmp);
			if (rc == EVT_ERR_CORRUPT)
				seg_err_cb(NULL, path, boff, d->err);
			if (rec.kind == EVT_K_EVENT && in_msg) {
				events++;
				char id[EVT_REC_MAX_INTERN + 1];
				int n = evt_rdec_field(d, &rec, "id", id,
				    sizeof id);
				if (n >= 0) {
					if (nids == capids) {
						capids = capids ? 2 * capids :
						    4096;
						ids = realloc(ids, capids * 8);
						blks = realloc(blks, capids * 8);
						if (!ids || !blks)
							oom_check(EVT_ERR_NOMEM);
					}
					evt_segr_blocks(r, &nb0);
					ids[nids] = evt_id_key(id, (size_t)n);
					blks[nids++] = nb0 - 1;
				}
			}
		} else if (rec.kind != EVT_K_STRDEF &&
		    rec.kind != EVT_K_SHAPEDEF) {
			in_msg = rec.kind == EVT_K_MSG;
			fr[rec.kind]++;
			rc = evt_rdec_frame_head(d, &rec, &tmp, &tail);
			if (rc == EVT_ERR_CORRUPT)
				seg_err_cb(NULL, path, boff, d->err);
		}
		oom_check(rc);
	}
	oom_check(rc);
	uint32_t nscan;
	const struct evt_blkent *scanned = evt_segr_blocks(r, &nscan);
	struct evt_blkent *sb = malloc((nscan + 1) * sizeof *sb);
	if (sb == NULL)
		oom_check(EVT_ERR_NOMEM);
	memcpy(sb, scanned, nscan * sizeof *sb);
	evt_segr_close(r);

	/* Pass 2: the index of a sealed segment agrees with the blocks.
	 * Skipped when pass 1 found damage: the counts then differ for that
	 * reason alone, and one report per damaged place is enough. */
	if (sealed && problems == before &&
	    evt_segr_open(path, seg_err_cb, NULL, &r) == 0) {
		const struct evt_seg_info *si = evt_segr_info(r);
		if (evt_segr_load_index(r) == 0) {
			uint32_t nb;
			const struct evt_blkent *bl = evt_segr_blocks(r, &nb);
			if (nb != nscan)
				seg_err_cb(NULL, path, si->data_end,
				    "index lists a different number of blocks");
			for (uint32_t i = 0; i < nb && i < nscan; i++)
				if (bl[i].off != sb[i].off) {
					seg_err_cb(NULL, path, bl[i].off,
					    "index block offset disagrees");
					break;
				}
			if (si->nevents != events)
				seg_err_cb(NULL, path, si->size - 128,
				    "trailer event count disagrees");
			if (si->nrecords != records)
				seg_err_cb(NULL, path, si->size - 128,
				    "trailer record count disagrees");
			/* Every id must be found by the filter, pointing
			 * at its block. */
			uint64_t missing = 0;
			if (evt_segr_check_filter(r) == 0 && nb == nscan)
				for (size_t i = 0; i < nids; i++) {
					uint32_t first, cnt;
					if (evt_segr_probe(r, ids[i], &first,
					    &cnt) != 1 || blks[i] < first ||
					    blks[i] - first >= cnt)
						missing++;
				}
			if (missing > 0) {
				char msg[96];
				snprintf(msg, sizeof msg, "id filter misses "
				    "%" PRIu64 " events", missing);
				seg_err_cb(NULL, path, si->size - 128, msg);
			}
		}
		evt_segr_close(r);
	}
	free(sb);
	free(ids);
	free(blks);
	evt_buf_free(&tmp);
	evt_buf_free(&tail);
	return problems - before;
}

static int
cmd_verify(int argc, char **argv)
{
	if (argc != 2) {
		errx_msg("usage: evtool verify DIR");
		return EX_USAGE;
	}
	struct evt_archive *a = open_archive(argv[1], 0, NULL);
	size_t n;
	const struct evt_segref *s = evt_archive_segments(a, &n);
	uint64_t bad = 0;
	for (size_t i = 0; i < n; i++)
		if (verify_segment(s[i].path) > 0)
			bad++;
	evt_archive_close(a);
	if (problems > 0) {
		printf("%s: %" PRIu64 " problems in %" PRIu64 " of %zu segments\n",
		    argv[1], problems, bad, n);
		return EX_NOTFOUND;
	}
	printf("%s: %zu segments ok\n", argv[1], n);
	return 0;
}

/*
 * repair
 */

/* Rewrites a damaged segment from every record that reads and renames the
 * new one over it. */
static int
repair_segment(const char *dir, const struct evt_segref *s)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s/.repair-%012" PRIu64 ".tmp", dir, s->seq);
	unlink(tmp);
	struct evt_segw_opts wo = {.fsync = EVT_FSYNC_INTERVAL};
	struct evt_rewrite_stats st;
	int rc = evt_seg_rewrite(s->path, tmp, &wo, seg_err_cb, NULL, &st);
	if (rc == EVT_ERR_CORRUPT || rc == EVT_ERR_VERSION ||
	    rc == EVT_ERR_TRUNCATED) {
		char aside[4096];
		snprintf(aside, sizeof aside, "%s.damaged", s->path);
		errx_msg("%s: header unreadable; moved aside to %s", s->path,
		    aside);
		unlink(tmp);
		return rename(s->path, aside) == 0 ? 0 : EX_FAIL;
	}
	if (rc != 0 || rename(tmp, s->path) != 0) {
		errx_msg("%s: cannot rewrite: %s", s->path, rc ?
		    evt_strerror(rc) : strerror(errno));
		unlink(tmp);
		return EX_FAIL;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	fprintf(stderr, "%s: %s: rewritten: %" PRIu64 " frames, %" PRIu64
	    " events kept, %" PRIu64 " unreadable records dropped\n",
	    progname, s->path, st.frames, st.events, st.dropped);
	return 0;
}

static int
cmd_repair(int argc, char **argv)
{
	if (argc != 2) {
		errx_msg("usage: evtool repair DIR");
		return EX_USAGE;
	}
	/* The writer's lock keeps a running recorder out. */
	struct evt_archive *a = open_archive(argv[1], EVT_AR_LOCK, NULL);
	size_t n;
	const struct evt_segref *s = evt_archive_segments(a, &n);
	int rc = 0;
	uint64_t fixed = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t before = problems;
		struct evt_segr *r;
		int sealed = 0;
		if (evt_segr_open(s[i].path, NULL, NULL, &r) == 0) {
			sealed = evt_segr_info(r)->sealed;
			evt_segr_close(r);
		}
		if (verify_segment(s[i].path) == 0 && sealed)
			continue;
		(void)before;
		if (repair_segment(argv[1], &s[i]) != 0)
			rc = EX_FAIL;
		else
			fixed++;
	}
	evt_archive_close(a);
	printf("%s: %" PRIu64 " segments rewritten\n", argv[1], fixed);
	return rc;
}

/*
 * prune
 */

static int
cmd_prune(int argc, char **argv)
{
	uint64_t max_bytes = 0;
	int64_t max_age = 0;
	static const struct option lo[] = {
		{"max-bytes", required_argument, NULL, 'b'},
		{"max-age", required_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (parse_size(optarg, &max_bytes) != 0) {
				errx_msg("--max-bytes: a size like 10G");
				return EX_USAGE;
			}
			break;
		case 'a':
			if (evt_duration_parse(optarg, &max_age) != 0) {
				errx_msg("--max-age: a duration like 30d");
				return EX_USAGE;
			}
			break;
		default:
			return EX_USAGE;
		}
	}
	if (argc - optind != 1 || (max_bytes == 0 && max_age == 0)) {
		errx_msg("usage: evtool prune DIR --max-bytes N --max-age D");
		return EX_USAGE;
	}
	struct evt_archive *a = open_archive(argv[optind], 0, NULL);
	uint64_t freed;
	int n = evt_archive_prune(a, max_bytes, max_age, evt_wall_us(), &freed);
	evt_archive_close(a);
	if (n < 0) {
		errx_msg("%s: %s: %s", argv[optind], evt_strerror(n),
		    strerror(errno));
		return EX_FAIL;
	}
	printf("%s: deleted %d segments, %" PRIu64 " bytes\n", argv[optind],
	    n, freed);
	return 0;
}

/* Prints the usage summary. */
static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: evtool COMMAND [options] DIR ...\n"
	    "  import [--level N] [--block-size S] [--segment-size S]\n"
	    "         [--segment-age D] DIR [FILE]\n"
	    "                     read \"<rx us>\\t<message>\" lines\n"
	    "  cat [--messages|--tsv|--markers] [--from T] [--to T]\n"
	    "      [--source S]... [--type T]... DIR\n"
	    "                     print events (one JSON object per line);\n"
	    "                     --markers: \"<rx us>\\t<KIND>\\t<body>\"\n"
	    "  get [--meta] DIR ID print one event by id\n"
	    "  state [--at T] [--source S]... DIR\n"
	    "                     the states as of T (getState), JSON lines\n"
	    "  info DIR           counts, time span, size\n"
	    "  ls DIR             one line per segment\n"
	    "  verify DIR         check every byte; exit 1 on damage\n"
	    "  repair DIR         rewrite damaged segments from what reads\n"
	    "  prune DIR [--max-bytes N] [--max-age D]\n"
	    "                     delete the oldest sealed segments\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	const char *cmd = argv[1];
	argc--;
	argv++;
	if (strcmp(cmd, "import") == 0)
		return cmd_import(argc, argv);
	if (strcmp(cmd, "cat") == 0)
		return cmd_cat(argc, argv);
	if (strcmp(cmd, "get") == 0)
		return cmd_get(argc, argv);
	if (strcmp(cmd, "state") == 0)
		return cmd_state(argc, argv);
	if (strcmp(cmd, "info") == 0)
		return cmd_info(argc, argv);
	if (strcmp(cmd, "ls") == 0)
		return cmd_ls(argc, argv);
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(argc, argv);
	if (strcmp(cmd, "repair") == 0)
		return cmd_repair(argc, argv);
	if (strcmp(cmd, "prune") == 0)
		return cmd_prune(argc, argv);
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	errx_msg("unknown command: %s", cmd);
	usage(stderr);
	return EX_USAGE;
}
