/*
 * evtool: the archive tool.
 *
 *   evtool import DIR [FILE]       lines "<rx us>\t<message>" -> archive
 *   evtool cat DIR [filters]       events (or messages, or TSV) as JSON
 *   evtool get DIR ID [--meta]     one event by id
 *   evtool state DIR [--at T]      the states (getState) as of a time
 *   evtool info DIR                counts, time span, sizes
 *   evtool stats DIR [filters]     activity: types, sources, time buckets
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
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/cli.h"
#include "evtape/cursor.h"
#include "evtape/dict.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/json.h"
#include "evtape/record.h"
#include "evtape/segment.h"
#include "evtape/state.h"
#include "evtape/timefmt.h"
#include "evtape/tsv.h"

#define EX_NOTFOUND 1
#define EX_USAGE 2
#define EX_FAIL 3

static const char *progname = "evtool";
static uint64_t problems;
/* The archive being read (open_archive): readers open its segments
 * through it, which reports and tallies what cannot be read. */
static struct evt_archive *arch;

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
		return arch = a;
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
		{"dict-unit", required_argument, NULL, 'u'},
		{"layout", required_argument, NULL, 'L'},
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
			if (evt_cli_size(optarg, &v) != 0 || v < 1024 ||
			    v > (1u << 28)) {
				errx_msg("--block-size: 1k..256M");
				return EX_USAGE;
			}
			o.seg.block_bytes = v;
			break;
		case 'u':
			if (strcmp(optarg, "segment") == 0)
				v = EVT_UNIT_SEGMENT;
			else if (evt_cli_size(optarg, &v) != 0 || v < 1) {
				errx_msg("--dict-unit: a size, or segment");
				return EX_USAGE;
			}
			o.seg.unit_bytes = v;
			break;
		case 'L':
			/* What a revision 1.1 writer wrote: the baseline of
			 * the damage benchmark. */
			if (strcmp(optarg, "1.1") != 0) {
				errx_msg("--layout: 1.1");
				return EX_USAGE;
			}
			o.seg.unit_bytes = EVT_UNIT_SEGMENT;
			o.seg.no_checks = 1;
			if (o.seg.block_bytes == 0)
				o.seg.block_bytes = 256u << 10;
			break;
		case 's':
			if (evt_cli_size(optarg, &v) != 0 || v < 4096) {
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
	uint64_t lines = 0, refused = 0, incomplete = 0;
	uint64_t frames[EVT_K_MAX + 1] = {0};
	int rc = 0;
	while ((n = getline(&line, &cap, in)) > 0) {
		struct evt_tsv_line tl;
		lines++;
		if (line[n - 1] == '\n')
			n--;
		int pr = evt_tsv_parse(line, (size_t)n, &tl);
		if (pr == 0)
			continue;
		if (pr < 0) {
			/* The rest of the file may well be good. */
			if (++refused <= 10)
				fprintf(stderr, "%s: %s: line %" PRIu64 ": %s; "
				    "line not imported\n", progname, iname,
				    lines, tl.err);
			continue;
		}
		if (tl.incomplete && ++incomplete <= 10)
			fprintf(stderr, "%s: %s: line %" PRIu64 ": a message "
			    "marked incomplete (items lost to damage); "
			    "imported as it is\n", progname, iname, lines);
		int64_t rx = tl.has_rx ? tl.rx_us : evt_wall_us();
		int k = evt_archive_frame(a, rx, tl.text, tl.len);
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
	if (refused > 0) {
		fprintf(stderr, "%s: %s: %" PRIu64 " line(s) not imported\n",
		    progname, iname, refused);
		if (rc == 0)
			rc = EX_NOTFOUND;
	}
	if (incomplete > 10)
		fprintf(stderr, "%s: %s: %" PRIu64 " messages marked "
		    "incomplete\n", progname, iname, incomplete);
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

/* The long options of the filters (cat, stats): --from, --to, --source,
 * --type, handled by filter_opt. */
#define FILTER_OPTIONS \
	{"from", required_argument, NULL, 'f'}, \
	{"to", required_argument, NULL, 'T'}, \
	{"source", required_argument, NULL, 's'}, \
	{"type", required_argument, NULL, 'y'}

/* Prepares an empty filter for the options of argc arguments. */
static void
filter_init(struct filter *f, int argc)
{
	memset(f, 0, sizeof *f);
	f->from = INT64_MIN;
	f->to = INT64_MAX;
	f->sources = calloc((size_t)argc + 1, sizeof *f->sources);
	f->types = calloc((size_t)argc + 1, sizeof *f->types);
	if (f->sources == NULL || f->types == NULL)
		oom_check(EVT_ERR_NOMEM);
}

/* Frees the lists of a filter. */
static void
filter_free(struct filter *f)
{
	free(f->sources);
	free(f->types);
}

/* Applies getopt_long result c (one of FILTER_OPTIONS) with its argument to
 * f; returns 1, or 0 if c is not a filter option. */
static int
filter_opt(struct filter *f, int c, char *arg)
{
	switch (c) {
	case 'f': f->from = time_arg("--from", arg); return 1;
	case 'T': f->to = time_arg("--to", arg); return 1;
	case 's': f->sources[f->nsources++] = arg; return 1;
	case 'y': f->types[f->ntypes++] = arg; return 1;
	default: return 0;
	}
}

/* Whether receive time rx is in the filter's range [from, to); to =
 * INT64_MAX is no end, so that a frame received then is not lost. */
static int
in_range(const struct filter *f, int64_t rx)
{
	return rx >= f->from && (rx < f->to || f->to == INT64_MAX);
}

/* Prints what the readers of the archive could not read, if anything
 * (each place was reported as "FILE: offset N: what"). */
static void
lost_summary(const char *dir, uint64_t events, uint64_t unknown)
{
	if (events == 0 && unknown == 0)
		return;
	if (unknown == 0)
		fprintf(stderr, "%s: %s: %" PRIu64 " events could not be "
		    "read\n", progname, dir, events);
	else
		fprintf(stderr, "%s: %s: at least %" PRIu64 " events could not "
		    "be read, and an unknown number more in %" PRIu64
		    " damaged places\n", progname, dir, events, unknown);
}

/* lost_summary of the archive's tally. */
static void
archive_lost_summary(const char *dir)
{
	uint64_t ev, unk;
	evt_archive_lost(arch, &ev, &unk);
	lost_summary(dir, ev, unk);
}

/* Opens segment i of the archive positioned at the receive time f->from;
 * NULL if it cannot be opened (reported) or is sealed and holds nothing
 * received in [f->from, f->to). */
static struct evt_segr *
open_range(size_t i, const struct filter *f)
{
	struct evt_segr *r;
	if (evt_archive_open_segment(arch, i, &r) != 0)
		return NULL;
	const struct evt_seg_info *si = evt_segr_info(r);
	if (si->sealed && (si->last_rx < f->from || (f->to != INT64_MAX &&
	    si->first_rx >= f->to)) && si->nrecords > 0) {
		evt_segr_close(r);
		return NULL;
	}
	evt_segr_rewind(r, f->from);
	return r;
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
		if (!in_msg || !in_range(f, rec.rx_us) ||
		    !keep_cb((void *)(uintptr_t)f, d, &rec))
			continue;
		size_t mark = obuf.len;
		rc = evt_rdec_item_json(d, &rec, &obuf);
		if (rc == 0)
			rc = evt_buf_putc(&obuf, '\n');
		else
			obuf.len = mark; /* no half lines */
		if (rc == EVT_ERR_CORRUPT) {
			seg_err_cb(NULL, path, rec.off, d->err);
			evt_archive_add_lost(arch, rec.kind == EVT_K_EVENT);
		}
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
		if (!in_range(f, fm->rx_us))
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
			/* Items lost to damage: say so in the line, which
			 * must not pass for the message received. */
			int inc = (fm->kind == EVT_K_MSG ||
			    fm->kind == EVT_K_STATES) && fm->kept < fm->nitems;
			if (inc) {
				problems++;
				fprintf(stderr, "%s: %s: the %s received at %"
				    PRId64 " us is incomplete (%u of %u items); "
				    "its line is tagged :incomplete\n", progname,
				    path, evt_kind_name(fm->kind), fm->rx_us,
				    fm->kept, fm->nitems);
			}
			oom_check(evt_tsv_put(&obuf, fm->rx_us,
			    (const char *)fm->text.p, fm->text.len, inc));
			omaybe();
			continue;
		}
		oom_check(evt_buf_put(&obuf, fm->text.p, fm->text.len));
		oom_check(evt_buf_putc(&obuf, '\n'));
		omaybe();
	}
	evt_archive_add_lost(arch, fr.lost);
	evt_frames_free(&fr);
	oom_check(rc);
}

/* Prints the records of one segment according to mode and filters. */
static int
cat_segment(size_t i, enum cat_mode mode, const struct filter *f)
{
	size_t n;
	const char *path = evt_archive_segments(arch, &n)[i].path;
	struct evt_segr *r = open_range(i, f);
	if (r == NULL)
		return 0; /* reported, or nothing in range */
	if (mode == CAT_EVENTS)
		cat_events(r, path, f);
	else
		cat_frames(r, path, mode, f);
	evt_archive_close_segment(arch, r);
	return 0;
}

static int
cmd_cat(int argc, char **argv)
{
	struct filter f;
	enum cat_mode mode = CAT_EVENTS;
	static const struct option lo[] = {
		{"messages", no_argument, NULL, 'm'},
		{"tsv", no_argument, NULL, 't'},
		{"markers", no_argument, NULL, 'M'},
		FILTER_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	int c;
	filter_init(&f, argc);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'm': mode = CAT_MESSAGES; break;
		case 't': mode = CAT_TSV; break;
		case 'M': mode = CAT_MARKERS; break;
		default:
			if (!filter_opt(&f, c, optarg))
				return EX_USAGE;
			break;
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
	evt_archive_segments(a, &n);
	for (size_t i = 0; i < n; i++)
		cat_segment(i, mode, &f);
	oflush();
	archive_lost_summary(argv[optind]);
	evt_archive_close(a);
	filter_free(&f);
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
	struct filter f;
	int64_t at = INT64_MAX;
	static const struct option lo[] = {
		{"at", required_argument, NULL, 'a'},
		{"source", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	int c;
	filter_init(&f, argc);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'a')
			at = time_arg("--at", optarg);
		else if (c != 's' || !filter_opt(&f, c, optarg))
			return EX_USAGE;
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
	uint64_t lev, lunk;
	evt_cur_lost(cur, &lev, &lunk);
	lost_summary(argv[optind], lev, lunk);
	evt_state_free(st);
	evt_cur_close(cur);
	filter_free(&f);
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
	struct evt_segr *r;
	struct evt_rec rec;
	uint64_t boff;
	size_t i;
	int rc = evt_archive_find(a, id, strlen(id), &r, &i, &rec, &boff);
	oom_check(rc);
	if (rc == 1) {
		{
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
		evt_archive_close_segment(a, r);
	}
	(void)n;
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
segment_facts(size_t i, struct segfacts *sf)
{
	struct evt_segr *r;
	memset(sf, 0, sizeof *sf);
	sf->first_rx = INT64_MAX;
	sf->last_rx = INT64_MIN;
	if (evt_archive_open_segment(arch, i, &r) != 0)
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
		evt_archive_close_segment(arch, r);
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
	evt_archive_close_segment(arch, r);
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
		if (segment_facts(i, &sf) != 0) {
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
	fflush(stdout);
	archive_lost_summary(argv[1]);
	evt_archive_close(a);
	return problems ? EX_NOTFOUND : 0;
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
		if (segment_facts(i, &sf) != 0) {
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
	fflush(stdout);
	archive_lost_summary(argv[1]);
	evt_archive_close(a);
	return problems ? EX_NOTFOUND : 0;
}

/*
 * verify
 */

/* The GUID column entries of a segment's blocks that rendered events
 * took, in file order: the others are the ids of lost events. */
struct consumed {
	struct {
		uint64_t off;
		uint32_t gi;
	} *e;
	size_t n, cap, at;
	const char *path;
};

/* Events listed as lost by verify_segment, in all segments. */
static uint64_t lost_events;

/* Notes the column entries of an event that rendered. */
static void
consumed_add(struct consumed *c, uint64_t boff, const struct evt_rdec *d,
    const struct evt_rec *rec)
{
	const struct evt_shape *sh = &d->dict->shape[rec->shape];
	for (uint32_t g = 0; g < sh->nfield - sh->nval; g++) {
		if (c->n == c->cap) {
			c->cap = c->cap ? 2 * c->cap : 4096;
			c->e = realloc(c->e, c->cap * sizeof *c->e);
			if (c->e == NULL)
				oom_check(EVT_ERR_NOMEM);
		}
		c->e[c->n].off = boff;
		c->e[c->n++].gi = rec->guid0 + g;
	}
}

/* Lists, on stdout, the column entries of a block that no rendered event
 * took: "FILE: offset N: lost event ID" (evt_segr_columns callback). */
static void
lost_ids_cb(void *arg, uint64_t boff, uint32_t flags, const uint8_t *guids,
    uint32_t nguid, const uint8_t *bad)
{
	struct consumed *c = arg;
	(void)flags;
	while (c->at < c->n && c->e[c->at].off < boff)
		c->at++;
	for (uint32_t g = 0; g < nguid; g++) {
		if (c->at < c->n && c->e[c->at].off == boff &&
		    c->e[c->at].gi == g) {
			c->at++;
			continue;
		}
		char id[37];
		evt_guid_format(guids + 16 * (size_t)g, id);
		id[36] = 0;
		if (bad != NULL && bad[g])
			printf("%s: offset %" PRIu64 ": lost event whose id is "
			    "damaged (GUID column entry %u)\n", c->path, boff,
			    g);
		else
			printf("%s: offset %" PRIu64 ": lost event %s\n",
			    c->path, boff, id);
		lost_events++;
	}
}

/* Checks one segment thoroughly; returns the problems found.  The ids of
 * the events it could not read go to stdout (lost_ids_cb). */
static uint64_t
verify_segment(size_t idx)
{
	uint64_t before = problems;
	struct evt_segr *r;
	size_t nseg;
	const char *path = evt_archive_segments(arch, &nseg)[idx].path;
	if (evt_archive_open_segment(arch, idx, &r) != 0)
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
	struct consumed cons = {.path = path};
	while ((rc = evt_segr_next(r, &rec, &boff)) == 1) {
		struct evt_rdec *d = evt_segr_decoder(r);
		records++;
		tmp.len = 0;
		if (rec.kind == EVT_K_EVENT || rec.kind == EVT_K_ITEM) {
			rc = evt_rdec_item_json(d, &rec, &tmp);
			if (rc == EVT_ERR_CORRUPT) {
				seg_err_cb(NULL, path, boff, d->err);
				evt_archive_add_lost(arch, rec.kind ==
				    EVT_K_EVENT && in_msg);
			} else if (rc == 0 && rec.kind == EVT_K_EVENT)
				consumed_add(&cons, boff, d, &rec);
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
	if (nscan > 0) /* (no readable block: scanned may be NULL) */
		memcpy(sb, scanned, nscan * sizeof *sb);
	/* The ids of lost events: a damaged block's payload may be intact
	 * where its GUID column is. */
	if (problems > before) {
		rc = evt_segr_columns(r, lost_ids_cb, &cons);
		if (rc == EVT_ERR_IO)
			seg_err_cb(NULL, path, 0, "cannot read the GUID columns");
		oom_check(rc);
	}
	free(cons.e);
	evt_archive_close_segment(arch, r);

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
	evt_archive_segments(a, &n);
	uint64_t bad = 0;
	for (size_t i = 0; i < n; i++)
		if (verify_segment(i) > 0)
			bad++;
	archive_lost_summary(argv[1]);
	evt_archive_close(a);
	if (problems > 0) {
		printf("%s: %" PRIu64 " problems in %" PRIu64 " of %zu segments\n",
		    argv[1], problems, bad, n);
		if (lost_events > 0)
			printf("%s: %" PRIu64 " events could not be read (listed "
			    "above)\n", argv[1], lost_events);
		return EX_NOTFOUND;
	}
	printf("%s: %zu segments ok\n", argv[1], n);
	return 0;
}

/*
 * repair
 */

/* The temporary file of the repair under way, for repair_signal. */
static char repair_tmp[4096];
static volatile sig_atomic_t repair_tmp_set;

/* SIGTERM/SIGINT/SIGHUP during a repair: the temporary file goes, then
 * the signal does what it does by default. */
static void
repair_signal(int sig)
{
	if (repair_tmp_set)
		unlink(repair_tmp);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Rewrites a damaged segment from every record that reads and renames the
 * new one over it. */
static int
repair_segment(const char *dir, const struct evt_segref *s,
    const uint8_t *uuid)
{
	char *tmp = repair_tmp;
	repair_tmp_set = 0;
	snprintf(tmp, sizeof repair_tmp, "%s/.repair-%012" PRIu64 ".tmp", dir,
	    s->seq);
	repair_tmp_set = 1;
	unlink(tmp);
	struct evt_segw_opts wo = {.fsync = EVT_FSYNC_INTERVAL};
	struct evt_rewrite_stats st;
	int rc = evt_seg_rewrite(s->path, tmp, &wo, uuid, seg_err_cb, NULL, &st);
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
		repair_tmp_set = 0;
		return EX_FAIL;
	}
	repair_tmp_set = 0;
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
	/* The writer's lock keeps a running recorder out; taking it also
	 * removes the temporary file of a repair that was killed. */
	struct evt_archive *a = open_archive(argv[1], EVT_AR_LOCK, NULL);
	signal(SIGTERM, repair_signal);
	signal(SIGINT, repair_signal);
	signal(SIGHUP, repair_signal);
	size_t n;
	const struct evt_segref *s = evt_archive_segments(a, &n);
	int rc = 0;
	uint64_t fixed = 0;
	/* A damaged segment header is rebuilt with the archive's identity,
	 * the uuid of the newest segment whose header checks (with none,
	 * the bytes found in the damaged header are kept). */
	uint8_t uuid[16];
	int have_uuid = 0;
	for (size_t i = n; i-- > 0 && !have_uuid;) {
		struct evt_segr *r;
		if (evt_segr_open(s[i].path, NULL, NULL, &r) != 0)
			continue;
		if (!evt_segr_info(r)->hdr_damaged) {
			memcpy(uuid, evt_segr_info(r)->uuid, 16);
			have_uuid = 1;
		}
		evt_segr_close(r);
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t before = problems;
		struct evt_segr *r;
		int sealed = 0;
		if (evt_segr_open(s[i].path, NULL, NULL, &r) == 0) {
			sealed = evt_segr_info(r)->sealed &&
			    !evt_segr_info(r)->hdr_damaged;
			evt_segr_close(r);
		}
		if (verify_segment(i) == 0 && sealed)
			continue;
		(void)before;
		if (repair_segment(argv[1], &s[i], have_uuid ? uuid : NULL) != 0)
			rc = EX_FAIL;
		else
			fixed++;
	}
	evt_archive_close(a);
	printf("%s: %" PRIu64 " segments rewritten\n", argv[1], fixed);
	if (lost_events > 0)
		printf("%s: %" PRIu64 " events could not be recovered (listed "
		    "above)\n", argv[1], lost_events);
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
			if (evt_cli_size(optarg, &max_bytes) != 0) {
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
	/* The writer's lock: never delete beside a recorder's rotation. */
	struct evt_archive *a = open_archive(argv[optind], EVT_AR_LOCK, NULL);
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

/*
 * stats
 */

/* Activity rows shown when the bucket width is chosen automatically. */
#define STATS_ROWS 48
/* Buckets kept while counting: the auto width's finest; --bucket's limit. */
#define STATS_AUTO_SLOTS 4096
#define STATS_USER_SLOTS 100000
#define SEC ((int64_t)1000000)

/* Counts per string (event type or source): the strings interned in a
 * dictionary, whose bounds (EVT_DICT_MAX_STRINGS, EVT_DICT_MAX_BYTES)
 * bound the memory, and a count per string id. */
struct ctab {
	struct evt_dict d;
	uint64_t *count;
	uint32_t cap;
	uint64_t other; /* events of strings beyond the bounds */
};

/* Finds key s[0..len) or adds it with count 0; returns its id, or -1 if
 * the dictionary is full. */
static int64_t
ctab_find(struct ctab *t, const char *s, size_t len)
{
	int64_t id = evt_dict_str_find(&t->d, s, len);
	if (id == -1)
		id = evt_dict_str_add(&t->d, s, len);
	if (id == EVT_ERR_TOOBIG)
		return -1;
	oom_check(id < 0 ? (int)id : 0);
	if ((uint64_t)id >= t->cap) {
		uint32_t n = t->cap ? 2 * t->cap : 64;
		uint64_t *c = realloc(t->count, n * sizeof *c);
		if (c == NULL)
			oom_check(EVT_ERR_NOMEM);
		memset(c + t->cap, 0, (n - t->cap) * sizeof *c);
		t->count = c;
		t->cap = n;
	}
	return id;
}

/* Frees a table. */
static void
ctab_free(struct ctab *t)
{
	evt_dict_free(&t->d);
	free(t->count);
}

/* Ordering of string ids for printing: count descending, then text. */
static const struct ctab *sort_tab;

static int
id_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	const uint64_t *c = sort_tab->count;
	if (c[x] != c[y])
		return c[x] < c[y] ? 1 : -1;
	size_t lx, ly;
	const char *sx = evt_dict_str(&sort_tab->d, x, &lx);
	const char *sy = evt_dict_str(&sort_tab->d, y, &ly);
	int r = memcmp(sx, sy, lx < ly ? lx : ly);
	return r ? r : (lx > ly) - (lx < ly);
}

/*
 * Events per time bucket: a fixed array of slots of width w (µs) from bucket
 * number base (receive time / w, rounded down).  When an event falls outside
 * what the slots cover, the width grows to the next one of its ladder
 * (auto: 1s, 10s, 1m, 10m, 1h, 1d, then x10; --bucket D: D, 2D, 4D, ...),
 * each a multiple of the one before, so the counts merge exactly.
 */
struct activity {
	int64_t w, base, lo, hi; /* lo, hi: buckets used, absolute */
	uint64_t *slot;
	uint32_t cap;
	int user, any;
};

/* Floor division. */
static int64_t
fdiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The auto ladder's width after w. */
static int64_t
auto_next(int64_t w)
{
	static const int64_t lad[] = {SEC, 10 * SEC, 60 * SEC, 600 * SEC,
	    3600 * SEC, 86400 * SEC};
	for (size_t i = 0; i + 1 < sizeof lad / sizeof lad[0]; i++)
		if (w == lad[i])
			return lad[i + 1];
	return w * 10;
}

/* Widens the buckets to the next width of the ladder. */
static void
act_widen(struct activity *a)
{
	int64_t nw = a->user ? a->w * 2 : auto_next(a->w);
	int64_t nbase = fdiv(a->base * a->w, nw);
	for (int64_t i = 0; i <= a->hi - a->base; i++) {
		uint64_t v = a->slot[i];
		a->slot[i] = 0;
		a->slot[fdiv((a->base + i) * a->w, nw) - nbase] += v;
	}
	a->lo = fdiv(a->lo * a->w, nw);
	a->hi = fdiv(a->hi * a->w, nw);
	a->base = nbase;
	a->w = nw;
}

/* Counts one event received at t. */
static void
act_add(struct activity *a, int64_t t)
{
	int64_t k = fdiv(t, a->w);
	if (!a->any) {
		a->any = 1;
		a->base = a->lo = a->hi = k;
	}
	while (k < a->base || k - a->base >= a->cap) {
		int64_t lo = k < a->lo ? k : a->lo, hi = k > a->hi ? k : a->hi;
		if (hi - lo < a->cap) { /* fits: move the slots */
			memmove(a->slot + (a->lo - lo), a->slot + (a->lo -
			    a->base), (size_t)(a->hi - a->lo + 1) * 8);
			if (lo < a->lo)
				memset(a->slot, 0, (size_t)(a->lo - lo) * 8);
			else
				memset(a->slot + (a->hi - lo + 1), 0,
				    (size_t)(a->cap - (a->hi - lo + 1)) * 8);
			a->base = lo;
			break;
		}
		act_widen(a);
		k = fdiv(t, a->w);
	}
	if (k < a->lo)
		a->lo = k;
	if (k > a->hi)
		a->hi = k;
	a->slot[k - a->base]++;
}

/* Everything stats counts. */
struct stats {
	struct filter f;
	struct ctab types, sources;
	struct activity act;
	uint64_t events, messages, frames[EVT_K_MAX + 1];
	int64_t first, last;
	struct evt_buf config; /* the last CONFIG marker's body */
	/* Per segment: string id -> 0 unknown, 1 filtered out, 2 other,
	 * else entry index + 3 (of sources; of types). */
	uint32_t *scache, *tcache;
	size_t ccap;
	int64_t kid[2];	   /* per segment: string ids of "source", "type" */
	uint32_t kid_nstr; /* dictionary size when they were looked up */
	struct evt_buf tmp, key, sval, tval;
};

/* Counts key s[0..len) in t (once per string id of the segment when sid
 * >= 0, through cache); returns 0, or -1 if the event does not pass the
 * source filter f (f NULL: no filter). */
static int
stats_key(struct stats *st, struct ctab *t, uint32_t *cache, int64_t sid,
    const char *s, size_t len, const struct filter *f)
{
	uint32_t c = sid >= 0 ? cache[sid] : 0;
	if (c == 0) {
		if (f != NULL && f->nsources > 0) {
			st->key.len = 0;
			oom_check(evt_buf_put(&st->key, s, len));
			oom_check(evt_buf_putc(&st->key, 0));
			c = match_source(f, (const char *)st->key.p) ? 0 : 1;
		}
		if (c == 0) {
			int64_t e = ctab_find(t, s, len);
			c = e < 0 ? 2 : (uint32_t)e + 3;
		}
		if (sid >= 0)
			cache[sid] = c;
	}
	if (c == 1)
		return -1;
	if (c == 2)
		t->other++;
	else
		t->count[c - 3]++;
	return 0;
}

/* Makes the per-segment caches hold string id sid. */
static void
stats_cache_fit(struct stats *st, uint64_t sid)
{
	if (sid < st->ccap)
		return;
	size_t n = sid < 512 ? 1024 : 2 * (size_t)sid;
	st->scache = realloc(st->scache, n * sizeof(uint32_t));
	st->tcache = realloc(st->tcache, n * sizeof(uint32_t));
	if (st->scache == NULL || st->tcache == NULL)
		oom_check(EVT_ERR_NOMEM);
	memset(st->scache + st->ccap, 0, (n - st->ccap) * sizeof(uint32_t));
	memset(st->tcache + st->ccap, 0, (n - st->ccap) * sizeof(uint32_t));
	st->ccap = n;
}

/* Decodes the JSON string text raw[0..len) (NULL: absent) into out;
 * returns the text, "" when absent or not decodable. */
static const char *
stats_unescape(struct evt_buf *out, const char *raw, size_t len, size_t *n)
{
	*n = 0;
	out->len = 0;
	if (raw == NULL || evt_buf_grow(out, len + 1) != 0)
		return "";
	int k = evt_json_unescape(raw, len, (char *)out->p);
	*n = k > 0 ? (size_t)k : 0;
	return (const char *)out->p;
}

/* Counts one event (EVENT or ITEM record of a MSG frame); returns 1, or 0
 * if it does not pass the source filter. */
static int
stats_event(struct stats *st, struct evt_rdec *d, const struct evt_rec *rec)
{
	const char *s = "", *t = "";
	size_t slen = 0, tlen = 0;
	int64_t ids[2] = {-2, -2};
	if (rec->kind == EVT_K_EVENT) {
		/* The key ids, once per segment (while the dictionary of a
		 * segment read from its start grows, until they are in it). */
		if ((st->kid[0] < 0 || st->kid[1] < 0) &&
		    d->dict->nstr != st->kid_nstr) {
			st->kid[0] = evt_dict_str_find(d->dict, "source", 6);
			st->kid[1] = evt_dict_str_find(d->dict, "type", 4);
			oom_check((int)(st->kid[0] < -1 ? st->kid[0] :
			    st->kid[1]));
			st->kid_nstr = d->dict->nstr;
		}
		evt_rdec_strids(d, rec, st->kid, 2, ids);
		if (ids[0] >= 0 && (s = evt_dict_str(d->dict,
		    (uint32_t)ids[0], &slen)) == NULL)
			ids[0] = -2;
		if (ids[1] >= 0 && (t = evt_dict_str(d->dict,
		    (uint32_t)ids[1], &tlen)) == NULL)
			ids[1] = -2;
		if (ids[0] == -1)
			s = "";
		if (ids[1] == -1)
			t = "";
	}
	if (ids[0] == -2 || ids[1] == -2) {
		/* An ITEM, a long or odd value: from the JSON text. */
		struct evt_ess_event_fields ef = {0};
		st->tmp.len = 0;
		oom_check(evt_rdec_item_json(d, rec, &st->tmp));
		if (evt_ess_event_fields((const char *)st->tmp.p, st->tmp.len,
		    &ef) != 0)
			memset(&ef, 0, sizeof ef);
		s = stats_unescape(&st->sval, ef.source, ef.source_len, &slen);
		t = stats_unescape(&st->tval, ef.type, ef.type_len, &tlen);
		ids[0] = ids[1] = -1;
	}
	stats_cache_fit(st, (uint64_t)(ids[0] > ids[1] ? ids[0] : ids[1]) + 1);
	if (stats_key(st, &st->sources, st->scache, ids[0], s, slen,
	    &st->f) != 0)
		return 0;
	stats_key(st, &st->types, st->tcache, ids[1], t, tlen, NULL);
	st->events++;
	act_add(&st->act, rec->rx_us);
	if (rec->rx_us < st->first)
		st->first = rec->rx_us;
	if (rec->rx_us > st->last)
		st->last = rec->rx_us;
	return 1;
}

/* Keeps the body of a CONFIG marker. */
static void
stats_config(struct stats *st, struct evt_rdec *d, const struct evt_rec *rec,
    const char *path, uint64_t boff)
{
	struct evt_buf tail = {0};
	st->tmp.len = 0;
	int rc = evt_rdec_frame_head(d, rec, &st->tmp, &tail);
	evt_buf_free(&tail);
	if (rc == EVT_ERR_CORRUPT)
		seg_err_cb(NULL, path, boff, d->err);
	oom_check(rc);
	if (rc == 0) {
		st->config.len = 0;
		oom_check(evt_buf_put(&st->config, st->tmp.p, st->tmp.len));
	}
}

/* Keeps the last CONFIG marker received before the time `before` in the
 * segment open in r, if any. */
static void
stats_config_before(struct stats *st, struct evt_segr *r, const char *path,
    int64_t before)
{
	struct evt_rec rec;
	uint64_t boff;
	int rc;
	evt_segr_rewind(r, INT64_MIN);
	while ((rc = evt_segr_next(r, &rec, &boff)) == 1)
		if (rec.kind == EVT_K_CONFIG && rec.rx_us < before)
			stats_config(st, evt_segr_decoder(r), &rec, path, boff);
	oom_check(rc);
}

/* Finds the names for a --from range without a CONFIG marker of its own:
 * the last marker before it, going back segment by segment and passing
 * over those whose index counts no CONFIG frame. */
static void
stats_names_before(struct stats *st, const struct evt_segref *s, size_t n)
{
	for (size_t i = n; i-- > 0 && st->config.len == 0;) {
		struct evt_segr *r;
		if (evt_segr_open(s[i].path, seg_err_cb, NULL, &r) != 0)
			continue;
		const struct evt_seg_info *si = evt_segr_info(r);
		if (!(si->sealed && si->nrecords > 0 &&
		    si->first_rx >= st->f.from) && !(si->sealed &&
		    evt_segr_load_index(r) == 0 && si->frames[EVT_K_CONFIG] ==
		    0))
			stats_config_before(st, r, s[i].path, st->f.from);
		evt_segr_close(r);
	}
}

/* Counts the records of one segment received in the filter's range. */
static void
stats_segment(struct stats *st, size_t i)
{
	size_t n;
	const char *path = evt_archive_segments(arch, &n)[i].path;
	struct evt_segr *r = open_range(i, &st->f);
	if (r == NULL)
		return;
	if (st->ccap > 0) {
		memset(st->scache, 0, st->ccap * sizeof(uint32_t));
		memset(st->tcache, 0, st->ccap * sizeof(uint32_t));
	}
	st->kid[0] = st->kid[1] = -1;
	st->kid_nstr = UINT32_MAX;
	struct evt_rec rec;
	uint64_t boff;
	int in_msg = 0, kept = 0, rc;
	while ((rc = evt_segr_next(r, &rec, &boff)) == 1) {
		if (rec.kind == EVT_K_STRDEF || rec.kind == EVT_K_SHAPEDEF)
			continue;
		int inrange = in_range(&st->f, rec.rx_us);
		if (rec.kind == EVT_K_EVENT || rec.kind == EVT_K_ITEM) {
			if (in_msg && inrange && stats_event(st,
			    evt_segr_decoder(r), &rec) && !kept++)
				st->messages++;
			continue;
		}
		in_msg = rec.kind == EVT_K_MSG;
		kept = 0;
		if (!inrange)
			continue;
		st->frames[rec.kind]++;
		if (rec.kind == EVT_K_CONFIG)
			stats_config(st, evt_segr_decoder(r), &rec, path, boff);
	}
	evt_archive_close_segment(arch, r);
	oom_check(rc);
}

/* Finds the name of key s[0..len) (lower-cased) in names; NULL if none. */
static const struct evt_jtok *
name_of(struct ctab *names, const struct evt_jtok *tok, const char *s,
    size_t len)
{
	char low[EVT_REC_MAX_INTERN + 1];
	if (names->d.nstr == 0 || len >= sizeof low)
		return NULL;
	for (size_t i = 0; i < len; i++)
		low[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 :
		    s[i]);
	/* A lookup that adds is harmless: the new key has count 0. */
	int64_t e = ctab_find(names, low, len);
	if (e < 0 || names->count[e] == 0)
		return NULL;
	return &tok[names->count[e] - 1];
}

/* Reads the names of a CONFIG body's list `list` ([{"id","name"}...]) into
 * names: lower-cased id -> name token index + 1. */
static void
names_load(struct ctab *names, const struct evt_jparser *jp, const char *text,
    const char *list)
{
	const struct evt_jtok *tk = jp->tok;
	if (jp->ntok == 0 || tk[0].type != EVT_J_OBJECT)
		return;
	for (uint32_t i = 1; i < tk[0].next; i = tk[i + 1].next) {
		if (tk[i].len != strlen(list) ||
		    memcmp(text + tk[i].off, list, tk[i].len) != 0 ||
		    tk[i + 1].type != EVT_J_ARRAY)
			continue;
		for (uint32_t j = i + 2; j < tk[i + 1].next; j = tk[j].next) {
			if (tk[j].type != EVT_J_OBJECT)
				continue;
			uint32_t id = 0, name = 0;
			for (uint32_t m = j + 1; m < tk[j].next;
			    m = tk[m + 1].next) {
				const char *k = text + tk[m].off;
				if (tk[m + 1].type != EVT_J_STRING)
					continue;
				if (tk[m].len == 2 && memcmp(k, "id", 2) == 0)
					id = m + 1;
				else if (tk[m].len == 4 &&
				    memcmp(k, "name", 4) == 0)
					name = m + 1;
			}
			if (id == 0 || name == 0 || tk[id].len >
			    EVT_REC_MAX_INTERN)
				continue;
			char low[EVT_REC_MAX_INTERN + 1];
			int n = evt_json_unescape(text + tk[id].off, tk[id].len,
			    low);
			for (int c = 0; c < n; c++)
				if (low[c] >= 'A' && low[c] <= 'Z')
					low[c] = (char)(low[c] + 32);
			int64_t e = n > 0 ? ctab_find(names, low, (size_t)n) :
			    -1;
			if (e >= 0)
				names->count[e] = name + 1;
		}
	}
}

/* Appends s[0..len) to the output, as a JSON string when json, else with
 * control characters shown as '?' (one row stays one line). */
static void
put_str(int json, const char *s, size_t len)
{
	if (json) {
		oom_check(evt_json_put_string(&obuf, s, len));
		return;
	}
	size_t at = obuf.len;
	oom_check(evt_buf_put(&obuf, s, len));
	for (size_t i = at; i < obuf.len; i++)
		if (obuf.p[i] < 0x20 || obuf.p[i] == 0x7f)
			obuf.p[i] = '?';
}

/* Appends printf output to the output buffer. */
static void
oprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
oprintf(const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		oom_check(evt_buf_put(&obuf, tmp, (size_t)n < sizeof tmp ?
		    (size_t)n : sizeof tmp - 1));
}

/* Appends the name token tk of text (a JSON string) as text or JSON. */
static void
put_name(int json, const char *text, const struct evt_jtok *tk)
{
	if (json) {
		oom_check(evt_buf_putc(&obuf, '"'));
		oom_check(evt_buf_put(&obuf, text + tk->off, tk->len));
		oom_check(evt_buf_putc(&obuf, '"'));
		return;
	}
	char *v = malloc(tk->len + 1);
	if (v == NULL)
		oom_check(EVT_ERR_NOMEM);
	int n = evt_json_unescape(text + tk->off, tk->len, v);
	put_str(0, v, n > 0 ? (size_t)n : 0);
	free(v);
}

/* Formats a bucket width: "10s", "5m", "1h", "2d". */
static void
fmt_dur(int64_t us, char out[32])
{
	int64_t s = us / SEC;
	if (s % 86400 == 0)
		snprintf(out, 32, "%" PRId64 "d", s / 86400);
	else if (s % 3600 == 0)
		snprintf(out, 32, "%" PRId64 "h", s / 3600);
	else if (s % 60 == 0)
		snprintf(out, 32, "%" PRId64 "m", s / 60);
	else
		snprintf(out, 32, "%" PRId64 "s", s);
}

/* Formats a time for a row: "YYYY-MM-DDTHH:MM:SSZ" (whole seconds). */
static void
time_sec(int64_t us, char out[28])
{
	evt_time_format_us(us, out);
	out[19] = 'Z';
	out[20] = 0;
}

/* Prints one table (types or sources): the first `top` entries by count,
 * then an "other" row for the rest. */
static void
stats_table(int json, const char *title, const char *key, struct ctab *t,
    uint64_t top, uint64_t total, struct ctab *names,
    const struct evt_jparser *jp, const char *text)
{
	uint32_t n = t->d.nstr;
	uint32_t *order = malloc((n + 1) * sizeof *order);
	if (order == NULL)
		oom_check(EVT_ERR_NOMEM);
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	sort_tab = t;
	qsort(order, n, sizeof *order, id_cmp);
	uint64_t shown = 0, rest = t->other;
	if (json)
		oprintf(",\"%s\":[", title);
	else
		oprintf("\n%s (%" PRIu32 "%s):\n%12s %7s  %s\n", title, n,
		    t->other ? "+" : "", "count", "%", key);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t cnt = t->count[order[i]];
		if (shown >= top) {
			rest += cnt;
			continue;
		}
		size_t len;
		const char *k = evt_dict_str(&t->d, order[i], &len);
		const struct evt_jtok *nm = name_of(names, jp->tok, k, len);
		double pct = total ? 100.0 * (double)cnt / (double)total : 0;
		if (json) {
			oprintf("%s{\"%s\":", shown ? "," : "", key);
			put_str(1, k, len);
			oprintf(",\"name\":");
			if (nm != NULL)
				put_name(1, text, nm);
			else
				oprintf("null");
			oprintf(",\"count\":%" PRIu64 ",\"percent\":%.2f}",
			    cnt, pct);
		} else {
			oprintf("%12" PRIu64 " %6.2f%%  ", cnt, pct);
			if (nm != NULL) {
				put_name(0, text, nm);
				oprintf(" (");
			}
			if (len == 0)
				oprintf("(none)");
			put_str(0, k, len);
			oprintf("%s\n", nm != NULL ? ")" : "");
		}
		shown++;
		omaybe();
	}
	if (json) {
		oprintf("],\"%s_distinct\":%" PRIu32 ",\"%s_other\":%" PRIu64,
		    title, n, title, rest);
	} else if (rest > 0) {
		oprintf("%12" PRIu64 " %6.2f%%  (other)\n", rest,
		    total ? 100.0 * (double)rest / (double)total : 0);
	}
	free(order);
}

/* Prints the whole report. */
static void
stats_print(struct stats *st, const char *dir, int json, uint64_t top)
{
	char t1[28], t2[28];
	struct evt_jparser jp;
	struct ctab tnames = {0}, snames = {0};
	evt_dict_init(&tnames.d);
	evt_dict_init(&snames.d);
	const char *cfg = (const char *)st->config.p;
	evt_json_init(&jp, 0);
	if (st->config.len > 0 &&
	    evt_json_parse(&jp, cfg, st->config.len) > 0) {
		names_load(&tnames, &jp, cfg, "eventTypes");
		names_load(&snames, &jp, cfg, "sources");
	}
	/* The display width: auto, the first of the ladder with at most
	 * STATS_ROWS rows. */
	struct activity *a = &st->act;
	int64_t w = a->w, lo = a->lo * a->w, hi = a->hi * a->w;
	while (!a->user && fdiv(hi, w) - fdiv(lo, w) + 1 > STATS_ROWS)
		w = auto_next(w);
	uint64_t peak = 0;
	int64_t peak_at = 0;
	size_t nrows = a->any ? (size_t)(fdiv(hi, w) - fdiv(lo, w) + 1) : 0;
	uint64_t *rows = calloc(nrows + 1, sizeof *rows);
	if (rows == NULL)
		oom_check(EVT_ERR_NOMEM);
	for (int64_t k = a->lo; a->any && k <= a->hi; k++)
		rows[fdiv(k * a->w, w) - fdiv(lo, w)] += a->slot[k - a->base];
	for (size_t i = 0; i < nrows; i++)
		if (rows[i] > peak) {
			peak = rows[i];
			peak_at = (fdiv(lo, w) + (int64_t)i) * w;
		}
	char wname[32];
	fmt_dur(w, wname);
	double span = st->events ? (double)(st->last - st->first) / 1e6 : 0;
	double mean = span > 0 ? (double)st->events / span : 0;
	double peak_rate = (double)peak / ((double)w / 1e6);
	if (st->events) {
		evt_time_format_us(st->first, t1);
		evt_time_format_us(st->last, t2);
	}
	if (json) {
		oprintf("{\"archive\":");
		put_str(1, dir, strlen(dir));
		if (st->events)
			oprintf(",\"first\":\"%s\",\"first_us\":%" PRId64
			    ",\"last\":\"%s\",\"last_us\":%" PRId64
			    ",\"span_s\":%.6f", t1, st->first, t2, st->last,
			    span);
		else
			oprintf(",\"first\":null,\"first_us\":null,\"last\":"
			    "null,\"last_us\":null,\"span_s\":0");
		oprintf(",\"events\":%" PRIu64 ",\"messages\":%" PRIu64
		    ",\"mean_rate\":%.3f,\"peak_rate\":%.3f", st->events,
		    st->messages, mean, peak_rate);
		if (peak) {
			time_sec(peak_at, t1);
			oprintf(",\"peak_at\":\"%s\"", t1);
		} else {
			oprintf(",\"peak_at\":null");
		}
		oprintf(",\"state_snapshots\":%" PRIu64 ",\"sessions\":%"
		    PRIu64 ",\"gaps\":%" PRIu64 ",\"configs\":%" PRIu64
		    ",\"raw_frames\":%" PRIu64 ",\"damaged\":%" PRIu64,
		    st->frames[EVT_K_STATES], st->frames[EVT_K_SESSION],
		    st->frames[EVT_K_GAP], st->frames[EVT_K_CONFIG],
		    st->frames[EVT_K_RAW], problems);
	} else {
		oprintf("archive:         %s\n", dir);
		if (st->events)
			oprintf("first received:  %s\nlast received:   %s\n"
			    "span:            %.3f s\n", t1, t2, span);
		oprintf("events:          %" PRIu64 "\nmessages:        %"
		    PRIu64 "\n", st->events, st->messages);
		if (span > 0)
			oprintf("mean rate:       %.1f events/s\n", mean);
		if (peak) {
			time_sec(peak_at, t1);
			oprintf("peak rate:       %.1f events/s (busiest %s "
			    "bucket, from %s)\n", peak_rate, wname, t1);
		}
		oprintf("state snapshots: %" PRIu64 "\nsessions:        %"
		    PRIu64 "\ngaps:            %" PRIu64 "%s\n"
		    "raw frames:      %" PRIu64 "\ndamaged:         %" PRIu64
		    "%s\n", st->frames[EVT_K_STATES],
		    st->frames[EVT_K_SESSION], st->frames[EVT_K_GAP],
		    st->frames[EVT_K_GAP] ? " (events may be missing)" : "",
		    st->frames[EVT_K_RAW], problems,
		    problems ? " (skipped; see the warnings)" : "");
	}
	stats_table(json, "types", "type", &st->types, UINT64_MAX,
	    st->events, &tnames, &jp, cfg);
	stats_table(json, "sources", "source", &st->sources, top, st->events,
	    &snames, &jp, cfg);
	if (json)
		oprintf(",\"bucket_s\":%.6g,\"activity\":[", (double)w / 1e6);
	else if (nrows > 0)
		oprintf("\nevents per %s:\n", wname);
	for (size_t i = 0; i < nrows; i++) {
		int64_t at = (fdiv(lo, w) + (int64_t)i) * w;
		time_sec(at, t1);
		if (json) {
			oprintf("%s{\"start\":\"%s\",\"start_us\":%" PRId64
			    ",\"count\":%" PRIu64 "}", i ? "," : "", t1, at,
			    rows[i]);
			continue;
		}
		int bar = (int)((rows[i] * 50 + peak - 1) / peak);
		oprintf("%s %10" PRIu64 "  ", t1, rows[i]);
		for (int b = 0; b < bar; b++)
			oom_check(evt_buf_putc(&obuf, '#'));
		oom_check(evt_buf_putc(&obuf, '\n'));
		omaybe();
	}
	if (json)
		oprintf("]}\n");
	oflush();
	free(rows);
	ctab_free(&tnames);
	ctab_free(&snames);
	evt_json_free(&jp);
}

/* Parses the options of stats into st and the output settings; returns
 * 0 or EX_USAGE (said). */
static int
stats_opts(int argc, char **argv, struct stats *st, int *json,
    uint64_t *top)
{
	static const struct option lo[] = {
		FILTER_OPTIONS,
		{"top", required_argument, NULL, 'n'},
		{"bucket", required_argument, NULL, 'b'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			*top = strtoull(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != 0 ||
			    optarg[0] == '-') {
				errx_msg("--top: a number");
				return EX_USAGE;
			}
			break;
		case 'b':
			if (evt_duration_parse(optarg, &st->act.w) != 0 ||
			    st->act.w < SEC || st->act.w % SEC != 0) {
				errx_msg("--bucket: whole seconds (10s, 5m, "
				    "1h, 1d)");
				return EX_USAGE;
			}
			st->act.user = 1;
			st->act.cap = STATS_USER_SLOTS;
			break;
		case 'j': *json = 1; break;
		case 'y':
			errx_msg("stats counts every type; it takes no --type");
			return EX_USAGE;
		default:
			if (!filter_opt(&st->f, c, optarg))
				return EX_USAGE;
			break;
		}
	}
	if (argc - optind != 1) {
		errx_msg("usage: evtool stats [--from T] [--to T] "
		    "[--source S]... [--top N] [--bucket DUR] [--json] DIR");
		return EX_USAGE;
	}
	return 0;
}

static int
cmd_stats(int argc, char **argv)
{
	struct stats st = {.first = INT64_MAX, .last = INT64_MIN};
	int json = 0;
	uint64_t top = 10;
	filter_init(&st.f, argc);
	st.act.w = SEC;
	st.act.cap = STATS_AUTO_SLOTS;
	int rc = stats_opts(argc, argv, &st, &json, &top);
	if (rc != 0) {
		filter_free(&st.f);
		return rc;
	}
	int64_t want = st.act.w;
	evt_dict_init(&st.types.d);
	evt_dict_init(&st.sources.d);
	st.act.slot = calloc(st.act.cap, sizeof *st.act.slot);
	if (st.act.slot == NULL)
		oom_check(EVT_ERR_NOMEM);
	struct evt_archive *a = open_archive(argv[optind], 0, NULL);
	size_t n;
	const struct evt_segref *s = evt_archive_segments(a, &n);
	for (size_t i = 0; i < n; i++)
		stats_segment(&st, i);
	if (st.config.len == 0 && st.f.from != INT64_MIN)
		stats_names_before(&st, s, n);
	stats_print(&st, argv[optind], json, top);
	archive_lost_summary(argv[optind]);
	evt_archive_close(a);
	if (st.act.user && st.act.w != want)
		fprintf(stderr, "%s: --bucket: widened to %" PRId64 " s to stay "
		    "within %u rows\n", progname, st.act.w / SEC,
		    STATS_USER_SLOTS);
	ctab_free(&st.types);
	ctab_free(&st.sources);
	free(st.act.slot);
	free(st.scache);
	free(st.tcache);
	evt_buf_free(&st.config);
	evt_buf_free(&st.tmp);
	evt_buf_free(&st.key);
	evt_buf_free(&st.sval);
	evt_buf_free(&st.tval);
	filter_free(&st.f);
	return problems ? EX_NOTFOUND : 0;
}

/* Prints the usage summary. */
static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: evtool COMMAND [options] DIR ...\n"
	    "  import [--level N] [--block-size S] [--dict-unit S|segment]\n"
	    "         [--layout 1.1] [--segment-size S] [--segment-age D]\n"
	    "         DIR [FILE]\n"
	    "                     read \"<rx us>\\t<message>\" lines\n"
	    "  cat [--messages|--tsv|--markers] [--from T] [--to T]\n"
	    "      [--source S]... [--type T]... DIR\n"
	    "                     print events (one JSON object per line);\n"
	    "                     --markers: \"<rx us>\\t<KIND>\\t<body>\"\n"
	    "  get [--meta] DIR ID print one event by id\n"
	    "  state [--at T] [--source S]... DIR\n"
	    "                     the states as of T (getState), JSON lines\n"
	    "  info DIR           counts, time span, size\n"
	    "  stats [--from T] [--to T] [--source S]... [--top N]\n"
	    "        [--bucket DUR] [--json] DIR\n"
	    "                     activity: span, rates, events by type, the\n"
	    "                     top N sources (10; names from the CONFIG\n"
	    "                     marker),\n"
	    "                     events per time bucket (at most 48 rows\n"
	    "                     unless --bucket), snapshots, sessions, gaps,\n"
	    "                     raw frames, damaged blocks; --json: one object\n"
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
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(argc, argv);
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
