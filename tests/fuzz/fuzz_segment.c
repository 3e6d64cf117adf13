/*
 * fuzz_segment.c: libFuzzer target for the segment reader and the
 * writer's crash resume (src/segment_reader.c, src/segment_writer.c).
 *
 * The input is the content of a segment file.  It is written to an
 * anonymous memory file (memfd_create, read through /proc/self/fd/N; a
 * file in /tmp named after the pid where that is not available) and:
 *   1. opened with evt_segr_open(); every record of a full scan is
 *      rendered (items with evt_rdec_item_json, headers with
 *      evt_rdec_frame_head, ids with evt_rdec_field), as `evtool cat`
 *      does; the index, id filter and last id are looked at;
 *   2. read again block by block (evt_segr_force_scan), as `evtool
 *      verify` does;
 *   3. searched with evt_segr_find for ids seen in the scan and a few
 *      that are not there;
 *   4. resumed with evt_segw_resume() (when unsealed), appended to,
 *      sealed, and read back: the frames appended must read back as
 *      written.
 * Block payloads are checksummed (CRC-32C, and zstd's own checksum), so
 * mutations of a real file rarely reach the record decoder.  Each input is
 * therefore also used a second way: as the decompressed content of one
 * block (first byte: GUID count, then the GUID column, then the records),
 * wrapped here in a valid segment header, block header and zstd frame,
 * and put through the same steps.
 * Nothing may crash, hang, leak or read out of bounds (ASan/UBSan); the
 * only content rule checked is step 4's.  Plain C11 + the library, so
 * tests/fuzz/driver.c replays the corpus in `make test`.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zstd.h>

#include "evtape/crc32c.h"
#include "evtape/err.h"
#include "evtape/record.h"
#include "evtape/segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the failed condition: the fuzzer's only way to report. */
#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "fuzz_segment: %s:%d: %s\n",    \
			    __FILE__, __LINE__, #c);                    \
			abort();                                        \
		}                                                       \
	} while (0)

/* Records scanned per reading, far more than any input can hold unless a
 * reader loops. */
#define MAX_RECORDS 20000000u

/* Counts the problems a reader reports; checks what it is given. */
static void
err_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	uint64_t *n = arg;
	CHECK(path != NULL && what != NULL && what[0] != 0);
	(void)off;
	(*n)++;
}

/* Ids collected during a scan, to look up afterwards. */
struct ids {
	char id[4][EVT_REC_MAX_INTERN];
	size_t len[4];
	int n;
};

/* Scans every record of an open reader and renders it; returns the
 * number of EVENT records that rendered. */
static uint64_t
scan(struct evt_segr *r, struct ids *ids)
{
	struct evt_buf out = {0}, tail = {0};
	struct evt_rec rec;
	uint64_t boff, events = 0, n = 0;
	int rc;
	CHECK(evt_segr_rewind(r, INT64_MIN) == 0);
	while ((rc = evt_segr_next(r, &rec, &boff)) == 1) {
		struct evt_rdec *d = evt_segr_decoder(r);
		CHECK(++n < MAX_RECORDS);
		CHECK(rec.kind >= 0 && rec.kind <= EVT_K_MAX);
		out.len = 0;
		switch (rec.kind) {
		case EVT_K_STRDEF:
		case EVT_K_SHAPEDEF:
			break;
		case EVT_K_EVENT:
		case EVT_K_ITEM:
			rc = evt_rdec_item_json(d, &rec, &out);
			CHECK(rc == 0 || rc == EVT_ERR_CORRUPT);
			if (rec.kind != EVT_K_EVENT || rc != 0)
				break;
			events++;
			if (ids != NULL && ids->n < 4) {
				int k = evt_rdec_field(d, &rec, "id",
				    ids->id[ids->n], EVT_REC_MAX_INTERN);
				if (k >= 0)
					ids->len[ids->n++] = (size_t)k;
			}
			evt_rdec_field_strid(d, &rec, "source");
			break;
		default:
			rc = evt_rdec_frame_head(d, &rec, &out, &tail);
			CHECK(rc == 0 || rc == EVT_ERR_CORRUPT);
			break;
		}
	}
	CHECK(rc == 0);
	uint32_t nb;
	const struct evt_blkent *bl = evt_segr_blocks(r, &nb);
	CHECK(nb == 0 || bl != NULL);
	evt_buf_free(&out);
	evt_buf_free(&tail);
	return events;
}

/* Touches every byte of a GUID column and its damage marks (ASan then
 * checks the bounds evt_segr_columns hands out). */
static void
column_cb(void *arg, uint64_t blk_off, uint32_t flags, const uint8_t *guids,
    uint32_t nguid, const uint8_t *bad)
{
	uint64_t *sum = arg;
	(void)blk_off;
	(void)flags;
	for (size_t i = 0; i < 16 * (size_t)nguid; i++)
		*sum += guids[i];
	for (uint32_t i = 0; bad != NULL && i < nguid; i++)
		*sum += bad[i];
}

/* Reads the file at path in every way; see the top of the file. */
static void
read_all_ways(const char *path, struct ids *ids, uint64_t *nerr)
{
	struct evt_segr *r;
	if (evt_segr_open(path, err_cb, nerr, &r) != 0)
		return;
	const struct evt_seg_info *si = evt_segr_info(r);
	CHECK(si->sealed == 0 || si->sealed == 1);
	if (si->sealed) {
		evt_segr_load_index(r);
		evt_segr_check_filter(r);
		uint32_t first, count;
		evt_segr_probe(r, 12345, &first, &count);
	}
	size_t idl;
	evt_segr_last_id(r, &idl);
	scan(r, ids);
	/* Lookups: ids seen, and ids that are not there. */
	static const char *const absent[] = {
		"984cf5d2-ee0d-466c-bf0a-c38f64ad2089", "plain-id", "",
	};
	struct evt_rec rec;
	struct evt_buf out = {0};
	uint64_t boff;
	for (int i = 0; i < ids->n; i++) {
		int rc = evt_segr_find(r, ids->id[i], ids->len[i], &rec, &boff);
		CHECK(rc >= 0 || rc == EVT_ERR_CORRUPT);
		if (rc == 1) {
			out.len = 0;
			rc = evt_rdec_item_json(evt_segr_decoder(r), &rec, &out);
			CHECK(rc == 0 || rc == EVT_ERR_CORRUPT);
		}
	}
	for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
		int rc = evt_segr_find(r, absent[i], strlen(absent[i]), &rec,
		    &boff);
		CHECK(rc >= 0);
	}
	/* The scan after lookups starts over. */
	scan(r, NULL);
	evt_buf_free(&out);
	evt_segr_close(r);

	/* Block by block, as verify does, then its GUID columns. */
	if (evt_segr_open(path, err_cb, nerr, &r) != 0)
		return;
	evt_segr_force_scan(r);
	scan(r, NULL);
	uint64_t sum = 0;
	CHECK(evt_segr_columns(r, column_cb, &sum) != EVT_ERR_NOMEM);
	evt_segr_close(r);
}

/* Resumes an unsealed file, appends, seals, and reads it back clean. */
static void
resume_and_seal(const char *path)
{
	struct evt_segw *w;
	struct evt_seg_recovery rec;
	struct evt_segw_opts o = {.block_bytes = 256, .level = 1};
	int rc = evt_segw_resume(path, &o, &w, &rec);
	if (rc != 0)
		return;
	CHECK(rec.valid_end >= EVT_SEG_HDR_SIZE);
	static const char msg[] = "{\"events\":[{\"id\":"
	    "\"0a1b2c3d-0000-4000-8000-00000000000f\",\"type\":\"t\","
	    "\"time\":\"2026-01-05T07:59:59.9770068Z\"}]}";
	CHECK(evt_segw_frame(w, 42, msg, sizeof msg - 1) == EVT_K_MSG);
	CHECK(evt_segw_marker(w, EVT_K_GAP, 43, "{}", 2) == 0);
	CHECK(evt_segw_frame(w, 44, "raw", 3) == EVT_K_RAW);
	CHECK(evt_segw_seal(w) == 0);

	/* Blocks kept from the input may be damaged (bad blocks inside the
	 * kept range stay), and its dictionary may be full of placeholders
	 * (the event then goes in as an ITEM, unindexed); but the three
	 * frames appended must read back as written, at the end. */
	struct evt_segr *r;
	uint64_t nerr = 0;
	CHECK(evt_segr_open(path, err_cb, &nerr, &r) == 0);
	CHECK(evt_segr_info(r)->sealed);
	struct evt_buf cur = {0}, tail = {0}, win[3] = {{0}};
	int kinds[3] = {-1, -1, -1}, nfr = 0, kind = -1;
	uint32_t left = 0, emitted = 0;
	struct evt_rec re;
	uint64_t boff, n = 0;
	CHECK(evt_segr_rewind(r, INT64_MIN) == 0);
	while ((rc = evt_segr_next(r, &re, &boff)) == 1) {
		struct evt_rdec *d = evt_segr_decoder(r);
		CHECK(++n < MAX_RECORDS);
		if (re.kind == EVT_K_STRDEF || re.kind == EVT_K_SHAPEDEF)
			continue;
		int item = re.kind == EVT_K_EVENT || re.kind == EVT_K_ITEM;
		if (item && left == 0)
			continue; /* an item of a damaged frame */
		if (item) {
			if (emitted++ > 0)
				CHECK(evt_buf_putc(&cur, ',') == 0);
			evt_rdec_item_json(d, &re, &cur);
			if (--left > 0)
				continue;
			CHECK(evt_buf_put(&cur, tail.p, tail.len) == 0);
		} else {
			left = 0;
			cur.len = 0;
			kind = re.kind;
			evt_rdec_frame_head(d, &re, &cur, &tail);
			if ((re.kind == EVT_K_MSG || re.kind == EVT_K_STATES) &&
			    re.nitems > 0) {
				left = re.nitems;
				emitted = 0;
				continue;
			}
			CHECK(evt_buf_put(&cur, tail.p, tail.len) == 0);
		}
		/* A frame is complete: keep the last three. */
		struct evt_buf t = win[nfr % 3];
		win[nfr % 3] = cur;
		kinds[nfr % 3] = kind;
		cur = t;
		cur.len = 0;
		nfr++;
	}
	CHECK(rc == 0 && nfr >= 3);
	const struct evt_buf *m = &win[(nfr - 3) % 3], *g = &win[(nfr - 2) % 3];
	const struct evt_buf *w3 = &win[(nfr - 1) % 3];
	CHECK(kinds[(nfr - 3) % 3] == EVT_K_MSG);
	CHECK(kinds[(nfr - 2) % 3] == EVT_K_GAP);
	CHECK(kinds[(nfr - 1) % 3] == EVT_K_RAW);
	CHECK(m->len == sizeof msg - 1 && memcmp(m->p, msg, m->len) == 0);
	CHECK(g->len == 2 && memcmp(g->p, "{}", 2) == 0);
	CHECK(w3->len == 3 && memcmp(w3->p, "raw", 3) == 0);
	rc = evt_segr_find(r, "0a1b2c3d-0000-4000-8000-00000000000f", 36, &re,
	    &boff);
	CHECK(rc == 0 || rc == 1);
	if (rc == 1) {
		struct evt_buf ev = {0};
		CHECK(evt_rdec_item_json(evt_segr_decoder(r), &re, &ev) == 0);
		CHECK(ev.len == sizeof msg - 1 - 13 &&
		    memcmp(ev.p, msg + 11, ev.len) == 0);
		evt_buf_free(&ev);
	}
	for (int i = 0; i < 3; i++)
		evt_buf_free(&win[i]);
	evt_buf_free(&cur);
	evt_buf_free(&tail);
	evt_segr_close(r);
}

/* Writes v little-endian. */
static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Writes v little-endian. */
static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * Builds an unsealed segment of one block whose decompressed records and
 * GUID column come from the input (formats/segment.md, "Segment header",
 * "Block").  Returns the file size; *out is malloc'ed.
 */
static size_t
wrap_block(const uint8_t *data, size_t size, uint8_t **out)
{
	uint32_t nguid = size > 0 ? data[0] % 8 : 0;
	size_t gl = 16 * (size_t)nguid;
	if (size < 1 + gl)
		nguid = 0, gl = 0;
	const uint8_t *guids = data + (size > 0 ? 1 : 0);
	const uint8_t *recs = guids + gl;
	size_t rl = size - (size > 0 ? 1 : 0) - gl;
	size_t bound = ZSTD_compressBound(rl);
	uint8_t *f = calloc(1, 64 + 64 + bound + gl);
	CHECK(f != NULL);
	size_t zl = ZSTD_compress(f + 128, bound, recs, rl, 1);
	CHECK(!ZSTD_isError(zl));
	memcpy(f + 128 + zl, guids, gl);
	/* Segment header. */
	memcpy(f, EVT_SEG_MAGIC, 8);
	f[8] = EVT_SEG_VERSION;
	f[12] = EVT_SEG_HDR_SIZE;
	put64(f + 16, 1);
	put64(f + 24, 1767600000000000);
	put32(f + 60, evt_crc32c(0, f, 60));
	/* Block header. */
	uint8_t *h = f + 64;
	memcpy(h, EVT_BLK_MAGIC, 4);
	h[4] = EVT_BLK_HDR_SIZE;
	h[6] = EVT_BLK_VERSION;
	h[7] = EVT_CODEC_ZSTD;
	put32(h + 8, (uint32_t)zl);
	put32(h + 12, (uint32_t)rl);
	put32(h + 16, nguid);
	put32(h + 20, 1);
	put64(h + 40, 1767600000000000);
	put64(h + 48, 1767600000000000);
	put32(h + 56, evt_crc32c(0, f + 128, zl + gl));
	put32(h + 60, evt_crc32c(0, h, 60));
	*out = f;
	return 128 + zl + gl;
}

/* Runs every step on one file content. */
static void
run(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = memfd_create("fuzz_segment", 0);
	if (fd >= 0) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	} else {
		snprintf(path, sizeof path, "/tmp/fuzz_segment.%ld.evt",
		    (long)getpid());
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		CHECK(fd >= 0);
	}
	size_t done = 0;
	while (done < size) {
		ssize_t k = write(fd, data + done, size - done);
		CHECK(k > 0);
		done += (size_t)k;
	}

	struct ids ids = {0};
	uint64_t nerr = 0;
	read_all_ways(path, &ids, &nerr);
	resume_and_seal(path);

	close(fd);
	if (strncmp(path, "/tmp/", 5) == 0)
		unlink(path);
}

/* The fuzz entry point: see the top of the file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *seg;
	run(data, size);
	size_t n = wrap_block(data, size, &seg);
	run(seg, n);
	free(seg);
	return 0;
}
