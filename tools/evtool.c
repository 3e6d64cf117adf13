/*
 * evtool: the archive tool.
 *
 *   evtool import DIR [FILE]       lines "<rx us>\t<message>" -> archive
 *   evtool cat DIR [filters]       events (or messages, or TSV) as JSON
 *   evtool get DIR ID [--meta]     one event by id
 *   evtool state DIR [--at T]      the states (getState) as of a time
 *   evtool info DIR                counts, time span, sizes
 *   evtool stats DIR [filters]     activity: types, sources, time buckets
 *                                  (both from the segments' summaries and
 *                                  indexes where they answer; --scan: from
 *                                  the events)
 *   evtool report DIR -o F.html    an HTML incident report (report.c)
 *   evtool cut DIR OUT --from --to a window as a new archive (cut.c)
 *   evtool ls DIR                  one line per segment
 *   evtool verify DIR              check everything; exit 1 on damage
 *   evtool repair DIR              rewrite damaged segments from what reads
 *   evtool prune DIR --max-bytes N --max-age D
 *
 * Option values, messages, stdout and exit statuses (EVT_EXIT_*) are the
 * command-line layer's (cli.h).  The engines are in the library: stats.c
 * (the activity picture), verify.c (the verifier of verify and repair),
 * select.c (what cat, state and stats select), tsv.c (import's lines),
 * names.c (names from the CONFIG markers: --names, -o text, name
 * filters, the state viewer).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include "evtape/archive.h"
#include "evtape/catalog.h"
#include "evtape/cli.h"
#include "evtape/cursor.h"
#include "evtape/cut.h"
#include "evtape/err.h"
#include "evtape/follow.h"
#include "evtape/names.h"
#include "evtape/record.h"
#include "evtape/report.h"
#include "evtape/segment.h"
#include "evtape/select.h"
#include "evtape/state.h"
#include "evtape/stats.h"
#include "evtape/summary.h"
#include "evtape/timefmt.h"
#include "evtape/tsv.h"
#include "evtape/idindex.h"
#include "evtape/merge.h"
#include "evtape/rollup.h"
#include "evtape/verify.h"

/* The archive being read (open_archive): readers open its segments
 * through it, which reports and tallies what cannot be read. */
static struct evt_archive *arch;

/* Says why archive dir could not be opened (evt_archive_open's rc) and
 * exits. */
static void __attribute__((noreturn))
open_failed(const char *dir, int rc)
{
	if (rc == EVT_ERR_EXISTS)
		evt_cli_fatal("%s: archive is locked by another writer", dir);
	if (rc == EVT_ERR_NOTFOUND)
		evt_cli_fatal("%s: no such archive directory", dir);
	evt_cli_fatal("%s: %s%s%s", dir, evt_strerror(rc),
	    rc == EVT_ERR_IO ? ": " : "", rc == EVT_ERR_IO ? strerror(errno) :
	    "");
}

/* Opens an archive or exits with a message. */
static struct evt_archive *
open_archive(const char *dir, int flags, const struct evt_archive_opts *o)
{
	struct evt_archive *a;
	int rc = evt_archive_open(dir, flags, o, evt_cli_damage_cb,
	    evt_cli_warn_cb, NULL, &a);
	if (rc != 0)
		open_failed(dir, rc);
	return arch = a;
}

/* Exits on out of memory. */
static void
oom_check(int rc)
{
	if (rc == EVT_ERR_NOMEM)
		evt_cli_fatal("out of memory");
}

/* The stdout buffer of the command-line layer (main sets it). */
static struct evt_buf *obuf;

/* Writes the output buffer to stdout; a write error (said, but for a
 * reader that went away) ends the program. */
static void
oflush(void)
{
	if (evt_cli_out_flush() != 0)
		exit(EVT_EXIT_FAIL);
}

/* Writes the output buffer out once it holds a batch. */
static void
omaybe(void)
{
	if (evt_cli_out_maybe() != 0)
		exit(EVT_EXIT_FAIL);
}

/* Appends printf output to the stdout buffer. */
static void
outf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
outf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	oom_check(evt_buf_grow(obuf, (size_t)n + 1));
	va_start(ap, fmt);
	vsnprintf((char *)obuf->p + obuf->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	obuf->len += (size_t)n;
	omaybe();
}

/*
 * Command lines
 */

/* One subcommand's command line: its long options and their handler, and
 * how many operands it takes. */
struct cmdline {
	const char *usage;		/* what follows "usage: evtool " */
	const struct option *opts;	/* NULL: none (no getopt at all) */
	int (*opt)(void *ctx, int c, char *arg); /* 0; not 0: not its option */
	int min, max;			/* operands */
};

/* getopt's short options for the long options o: -o and -v where the
 * command takes --output and --verbose (OUT_OPTIONS, below), and -f
 * where it takes --follow too (cat). */
static const char *
short_options(const struct option *o)
{
	int out = 0, follow = 0;
	for (; o->name != NULL; o++) {
		out |= strcmp(o->name, "output") == 0;
		follow |= strcmp(o->name, "follow") == 0;
	}
	return out ? (follow ? ":o:vf" : ":o:v") : ":";
}

/* Parses the options of argv by cl into ctx; returns the index of the
 * first operand.  A usage error is said and ends the program (status 2). */
static int
parse_cmdline(const struct cmdline *cl, void *ctx, int argc, char **argv)
{
	int c;
	optind = 1;
	opterr = 0;
	while (cl->opts != NULL && (c = getopt_long(argc, argv,
	    short_options(cl->opts), cl->opts, NULL)) != -1) {
		const char *o = argv[optind - 1];
		if (c == ':')
			evt_cli_usage_err("%s: needs a value", o);
		if (c == '?' || cl->opt(ctx, c, optarg) != 0)
			evt_cli_usage_err("%s: unknown option", o);
	}
	if (argc - optind < cl->min || argc - optind > cl->max)
		evt_cli_usage_err("usage: evtool %s", cl->usage);
	return optind;
}

/* The long options of a selection (cat, stats, state): --from, --to,
 * --source, --type, handled by sel_opt. */
#define OPT_FROM 0x100 /* not 'f': cat's -f is --follow */
#define OPT_SITE 0x101 /* --site (cat, stats) */
#define SEL_OPTIONS \
	{"from", required_argument, NULL, OPT_FROM}, \
	{"to", required_argument, NULL, 'T'}, \
	{"source", required_argument, NULL, 's'}, \
	{"type", required_argument, NULL, 'y'}

/* Prepares an empty selection for the options of argc arguments. */
static void
sel_init(struct evt_sel *s, int argc)
{
	oom_check(evt_sel_init(s, (size_t)argc));
}

/* Applies getopt_long result c (one of SEL_OPTIONS) with its argument to
 * s; returns 1, or 0 if c is not a selection option. */
static int
sel_opt(struct evt_sel *s, int c, char *arg)
{
	switch (c) {
	case OPT_FROM: s->from = evt_cli_time_arg("--from", arg); return 1;
	case 'T': s->to = evt_cli_time_arg("--to", arg); return 1;
	case 's': s->sources[s->nsources++] = arg; return 1;
	case 'y': s->types[s->ntypes++] = arg; return 1;
	case OPT_SITE: s->sites[s->nsites++] = arg; return 1;
	default: return 0;
	}
}

/* How events are printed: --names, -o text, --utc, -v. */
struct outopts {
	int names, text, utc, verbose;
};

/* The long options of the event printers (cat, get, state), handled by
 * out_opt; -o and -v are short forms (short_options). */
#define OUT_OPTIONS \
	{"names", no_argument, NULL, 'N'}, \
	{"output", required_argument, NULL, 'o'}, \
	{"utc", no_argument, NULL, 'U'}, \
	{"verbose", no_argument, NULL, 'v'}

/* Applies getopt_long result c (one of OUT_OPTIONS) to o; returns 1, or 0
 * if c is not a printer option. */
static int
out_opt(struct outopts *o, int c, char *arg)
{
	static const char *const forms[] = {"json", "text", NULL};
	switch (c) {
	case 'N': o->names = 1; return 1;
	case 'o': o->text = evt_cli_choice_arg("-o", arg, forms) == 1;
		return 1;
	case 'U': o->utc = 1; return 1;
	case 'v': o->verbose = 1; return 1;
	default: return 0;
	}
}

/* The names of the archive's CONFIG markers (names_setup), how events
 * are printed, and the text form's state. */
static struct evt_names *cfgnames;
static struct outopts outo;
static struct evt_names_text textfmt;

/* Whether a selection holds an entry that may be a name (not a GUID or
 * a "type/guid" id): then the names must be read. */
static int
sel_has_names(const struct evt_sel *s)
{
	for (size_t i = 0; i < s->nsources + s->ntypes; i++) {
		const char *e = i < s->nsources ? s->sources[i] :
		    s->types[i - s->nsources];
		if (strchr(e, '/') == NULL && strlen(e) != 36)
			return 1;
	}
	return 0;
}

/* Reads the names of archive dir when the printer options o or the
 * selection sel (NULL: none) need them, and turns the selection's names
 * into ids (an unknown or ambiguous name is a usage error listing the
 * candidates). */
static void
names_setup(const char *dir, const struct outopts *o, struct evt_sel *sel)
{
	outo = *o;
	if (!o->names && !o->text && (sel == NULL || !sel_has_names(sel)))
		return;
	struct evt_archive *a;
	/* Its own handle, quiet: the reading that follows reports. */
	int rc = evt_archive_open(dir, EVT_AR_NO_SIZES, NULL, NULL, NULL,
	    NULL, &a);
	if (rc != 0)
		open_failed(dir, rc);
	if ((cfgnames = evt_names_new()) == NULL)
		oom_check(EVT_ERR_NOMEM);
	oom_check(evt_names_read(a, dir, cfgnames));
	evt_archive_close(a);
	evt_names_text_init(&textfmt, cfgnames, o->utc, o->verbose);
	if (sel == NULL)
		return;
	struct evt_buf why = {0};
	rc = evt_sel_resolve(sel, cfgnames, &why);
	oom_check(rc);
	if (rc != 0)
		evt_cli_usage_err("%.*s", (int)why.len, (const char *)why.p);
	evt_buf_free(&why);
}

/* Ends the line of the event object text at obuf[mark..): with --names
 * its names added, with -o text turned into a text line. */
static void
emit_event(size_t mark, int64_t rx)
{
	if (outo.text) {
		oom_check(evt_names_put_text(cfgnames, &textfmt, obuf, mark, rx));
		return;
	}
	if (outo.names)
		oom_check(evt_names_put_json(cfgnames, obuf, mark, rx));
	oom_check(evt_buf_putc(obuf, '\n'));
}

/* Damaged places of unknown count that cat -f found (its follower's
 * tally, the archive's being cat's own). */
static uint64_t follow_unknown;

/* lost_summary of the archive's tally. */
static void
archive_lost_summary(const char *dir)
{
	uint64_t ev, unk;
	evt_archive_lost(arch, &ev, &unk);
	unk += follow_unknown;
	evt_cli_lost_summary(dir, ev, unk);
}

/*
 * import
 */

/* Applies one option of import to the archive options ctx. */
static int
import_opt(void *ctx, int c, char *arg)
{
	struct evt_archive_opts *o = ctx;
	uint64_t v;
	switch (c) {
	case 'l':
		v = evt_cli_count_arg("--level", arg);
		if (v < 1 || v > 22)
			evt_cli_range_err("--level", arg, "1..22");
		o->seg.level = (int)v;
		return 0;
	case 'b':
		v = evt_cli_size_arg("--block-size", arg);
		if (v < 1024 || v > (1u << 28))
			evt_cli_range_err("--block-size", arg, "1k..256M");
		o->seg.block_bytes = v;
		return 0;
	case 'u':
		if (strcmp(arg, "segment") == 0)
			v = EVT_UNIT_SEGMENT;
		else if ((v = evt_cli_size_arg("--dict-unit", arg)) < 1)
			evt_cli_range_err("--dict-unit", arg, "at least 1, or "
			    "segment");
		o->seg.unit_bytes = v;
		return 0;
	case 'L':
		/* What a revision 1.5 writer wrote (columnar form 1: the
		 * baseline of the size benchmark), 1.1 (the baseline of the
		 * damage benchmark), or 1.2 (row blocks). */
		/* Every layout before revision 1.7 wrote no state
		 * checkpoint; 1.6 is otherwise today's. */
		o->seg.no_checkpoint = 1;
		if (strcmp(arg, "1.6") == 0)
			return 0;
		if (strcmp(arg, "1.5") == 0) {
			o->seg.colform1 = 1;
			if (o->seg.unit_bytes == 0)
				o->seg.unit_bytes = EVT_UNIT_BYTES_15;
			return 0;
		}
		o->seg.no_filter = 0; /* both wrote a filter per segment */
		if (strcmp(arg, "1.2") == 0) {
			o->seg.row_blocks = 1;
			o->seg.no_summary = 1;
			return 0;
		}
		if (strcmp(arg, "1.1") != 0)
			evt_cli_usage_err("--layout: \"%s\" is not a layout "
			    "(1.1, 1.2, 1.5, 1.6)", arg);
		o->seg.row_blocks = 1;
		o->seg.unit_bytes = EVT_UNIT_SEGMENT;
		o->seg.no_checks = 1;
		o->seg.no_summary = 1;
		if (o->seg.block_bytes == 0)
			o->seg.block_bytes = 256u << 10;
		return 0;
	case 'F':
		/* The default: lookups read the id index
		 * (formats/idindex.md), else the GUID columns. */
		o->seg.no_filter = 1;
		return 0;
	case 'f':
		/* What writers before issue 12 did: lookups also work
		 * without the index, and readers before revision 1.3 see
		 * the segments sealed. */
		o->seg.no_filter = 0;
		return 0;
	case 's':
		o->seg_bytes = evt_cli_size_arg("--segment-size", arg);
		if (o->seg_bytes < 4096)
			evt_cli_range_err("--segment-size", arg, "at least 4k");
		return 0;
	default: /* 'a' */
		o->seg_age_us = evt_cli_duration_arg("--segment-age", arg);
		if (o->seg_age_us <= 0)
			evt_cli_range_err("--segment-age", arg, "more than 0");
		return 0;
	}
}

static const struct option import_lo[] = {
	{"level", required_argument, NULL, 'l'},
	{"block-size", required_argument, NULL, 'b'},
	{"dict-unit", required_argument, NULL, 'u'},
	{"layout", required_argument, NULL, 'L'},
	{"segment-size", required_argument, NULL, 's'},
	{"segment-age", required_argument, NULL, 'a'},
	{"no-segment-filter", no_argument, NULL, 'F'},
	{"segment-filter", no_argument, NULL, 'f'},
	{NULL, 0, NULL, 0},
};
static const struct cmdline import_cl = {"import [options] DIR [FILE]",
    import_lo, import_opt, 1, 2};

/* An import under way: the input and what became of its lines. */
struct import {
	const char *iname;
	uint64_t lines, refused, incomplete;
	uint64_t frames[EVT_K_MAX + 1];
};

/* Prints a warning about line im->lines of the input. */
static void
line_warn(const struct import *im, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
line_warn(const struct import *im, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	evt_cli_err("%s: line %" PRIu64 ": %s", im->iname, im->lines, what);
}

/* Opens the input named name ("-" or none: stdin); NULL if it cannot be
 * opened (said). */
static FILE *
import_input(const char *name, const char **iname)
{
	*iname = "<stdin>";
	if (name == NULL || strcmp(name, "-") == 0)
		return stdin;
	*iname = name;
	FILE *in = fopen(name, "rb");
	if (in == NULL)
		evt_cli_err("%s: %s", name, strerror(errno));
	return in;
}

/* Says why the frame of the current line was kept raw, the first ten
 * times; then once that there are more. */
static void
raw_warn(const struct import *im, const struct evt_archive *a)
{
	uint64_t n = im->frames[EVT_K_RAW];
	size_t off;
	if (n <= 10) {
		int why = evt_archive_raw_reason(a, &off);
		line_warn(im, "%s at byte %zu; kept as a raw frame",
		    evt_strerror(why), off);
	} else if (n == 11) {
		evt_cli_err("%s: more raw frames; not reporting each",
		    im->iname);
	}
}

/* Imports one line (LF removed) into a: refused lines and raw frames
 * are reported, the first ten of each.  Returns 0, or EVT_EXIT_FAIL when
 * the archive cannot take it (said). */
static int
import_line(struct import *im, struct evt_archive *a, char *line, size_t n)
{
	struct evt_tsv_line tl;
	int pr = evt_tsv_parse(line, n, &tl);
	if (pr == 0)
		return 0;
	if (pr < 0) {
		/* The rest of the file may well be good. */
		if (++im->refused <= 10)
			line_warn(im, "%s; line not imported", tl.err);
		return 0;
	}
	if (tl.incomplete && ++im->incomplete <= 10)
		line_warn(im, "a message marked incomplete (items lost to "
		    "damage); imported as it is");
	int64_t rx = tl.has_rx ? tl.rx_us : evt_wall_us();
	int k = evt_archive_frame(a, rx, tl.text, tl.len);
	if (k < 0) {
		evt_cli_err("%s: line %" PRIu64 ": %s", im->iname, im->lines,
		    evt_strerror(k));
		return EVT_EXIT_FAIL;
	}
	im->frames[k]++;
	if (k == EVT_K_RAW)
		raw_warn(im, a);
	return 0;
}

/* Imports every line of in into a; returns 0 or EVT_EXIT_FAIL (said). */
static int
import_lines(struct import *im, struct evt_archive *a, FILE *in)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;
	while (rc == 0 && (n = getline(&line, &cap, in)) > 0) {
		im->lines++;
		if (line[n - 1] == '\n')
			n--;
		rc = import_line(im, a, line, (size_t)n);
	}
	if (ferror(in)) {
		evt_cli_err("%s: %s", im->iname, strerror(errno));
		rc = EVT_EXIT_FAIL;
	}
	free(line);
	return rc;
}

/* Prints what the import did; returns rc, or EVT_EXIT_PARTIAL when lines
 * were refused and nothing else failed. */
static int
import_report(const struct import *im, int rc)
{
	const uint64_t *f = im->frames;
	evt_cli_err("imported %" PRIu64 " lines: %" PRIu64 " messages, %"
	    PRIu64 " states, %" PRIu64 " other JSON, %" PRIu64 " raw (not "
	    "JSON)",
	    im->lines, f[EVT_K_MSG], f[EVT_K_STATES], f[EVT_K_JSON],
	    f[EVT_K_RAW]);
	if (im->refused > 0) {
		evt_cli_err("%s: %" PRIu64 " line(s) not imported", im->iname,
		    im->refused);
		if (rc == 0)
			rc = EVT_EXIT_PARTIAL;
	}
	if (im->incomplete > 10)
		evt_cli_err("%s: %" PRIu64 " messages marked incomplete",
		    im->iname, im->incomplete);
	return rc;
}

/* Makes what an import wrote durable: the file system holding the
 * archive dir is synced (syncfs), the segments and names at once.
 * Returns 0 or EVT_ERR_IO. */
static int
sync_archive(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return EVT_ERR_IO;
	int rc = syncfs(fd);
	close(fd);
	return rc == 0 ? 0 : EVT_ERR_IO;
}

/* Reads "<rx us>\t<message>" lines (formats/tsv.md) into an archive. */
static int
cmd_import(int argc, char **argv)
{
	/* Segments rely on the archive's id index by default. */
	struct evt_archive_opts o = {.seg.no_filter = 1};
	struct import im = {0};
	int i = parse_cmdline(&import_cl, &o, argc, argv);
	if (o.seg.level == 0 && !o.seg.row_blocks)
		o.seg.level = EVT_LEVEL_DEFAULT;
	const char *dir = argv[i];
	FILE *in = import_input(argc - i == 2 ? argv[i + 1] : NULL, &im.iname);
	if (in == NULL)
		return EVT_EXIT_FAIL;
	/* No fsync per block or segment: three per segment were most of
	 * an import into thousands of small segments; the archive is
	 * synced once at the end (sync_archive). */
	o.seg.fsync = EVT_FSYNC_NEVER;
	struct evt_archive *a = open_archive(dir, EVT_AR_WRITE | EVT_AR_CREATE,
	    &o);
	int rc = import_lines(&im, a, in);
	if (in != stdin)
		fclose(in);
	int crc = evt_archive_close(a);
	if (crc == 0)
		crc = sync_archive(dir);
	if (crc != 0) {
		evt_cli_err("%s: sealing: %s", dir, evt_strerror(crc));
		rc = EVT_EXIT_FAIL;
	}
	return import_report(&im, rc);
}
/* --site: the site of the records read now, the site of the last
 * SESSION marker read (formats/records.md, "Central archives"; before
 * any: the site ""), and the sites met. */
static struct evt_siter sitet;
static int site_ready;

/* Whether the records read now are of a selected site. */
static int
site_cur(const struct evt_sel *f)
{
	if (!site_ready)
		evt_siter_init(&sitet, f);
	site_ready = 1;
	return sitet.on;
}

/* A SESSION marker body was read: the site of what follows. */
static void
site_body(const struct evt_sel *f, const void *body, size_t len)
{
	if (f->nsites == 0)
		return;
	site_cur(f);
	oom_check(evt_siter_marker(&sitet, body, len));
}

/* Says "DIR: no site matching --site" (with the sites t met) when the
 * --site list of f selected none of them, nor the records before the
 * first marker; returns 1 then (exit status 1: not found), else 0. */
static int
site_none(const char *dir, const struct evt_sel *f, const struct evt_siter *t)
{
	if (f->nsites == 0 || evt_siter_count(t, 1) > 0 ||
	    evt_sel_site(f, ""))
		return 0;
	struct evt_buf l = {0};
	oom_check(evt_siter_list(t, 0, &l));
	evt_cli_err("%s: no record of a site matching --site %s%s (sites "
	    "read: %.*s)", dir, f->sites[0], f->nsites > 1 ? " ..." : "",
	    (int)l.len, l.len > 0 ? (const char *)l.p : "none");
	evt_buf_free(&l);
	return 1;
}

/* Gives t the SESSION record rec of decoder d (one that does not decode
 * leaves the site as it was: reported by the reading). */
static void
siter_rec(struct evt_siter *t, struct evt_rdec *d, const struct evt_rec *rec)
{
	struct evt_buf body = {0}, tail = {0};
	int rc = evt_rdec_frame_head(d, rec, &body, &tail);
	oom_check(rc);
	if (rc == 0)
		oom_check(evt_siter_marker(t, (const char *)body.p, body.len));
	evt_buf_free(&body);
	evt_buf_free(&tail);
}

/* site_body for a SESSION record rec of decoder d (--site only). */
static void
site_rec(const struct evt_sel *f, struct evt_rdec *d,
    const struct evt_rec *rec)
{
	if (f->nsites == 0 || rec->kind != EVT_K_SESSION)
		return;
	site_cur(f);
	siter_rec(&sitet, d, rec);
}

/* Opens segment i of the archive positioned at the receive time f->from;
 * NULL if it cannot be opened (reported) or is sealed and holds nothing
 * received in [f->from, f->to). */
static struct evt_segr *
open_range(size_t i, const struct evt_sel *f)
{
	struct evt_segr *r;
	if ((f->from != INT64_MIN || f->to != INT64_MAX) &&
	    evt_archive_segment_outside(arch, i, f->from, f->to))
		return NULL;	/* the catalog's time table says so */
	if (evt_archive_open_segment(arch, i, &r) != 0)
		return NULL;
	const struct evt_seg_info *si = evt_segr_info(r);
	if (si->sealed && (si->last_rx < f->from || (f->to != INT64_MAX &&
	    si->first_rx >= f->to)) && si->nrecords > 0) {
		evt_segr_close(r);
		return NULL;
	}
	/* --site: from the segment's start, for the SESSION marker (the
	 * first record of a segment) that names the site. */
	evt_segr_rewind(r, f->nsites > 0 ? INT64_MIN : f->from);
	/* Blocks received wholly after --to are not even read (a window
	 * early in a big segment decoded the rest of it). */
	evt_segr_set_end(r, f->to);
	return r;
}

/* Appends a receive time prefix "<us>\t". */
static void
put_rx(int64_t rx)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%" PRId64 "\t", rx);
	oom_check(evt_buf_put(obuf, tmp, (size_t)n));
}

enum cat_mode { CAT_EVENTS, CAT_MESSAGES, CAT_TSV, CAT_MARKERS };

/* cat -f: set by SIGINT and SIGTERM, and by the first frame received at
 * or after --to; the readers below stop at it. */
static volatile sig_atomic_t cat_stop;
static int cat_following;

/* Whether cat stops before a frame received at rx (see cat_stop). */
static int
cat_stops(const struct evt_sel *f, int64_t rx)
{
	if (cat_following && f->to != INT64_MAX && rx >= f->to)
		cat_stop = 1;
	return cat_stop;
}

/* Keeps the items of a --messages frame that pass the filters. */
static int
keep_cb(void *arg, int frame_kind, uint32_t kept, struct evt_rdec *d,
    const struct evt_rec *rec)
{
	const struct evt_sel *f = arg;
	if (rec->kind == EVT_K_EVENT)
		return evt_sel_event(f, d, rec);
	return f->nsources == 0 && f->ntypes == 0;
}

/* cat -f with names: takes the names of a CONFIG marker read (those
 * recorded after the start are new; the others are dropped as
 * repetitions). */
static void
names_follow(struct evt_rdec *d, const struct evt_rec *rec)
{
	struct evt_buf body = {0}, tail = {0};
	int rc = evt_rdec_frame_head(d, rec, &body, &tail);
	oom_check(rc);
	if (rc == 0) {
		oom_check(evt_names_add(cfgnames, rec->rx_us,
		    (const char *)body.p, body.len));
		oom_check(evt_names_finish(cfgnames));
		evt_names_text_init(&textfmt, cfgnames, outo.utc, outo.verbose);
	}
	evt_buf_free(&body);
	evt_buf_free(&tail);
}

/* Prints the events of one segment, one per line. */
static void
cat_events(struct evt_segr *r, const char *path, const struct evt_sel *f)
{
	struct evt_rec rec;
	int in_msg = 0, rc;
	while ((rc = evt_segr_next(r, &rec, NULL)) == 1) {
		struct evt_rdec *d = evt_segr_decoder(r);
		if (rec.kind == EVT_K_STRDEF || rec.kind == EVT_K_SHAPEDEF)
			continue;
		if (rec.kind != EVT_K_EVENT && rec.kind != EVT_K_ITEM) {
			if (cat_stops(f, rec.rx_us))
				break;
			in_msg = rec.kind == EVT_K_MSG;
			site_rec(f, d, &rec);
			if (rec.kind == EVT_K_CONFIG && cat_following &&
			    cfgnames != NULL)
				names_follow(evt_segr_decoder(r), &rec);
			continue;
		}
		if (!in_msg || !evt_sel_time(f, rec.rx_us) || !site_cur(f) ||
		    !keep_cb((void *)(uintptr_t)f, EVT_K_MSG, 0, d, &rec))
			continue;
		size_t mark = obuf->len;
		rc = evt_rdec_item_json(d, &rec, obuf);
		if (rc == 0 && (outo.names || outo.text))
			evt_names_from(cfgnames, d, &rec); /* emit_event's */
		if (rc == 0)
			emit_event(mark, rec.rx_us);
		else
			obuf->len = mark; /* no half lines */
		if (rc == EVT_ERR_CORRUPT) {
			evt_cli_damage_cb(NULL, path, rec.off, d->err);
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
    const struct evt_sel *f)
{
	struct evt_frames fr;
	struct evt_frame *fm;
	int rc;
	evt_frames_init(&fr, r, mode == CAT_MESSAGES ? keep_cb : NULL,
	    (void *)(uintptr_t)f, evt_cli_damage_cb, NULL, path);
	while ((rc = evt_frames_next(&fr, &fm)) == 1) {
		if (cat_stops(f, fm->rx_us))
			break;
		if (fm->kind == EVT_K_SESSION)
			site_body(f, fm->text.p, fm->text.len);
		if (!evt_sel_time(f, fm->rx_us) || !site_cur(f))
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
			oom_check(evt_buf_put(obuf, names[fm->kind -
			    EVT_K_SESSION], strlen(names[fm->kind -
			    EVT_K_SESSION])));
			oom_check(evt_buf_putc(obuf, '\t'));
		} else {
			if (fm->kind >= EVT_K_SESSION || (fm->kind ==
			    EVT_K_STATES && evt_cut_is_snapshot((const char *)
			    fm->text.p, fm->text.len)))
				continue; /* not received frames */
			/* Items lost to damage: say so in the line, which
			 * must not pass for the message received. */
			int inc = (fm->kind == EVT_K_MSG ||
			    fm->kind == EVT_K_STATES) && fm->kept < fm->nitems;
			if (inc) {
				evt_cli_damage_err("%s: the %s received at %" PRId64
				    " us is incomplete (%u of %u items); its "
				    "line is tagged :incomplete", path,
				    evt_kind_name(fm->kind), fm->rx_us,
				    fm->kept, fm->nitems);
			}
			oom_check(evt_tsv_put(obuf, fm->rx_us,
			    (const char *)fm->text.p, fm->text.len, inc));
			omaybe();
			continue;
		}
		oom_check(evt_buf_put(obuf, fm->text.p, fm->text.len));
		oom_check(evt_buf_putc(obuf, '\n'));
		omaybe();
	}
	evt_archive_add_lost(arch, fr.lost);
	evt_frames_free(&fr);
	oom_check(rc);
}

/* Prints the records of r (segment file path) according to mode and
 * filters. */
static void
cat_read(struct evt_segr *r, const char *path, enum cat_mode mode,
    const struct evt_sel *f)
{
	if (mode == CAT_EVENTS)
		cat_events(r, path, f);
	else
		cat_frames(r, path, mode, f);
}

/* Prints the records of one segment according to mode and filters. */
static int
cat_segment(size_t i, enum cat_mode mode, const struct evt_sel *f)
{
	struct evt_segr *r = open_range(i, f);
	if (r == NULL)
		return 0; /* reported, or nothing in range */
	cat_read(r, evt_archive_segment_path(arch, i), mode, f);
	evt_archive_close_segment(arch, r);
	return 0;
}

/* What cat is asked for. */
struct cat_args {
	struct evt_sel sel;
	enum cat_mode mode;
	struct outopts out;
	int follow;
};

/* cat -f: how long a wait for a change lasts before the follower looks
 * again all the same (a fallback: inotify wakes it), and how long after
 * --to it reads on for frames received before --to (a recorder writes a
 * block within about a second of its first frame). */
#define FOLLOW_QUIET_MS 5000
#define FOLLOW_TO_GRACE_US 2000000

/* SIGINT, SIGTERM: cat -f stops. */
static void
cat_stop_signal(int sig)
{
	(void)sig;
	cat_stop = 1;
}

/* Waits for a change of the followed archive (or a stop signal, or the
 * end of --to's grace); returns 0, or 1 when cat -f is to stop. */
static int
cat_follow_wait(struct evt_follow *fo, const char *dir,
    const struct evt_sel *f)
{
	int timeout = FOLLOW_QUIET_MS;
	if (f->to != INT64_MAX) {
		int64_t left = f->to + FOLLOW_TO_GRACE_US - evt_wall_us();
		if (left <= 0)
			return 1;
		if (left / 1000 + 1 < timeout)
			timeout = (int)(left / 1000 + 1);
	}
	sigset_t stop, old;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	/* Blocked between the flag's check and ppoll, which unblocks them:
	 * a signal in between is not slept through. */
	sigprocmask(SIG_BLOCK, &stop, &old);
	int rc = cat_stop ? 0 : evt_follow_wait(fo, timeout, &old);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (rc == EVT_ERR_NOTFOUND)
		evt_cli_fatal("%s: the archive directory was deleted or moved",
		    dir);
	if (rc == EVT_ERR_IO)
		evt_cli_fatal("%s: waiting for changes: %s", dir,
		    strerror(errno));
	return cat_stop;
}

/* Opens the archive in dir for cat -f (watching it from now on) or
 * exits with a message. */
static struct evt_follow *
cat_follow_open(const char *dir, const struct cat_args *ca)
{
	struct evt_follow *fo;
	int rc = evt_follow_open(dir, ca->sel.from, evt_cli_damage_cb, NULL,
	    &fo);
	if (rc == EVT_ERR_ARG)
		evt_cli_fatal("%s: not a directory", dir);
	if (rc == EVT_ERR_CORRUPT)
		evt_cli_fatal("%s: not an archive (no LOCK file and no "
		    "segment file in it)", dir);
	if (rc == EVT_ERR_IO)
		evt_cli_fatal("%s: cannot read or watch the directory: %s",
		    dir, strerror(errno));
	if (rc != 0)
		open_failed(dir, rc);
	return fo;
}

/* cat -f: prints what the archive in dir holds, then what is added to
 * it, until a stop signal or --to. */
static void
cat_follow(struct evt_follow *fo, const char *dir, const struct cat_args *ca)
{
	int rc;
	struct sigaction sa = {.sa_handler = cat_stop_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	cat_following = 1;
	while (!cat_stop) {
		struct evt_segr *r;
		const char *path;
		int fresh;
		rc = evt_follow_reader(fo, &r, &path, &fresh);
		oom_check(rc);
		if (rc < 0)
			evt_cli_fatal("%s: %s: %s", dir, evt_strerror(rc),
			    strerror(errno));
		if (rc == 1) {
			cat_read(r, path, ca->mode, &ca->sel);
			continue;
		}
		oflush(); /* all there is: out before waiting */
		if (cat_follow_wait(fo, dir, &ca->sel))
			break;
	}
	uint64_t ev, unk;
	evt_follow_lost(fo, &ev, &unk);
	evt_archive_add_lost(arch, ev);
	follow_unknown = unk;
	evt_follow_close(fo);
}

/* Applies one option of cat. */
static int
cat_opt(void *ctx, int c, char *arg)
{
	struct cat_args *ca = ctx;
	switch (c) {
	case 'm': ca->mode = CAT_MESSAGES; return 0;
	case 't': ca->mode = CAT_TSV; return 0;
	case 'M': ca->mode = CAT_MARKERS; return 0;
	case 'f': ca->follow = 1; return 0;
	default: return sel_opt(&ca->sel, c, arg) || out_opt(&ca->out, c,
	    arg) ? 0 : EVT_EXIT_USAGE;
	}
}

static const struct option cat_lo[] = {
	{"messages", no_argument, NULL, 'm'},
	{"tsv", no_argument, NULL, 't'},
	{"markers", no_argument, NULL, 'M'},
	{"follow", no_argument, NULL, 'f'},
	{"site", required_argument, NULL, OPT_SITE},
	SEL_OPTIONS,
	OUT_OPTIONS,
	{NULL, 0, NULL, 0},
};
static const struct cmdline cat_cl = {"cat [-f] [--messages|--tsv|--markers] "
    "[--from T] [--to T] [--source S]... [--type T]... [--site S]... "
    "[--names] [-o json|text [--utc] [-v]] DIR", cat_lo, cat_opt, 1, 1};

/* Prints events, messages, frames or markers. */
static int
cmd_cat(int argc, char **argv)
{
	struct cat_args ca = {.mode = CAT_EVENTS};
	sel_init(&ca.sel, argc);
	int i = parse_cmdline(&cat_cl, &ca, argc, argv);
	if ((ca.mode == CAT_TSV || ca.mode == CAT_MARKERS) &&
	    (ca.sel.nsources || ca.sel.ntypes))
		evt_cli_usage_err("--tsv and --markers print whole frames; "
		    "they take no --source or --type");
	if (ca.mode != CAT_EVENTS && (ca.out.names || ca.out.text))
		evt_cli_usage_err("--names and -o text print events; "
		    "--messages, --tsv and --markers print frames");
	/* (First: it says what is wrong with a DIR that is not one.) */
	struct evt_follow *fo = ca.follow ? cat_follow_open(argv[i], &ca) :
	    NULL;
	names_setup(argv[i], &ca.out, &ca.sel);
	/* (No sizes: cat uses none, and 10,000 stats were most of a
	 * short --from/--to.) */
	struct evt_archive *a = open_archive(argv[i], EVT_AR_NO_SIZES, NULL);
	/* (Paths made for the segments opened: a short window of 10,000
	 * segments opens a few.) */
	size_t n = evt_archive_nsegments(a);
	if (fo != NULL)
		cat_follow(fo, argv[i], &ca);
	for (size_t k = 0; k < n && fo == NULL; k++)
		cat_segment(k, ca.mode, &ca.sel);
	oflush();
	archive_lost_summary(argv[i]);
	int none = site_none(argv[i], &ca.sel, &sitet);
	evt_archive_close(a);
	evt_sel_free(&ca.sel);
	evt_names_free(cfgnames);
	evt_siter_free(&sitet);
	return evt_cli_damaged() || none ? EVT_EXIT_PARTIAL : 0;
}

/*
 * state
 */

/* What state is asked for: a time and sources; --changed-since, the
 * printer options. */
struct state_args {
	struct evt_sel sel;
	int64_t at, changed;	/* changed: INT64_MIN, none */
	struct outopts out;
};

/* Applies one option of state: --at, --source, --changed-since or a
 * printer option. */
static int
state_opt(void *ctx, int c, char *arg)
{
	struct state_args *sa = ctx;
	if (c == 'a')
		sa->at = evt_cli_time_arg("--at", arg);
	else if (c == 'C')
		sa->changed = evt_cli_time_arg("--changed-since", arg);
	else if (!((c == 's' || c == OPT_SITE) && sel_opt(&sa->sel, c,
	    arg)) && !out_opt(&sa->out, c, arg))
		return EVT_EXIT_USAGE;
	return 0;
}

static const struct option state_lo[] = {
	{"at", required_argument, NULL, 'a'},
	{"source", required_argument, NULL, 's'},
	{"changed-since", required_argument, NULL, 'C'},
	{"site", required_argument, NULL, OPT_SITE},
	OUT_OPTIONS,
	{NULL, 0, NULL, 0},
};
static const struct cmdline state_cl = {"state [--at TIME] [--source S]... "
    "[--site S] [--changed-since TIME] [--names] [-o json|text [--utc] "
    "[-v]] DIR",
    state_lo, state_opt, 1, 1};

/* One row of the state viewer (texts owned). */
struct srow {
	char *name, *group, *state, *ids;
	int64_t since;
};

/* Orders rows by source name, then state group name. */
static int
srow_cmp(const void *x, const void *y)
{
	const struct srow *a = x, *b = y;
	int c = strcasecmp(a->name, b->name);
	if (c == 0)
		c = strcmp(a->name, b->name);
	if (c == 0)
		c = strcasecmp(a->group, b->group);
	return c != 0 ? c : strcmp(a->ids, b->ids);
}

/* A copy of s, or of its GUID (the part after the last '/') when name
 * is NULL. */
static char *
name_or_guid(const char *name, const char *id)
{
	const char *slash = strrchr(id, '/');
	char *c = strdup(name != NULL ? name : id[0] == '\0' ? "-" :
	    slash != NULL ? slash + 1 : id);
	if (c == NULL)
		oom_check(EVT_ERR_NOMEM);
	return c;
}

/* The viewer's row of state entry text ev[0..len) as of at. */
static void
srow_make(struct srow *r, const char *ev, size_t len, int64_t at,
    int64_t since)
{
	struct evt_names_ev ne;
	evt_names_event(cfgnames, ev, len, at, &ne);
	r->name = name_or_guid(ne.source_name, ne.source);
	r->group = name_or_guid(ne.group_name, ne.group);
	r->state = name_or_guid(ne.state_name ? ne.state_name : ne.type_name,
	    ne.type);
	r->since = since;
	size_t n = strlen(ne.source) + strlen(ne.group) + strlen(ne.type) + 32;
	if ((r->ids = malloc(n)) == NULL)
		oom_check(EVT_ERR_NOMEM);
	snprintf(r->ids, n, "source=%s group=%s type=%s", ne.source, ne.group,
	    ne.type);
}

/* Appends s padded with blanks to w characters (UTF-8). */
static void
put_padded(const char *s, size_t w)
{
	size_t c = 0;
	oom_check(evt_buf_put(obuf, s, strlen(s)));
	for (const char *p = s; *p != '\0'; p++)
		c += ((unsigned char)*p & 0xc0) != 0x80;
	for (; c < w; c++)
		oom_check(evt_buf_putc(obuf, ' '));
}

/* The width in characters of the widest of n texts at field off of the
 * rows, at least that of head. */
static size_t
srow_width(const struct srow *rows, size_t n, size_t off, const char *head)
{
	size_t w = strlen(head);
	for (size_t i = 0; i < n; i++) {
		const char *s = *(char *const *)(const void *)((const char *)
		    &rows[i] + off);
		size_t c = 0;
		for (; *s != '\0'; s++)
			c += ((unsigned char)*s & 0xc0) != 0x80;
		if (c > w)
			w = c;
	}
	return w;
}

/* Prints the state viewer's rows (freed): sorted by name, aligned, a
 * head line first. */
static void
srows_print(struct srow *rows, size_t n)
{
	qsort(rows, n, sizeof *rows, srow_cmp);
	size_t wn = srow_width(rows, n, offsetof(struct srow, name), "SOURCE");
	size_t wg = srow_width(rows, n, offsetof(struct srow, group),
	    "STATE GROUP");
	size_t ws = srow_width(rows, n, offsetof(struct srow, state), "STATE");
	put_padded("SOURCE", wn + 2);
	put_padded("STATE GROUP", wg + 2);
	put_padded("STATE", ws + 2);
	oom_check(evt_buf_put(obuf, "SINCE\n", 6));
	for (size_t i = 0; i < n; i++) {
		char t[48];
		put_padded(rows[i].name, wn + 2);
		put_padded(rows[i].group, wg + 2);
		put_padded(rows[i].state, ws + 2);
		size_t k = evt_names_time(&textfmt, rows[i].since, t);
		oom_check(evt_buf_put(obuf, t, k));
		if (outo.verbose)
			outf("  %s", rows[i].ids);
		oom_check(evt_buf_putc(obuf, '\n'));
		omaybe();
		free(rows[i].name);
		free(rows[i].group);
		free(rows[i].state);
		free(rows[i].ids);
	}
	free(rows);
}

/* Prints the entries of st that sa selects: JSON lines (with --names,
 * their names), or the viewer's rows (-o text). */
static void
state_print(struct evt_state *st, const struct state_args *sa)
{
	const char *const *tx;
	const size_t *lens;
	size_t n = evt_state_list(st, &tx, &lens), nrows = 0;
	struct srow *rows = sa->out.text ? calloc(n + 1, sizeof *rows) : NULL;
	if (sa->out.text && rows == NULL)
		oom_check(EVT_ERR_NOMEM);
	for (size_t k = 0; k < n; k++) {
		int64_t since = evt_state_since(st, k);
		if (!evt_sel_source(&sa->sel, evt_state_source(st, k)) ||
		    (sa->changed != INT64_MIN && since < sa->changed))
			continue;
		if (sa->out.text) {
			srow_make(&rows[nrows++], tx[k], lens[k], sa->at, since);
			continue;
		}
		size_t mark = obuf->len;
		oom_check(evt_buf_put(obuf, tx[k], lens[k]));
		emit_event(mark, sa->at);
		omaybe();
	}
	if (sa->out.text)
		srows_print(rows, nrows);
}

/* Whether the archive in dir is a central archive: the first record of
 * its newest segment is a site marker (the archiver begins every segment
 * with one).  One block read. */
static int
central(const char *dir)
{
	struct evt_archive *a;
	struct evt_segr *r;
	struct evt_frames fr;
	struct evt_frame *fm;
	int yes = 0;
	if (evt_archive_open(dir, EVT_AR_NO_SIZES, NULL, NULL, NULL, NULL,
	    &a) != 0)
		return 0;
	size_t n = evt_archive_nsegments(a);
	if (n > 0 && evt_archive_open_segment(a, n - 1, &r) == 0) {
		evt_frames_init(&fr, r, NULL, NULL, NULL, NULL, "");
		yes = evt_frames_next(&fr, &fm) == 1 && fm->kind ==
		    EVT_K_SESSION && evt_session_is_site((const char *)
		    fm->text.p, fm->text.len);
		evt_frames_free(&fr);
		evt_archive_close_segment(a, r);
	}
	evt_archive_close(a);
	return yes;
}

/*
 * The sites of a state table, from the SESSION markers its scan read (t):
 * one table is one site's, since two sites may have the same source ids
 * and a getState answer replaces the whole table.  With --site: when it
 * selects none of them, says so and returns 1 (nothing to print, exit
 * status 1); several is a usage error.  Without it, a table of several
 * sites is printed with a warning naming them.
 */
static int
state_sites(const char *dir, const struct evt_sel *f,
    const struct evt_siter *t)
{
	struct evt_buf l = {0};
	int sel = f->nsites > 0;
	if (site_none(dir, f, t))
		return 1;
	if (!sel && evt_siter_count(t, 0) < 2 && central(dir))
		evt_cli_err("%s: warning: a central archive (evrec --from-nats): "
		    "the states of its sites are mixed; --site S gives one "
		    "site's (evtool cat --markers names them)", dir);
	if (evt_siter_count(t, sel) < 2)
		return 0;
	oom_check(evt_siter_list(t, sel, &l));
	if (sel)
		evt_cli_usage_err("%s: --site selects several sites (%.*s); a "
		    "state table is one site's: give one", dir, (int)l.len,
		    (const char *)l.p);
	evt_cli_err("%s: warning: the frames read are of several sites (%.*s); "
	    "their states are mixed (the same source ids may be in each, and "
	    "one site's getState answer replaces the others'): --site S gives "
	    "one site's", dir, (int)l.len, (const char *)l.p);
	evt_buf_free(&l);
	return 0;
}

/* Prints the state table as of a receive time: the latest stateful event
 * per source and state group, seeded by the last STATES frame at or before
 * it, one JSON line each, or (-o text) the state viewer's rows. */
static int
cmd_state(int argc, char **argv)
{
	struct state_args sa = {.at = INT64_MAX, .changed = INT64_MIN};
	sel_init(&sa.sel, argc);
	int i = parse_cmdline(&state_cl, &sa, argc, argv);
	names_setup(argv[i], &sa.out, &sa.sel);
	struct evt_cur *cur;
	int rc = evt_cur_open(argv[i], evt_cli_damage_cb, evt_cli_warn_cb,
	    NULL, &cur);
	if (rc != 0) {
		evt_cli_err("%s: %s", argv[i], evt_strerror(rc));
		return EVT_EXIT_FAIL;
	}
	struct evt_state *st = evt_state_new();
	if (st == NULL)
		oom_check(EVT_ERR_NOMEM);
	if (sa.out.text || sa.changed != INT64_MIN)
		evt_state_track_since(st);
	evt_cur_sites(cur, &sa.sel);
	rc = evt_cur_state_at(cur, sa.at == INT64_MAX ? INT64_MAX : sa.at + 1,
	    st);
	oom_check(rc);
	if (rc < 0)
		evt_cli_err("%s: %s", argv[i], evt_strerror(rc));
	int none = rc >= 0 && state_sites(argv[i], &sa.sel,
	    evt_cur_siter(cur));
	if (!none)
		state_print(st, &sa);
	oflush();
	uint64_t lev, lunk;
	evt_cur_lost(cur, &lev, &lunk);
	evt_cli_lost_summary(argv[i], lev, lunk);
	evt_state_free(st);
	evt_cur_close(cur);
	evt_sel_free(&sa.sel);
	evt_names_free(cfgnames);
	return rc < 0 ? EVT_EXIT_FAIL : evt_cli_damaged() || none ?
	    EVT_EXIT_PARTIAL : 0;
}

/*
 * get
 */

/* What get is asked for: --meta, the printer options. */
struct get_args {
	int meta;
	struct outopts out;
};

/* Applies one option of get: --meta or a printer option. */
static int
get_opt(void *ctx, int c, char *arg)
{
	struct get_args *ga = ctx;
	if (c == 'm')
		ga->meta = 1;
	else if (!out_opt(&ga->out, c, arg))
		return EVT_EXIT_USAGE;
	return 0;
}

static const struct option get_lo[] = {
	{"meta", no_argument, NULL, 'm'},
	OUT_OPTIONS,
	{NULL, 0, NULL, 0},
};
static const struct cmdline get_cl = {"get [--meta] [--names] "
    "[-o json|text [--utc] [-v]] DIR ID", get_lo, get_opt, 2, 2};

/* Appends the --meta head of the event rec of site found in segment path
 * at block boff: {"received":...,"event": (closed by the caller). */
static void
get_meta(const char *path, const struct evt_rec *rec, uint64_t boff,
    const char *site)
{
	char t[28], hdr[1024];
	evt_time_format_us(rec->rx_us, t);
	int k = snprintf(hdr, sizeof hdr, "{\"received\":\"%s\","
	    "\"received_us\":%" PRId64 ",\"segment\":", t, rec->rx_us);
	oom_check(evt_buf_put(obuf, hdr, (size_t)k));
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	k = snprintf(hdr, sizeof hdr, "\"%s\",\"block_offset\":%" PRIu64
	    ",\"record_offset\":%zu,\"site\":", base, boff, rec->off);
	oom_check(evt_buf_put(obuf, hdr, (size_t)k));
	oom_check(evt_json_put_string(obuf, site, strlen(site)));
	oom_check(evt_buf_put(obuf, ",\"event\":", 9));
}

/*
 * get --meta: the site of the event found in segment seg at record offset
 * roff of the block at boff, the site of the last SESSION marker before
 * it (formats/records.md, "Central archives"), into sitet.site: its
 * segment is read from its start up to it (a segment a recorder starts
 * begins with a SESSION marker); the segments before it, newest first,
 * only while none is found, passing over those whose index, or summary
 * roll-up run, counts no SESSION marker (an imported archive's hundreds
 * of segments are not read, nor opened).
 */
static struct evt_ru_view *rollup_open(const char *dir, int scan);

static const char *
get_site(const char *dir, struct evt_archive *a, size_t seg, uint64_t boff,
    size_t roff)
{
	struct evt_ru_view *v = NULL;
	evt_siter_init(&sitet, NULL);
	int found = 0;
	for (size_t k = seg + 1; k-- > 0 && !found;) {
		struct evt_segr *r;
		struct evt_rec rec;
		uint64_t b;
		if (k < seg && v == NULL)
			v = rollup_open(dir, 0);
		size_t run = v != NULL ? v->cover[k] : SIZE_MAX;
		if (run != SIZE_MAX && v->runs[run].frames[EVT_K_SESSION] == 0) {
			k = v->first[run]; /* the run's segments: none */
			continue;
		}
		if (evt_archive_open_segment(a, k, &r) != 0)
			continue; /* reported */
		const struct evt_seg_info *si = evt_segr_info(r);
		if (si->sealed && evt_segr_load_index(r) == 0 &&
		    si->frames[EVT_K_SESSION] == 0) {
			evt_archive_close_segment(a, r);
			continue;
		}
		evt_segr_rewind(r, INT64_MIN);
		while (evt_segr_next(r, &rec, &b) == 1 && (k < seg ||
		    b < boff || (b == boff && rec.off < roff)))
			if (rec.kind == EVT_K_SESSION) {
				siter_rec(&sitet, evt_segr_decoder(r), &rec);
				found = 1;
			}
		evt_archive_close_segment(a, r);
	}
	evt_ru_view_close(v);
	return sitet.site.len > 0 ? (const char *)sitet.site.p : "";
}

/* Prints the event with an id. */
static int
cmd_get(int argc, char **argv)
{
	struct get_args ga = {0};
	int i = parse_cmdline(&get_cl, &ga, argc, argv);
	int meta = ga.meta;
	const char *id = argv[i + 1];
	if (meta && ga.out.text)
		evt_cli_usage_err("--meta is a JSON head; -o text prints the "
		    "event's line");
	names_setup(argv[i], &ga.out, NULL);
	struct evt_archive *a = open_archive(argv[i], EVT_AR_NO_SIZES, NULL);
	size_t seg;
	struct evt_segr *r;
	struct evt_rec rec;
	uint64_t boff;
	int found = evt_archive_find(a, id, strlen(id), &r, &seg, &rec, &boff);
	oom_check(found);
	if (found == 1) {
		/* (First: it makes the paths of the segments it reads.) */
		const char *site = meta ? get_site(argv[i], a, seg, boff,
		    rec.off) : NULL;
		/* (One path: not the listing's 10,000.) */
		const char *sp = evt_archive_segment_path(a, seg);
		struct evt_rdec *d = evt_segr_decoder(r);
		if (meta)
			get_meta(sp, &rec, boff, site);
		size_t mark = obuf->len;
		if (evt_rdec_item_json(d, &rec, obuf) == EVT_ERR_CORRUPT)
			evt_cli_damage_cb(NULL, sp, boff, d->err);
		else if (outo.text || outo.names) {
			emit_event(mark, rec.rx_us);
			obuf->len -= !outo.text; /* the newline: after '}' */
		}
		if (meta)
			oom_check(evt_buf_putc(obuf, '}'));
		if (!outo.text)
			oom_check(evt_buf_putc(obuf, '\n'));
		evt_archive_close_segment(a, r);
	}
	oflush();
	evt_archive_close(a);
	evt_names_free(cfgnames);
	evt_siter_free(&sitet);
	if (found != 1) {
		evt_cli_err("%s: no event with id %s", argv[i], id);
		return EVT_EXIT_PARTIAL;
	}
	return 0;
}
/*
 * report
 */

/* What report is asked for: the window or --around, the selection, the
 * bounds, the output file. */
struct report_args {
	struct evt_sel sel;
	struct evt_report_opts ro;
	const char *around, *file;
};

/* Applies one option of report. */
static int
report_opt(void *ctx, int c, char *arg)
{
	struct report_args *ra = ctx;
	switch (c) {
	case 'A': ra->around = arg; return 0;
	case 'W': ra->ro.window = evt_cli_duration_arg("--window", arg);
		if (ra->ro.window <= 0)
			evt_cli_usage_err("--window: must be longer than 0");
		return 0;
	case 'L': ra->ro.lanes = evt_cli_count_arg("--lanes", arg);
		if (ra->ro.lanes > EVT_REPORT_MAX_LANES)
			evt_cli_usage_err("--lanes: at most %d",
			    EVT_REPORT_MAX_LANES);
		return 0;
	case 'R': ra->ro.rows = evt_cli_count_arg("--rows", arg);
		if (ra->ro.rows > EVT_REPORT_MAX_ROWS)
			evt_cli_usage_err("--rows: at most %d",
			    EVT_REPORT_MAX_ROWS);
		return 0;
	case 'B': ra->ro.lookback_auto = 0;
		ra->ro.lookback = strcmp(arg, "all") == 0 ? 0 :
		    evt_cli_duration_arg("--lookback", arg);
		if (ra->ro.lookback < 0 || (ra->ro.lookback == 0 &&
		    strcmp(arg, "all") != 0))
			evt_cli_usage_err("--lookback: must be longer than 0 "
			    "(or all)");
		return 0;
	case 'o': ra->file = arg; return 0;
	default: return sel_opt(&ra->sel, c, arg) ? 0 : EVT_EXIT_USAGE;
	}
}

static const struct option report_lo[] = {
	{"around", required_argument, NULL, 'A'},
	{"window", required_argument, NULL, 'W'},
	{"lanes", required_argument, NULL, 'L'},
	{"rows", required_argument, NULL, 'R'},
	{"lookback", required_argument, NULL, 'B'},
	{"output", required_argument, NULL, 'o'},
	{"site", required_argument, NULL, OPT_SITE},
	SEL_OPTIONS,
	{NULL, 0, NULL, 0},
};
static const struct cmdline report_cl = {"report (--from T --to T | "
    "--around ID|TIME [--window DUR]) [--source S]... [--type T]... "
    "[--site S] [--lanes N] [--rows N] [--lookback DUR|all] -o FILE.html DIR",
    report_lo, report_opt, 1, 1};

/* Checks report's options and turns --around into an id or a time. */
static void
report_check(struct report_args *ra)
{
	if (ra->file == NULL)
		evt_cli_usage_err("report: -o FILE.html is needed");
	if (ra->around != NULL && (ra->sel.from != INT64_MIN ||
	    ra->sel.to != INT64_MAX))
		evt_cli_usage_err("report: --around or --from/--to, not both");
	if (ra->around == NULL && (ra->sel.from == INT64_MIN ||
	    ra->sel.to == INT64_MAX))
		evt_cli_usage_err("report: --from and --to, or --around, are "
		    "needed");
	if (ra->around != NULL && evt_cli_time(ra->around,
	    &ra->ro.around_rx) != 0)
		ra->ro.around_id = ra->around;	/* not a time: an id */
	ra->ro.from = ra->sel.from;
	ra->ro.to = ra->sel.to;
}

/* Writes buffer b to file path; exits on failure. */
static void
write_file(const char *path, const struct evt_buf *b)
{
	FILE *f = fopen(path, "w");
	if (f == NULL || fwrite(b->p, 1, b->len, f) != b->len ||
	    fclose(f) != 0)
		evt_cli_fatal("%s: %s", path, strerror(errno));
}

/* Writes the HTML incident report of a window (report.c). */
static int
cmd_report(int argc, char **argv)
{
	struct report_args ra = {.ro = {.around_rx = INT64_MIN,
	    .window = 15 * 60 * 1000000LL, .lanes = 20, .rows = 500,
	    .lookback = 3600 * 1000000LL, .lookback_auto = 1}};
	sel_init(&ra.sel, argc);
	int i = parse_cmdline(&report_cl, &ra, argc, argv);
	report_check(&ra);
	struct outopts named = {.names = 1};
	names_setup(argv[i], &named, &ra.sel);
	struct evt_archive *a = open_archive(argv[i], EVT_AR_NO_SIZES, NULL);
	ra.ro.archive = argv[i];
	ra.ro.sel = &ra.sel;
	ra.ro.errcb = evt_cli_damage_cb;
	ra.ro.warn = evt_cli_warn_cb;
	struct evt_buf html = {0}, why = {0};
	int rc = evt_report_write(a, cfgnames, &ra.ro, &html, &why);
	oom_check(rc);
	if (rc == 0)
		write_file(ra.file, &html);
	else if (why.len > 0)
		evt_cli_err("%.*s", (int)why.len, (const char *)why.p);
	else
		evt_cli_err("%s: %s", argv[i], evt_strerror(rc));
	archive_lost_summary(argv[i]);
	evt_buf_free(&html);
	evt_buf_free(&why);
	evt_archive_close(a);
	evt_sel_free(&ra.sel);
	evt_names_free(cfgnames);
	if (rc != 0)
		return rc == EVT_ERR_ARG ? EVT_EXIT_USAGE : EVT_EXIT_FAIL;
	return evt_cli_damaged() ? EVT_EXIT_PARTIAL : 0;
}
/*
 * cut
 */

/* What cut is asked for: the window or --around, the selection. */
struct cut_args {
	struct evt_sel sel;
	const char *around;
	int64_t window;
};

/* Applies one option of cut: --around, --window (report's) or a
 * selection option. */
static int
cut_opt(void *ctx, int c, char *arg)
{
	struct cut_args *ca = ctx;
	switch (c) {
	case 'A': ca->around = arg; return 0;
	case 'W': ca->window = evt_cli_duration_arg("--window", arg);
		if (ca->window <= 0)
			evt_cli_usage_err("--window: must be longer than 0");
		return 0;
	default: return sel_opt(&ca->sel, c, arg) ? 0 : EVT_EXIT_USAGE;
	}
}

static const struct option cut_lo[] = {
	{"around", required_argument, NULL, 'A'},
	{"window", required_argument, NULL, 'W'},
	{"site", required_argument, NULL, OPT_SITE},
	SEL_OPTIONS,
	{NULL, 0, NULL, 0},
};
static const struct cmdline cut_cl = {"cut (--from T --to T | --around "
    "ID|TIME [--window DUR]) [--source S]... [--type T]... [--site S] "
    "DIR OUT", cut_lo,
    cut_opt, 2, 2};

/* Turns --around (an event id or a time) and --window into the window
 * of ca->sel; a usage error says what is missing. */
static void
cut_window(struct cut_args *ca, const char *dir)
{
	int64_t at;
	if (ca->around != NULL && (ca->sel.from != INT64_MIN ||
	    ca->sel.to != INT64_MAX))
		evt_cli_usage_err("cut: --around or --from/--to, not both");
	if (ca->around == NULL) {
		if (ca->sel.from == INT64_MIN || ca->sel.to == INT64_MAX)
			evt_cli_usage_err("cut: --from and --to, or --around, "
			    "are needed");
		return;
	}
	if (evt_cli_time(ca->around, &at) != 0) {
		int rc = evt_cut_find(dir, ca->around, strlen(ca->around), &at);
		if (rc < 0)
			open_failed(dir, rc);
		if (rc == 0)
			evt_cli_fatal("%s: --around: no event with id %s", dir,
			    ca->around);
	}
	ca->sel.from = at - ca->window / 2;
	ca->sel.to = ca->sel.from + ca->window;
}

/* Writes a window of an archive as a new, self-contained archive
 * (cut.c). */
static int
cmd_cut(int argc, char **argv)
{
	struct cut_args ca = {.window = 15 * 60 * 1000000LL}; /* report's */
	sel_init(&ca.sel, argc);
	int i = parse_cmdline(&cut_cl, &ca, argc, argv);
	cut_window(&ca, argv[i]);
	struct outopts none = {0};
	names_setup(argv[i], &none, &ca.sel);
	struct evt_cut_opts co = {.src = argv[i], .out = argv[i + 1],
	    .sel = &ca.sel, .errcb = evt_cli_damage_cb,
	    .warn = evt_cli_warn_cb};
	struct evt_cut_stats st;
	struct evt_buf why = {0};
	int rc = evt_cut_write(&co, &st, &why);
	oom_check(rc);
	if (rc != 0)
		evt_cli_err("%.*s", (int)why.len, (const char *)why.p);
	else
		evt_cli_err("%s: %" PRIu64 " events in %" PRIu64 " frames, %"
		    PRIu64 " markers, %" PRIu64 " states at the start, names "
		    "from %" PRIu64 " CONFIG markers, %" PRIu64 " blocks "
		    "copied whole", argv[i + 1], st.events, st.frames,
		    st.markers, st.states, st.names, st.copied);
	evt_buf_free(&why);
	evt_sel_free(&ca.sel);
	evt_names_free(cfgnames);
	if (rc != 0)
		return rc == EVT_ERR_ARG || rc == EVT_ERR_EXISTS ?
		    EVT_EXIT_USAGE : EVT_EXIT_FAIL;
	return evt_cli_damaged() ? EVT_EXIT_PARTIAL : 0;
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
	uint64_t sessions;	/* recorder sessions (evt_ru_rec_session) */
};

/* Collects the facts of a segment: from its trailer and index when it
 * is sealed and they are usable, unless scan, else by reading it. */
static int
segment_facts(size_t i, struct segfacts *sf, int scan)
{
	struct evt_segr *r;
	memset(sf, 0, sizeof *sf);
	sf->first_rx = INT64_MAX;
	sf->last_rx = INT64_MIN;
	if (evt_archive_open_segment(arch, i, &r) != 0)
		return -1;
	const struct evt_seg_info *si = evt_segr_info(r);
	/* Sealed: with a usable index (--scan too, so that it says the
	 * same). */
	sf->sealed = si->sealed && evt_segr_load_index(r) == 0;
	if (!scan && sf->sealed) {
		sf->events = si->nevents;
		sf->records = si->nrecords;
		sf->blocks = si->nblocks;
		if (si->nrecords > 0) {
			sf->first_rx = si->first_rx;
			sf->last_rx = si->last_rx;
		}
		memcpy(sf->frames, si->frames, sizeof sf->frames);
		int rc = evt_ru_seg_sessions(r, &sf->sessions);
		evt_archive_close_segment(arch, r);
		oom_check(rc);
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
		int k = evt_ru_rec_session(r, &rec);
		oom_check(k < 0 ? k : 0);
		sf->sessions += (uint64_t)k;
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

/* The command line of the commands that take only DIR. */
static const struct cmdline ls_cl = {"ls DIR", NULL, NULL, 1, 1};
/* Applies info's one option, --scan: *ctx is set. */
static int
scan_opt(void *ctx, int c, char *arg)
{
	*(int *)ctx = 1;
	return 0;
}

static const struct option info_lo[] = {
	{"scan", no_argument, NULL, 'S'},
	{NULL, 0, NULL, 0},
};
static const struct cmdline info_cl = {"info [--scan] DIR", info_lo, scan_opt,
    1, 1};
static const struct cmdline verify_cl = {"verify DIR", NULL, NULL, 1, 1};
static const struct cmdline repair_cl = {"repair DIR", NULL, NULL, 1, 1};

/*
 * The facts of an ls line: a sealed segment's trailer holds them all
 * (events, blocks, first and last receive time), so its index is not
 * loaded: loading every index (each with its segment's dictionary) made
 * ls of 10,000 segments take 1.4 s against 0.06 s for one.  `verify`
 * checks the indexes.  Others: segment_facts.
 */
static int
ls_facts(size_t i, struct segfacts *sf)
{
	struct evt_segr *r;
	if (evt_archive_open_segment(arch, i, &r) != 0)
		return -1;
	const struct evt_seg_info *si = evt_segr_info(r);
	int sealed = si->sealed;
	if (sealed) {
		memset(sf, 0, sizeof *sf);
		sf->sealed = 1;
		sf->events = si->nevents;
		sf->records = si->nrecords;
		sf->blocks = si->nblocks;
		sf->first_rx = si->nrecords > 0 ? si->first_rx : INT64_MAX;
		sf->last_rx = si->nrecords > 0 ? si->last_rx : INT64_MIN;
	}
	evt_archive_close_segment(arch, r);
	return sealed ? 0 : segment_facts(i, sf, 0);
}

/* Prints one line per segment. */
static int
cmd_ls(int argc, char **argv)
{
	parse_cmdline(&ls_cl, NULL, argc, argv);
	struct evt_archive *a = open_archive(argv[1], 0, NULL);
	size_t n;
	const struct evt_segref *s = evt_archive_segments(a, &n);
	outf("%-22s %-8s %12s %10s %8s  %-27s %-27s\n", "segment", "state",
	    "bytes", "events", "blocks", "first received", "last received");
	for (size_t i = 0; i < n; i++) {
		struct segfacts sf;
		const char *base = strrchr(s[i].path, '/');
		base = base ? base + 1 : s[i].path;
		if (ls_facts(i, &sf) != 0) {
			outf("%-22s %-8s %12" PRIu64 "\n", base, "damaged",
			    evt_archive_segment_size(a, i));
			continue;
		}
		char t1[28] = "-", t2[28] = "-";
		if (sf.first_rx != INT64_MAX) {
			evt_time_format_us(sf.first_rx, t1);
			evt_time_format_us(sf.last_rx, t2);
		}
		outf("%-22s %-8s %12" PRIu64 " %10" PRIu64 " %8" PRIu64
		    "  %-27s %-27s\n", base, sf.sealed ? "sealed" : "open",
		    evt_archive_segment_size(a, i), sf.events, sf.blocks, t1,
		    t2);
	}
	oflush();
	archive_lost_summary(argv[1]);
	evt_archive_close(a);
	return evt_cli_damaged() ? EVT_EXIT_PARTIAL : 0;
}

/* The roll-up view of the open archive at dir (rollup.h): NULL with
 * --scan, when there is none, or with EVTAPE_NO_ROLLUP set. */
static struct evt_ru_view *
rollup_open(const char *dir, int scan)
{
	size_t n;
	const struct evt_segref *s = evt_archive_segments(arch, &n);
	struct evt_ru_view *v = NULL;
	uint64_t *seqs = scan ? NULL : malloc((n + 1) * sizeof *seqs);
	if (scan)
		return NULL;
	if (seqs == NULL)
		oom_check(EVT_ERR_NOMEM);
	for (size_t i = 0; i < n; i++)
		seqs[i] = s[i].seq;
	oom_check(evt_ru_view_open(dir, seqs, n, &v));
	free(seqs);
	return v;
}

/* Opens and closes covered segment i when a gap in the segment numbers
 * lies before it: opening reports the gap (evt_archive_open_segment), so
 * a count from the roll-up says what a reading of the segments says. */
static void
rollup_gap(size_t i)
{
	size_t n;
	const struct evt_segref *s = evt_archive_segments(arch, &n);
	struct evt_segr *r;
	if (i > 0 && s[i].seq > s[i - 1].seq + 1 &&
	    evt_archive_open_segment(arch, i, &r) == 0)
		evt_archive_close_segment(arch, r);
}

/* The recorder sessions of sealed segment i, which a roll-up run of a
 * writer before runs counted them covers. */
static uint64_t
covered_sessions(size_t i)
{
	struct evt_segr *r;
	uint64_t n = 0;
	if (evt_archive_open_segment(arch, i, &r) != 0)
		return 0;
	int rc = evt_segr_load_index(r) == 0 ? evt_ru_seg_sessions(r, &n) : 0;
	evt_archive_close_segment(arch, r);
	oom_check(rc);
	return n;
}

/* Adds the facts of a segment (or of a roll-up run's segments) to tot. */
static void
facts_add(struct segfacts *tot, const struct segfacts *sf)
{
	tot->events += sf->events;
	tot->records += sf->records;
	tot->blocks += sf->blocks;
	for (int k = 0; k <= EVT_K_MAX; k++)
		tot->frames[k] += sf->frames[k];
	tot->sessions += sf->sessions;
	if (sf->first_rx < tot->first_rx)
		tot->first_rx = sf->first_rx;
	if (sf->last_rx > tot->last_rx)
		tot->last_rx = sf->last_rx;
}

/* The facts of the sealed segments a roll-up run covers, as a sum of
 * what segment_facts gives for each. */
static void
run_facts(const struct evt_ru_run *r, struct segfacts *sf)
{
	*sf = (struct segfacts){1, r->events, r->records, r->blocks,
	    r->first_rx, r->last_rx, {0}, r->sessions};
	memcpy(sf->frames, r->frames, sizeof sf->frames);
}

/* Prints the archive's counts, time span and sizes; sealed segments that
 * a roll-up run covers are counted from it (unless --scan). */
/* Prints where a cut or merged archive came from (its provenance
 * marker, cut.c). */
static void
info_origin(const char *dir)
{
	struct evt_buf line = {0};
	int rc = evt_cut_origin(dir, &line);
	oom_check(rc);
	if (rc == 1 || rc == 2)
		outf("%s %.*s\n", rc == 1 ? "cut from:      " :
		    "merged from:   ", (int)line.len, (const char *)line.p);
	evt_buf_free(&line);
}

static int
cmd_info(int argc, char **argv)
{
	int scan = 0;
	int op = parse_cmdline(&info_cl, &scan, argc, argv);
	/* Sizes of covered segments come from the roll-up, which checked
	 * them; the others' from a stat when asked for. */
	struct evt_archive *a = open_archive(argv[op], scan ? 0 :
	    EVT_AR_NO_SIZES, NULL);
	size_t n;
	evt_archive_segments(a, &n);
	struct evt_ru_view *v = rollup_open(argv[op], scan);
	struct segfacts tot = {.first_rx = INT64_MAX, .last_rx = INT64_MIN};
	uint64_t bytes = 0, sealed = 0, damaged = 0;
	for (size_t i = 0; i < n; i++) {
		struct segfacts sf;
		size_t k = v != NULL ? v->cover[i] : SIZE_MAX;
		if (k != SIZE_MAX) {
			rollup_gap(i);
			if (!v->runs[k].has_sessions)
				tot.sessions += covered_sessions(i);
			if (v->first[k] != i)
				continue;
			run_facts(&v->runs[k], &sf);
			for (uint32_t e = 0; e < v->runs[k].nsegs; e++)
				bytes += v->runs[k].segs[e].size;
			sealed += v->runs[k].nsegs;
			facts_add(&tot, &sf);
			continue;
		}
		/* A stat, not the catalog's size: the catalog recorded the
		 * segment as it was, and this one may have changed since
		 * (no run could vouch for it). */
		struct stat st;
		const struct evt_segref *sr = &evt_archive_segments(a,
		    &n)[i];
		bytes += stat(sr->path, &st) == 0 ? (uint64_t)st.st_size : 0;
		if (segment_facts(i, &sf, scan) != 0) {
			damaged++;
			continue;
		}
		sealed += (uint64_t)sf.sealed;
		facts_add(&tot, &sf);
	}
	evt_ru_view_close(v);
	char t1[28] = "-", t2[28] = "-";
	if (tot.first_rx != INT64_MAX) {
		evt_time_format_us(tot.first_rx, t1);
		evt_time_format_us(tot.last_rx, t2);
	}
	outf("archive:        %s\n", argv[op]);
	outf("events:         %" PRIu64 "\n", tot.events);
	outf("messages:       %" PRIu64 "\n", tot.frames[EVT_K_MSG]);
	outf("first received: %s\n", t1);
	outf("last received:  %s\n", t2);
	if (tot.first_rx != INT64_MAX)
		outf("span:           %.3f s\n",
		    (double)(tot.last_rx - tot.first_rx) / 1e6);
	outf("segments:       %zu (%" PRIu64 " sealed, %" PRIu64
	    " open, %" PRIu64 " unreadable)\n", n, sealed,
	    n - sealed - damaged, damaged);
	outf("blocks:         %" PRIu64 "\n", tot.blocks);
	outf("bytes:          %" PRIu64 "\n", bytes);
	if (tot.events > 0)
		outf("bytes/event:    %.2f\n", (double)bytes /
		    (double)tot.events);
	outf("state snapshots: %" PRIu64 "\n", tot.frames[EVT_K_STATES]);
	outf("sessions:       %" PRIu64 "\n", tot.sessions);
	outf("gaps:           %" PRIu64 "\n", tot.frames[EVT_K_GAP]);
	outf("raw frames:     %" PRIu64 "\n", tot.frames[EVT_K_RAW]);
	outf("other frames:   %" PRIu64 "\n", tot.frames[EVT_K_JSON]);
	info_origin(argv[op]);
	oflush();
	archive_lost_summary(argv[op]);
	evt_archive_close(a);
	return evt_cli_damaged() ? EVT_EXIT_PARTIAL : 0;
}

/*
 * verify, repair
 */

/* Lists a lost event on stdout: "FILE: offset N: lost event ID" (the
 * verifier's lost callback). */
static void
lost_cb(void *arg, const char *path, uint64_t boff, const char *id,
    uint32_t entry)
{
	if (id == NULL)
		outf("%s: offset %" PRIu64 ": lost event whose id is damaged "
		    "(GUID column entry %u)\n", path, boff, entry);
	else
		outf("%s: offset %" PRIu64 ": lost event %s\n", path, boff,
		    id);
}

/* Opens the archive for verification (flags: 0 or EVT_AR_LOCK) or exits
 * with a message, as open_archive. */
static struct evt_verify *
open_verify(const char *dir, int flags)
{
	static const struct evt_verify_cbs cbs = {evt_cli_damage_cb,
	    evt_cli_warn_cb, lost_cb, NULL};
	struct evt_verify *v;
	int rc = evt_verify_open(dir, flags, &cbs, &v);
	if (rc != 0)
		open_failed(dir, rc);
	arch = evt_verify_archive(v);
	return v;
}

/* Appends to line "; K events could not be VERB, L listed above" when the
 * verification of v lost events or listed them. */
static void
lost_tail(struct evt_verify *v, const char *verb, char *line, size_t cap)
{
	struct evt_verify_sum s;
	char what[160];
	size_t len = strlen(line);
	evt_verify_summary(v, &s);
	if (evt_verify_lost_text(what, sizeof what, s.lost, s.unknown,
	    verb) != 0 && s.listed == 0)
		return;
	if (what[0] == 0)
		snprintf(what, sizeof what, "0 events could not be %s", verb);
	snprintf(line + len, cap - len, "; %s (%" PRIu64 " listed above)", what,
	    s.listed);
}

static int verify_index(const char *dir, char *line, size_t cap);

/* Checks every segment; the summary and the lost events on stdout. */
static int
cmd_verify(int argc, char **argv)
{
	parse_cmdline(&verify_cl, NULL, argc, argv);
	struct evt_verify *v = open_verify(argv[1], 0);
	size_t n;
	evt_archive_segments(arch, &n);
	for (size_t i = 0; i < n; i++) {
		struct evt_verify_seg vs;
		oom_check(evt_verify_segment(v, i, &vs));
	}
	struct evt_verify_sum s;
	evt_verify_summary(v, &s);
	char line[512];
	if (s.problems > 0) {
		snprintf(line, sizeof line, "%s: %" PRIu64 " problems in %"
		    PRIu64 " of %zu segments", argv[1], s.problems, s.bad, n);
		lost_tail(v, "read", line, sizeof line);
	} else {
		snprintf(line, sizeof line, "%s: %zu segments ok", argv[1], n);
	}
	evt_verify_close(v);
	int ip = verify_index(argv[1], line, sizeof line);
	outf("%s\n", line);
	return s.problems > 0 || ip > 0 ? EVT_EXIT_PARTIAL : 0;
}

/* Checks the id index's and the roll-up's run files and the catalog (each
 * problem as FILE: offset N: what on stderr) and appends their counts to
 * line; returns their sum. */
static int
verify_index(const char *dir, char *line, size_t cap)
{
	int ip = evt_idx_verify(dir, evt_cli_damage_cb, NULL);
	oom_check(ip == EVT_ERR_NOMEM ? ip : 0);
	size_t len = strlen(line);
	if (ip > 0)
		snprintf(line + len, cap - len, "; %d id index problems "
		    "(no event lost: lookups read the segments; evtool "
		    "repair rebuilds the index)", ip);
	int rp = evt_ru_verify(dir, evt_cli_damage_cb, NULL);
	oom_check(rp == EVT_ERR_NOMEM ? rp : 0);
	len = strlen(line);
	if (rp > 0)
		snprintf(line + len, cap - len, "; %d roll-up problems (no "
		    "count lost: stats and info read the segments; evtool "
		    "repair rebuilds the roll-up)", rp);
	int cp = evt_cat_verify(dir, evt_cli_damage_cb, NULL);
	oom_check(cp == EVT_ERR_NOMEM ? cp : 0);
	len = strlen(line);
	if (cp > 0)
		snprintf(line + len, cap - len, "; %d catalog problem (no "
		    "event lost: derived data; evtool repair rewrites it)",
		    cp);
	return (ip > 0 ? ip : 0) + (rp > 0 ? rp : 0) + (cp > 0 ? cp : 0);
}
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
    const uint8_t *uuid, const struct evt_buf *ckpt)
{
	char *tmp = repair_tmp;
	repair_tmp_set = 0;
	snprintf(tmp, sizeof repair_tmp, "%s/.repair-%012" PRIu64 ".tmp", dir,
	    s->seq);
	repair_tmp_set = 1;
	unlink(tmp);
	/* Without a filter, as the writers seal by default: repair
	 * rebuilds the id index that covers it. */
	struct evt_segw_opts wo = {.fsync = EVT_FSYNC_INTERVAL,
	    .no_filter = 1, .level = EVT_LEVEL_DEFAULT};
	struct evt_rewrite_stats st;
	/* The verifier has reported this segment's damage: the rewrite,
	 * which reads the same blocks, does not report it a second time. */
	int rc = evt_seg_rewrite_ckpt(s->path, tmp, &wo, uuid, ckpt, NULL, NULL,
	    &st);
	if (rc == EVT_ERR_CORRUPT || rc == EVT_ERR_VERSION ||
	    rc == EVT_ERR_TRUNCATED) {
		char aside[4096];
		snprintf(aside, sizeof aside, "%s.damaged", s->path);
		evt_cli_err("%s: header unreadable; moved aside to %s", s->path,
		    aside);
		unlink(tmp);
		return rename(s->path, aside) == 0 ? 0 : EVT_EXIT_FAIL;
	}
	if (rc != 0 || rename(tmp, s->path) != 0) {
		evt_cli_err("%s: cannot rewrite: %s", s->path, rc ?
		    evt_strerror(rc) : strerror(errno));
		unlink(tmp);
		repair_tmp_set = 0;
		return EVT_EXIT_FAIL;
	}
	repair_tmp_set = 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	evt_cli_err("%s: rewritten: %" PRIu64 " frames, %" PRIu64 " events "
	    "kept, %" PRIu64 " unreadable records dropped", s->path, st.frames,
	    st.events, st.dropped);
	return 0;
}


/* Rewrites every segment the verifier finds damaged or unsealed. */
static int
cmd_repair(int argc, char **argv)
{
	parse_cmdline(&repair_cl, NULL, argc, argv);
	/* The writer's lock keeps a running recorder out; taking it also
	 * removes the temporary file of a repair that was killed. */
	struct evt_verify *v = open_verify(argv[1], EVT_AR_LOCK);
	signal(SIGTERM, repair_signal);
	signal(SIGINT, repair_signal);
	signal(SIGHUP, repair_signal);
	size_t n;
	const struct evt_segref *s = evt_archive_segments(arch, &n);
	int rc = 0;
	uint64_t fixed = 0;
	/* A damaged segment header is rebuilt with the archive's identity
	 * (with none, the bytes found in the damaged header are kept). */
	uint8_t uuid[16];
	int have_uuid = evt_verify_uuid(v, uuid);
	/* A rewritten segment's state checkpoint is the table of the
	 * frames that read up to its end (a damaged one's, or one written
	 * before damage in an earlier segment). */
	struct evt_buf ck = {0};
	for (size_t i = 0; i < n; i++) {
		struct evt_verify_seg vs;
		oom_check(evt_verify_segment(v, i, &vs));
		if (!vs.rewrite)
			continue;
		oom_check(evt_verify_checkpoint(v, &ck));
		if (repair_segment(argv[1], &s[i], have_uuid ? uuid : NULL,
		    ck.len > 0 ? &ck : NULL) != 0)
			rc = EVT_EXIT_FAIL;
		else
			fixed++;
	}
	evt_buf_free(&ck);
	/* The id index is derived data: runs that are damaged or cover a
	 * segment as it was before the rewrite go, and are built again. */
	int ir = evt_archive_reindex(arch);
	if (ir != 0) {
		evt_cli_err("%s: cannot rebuild the id index: %s", argv[1],
		    evt_strerror(ir));
		rc = EVT_EXIT_FAIL;
	}
	char line[512];
	snprintf(line, sizeof line, "%s: %" PRIu64 " segments rewritten",
	    argv[1], fixed);
	lost_tail(v, "recovered", line, sizeof line);
	evt_verify_close(v);
	outf("%s\n", line);
	return rc;
}

/*
 * prune
 */

/* What prune is asked for. */
struct prune_args {
	uint64_t max_bytes;
	int64_t max_age;
};

/* Applies one option of prune: --max-bytes or --max-age. */
static int
prune_opt(void *ctx, int c, char *arg)
{
	struct prune_args *pa = ctx;
	if (c == 'b')
		pa->max_bytes = evt_cli_size_arg("--max-bytes", arg);
	else
		pa->max_age = evt_cli_duration_arg("--max-age", arg);
	return 0;
}

static const struct option prune_lo[] = {
	{"max-bytes", required_argument, NULL, 'b'},
	{"max-age", required_argument, NULL, 'a'},
	{NULL, 0, NULL, 0},
};
static const struct cmdline prune_cl = {"prune DIR --max-bytes N --max-age D",
    prune_lo, prune_opt, 1, 1};

/* Deletes the oldest sealed segments beyond the limits. */
static int
cmd_prune(int argc, char **argv)
{
	struct prune_args pa = {0};
	int i = parse_cmdline(&prune_cl, &pa, argc, argv);
	if (pa.max_bytes == 0 && pa.max_age == 0)
		evt_cli_usage_err("usage: evtool %s", prune_cl.usage);
	/* The writer's lock: never delete beside a recorder's rotation. */
	struct evt_archive *a = open_archive(argv[i], EVT_AR_LOCK, NULL);
	uint64_t freed;
	int n = evt_archive_prune(a, pa.max_bytes, pa.max_age, evt_wall_us(),
	    &freed);
	evt_archive_close(a);
	if (n < 0) {
		evt_cli_err("%s: %s: %s", argv[i], evt_strerror(n),
		    strerror(errno));
		return EVT_EXIT_FAIL;
	}
	outf("%s: deleted %d segments, %" PRIu64 " bytes\n", argv[i], n,
	    freed);
	return 0;
}

/*
 * stats
 */

#define SEC ((int64_t)1000000)

/* What stats is asked for. */
struct stats_args {
	struct evt_sel sel;
	int64_t bucket;		/* 0: auto */
	uint64_t top;
	int json;
	int scan;		/* --scan: read every event, no summaries */
};

/* Applies one option of stats. */
static int
stats_opt(void *ctx, int c, char *arg)
{
	struct stats_args *sa = ctx;
	switch (c) {
	case 'n':
		sa->top = evt_cli_count_arg("--top", arg);
		return 0;
	case 'b':
		sa->bucket = evt_cli_duration_arg("--bucket", arg);
		if (sa->bucket < SEC || sa->bucket % SEC != 0)
			evt_cli_range_err("--bucket", arg, "whole seconds, "
			    "at least 1s");
		return 0;
	case 'j':
		sa->json = 1;
		return 0;
	case 'S':
		sa->scan = 1;
		return 0;
	case 'y':
		evt_cli_usage_err("stats counts every type; it takes no "
		    "--type");
	default:
		return sel_opt(&sa->sel, c, arg) ? 0 : EVT_EXIT_USAGE;
	}
}

static const struct option stats_lo[] = {
	SEL_OPTIONS,
	{"site", required_argument, NULL, OPT_SITE},
	{"top", required_argument, NULL, 'n'},
	{"bucket", required_argument, NULL, 'b'},
	{"json", no_argument, NULL, 'j'},
	{"scan", no_argument, NULL, 'S'},
	{NULL, 0, NULL, 0},
};
static const struct cmdline stats_cl = {"stats [--from T] [--to T] "
    "[--source S]... [--site S]... [--top N] [--bucket DUR] [--json] "
    "[--scan] DIR", stats_lo, stats_opt, 1, 1};

/* Feeds record rec of segment path to the count, reporting a CONFIG
 * marker that does not decode. */
static void
stats_feed(struct evt_stats *st, struct evt_segr *r, const struct evt_rec *rec,
    const char *path, uint64_t boff, int (*feed)(struct evt_stats *,
    struct evt_rdec *, const struct evt_rec *))
{
	struct evt_rdec *d = evt_segr_decoder(r);
	int rc = feed(st, d, rec);
	if (rc == EVT_ERR_CORRUPT)
		evt_cli_damage_cb(NULL, path, boff, d->err);
	oom_check(rc);
}

/* The CONFIG marker whose names the report takes: the last one in the
 * range, of the last segment holding one; when that segment was counted
 * from its summary, the marker is read at the end (stats_config_read). */
struct stats_config {
	int pending;		/* in a segment counted from its summary */
	size_t seg;
	struct evt_sum_pos pos;
	size_t at;		/* 1 + the segment whose names are taken or
				   pending (runs are counted out of order) */
};

/* Segment i's CONFIG marker at pos, counted from a summary, is the
 * report's if no later segment's is. */
static void
stats_config_at(struct stats_config *cfg, size_t i, struct evt_sum_pos pos)
{
	if (i + 1 >= cfg->at)
		*cfg = (struct stats_config){1, i, pos, i + 1};
}

/* Decodes the summary of sealed segment r (path) into s: 1 if it is there,
 * usable and complete, else 0 (a summary that does not decode is warned
 * about: the events are read instead). */
static int
summary_of(struct evt_segr *r, const char *path, struct evt_sum *s)
{
	const struct evt_seg_info *si = evt_segr_info(r);
	const char *why;
	size_t len;
	const uint8_t *p = evt_segr_summary(r, &len);
	memset(s, 0, sizeof *s);
	if (p == NULL)
		return 0;
	int rc = evt_sum_decode(p, len, evt_segr_decoder(r)->dict,
	    si->nblocks, s, &why);
	oom_check(rc);
	if (rc != 0)
		evt_cli_err("%s: summary unusable (%s); reading its events",
		    path, why);
	return rc == 0 && s->complete;
}

/* Counts sealed segment i (reader r) from its summary when it lies wholly
 * in the range and its summary answers the source selection; returns 1,
 * or 0 if its events must be read. */
static int
stats_from_summary(struct evt_stats *st, const struct evt_sel *sel,
    struct evt_segr *r, size_t i, struct stats_config *cfg)
{
	const struct evt_seg_info *si = evt_segr_info(r);
	size_t n;
	struct evt_sum s;
	if (!si->sealed || (si->nrecords > 0 && !(evt_sel_time(sel,
	    si->first_rx) && evt_sel_time(sel, si->last_rx))) ||
	    !summary_of(r, evt_archive_segments(arch, &n)[i].path, &s)) {
		evt_sum_free(&s);
		return 0;
	}
	int take = evt_stats_sum_selects(st, &s);
	oom_check(take);
	if (take != EVT_STATS_SEL_SOME) {
		oom_check(evt_stats_add_sum(st, &s, take == EVT_STATS_SEL_ALL));
		if (s.has_config)
			stats_config_at(cfg, i, s.config);
	}
	evt_sum_free(&s);
	return take != EVT_STATS_SEL_SOME;
}

/* Counts the records of segment i received in the selected range, from
 * its summary where it has one that answers (unless scan). */
static void
stats_segment(struct evt_stats *st, const struct stats_args *sa, size_t i,
    struct stats_config *cfg)
{
	size_t n;
	const char *path = evt_archive_segments(arch, &n)[i].path;
	struct evt_segr *r = open_range(i, &sa->sel);
	if (r == NULL)
		return;
	/* (--site reads the records: summaries do not know sites.) */
	if (!sa->scan && sa->sel.nsites == 0 &&
	    stats_from_summary(st, &sa->sel, r, i, cfg)) {
		evt_archive_close_segment(arch, r);
		return;
	}
	struct evt_rec rec;
	uint64_t boff, configs = evt_stats_frames(st, EVT_K_CONFIG);
	int rc;
	evt_stats_segment(st);
	while ((rc = evt_segr_next(r, &rec, &boff)) == 1) {
		site_rec(&sa->sel, evt_segr_decoder(r), &rec);
		if (rec.kind > EVT_K_SHAPEDEF && !site_cur(&sa->sel))
			continue;
		stats_feed(st, r, &rec, path, boff, evt_stats_record);
	}
	if (evt_stats_frames(st, EVT_K_CONFIG) != configs && i + 1 >= cfg->at)
		*cfg = (struct stats_config){.at = i + 1};
	evt_archive_close_segment(arch, r);
	oom_check(rc);
}

/* Takes the names of the CONFIG marker at cfg, in a segment counted from
 * its summary: its block is read, the marker found by its place. */
static void
stats_config_read(struct evt_stats *st, const struct stats_config *cfg)
{
	size_t n;
	const char *path = evt_archive_segments(arch, &n)[cfg->seg].path;
	struct evt_segr *r;
	if (evt_archive_open_segment(arch, cfg->seg, &r) != 0)
		return;
	uint32_t nb, frame = 0;
	int found = 0;
	evt_segr_rewind(r, cfg->pos.rx); /* loads the block directory */
	const struct evt_blkent *bl = evt_segr_blocks(r, &nb);
	uint64_t at = cfg->pos.block < nb ? bl[cfg->pos.block].off : 0, boff;
	struct evt_rec rec;
	int rc;
	while ((rc = evt_segr_next(r, &rec, &boff)) == 1) {
		if (boff != at || rec.kind == EVT_K_EVENT || rec.kind ==
		    EVT_K_ITEM || rec.kind == EVT_K_STRDEF || rec.kind ==
		    EVT_K_SHAPEDEF)
			continue;
		if (frame++ != cfg->pos.frame)
			continue;
		if ((found = rec.kind == EVT_K_CONFIG))
			stats_feed(st, r, &rec, path, boff, evt_stats_config);
		break;
	}
	if (!found)
		evt_cli_err("%s: offset %" PRIu64 ": the summary's CONFIG "
		    "marker is not there", path, at);
	evt_archive_close_segment(arch, r);
	oom_check(rc < 0 ? rc : 0);
}

/* Reads the names of every CONFIG marker of the archive in dir (stats
 * found one in its range, or the range starts later: an earlier marker
 * may name it); deltas make the last marker alone not enough. */
static void
stats_names_load(const char *dir)
{
	struct evt_archive *a;
	/* Its own handle, quiet: the counting reported damage. */
	int rc = evt_archive_open(dir, EVT_AR_NO_SIZES, NULL, NULL, NULL,
	    NULL, &a);
	if (rc != 0)
		return;
	if ((cfgnames = evt_names_new()) == NULL)
		oom_check(EVT_ERR_NOMEM);
	oom_check(evt_names_read(a, dir, cfgnames));
	evt_archive_close(a);
}

/* Orders roll-up entries by seq. */
static int
cmp_segref_ru(const void *x, const void *y)
{
	const struct evt_ru_seg *a = x, *b = y;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Orders segment references by seq. */
static int
cmp_segref(const void *x, const void *y)
{
	const struct evt_segref *a = x, *b = y;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Whether every segment of roll-up run r lies in the range (or has no
 * records). */
static int
run_in_range(const struct evt_sel *sel, const struct evt_ru_run *r)
{
	for (uint32_t i = 0; i < r->nsegs; i++)
		if (r->segs[i].nrecords > 0 && !(evt_sel_time(sel,
		    r->segs[i].first_rx) && evt_sel_time(sel,
		    r->segs[i].last_rx)))
			return 0;
	return 1;
}

/* Notes to the count the span of the events of every coarse run of v that
 * lies in the range and whose sources the selection takes all of: they
 * are counted, from the run or from its segments, so that whether a
 * coarse run's buckets fit the report's width is decided on the whole
 * span (evt_stats_sum_exact), not on the runs counted before it. */
static void
stats_coarse_span(struct evt_stats *st, const struct evt_sel *sel,
    const struct evt_ru_view *v)
{
	for (size_t k = 0; v != NULL && k < v->nrun; k++) {
		const struct evt_ru_run *r = &v->runs[k];
		struct evt_sum s;
		const char *why;
		if (r->bucket_us == EVT_SUM_BUCKET_US ||
		    v->cover[v->first[k]] != k || !run_in_range(sel, r))
			continue;
		int rc = evt_ru_sum(r, &s, &why);
		oom_check(rc == EVT_ERR_NOMEM ? rc : 0);
		if (rc == 0 && s.events > 0 && evt_stats_sum_selects(st, &s) ==
		    EVT_STATS_SEL_ALL)
			oom_check(evt_stats_span(st, s.first_rx, s.last_rx));
		evt_sum_free(&s);
	}
}

/* Whether roll-up run r can count its segments whole for this report:
 * each lies in the range (or has no records), and the selection takes
 * all or none of the run's sources; if so it is counted (events too when
 * all), its CONFIG marker taken as a summary's. */
static int
stats_run_whole(struct evt_stats *st, const struct evt_sel *sel,
    const struct evt_ru_run *r, struct stats_config *cfg)
{
	if (!run_in_range(sel, r))
		return 0;
	struct evt_sum s;
	const char *why;
	int rc = evt_ru_sum(r, &s, &why), take = EVT_STATS_SEL_SOME;
	oom_check(rc == EVT_ERR_NOMEM ? rc : 0);
	if (rc == 0)
		oom_check(take = evt_stats_sum_selects(st, &s));
	/* A coarse run's buckets fit only a report width that is a
	 * multiple of theirs: otherwise its segments answer. */
	if (take == EVT_STATS_SEL_ALL && !evt_stats_sum_exact(st, &s))
		take = EVT_STATS_SEL_SOME;
	if (take != EVT_STATS_SEL_SOME)
		oom_check(evt_stats_add_sum(st, &s, take == EVT_STATS_SEL_ALL));
	evt_sum_free(&s);
	if (take == EVT_STATS_SEL_SOME)
		return 0;
	size_t n;
	const struct evt_segref *segs = evt_archive_segments(arch, &n);
	struct evt_segref key = {.seq = r->cfg_seq};
	const struct evt_segref *at = r->cfg_seq == 0 ? NULL : bsearch(&key,
	    segs, n, sizeof *segs, cmp_segref);
	if (at != NULL)
		stats_config_at(cfg, (size_t)(at - segs), r->cfg);
	return 1;
}

/* Whether segment i, covered by roll-up run k of v, needs no reading:
 * the run counted it whole (used[k] 1; decided at its first segment), or
 * it lies wholly outside the range (then nothing of it counts). */
static int
stats_from_run(struct evt_stats *st, const struct evt_sel *sel,
    const struct evt_ru_view *v, size_t k, size_t i, uint8_t *used,
    struct stats_config *cfg)
{
	const struct evt_ru_run *r = &v->runs[k];
	size_t n;
	struct evt_ru_seg key = {.seq = evt_archive_segments(arch, &n)[i].seq};
	const struct evt_ru_seg *e = bsearch(&key, r->segs, r->nsegs,
	    sizeof *r->segs, cmp_segref_ru);
	if (used[k] == 0)
		used[k] = stats_run_whole(st, sel, r, cfg) ? 1 : 2;
	if (e == NULL)
		return 0;
	if (used[k] == 1)
		return (e->flags & EVT_RU_SUMMED) != 0;
	return e->nrecords > 0 && (e->last_rx < sel->from ||
	    (sel->to != INT64_MAX && e->first_rx >= sel->to));
}

/* evt_stats_out drain: writes the report out once it holds 1 MiB. */
static void
drain_cb(void *arg, struct evt_buf *b)
{
	omaybe();
}

/* Prints a picture of the activity in a range. */
static int
cmd_stats(int argc, char **argv)
{
	struct stats_args sa = {.top = 10};
	sel_init(&sa.sel, argc);
	int i = parse_cmdline(&stats_cl, &sa, argc, argv);
	names_setup(argv[i], &(struct outopts){0}, &sa.sel);
	struct evt_stats *st = evt_stats_new(&sa.sel, sa.bucket);
	if (st == NULL)
		oom_check(EVT_ERR_NOMEM);
	/* The roll-up checks the segments it covers itself (size and
	 * time): the listing need not stat them. */
	struct evt_archive *a = open_archive(argv[i], sa.scan ? 0 :
	    EVT_AR_NO_SIZES, NULL);
	struct stats_config cfg = {0};
	size_t n;
	evt_archive_segments(a, &n);
	struct evt_ru_view *v = rollup_open(argv[i], sa.scan ||
	    sa.sel.nsites > 0);
	uint8_t *used = v != NULL ? calloc(v->nrun + 1, 1) : NULL;
	if (v != NULL && used == NULL)
		oom_check(EVT_ERR_NOMEM);
	stats_coarse_span(st, &sa.sel, v);
	for (size_t k = 0; k < n; k++) {
		if (v != NULL && v->cover[k] != SIZE_MAX && stats_from_run(st,
		    &sa.sel, v, v->cover[k], k, used, &cfg))
			rollup_gap(k);
		else
			stats_segment(st, &sa, k, &cfg);
	}
	free(used);
	evt_ru_view_close(v);
	if (cfg.pending)
		stats_config_read(st, &cfg);
	if (cfgnames == NULL && (cfg.pending || evt_stats_has_config(st) ||
	    sa.sel.from != INT64_MIN))
		stats_names_load(argv[i]);
	evt_stats_names(st, cfgnames);
	struct evt_stats_out out = {obuf, drain_cb, NULL};
	oom_check(evt_stats_print(st, sa.json ? EVT_STATS_JSON :
	    EVT_STATS_TEXT, argv[i], evt_cli_damaged(), sa.top, &out));
	oflush();
	archive_lost_summary(argv[i]);
	evt_archive_close(a);
	if (sa.bucket > 0 && evt_stats_bucket(st) != sa.bucket)
		evt_cli_err("--bucket: widened to %" PRId64 " s to stay within "
		    "%u rows", evt_stats_bucket(st) / SEC,
		    EVT_STATS_MAX_BUCKETS);
	int none = site_none(argv[i], &sa.sel, &sitet);
	evt_stats_free(st);
	evt_sel_free(&sa.sel);
	evt_names_free(cfgnames);
	evt_siter_free(&sitet);
	return evt_cli_damaged() || none ? EVT_EXIT_PARTIAL : 0;
}

/*
 * merge
 */

/* Applies --window of merge. */
static int
merge_opt(void *ctx, int c, char *arg)
{
	size_t *window = ctx;
	uint64_t v = evt_cli_count_arg("--window", arg);
	if (v < 1 || v > ((uint64_t)1 << 30))
		evt_cli_range_err("--window", arg, "1..1073741824");
	*window = (size_t)v;
	return 0;
}

static const struct option merge_lo[] = {
	{"window", required_argument, NULL, 'w'},
	{NULL, 0, NULL, 0},
};
static const struct cmdline merge_cl = {"merge [--window N] OUT IN...",
    merge_lo, merge_opt, 2, INT32_MAX};

/* Refuses an OUT that exists and is not an empty directory (status 2). */
static void
merge_check_out(const char *out)
{
	if (evt_out_check(out) == EVT_ERR_EXISTS)
		evt_cli_usage_err("%s: exists and is not an empty directory "
		    "(merge writes a new archive)", out);
	evt_out_sweep(out, evt_cli_warn_cb, NULL);
}

/* The temporary directory beside out that a merge is built in:
 * DIR/.NAME.merge-PID.tmp (malloc'ed). */
static char *
merge_tmp_name(const char *out)
{
	size_t ol = strlen(out);
	while (ol > 1 && out[ol - 1] == '/')	/* OUT/ names OUT */
		ol--;
	size_t dl = ol;
	while (dl > 0 && out[dl - 1] != '/')
		dl--;
	size_t n = ol + 48;
	char *tmp = malloc(n);
	if (tmp == NULL)
		evt_cli_fatal("out of memory");
	snprintf(tmp, n, "%.*s.%.*s.merge-%ld.tmp", (int)dl, out,
	    (int)(ol - dl), out + dl, (long)getpid());
	return tmp;
}

/* Prints what each input gave; returns 1 if any lost something. */
static int
merge_report(char **in, size_t n, const struct evt_merge_stats *st)
{
	int partial = 0;
	for (size_t i = 0; i < n; i++) {
		if (st[i].failed) {
			outf("%s: not read\n", in[i]);
			partial = 1;
			continue;
		}
		outf("%s: %" PRIu64 " events contributed, %" PRIu64
		    " duplicates, %" PRIu64 " gaps closed, %" PRIu64
		    " gaps left\n", in[i], st[i].events, st[i].dups,
		    st[i].gaps_closed, st[i].gaps_left);
		evt_cli_lost_summary(in[i], st[i].lost_events,
		    st[i].lost_unknown);
		partial |= st[i].lost_events > 0 || st[i].lost_unknown > 0;
	}
	return partial;
}

/* Writes one archive from several: built in a temporary directory beside
 * OUT, renamed to OUT when complete. */
static int
cmd_merge(int argc, char **argv)
{
	size_t window = 0;
	int i = parse_cmdline(&merge_cl, &window, argc, argv);
	const char *out = argv[i];
	size_t nin = (size_t)(argc - i - 1);
	merge_check_out(out);
	/* The id index is built as segments are sealed, its runs merged
	 * into one over several segments at the end, in passes over their
	 * GUID columns (merge.h). */
	evt_idx_set_batch_keys(EVT_MERGE_IDX_BATCH);
	char *tmp = merge_tmp_name(out);
	struct evt_archive_opts o = {.seg.no_filter = 1,
	    .seg.level = EVT_LEVEL_DEFAULT, .seg.fsync = EVT_FSYNC_NEVER};
	struct evt_archive *a = open_archive(tmp, EVT_AR_WRITE |
	    EVT_AR_CREATE, &o);
	int hold = evt_out_hold(tmp);
	struct evt_merge_stats *st = calloc(nin, sizeof *st);
	struct evt_merge_opts mo = {window, evt_cli_damage_cb,
	    evt_cli_warn_cb, NULL};
	if (st == NULL)
		evt_cli_fatal("out of memory");
	int rc = evt_merge(a, (const char *const *)argv + i + 1, nin, &mo, st);
	size_t nread = 0;
	for (size_t k = 0; k < nin; k++)
		nread += !st[k].failed;
	if (rc == 0 && nread == 0)
		rc = EVT_ERR_NOTFOUND;	/* said per input */
	/* Sealed, then the id index and the roll-up over every segment (a
	 * writer leaves its last few segments to the next one's roll-up):
	 * OUT is complete as it appears. */
	if (rc == 0 && (rc = evt_archive_rotate(a)) == 0)
		rc = evt_archive_reindex(a);
	evt_out_unmark(tmp);
	int crc = evt_archive_close(a);
	if (rc == 0)
		rc = crc;
	if (rc == 0 && (rc = evt_out_publish(tmp, out)) != 0)
		evt_cli_err("%s: rename to %s: %s", tmp, out, strerror(errno));
	if (rc != 0) {
		evt_cli_err("%s: %s; nothing written", out, rc ==
		    EVT_ERR_NOTFOUND ? "no input could be read" :
		    evt_strerror(rc));
		evt_out_remove(tmp);
	}
	if (hold >= 0)
		close(hold);
	int partial = rc == 0 && merge_report(argv + i + 1, nin, st);
	free(st);
	free(tmp);
	if (rc != 0)
		return EVT_EXIT_FAIL;
	return partial || evt_cli_damaged() ? EVT_EXIT_PARTIAL : 0;
}

/* Prints the usage summary. */
static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: evtool COMMAND [options] DIR ...\n"
	    "  import [--level N] [--block-size S] [--dict-unit S|segment]\n"
	    "         [--layout 1.1|1.2|1.5|1.6] [--segment-size S] [--segment-age D]\n"
	    "         [--segment-filter] DIR [FILE]\n"
	    "                     read \"<rx us>\\t<message>\" lines\n"
	    "  cat [-f] [--messages|--tsv|--markers] [--from T] [--to T]\n"
	    "      [--source S]... [--type T]... [--site S]... [--names]\n"
	    "      [-o json|text [--utc] [-v]] DIR\n"
	    "                     print events (one JSON object per line);\n"
	    "                     -f, --follow: then every event a recorder\n"
	    "                     adds, until SIGINT/SIGTERM or --to;\n"
	    "                     --markers: \"<rx us>\\t<KIND>\\t<body>\";\n"
	    "                     --names: add sourceName, typeName,\n"
	    "                     stateGroupName; -o text: a line per event\n"
	    "                     (time, names; --utc, -v ids); --source and\n"
	    "                     --type take names and globs too; --site:\n"
	    "                     of these sites (globs; the site of the\n"
	    "                     last SESSION marker, formats/records.md)\n"
	    "  get [--meta] [--names] [-o json|text [--utc] [-v]] DIR ID\n"
	    "                     print one event by id (--meta: where, and\n"
	    "                     its site)\n"
	    "  state [--at T] [--source S]... [--site S] [--changed-since T]\n"
	    "        [--names] [-o json|text [--utc] [-v]] DIR\n"
	    "                     the states as of T (getState), JSON lines;\n"
	    "                     -o text: the state viewer (name, state,\n"
	    "                     since), --changed-since: changed since;\n"
	    "                     --site: of one site of a central archive\n"
	    "  info [--scan] DIR  counts, time span, size\n"
	    "  stats [--from T] [--to T] [--source S]... [--site S]...\n"
	    "        [--top N] [--bucket DUR] [--json] [--scan] DIR\n"
	    "                     activity: span, rates, events by type, the\n"
	    "                     top N sources (10; names from the CONFIG\n"
	    "                     marker),\n"
	    "                     events per time bucket (at most 48 rows\n"
	    "                     unless --bucket), snapshots, sessions, gaps,\n"
	    "                     raw frames, damaged blocks; --json: one object\n"
	    "                     (stats and info count sealed segments from\n"
	    "                     the summary roll-up, or their summaries and\n"
	    "                     index; --scan reads every event instead)\n"
	    "  report (--from T --to T | --around ID|TIME [--window DUR])\n"
	    "         [--source S]... [--type T]... [--site S] [--lanes N]\n"
	    "         [--rows N] [--lookback DUR|all] -o FILE.html DIR\n"
	    "                     one self-contained HTML incident report:\n"
	    "                     sessions and gaps, events per interval, a\n"
	    "                     timeline per source (states as bars, from\n"
	    "                     the last getState answer or 1h back), events\n"
	    "                     by type, the first N (500) events by name\n"
	    "  cut (--from T --to T | --around ID|TIME [--window DUR])\n"
	    "      [--source S]... [--type T]... [--site S] DIR OUT\n"
	    "                     a window as a new, self-contained archive\n"
	    "                     (names, state at its start, markers;\n"
	    "                     --site: of one site, its markers kept)\n"
	    "  ls DIR             one line per segment\n"
	    "  verify DIR         check every byte; exit 1 on damage\n"
	    "  repair DIR         rewrite damaged segments from what reads\n"
	    "  prune DIR [--max-bytes N] [--max-age D]\n"
	    "                     delete the oldest sealed segments\n"
	    "  merge [--window N] OUT IN...\n"
	    "                     one new archive from several (redundant\n"
	    "                     recorders): events once by id, in receive\n"
	    "                     time order; GAPs another input covers closed\n");
}

int
main(int argc, char **argv)
{
	evt_cli_init("evtool");
	obuf = evt_cli_out_buf();
	if (argc < 2) {
		usage(stderr);
		return EVT_EXIT_USAGE;
	}
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} cmds[] = {
		{"import", cmd_import}, {"cat", cmd_cat}, {"get", cmd_get},
		{"state", cmd_state}, {"info", cmd_info}, {"stats", cmd_stats},
		{"ls", cmd_ls}, {"verify", cmd_verify}, {"repair", cmd_repair},
		{"prune", cmd_prune}, {"report", cmd_report},
		{"merge", cmd_merge},
		{"cut", cmd_cut},
	};
	const char *cmd = argv[1];
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(cmd, cmds[i].name) != 0)
			continue;
		int rc = cmds[i].run(argc - 1, argv + 1);
		oflush();
		return rc;
	}
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	evt_cli_err("unknown command: %s", cmd);
	usage(stderr);
	return EVT_EXIT_USAGE;
}
