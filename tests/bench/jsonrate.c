/*
 * jsonrate: the JSON benchmark of tests/bench/run.sh.  Reads import-format
 * lines (evgen's TSV, formats/tsv.md) into memory and times, over the JSON
 * text of every line, the two steps the recorder runs on every frame
 * (src/evrec.c): the tokenizer alone (evt_json_parse), and the tokenizer
 * followed by the record encoder that writes msgpack (evt_renc_frame_tok,
 * with blocks closed at 64 KiB and dictionary units at 4 MiB as the segment
 * writer does by default; no zstd, no file).  Each is the best of PASSES
 * passes (default 3), so that a loaded machine costs least.  Prints one line
 * "EVENTS MESSAGES BYTES TOKENIZER_SECONDS RECORDS_SECONDS" on stdout, BYTES
 * being the frames' text only; exits 1 on a file it cannot read, a line
 * `evtool import` would refuse, or an encoder error.  No figure is judged
 * here.
 *
 *   jsonrate TSV [PASSES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evtape/buf.h"
#include "evtape/json.h"
#include "evtape/record.h"
#include "evtape/segment.h"
#include "evtape/tsv.h"

struct frame {
	const char *text;	/* into the file's buffer */
	size_t len;
	int64_t rx_us;
};

struct input {
	struct evt_buf file;	/* the whole TSV, unescaped in place */
	struct frame *f;
	size_t n, cap;
	size_t bytes;		/* JSON text bytes of all frames */
	size_t events;		/* elements of every "events" array */
};

/* Returns the monotonic clock in seconds. */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads the whole of path into b; returns 0 or -1 with a message. */
static int
slurp(const char *path, struct evt_buf *b)
{
	FILE *fp = fopen(path, "rb");
	char chunk[1 << 16];
	size_t got;

	if (fp == NULL) {
		perror(path);
		return -1;
	}
	while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0)
		if (evt_buf_put(b, chunk, got) != 0) {
			fprintf(stderr, "jsonrate: out of memory\n");
			fclose(fp);
			return -1;
		}
	int bad = ferror(fp);
	fclose(fp);
	if (bad) {
		fprintf(stderr, "jsonrate: %s: read error\n", path);
		return -1;
	}
	return 0;
}

/* Splits the file into frames (evt_tsv_parse, as `evtool import` reads
 * them); returns 0 or -1 naming the refused line. */
static int
split(struct input *in, const char *path)
{
	char *p = (char *)in->file.p, *end = p + in->file.len;
	size_t lineno = 0;

	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct evt_tsv_line l;
		lineno++;
		int rc = evt_tsv_parse(p, len, &l);
		if (rc < 0) {
			fprintf(stderr, "jsonrate: %s:%zu: %s\n", path, lineno,
			    l.err);
			return -1;
		}
		p += len + (nl != NULL);
		if (rc == 0)
			continue;
		if (in->n == in->cap) {
			size_t cap = in->cap ? 2 * in->cap : 4096;
			struct frame *f = realloc(in->f, cap * sizeof *f);
			if (f == NULL) {
				fprintf(stderr, "jsonrate: out of memory\n");
				return -1;
			}
			in->f = f;
			in->cap = cap;
		}
		in->f[in->n++] = (struct frame){l.text, l.len,
		    l.has_rx ? l.rx_us : 0};
		in->bytes += l.len;
	}
	return 0;
}

/* The element count of a tokenized {"events":[...]} message, else 0. */
static size_t
count_events(const struct evt_jparser *jp, const char *text)
{
	const struct evt_jtok *t = jp->tok;

	if (t[0].type != EVT_J_OBJECT)
		return 0;
	for (uint32_t i = 1, m = 0; m < t[0].size; m++) {
		const struct evt_jtok *k = &t[i], *v = &t[k->next];
		if (k->len == 6 && memcmp(text + k->off, "events", 6) == 0 &&
		    v->type == EVT_J_ARRAY)
			return v->size;
		i = v->next;
	}
	return 0;
}

/* One pass of the tokenizer over every frame; returns its seconds.  A
 * frame that is not JSON is timed like the others (the recorder parses
 * it too, and keeps it raw). */
static double
pass_tokenizer(const struct input *in, struct evt_jparser *jp)
{
	double t0 = now_s();
	for (size_t i = 0; i < in->n; i++)
		(void)evt_json_parse(jp, in->f[i].text, in->f[i].len);
	return now_s() - t0;
}

/* One pass of tokenizer + record encoder, blocks and units cut as the
 * segment writer cuts them by default; returns seconds or -1. */
static double
pass_records(const struct input *in, struct evt_jparser *jp)
{
	struct evt_renc e;
	size_t unit = 0;

	if (evt_renc_init(&e) != 0) {
		fprintf(stderr, "jsonrate: out of memory\n");
		return -1;
	}
	double t0 = now_s();
	for (size_t i = 0; i < in->n; i++) {
		const struct frame *f = &in->f[i];
		/* A failed parse makes evt_renc_frame_tok parse again
		 * and write a RAW record, as the recorder does. */
		(void)evt_json_parse(jp, f->text, f->len);
		int rc = evt_renc_frame_tok(&e, f->rx_us, f->text, f->len, jp);
		if (rc < 0) {
			fprintf(stderr, "jsonrate: frame %zu: encoding "
			    "failed (%d)\n", i + 1, rc);
			evt_renc_free(&e);
			return -1;
		}
		size_t block = e.recs.len + e.guids.len;
		if (block >= EVT_BLOCK_BYTES_DEFAULT) {
			evt_renc_block_reset(&e);
			unit += block;
			if (unit >= EVT_UNIT_BYTES_DEFAULT) {
				evt_renc_unit_reset(&e);
				unit = 0;
			}
		}
	}
	double s = now_s() - t0;
	evt_renc_free(&e);
	return s;
}

/* Best (smallest) time of passes runs of one pass function, or -1. */
static double
best_of(int passes, double (*pass)(const struct input *,
    struct evt_jparser *), const struct input *in, struct evt_jparser *jp)
{
	double best = -1;

	for (int i = 0; i < passes; i++) {
		double s = pass(in, jp);
		if (s < 0)
			return -1;
		if (best < 0 || s < best)
			best = s;
	}
	return best;
}

int
main(int argc, char **argv)
{
	struct input in = {0};
	struct evt_jparser jp;
	int passes = argc > 2 ? atoi(argv[2]) : 3;
	int status = 1;

	if (argc < 2 || argc > 3 || passes < 1) {
		fprintf(stderr, "usage: jsonrate TSV [PASSES]\n");
		return 2;
	}
	evt_json_init(&jp, EVT_REC_MAX_DEPTH);
	if (slurp(argv[1], &in.file) != 0 || split(&in, argv[1]) != 0)
		goto out;
	/* The events are counted outside the timed passes; this untimed
	 * pass also warms the caches and the token array. */
	for (size_t i = 0; i < in.n; i++)
		if (evt_json_parse(&jp, in.f[i].text, in.f[i].len) > 0)
			in.events += count_events(&jp, in.f[i].text);
	double tok = best_of(passes, pass_tokenizer, &in, &jp);
	double rec = best_of(passes, pass_records, &in, &jp);
	if (rec < 0)
		goto out;
	printf("%zu %zu %zu %.6f %.6f\n", in.events, in.n, in.bytes, tok, rec);
	status = 0;
out:
	evt_json_free(&jp);
	free(in.f);
	evt_buf_free(&in.file);
	return status;
}
