/*
 * test_readloss.c: what a reader does with records that decode badly
 * inside a block whose checksums are intact (a faulty or hostile writer):
 * formats/records.md, "Damage".  A one-block unsealed segment is written,
 * its block is decompressed, one record is changed through msgpack-c and
 * the block is written back with fresh checksums; the scan must then
 * never hand out an event that differs from what was written, and must
 * report and count (evt_segr_lost) what it cannot read:
 *
 * - a STR element naming no string: the event's GUIDs were not counted,
 *   so every later event of the block with an id or a time is unknown
 *   (before the fix they came out with the next event's id and times);
 * - a MSG header announcing more items than follow: the message is
 *   incomplete (before the fix it was closed silently).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "evtape/crc32c.h"
#include "evtape/err.h"
#include "evtape/segment.h"
#define T_RNG_SEED 0x2545F4914F6CDD1DULL
#include "t.h"

#define NMSG 3
#define NEV 3 /* events per message */

static char dir[64];
static char ev[NMSG * NEV][160]; /* the events written, as JSON */
static int problems;

/* Little-endian u32 at p. */
static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Stores v little-endian at p. */
static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Counts the reader's reports. */
static void
err_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	(void)arg;
	problems++;
	printf("#   %s: offset %llu: %s\n", path, (unsigned long long)off, what);
}

/* Writes an unsealed one-block segment of NMSG messages of NEV events,
 * each with a GUID id, a 7-digit time and an interned type. */
static void
write_segment(const char *path)
{
	struct evt_segw *w;
	uint8_t uuid[16] = {1};
	/* Row blocks (block version 1): patch_block edits the records as
	 * MessagePack; columnar blocks rebuild the same records. */
	struct evt_segw_opts o = {.row_blocks = 1};
	unlink(path);
	if (evt_segw_create(path, 1, uuid, 1000000, &o, &w) != 0)
		abort();
	for (int m = 0; m < NMSG; m++) {
		char msg[1024] = "{\"events\":[";
		for (int e = 0; e < NEV; e++) {
			int k = m * NEV + e;
			snprintf(ev[k], sizeof ev[k], "{\"id\":\"%08x-0000-4000-"
			    "8000-%012x\",\"time\":\"2026-01-05T08:00:%02d."
			    "%07dZ\",\"type\":\"t%d\"}", 0x1000 + k, 0x77 * k,
			    k, 1234567 + k, k % 2);
			if (e > 0)
				strcat(msg, ",");
			strcat(msg, ev[k]);
		}
		strcat(msg, "]}");
		if (evt_segw_frame(w, 2000000 + m, msg, strlen(msg)) < 0)
			abort();
	}
	if (evt_segw_flush(w) != 0)
		abort();
	evt_segw_close(w);
}

/* Changes one record of the segment's first block: mutate(o) is called
 * for every record (a msgpack array, mutable) and the block is packed,
 * compressed and checksummed again. */
static void
patch_block(const char *path, void (*mutate)(msgpack_object *o))
{
	FILE *f = fopen(path, "rb");
	static uint8_t file[1 << 20];
	size_t n = fread(file, 1, sizeof file, f);
	fclose(f);
	uint8_t *h = file + 64;
	uint32_t zlen = get32(h + 8), rawlen = get32(h + 12);
	uint32_t nguid = get32(h + 16);
	if (64 + 64 + zlen + 16 * (size_t)nguid != n)
		abort(); /* one block expected */
	char *raw = malloc(rawlen);
	if (ZSTD_decompress(raw, rawlen, h + 64, zlen) != rawlen)
		abort();
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	while (msgpack_unpack_next(&u, raw, rawlen, &off) ==
	    MSGPACK_UNPACK_SUCCESS) {
		mutate(&u.data);
		msgpack_pack_object(&pk, u.data);
	}
	msgpack_unpacked_destroy(&u);
	size_t cap = ZSTD_compressBound(sb.size);
	uint8_t *out = malloc(64 + 64 + cap + 16 * (size_t)nguid);
	memcpy(out, file, 128);
	size_t z = ZSTD_compress(out + 128, cap, sb.data, sb.size, 3);
	if (ZSTD_isError(z))
		abort();
	memcpy(out + 128 + z, h + 64 + zlen, 16 * (size_t)nguid);
	put32(out + 64 + 8, (uint32_t)z);
	put32(out + 64 + 12, (uint32_t)sb.size);
	put32(out + 64 + 56, evt_crc32c(0, out + 128, z + 16 * (size_t)nguid));
	put32(out + 64 + 60, evt_crc32c(0, out + 64, 60));
	f = fopen(path, "wb");
	fwrite(out, 1, 128 + z + 16 * (size_t)nguid, f);
	fclose(f);
	msgpack_sbuffer_destroy(&sb);
	free(out);
	free(raw);
}

/* The change mutate makes: element idx of the first record of this kind
 * and size becomes val, or grows by 1 (val 0). */
static struct {
	uint64_t kind;
	uint32_t size, idx;
	uint64_t val;
	int done;
} change;

/* Applies `change` to record o if it is the first that fits. */
static void
mutate(msgpack_object *o)
{
	if (change.done || o->type != MSGPACK_OBJECT_ARRAY ||
	    o->via.array.size != change.size ||
	    o->via.array.ptr[0].via.u64 != change.kind)
		return;
	uint64_t *v = &o->via.array.ptr[change.idx].via.u64;
	*v = change.val ? change.val : *v + 1;
	change.done = 1;
}

/*
 * Scans the segment: every EVENT handed out must render to one of the
 * events written; returns how many did (*altered: how many rendered to
 * something else) and sets *lost / *unknown from evt_segr_lost.
 */
static int
scan(const char *path, int *altered, uint64_t *lost, uint64_t *unknown)
{
	struct evt_segr *r;
	struct evt_rec rec;
	struct evt_buf b = {0};
	int good = 0, rc;
	*altered = 0;
	problems = 0;
	if (evt_segr_open(path, err_cb, NULL, &r) != 0)
		return -1;
	evt_segr_rewind(r, INT64_MIN);
	while ((rc = evt_segr_next(r, &rec, NULL)) == 1) {
		if (rec.kind != EVT_K_EVENT)
			continue;
		b.len = 0;
		if (evt_rdec_item_json(evt_segr_decoder(r), &rec, &b) != 0) {
			problems++;
			continue;
		}
		int hit = 0;
		for (int k = 0; k < NMSG * NEV; k++)
			hit |= b.len == strlen(ev[k]) &&
			    memcmp(b.p, ev[k], b.len) == 0;
		good += hit;
		*altered += !hit;
		if (!hit)
			printf("#   altered: %.*s\n", (int)b.len, (char *)b.p);
	}
	evt_segr_lost(r, lost, unknown);
	evt_segr_close(r);
	evt_buf_free(&b);
	return good;
}

int
main(void)
{
	snprintf(dir, sizeof dir, "/tmp/evt-readloss.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	char path[128];
	snprintf(path, sizeof path, "%s/seg-000000000001.evt", dir);
	int altered;
	uint64_t lost, unknown;

	write_segment(path);
	int good = scan(path, &altered, &lost, &unknown);
	T_EQ(good, NMSG * NEV, "the intact segment reads whole");
	T_EQ(problems, 0, "and without reports");

	/* The first EVENT's last element, its "type" (a STR), names no
	 * string. */
	change.kind = EVT_K_EVENT, change.size = 4, change.idx = 3;
	change.val = 999999;
	patch_block(path, mutate);
	good = scan(path, &altered, &lost, &unknown);
	T_EQ(altered, 0, "bad string reference: no event handed out altered "
	    "(ids and times after it are unknown, not guessed)");
	T_OK(good < NMSG * NEV, "the damaged event is not handed out (%d)",
	    good);
	T_OK(problems > 0, "bad string reference reported");
	T_EQ(lost, (uint64_t)(NMSG * NEV - good), "every event not handed "
	    "out is counted as lost");
	T_EQ(unknown, 0, "no place of unknown count");

	write_segment(path);
	/* The first MSG header announces one item more than it has. */
	change.kind = EVT_K_MSG, change.size = 3, change.idx = 2;
	change.val = 0, change.done = 0;
	patch_block(path, mutate);
	good = scan(path, &altered, &lost, &unknown);
	T_EQ(good, NMSG * NEV, "incomplete message: every event reads");
	T_EQ(altered, 0, "incomplete message: nothing altered");
	T_OK(problems > 0, "the incomplete message is reported");
	T_EQ(lost, 1, "its missing item is counted as lost");

	unlink(path);
	rmdir(dir);
	T_DONE();
}
