/*
 * test_colform.c: the columnar form of blocks and the packed GUID column
 * (src/colform.c; formats/records.md, "Columnar blocks"; formats/
 * segment.md, "GUID column"): records of every kind and odd MessagePack
 * come back byte for byte, the worked example of the spec decodes, damaged
 * forms are refused with a reason, packing follows the spec's test vector.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/colform.h"
#include "evtape/err.h"
#include "t.h"

static struct evt_colenc enc;

/* Time columns for form 2: element 4 of shape 0 (`time` of the worked
 * example's shape), every column of other shapes (so that the odd
 * records put non-TIME integers through the time coding too). */
static uint32_t
time_cols(const void *ctx, uint32_t s)
{
	(void)ctx;
	return s == 0 ? 1u << 3 : ~0u;
}

/* Whether n record bytes at p survive encode + decode in form `form`;
 * the form in *f. */
static int
round_trip_form(int form, const uint8_t *p, size_t n, struct evt_buf *f)
{
	size_t parts[EVT_COL_MAX_PARTS], np;
	struct evt_buf back = {0};
	const char *why = NULL;
	enc.form = form;
	enc.time_cols = time_cols;
	int ok = evt_colform_encode(&enc, p, n, f, parts, &np) == 0 &&
	    evt_colform_decode(form, f->p, f->len, 1u << 30, &back,
	    &why) == 0 && back.len == n && memcmp(back.p, p, n) == 0;
	evt_buf_free(&back);
	return ok;
}

/* Two encoders in two threads (a writer and a sealing thread): each
 * encodes the same block over and over and counts results that differ
 * from the reference. */
struct par {
	const uint8_t *p;
	size_t n;
	const struct evt_buf *ref;
	int bad;
};

/* The body of one thread of the test above. */
static void *
encode_often(void *arg)
{
	struct par *a = arg;
	struct evt_colenc c = {.form = EVT_COLFORM_2, .time_cols = time_cols};
	struct evt_buf f = {0};
	size_t parts[EVT_COL_MAX_PARTS], np;
	for (int i = 0; i < 3000; i++)
		if (evt_colform_encode(&c, a->p, a->n, &f, parts, &np) != 0 ||
		    f.len != a->ref->len || memcmp(f.p, a->ref->p, f.len) != 0)
			a->bad++;
	evt_buf_free(&f);
	evt_colenc_free(&c);
	return NULL;
}

/* Whether two threads encoding evs at once get the reference ref. */
static int
encode_in_threads(const uint8_t *p, size_t n, const struct evt_buf *ref,
    int *bad)
{
	struct par a[2] = {{p, n, ref, 0}, {p, n, ref, 0}};
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, encode_often, &a[i]) != 0)
			return 0;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	*bad = a[0].bad + a[1].bad;
	return *bad == 0;
}

/* Whether n record bytes at p survive both forms; form 1 in *f. */
static int
round_trip(const uint8_t *p, size_t n, struct evt_buf *f)
{
	return round_trip_form(EVT_COLFORM_2, p, n, f) &&
	    round_trip_form(EVT_COLFORM_1, p, n, f);
}

/* Hand-made records: every kind, integers of every width and sign,
 * forms no writer produces (non-shortest integers, a 16-element array,
 * an uppercase GUID string, a GUID string with a long prefix). */
static const uint8_t odd_records[] = {
	0x93, 0x02, 0xcf, 0x00, 0x06, 0x47, 0x9f, 0x72, 0x1a, 0xe0, 0x00, 0x02,
	0x92, 0x00, 0xa2, 'i', 'd',
	0x92, 0x00, 0xd9, 0x24, /* uppercase GUID text: kept as it is */
	'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', '-', 'B', 'B', 'B', 'B', '-',
	'4', 'C', 'C', 'C', '-', '8', 'D', 'D', 'D', '-', 'E', 'E', 'E', 'E',
	'E', 'E', 'E', 'E', 'E', 'E', 'E', 'E',
	0x95, 0x01, 0x00, 0x02, 0x01, 0x03,
	0x94, 0x03, 0x00, 0xcd, 0x00, 0x05, /* 5 as uint 16: not shortest */
	0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0, /* INT64_MIN */
	0x94, 0x03, 0x00, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xe0,
	0x94, 0x03, 0x07, 0x01, 0x02, /* shape 7 */
	0x92, 0x04, 0xc0,
	0x93, 0x07, 0xd2, 0xff, 0xf0, 0xb9, 0xd8, 0xc4, 0x03, 'a', 'b', 'c',
	0xdc, 0x00, 0x10, 0x05, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15,
	0x91, 0x05,
	0xc1, /* not MessagePack at all: the rest is kept whole */
	0x01, 0x02,
};

/* The records of formats/records.md, "Worked example" (373 bytes), built
 * from their parts. */
static size_t
example_records(uint8_t *out)
{
	static const char *strs[] = {"id", "source",
	    "cameras/c80c8215-744c-48bd-aeca-b82a8ec516d6", "specversion",
	    "1.0", "stategroupid", "720ef62a-78be-418a-8e4c-ee04ffca6429",
	    "time", "type", "6eb95dd6-7ccc-4bce-99f8-af0d0b582d77",
	    "cameras/cf0d1f8d-beee-4d72-bc5b-beedb9a7e8b9",
	    "3e732c3f-c751-49e0-9f54-07cd07330586",
	    "79a94f89-92de-4fca-8a43-5561d407423d"};
	size_t n = 0;
	static const uint8_t msg[] = {0x93, 0x02, 0xcf, 0x00, 0x06, 0x47, 0x9f,
	    0x72, 0x1a, 0xe0, 0x00, 0x02};
	memcpy(out, msg, sizeof msg);
	n += sizeof msg;
	for (int i = 0; i < 13; i++) {
		size_t l = strlen(strs[i]);
		out[n++] = 0x92;
		out[n++] = 0x00;
		if (l < 32) {
			out[n++] = (uint8_t)(0xa0 | l);
		} else {
			out[n++] = 0xd9;
			out[n++] = (uint8_t)l;
		}
		memcpy(out + n, strs[i], l);
		n += l;
		if (i == 9) {
			static const uint8_t tail[] = {0x9d, 0x01, 0x00, 0x02,
			    0x01, 0x01, 0x03, 0x01, 0x05, 0x01, 0x07, 0x03, 0x08,
			    0x01, 0x97, 0x03, 0x00, 0x02, 0x04, 0x06, 0xcf, 0x00,
			    0x3e, 0xcc, 0x3a, 0x75, 0x09, 0x3d, 0xd4, 0x09};
			memcpy(out + n, tail, sizeof tail);
			n += sizeof tail;
		}
	}
	static const uint8_t ev2[] = {0x97, 0x03, 0x00, 0x0a, 0x04, 0x0b, 0xce,
	    0x00, 0x02, 0x46, 0x3a, 0x0c};
	memcpy(out + n, ev2, sizeof ev2);
	return n + sizeof ev2;
}

int
main(void)
{
	struct evt_buf f = {0}, back = {0};
	const char *why = NULL;
	uint8_t ex[512];
	size_t exn = example_records(ex);

	T_EQ(exn, 373, "the worked example's records are 373 bytes");
	T_OK(round_trip(ex, exn, &f), "worked example: back byte for byte");
	/* The spec's worked example: 273 bytes, starting as it says. */
	static const uint8_t head[] = {0xf5, 0x02, 0x01, 0x00, 0x05, 0x80,
	    0xc0, 0xeb, 0x90, 0xf7, 0xf3, 0x91, 0x03, 0x01, 0x00};
	T_OK(f.len == 273 && memcmp(f.p, head, sizeof head) == 0,
	    "worked example: the columnar form of records.md (%zu bytes)",
	    f.len);
	/* Form 2 of the worked example: records.md, "Worked example: form
	 * 2" (its time column holds latencies). */
	static const uint8_t head2[] = {0xf5, 0x02, 0x01, 0x00, 0x05, 0x00,
	    0x08, 0x80, 0xc0, 0xeb, 0x90, 0xf7, 0xf3, 0x91, 0x03, 0x01, 0x00,
	    0x00, 0x01, 0x00};
	T_OK(round_trip_form(EVT_COLFORM_2, ex, exn, &f) && f.len == 270 &&
	    memcmp(f.p, head2, sizeof head2) == 0,
	    "worked example, form 2: back byte for byte, the bytes of "
	    "records.md (%zu bytes)", f.len);
	if (getenv("DUMP") != NULL)
		for (size_t i = 0; i < f.len; i++)
			printf("%02x%s", f.p[i], i % 16 == 15 ? "\n" : " ");
	/* 64 more EVENTs of the example's second: source, specversion,
	 * stategroupid and type repeat and are joined; time is not. */
	uint8_t evs[512 + 64 * 12];
	size_t mn = exn;
	memcpy(evs, ex, exn);
	for (int i = 0; i < 64; i++, mn += 12) {
		memcpy(evs + mn, ex + exn - 12, 12);
		evs[mn + 11] = (uint8_t)(i % 3 ? 0x09 : 0x0c);
	}
	struct evt_buf f1 = {0};
	int ok2 = round_trip_form(EVT_COLFORM_2, evs, mn, &f);
	int ok1 = round_trip_form(EVT_COLFORM_1, evs, mn, &f1);
	/* reclen (2 bytes), nshape, shape, npos, then the join mask. */
	T_OK(ok2 && ok1 && f.p[5] == 0x17 && f.p[6] == 0x08 && f.len < f1.len,
	    "66 EVENTs: columns 0, 1, 2 and 4 joined (mask %#x), time coded "
	    "(mask %#x); form 2 %zu bytes, form 1 %zu", f.p[5], f.p[6], f.len,
	    f1.len);
	int nbad = 0;
	T_OK(encode_in_threads(evs, mn, &f, &nbad),
	    "two encoders in two threads: every block as encoded alone "
	    "(%d of 6000 differ)", nbad);
	evt_buf_free(&f1);
	T_OK(round_trip(odd_records, sizeof odd_records, &f),
	    "odd MessagePack and records no writer makes: back byte for byte");
	static const uint8_t none[1];
	T_OK(round_trip(none, 0, &f) && f.len > 0, "no records");

	/* Random bytes, and random runs of small records. */
	int ok = 1;
	uint8_t buf[4096];
	for (int i = 0; i < 300 && ok; i++) {
		size_t n = rng() % sizeof buf;
		for (size_t k = 0; k < n; k++)
			buf[k] = (uint8_t)(i % 2 ? rng() : (rng() % 4 ? 0x93 +
			    rng() % 3 : rng() % 12));
		ok = round_trip(buf, n, &f);
	}
	T_OK(ok, "random bytes: back byte for byte");

	/* Damage: every cut and every single-byte change of the example's
	 * form either decodes (to anything) or says why. */
	round_trip(ex, exn, &f);
	int said = 1, refused = 0;
	uint8_t *m = malloc(f.len);
	for (size_t cut = 0; cut < f.len; cut++) {
		why = NULL;
		int rc = evt_colform_decode(EVT_COLFORM_1, f.p, cut, 1u << 30, &back, &why);
		said &= rc == EVT_ERR_CORRUPT && why != NULL;
	}
	for (size_t at = 0; at < f.len; at++) {
		memcpy(m, f.p, f.len);
		m[at] ^= 0x5a;
		why = NULL;
		int rc = evt_colform_decode(EVT_COLFORM_1, m, f.len, 1u << 30, &back, &why);
		said &= rc == 0 || (rc == EVT_ERR_CORRUPT && why != NULL);
		refused += rc != 0;
	}
	free(m);
	T_OK(said && refused > 0, "damaged forms: refused with a reason "
	    "(every cut; %d of %zu changed bytes)", refused, f.len);
	T_OK(evt_colform_decode(EVT_COLFORM_1, f.p, f.len, 100, &back, &why) ==
	    EVT_ERR_CORRUPT && strstr(why, "record length") != NULL,
	    "records longer than the bound: refused (%s)", why);

	/* Packed GUIDs: the test vector of segment.md, "GUID column". */
	static const uint8_t ids[32] = {0x98, 0x4c, 0xf5, 0xd2, 0xee, 0x0d,
	    0x46, 0x6c, 0xbf, 0x0a, 0xc3, 0x8f, 0x64, 0xad, 0x20, 0x89, 0x54,
	    0x2a, 0x3f, 0xa4, 0x3f, 0x99, 0x42, 0x1d, 0xb5, 0x4b, 0xa1, 0x26,
	    0xf5, 0x1b, 0x36, 0x11};
	static const uint8_t want[31] = {0x98, 0x4c, 0xf5, 0xd2, 0xee, 0x0d,
	    0x66, 0xcf, 0xc2, 0xb0, 0xe3, 0xd9, 0x2b, 0x48, 0x22, 0x55, 0x0a,
	    0x8f, 0xe9, 0x0f, 0xe6, 0x48, 0x77, 0x54, 0xba, 0x12, 0x6f, 0x51,
	    0xb3, 0x61, 0x10};
	uint8_t packed[31], un[32];
	T_EQ(evt_guidcol_len(2, 1), 31, "two packed ids take 31 bytes");
	T_OK(evt_guidcol_packable(ids, 2), "version-4 ids are packable");
	evt_guidcol_pack(ids, 2, packed);
	T_OK(memcmp(packed, want, sizeof want) == 0, "packed as in the spec");
	evt_guidcol_unpack(packed, 2, un);
	T_OK(memcmp(un, ids, sizeof ids) == 0, "unpacked: the ids again");
	uint8_t v1[16];
	memcpy(v1, ids, 16);
	v1[6] = 0x16; /* version 1 */
	T_OK(!evt_guidcol_packable(v1, 1), "a version-1 id is not packable");
	/* 64 ids: a run of the check list is 976 bytes exactly. */
	uint8_t many[64 * 16], p64[976], u64[64 * 16];
	for (size_t i = 0; i < sizeof many; i++)
		many[i] = (uint8_t)rng();
	for (int i = 0; i < 64; i++) {
		many[16 * i + 6] = (uint8_t)((many[16 * i + 6] & 15) | 0x40);
		many[16 * i + 8] = (uint8_t)((many[16 * i + 8] & 63) | 0x80);
	}
	T_EQ(evt_guidcol_len(64, 1), 976, "64 packed ids: 976 bytes");
	evt_guidcol_pack(many, 64, p64);
	evt_guidcol_unpack(p64, 64, u64);
	T_OK(memcmp(u64, many, sizeof many) == 0, "64 random ids round-trip");

	evt_buf_free(&f);
	evt_buf_free(&back);
	evt_colenc_free(&enc);
	T_DONE();
}
