/*
 * fuzz_colform.c: libFuzzer target for the columnar form of blocks and
 * the packed GUID column (src/colform.c; formats/records.md, "Columnar
 * blocks"; formats/segment.md, "GUID column").
 *
 * The input is used three ways, 1 and 2 in both forms (form 1 of
 * revision 1.4, form 2 of revision 1.6 with joined columns):
 *   1. as record bytes (any bytes: the encoder must keep whatever it does
 *      not understand): encoded, then decoded; the result must be the
 *      input exactly;
 *   2. as a columnar form read from a file (hostile): decoded; when that
 *      succeeds, the rebuilt records encoded and decoded again must give
 *      the same records;
 *   3. as GUIDs (16 bytes each, the 6 fixed bits of version 4 forced):
 *      packed and unpacked, which must give them back.
 * Any violation abort()s.  Plain C11 + the library, so tests/fuzz/driver.c
 * replays the corpus in `make test`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/colform.h"
#include "evtape/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the failed condition: the fuzzer's only way to report. */
#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "fuzz_colform: %s:%d: %s\n",    \
			    __FILE__, __LINE__, #c);                    \
			abort();                                        \
		}                                                       \
	} while (0)

/* Encodes n record bytes at p in form c->form and decodes them again
 * into *back. */
static void
round_trip(struct evt_colenc *c, const uint8_t *p, size_t n,
    struct evt_buf *form, struct evt_buf *back)
{
	size_t parts[EVT_COL_MAX_PARTS], nparts;
	const char *why = NULL;
	CHECK(evt_colform_encode(c, p, n, form, parts, &nparts) == 0);
	CHECK(nparts >= 1 && nparts <= EVT_COL_MAX_PARTS &&
	    parts[nparts - 1] == form->len);
	for (size_t i = 1; i < nparts; i++)
		CHECK(parts[i - 1] <= parts[i]);
	CHECK(evt_colform_decode(c->form, form->p, form->len, 1u << 30, back,
	    &why) == 0);
	CHECK(back->len == n && (n == 0 || memcmp(back->p, p, n) == 0));
}

/* Packs the input's GUIDs (version 4 forced) and unpacks them. */
static void
guids(const uint8_t *data, size_t size)
{
	uint32_t n = (uint32_t)(size / 16);
	if (n == 0)
		return;
	uint8_t *g = malloc(16 * (size_t)n), *back = malloc(16 * (size_t)n);
	uint8_t *packed = malloc((size_t)evt_guidcol_len(n, 1));
	CHECK(g != NULL && back != NULL && packed != NULL);
	memcpy(g, data, 16 * (size_t)n);
	CHECK(evt_guidcol_packable(g, n) == evt_guidcol_packable(data, n));
	for (uint32_t i = 0; i < n; i++) {
		g[16 * i + 6] = (uint8_t)((g[16 * i + 6] & 0x0f) | 0x40);
		g[16 * i + 8] = (uint8_t)((g[16 * i + 8] & 0x3f) | 0x80);
	}
	CHECK(evt_guidcol_packable(g, n));
	evt_guidcol_pack(g, n, packed);
	evt_guidcol_unpack(packed, n, back);
	CHECK(memcmp(g, back, 16 * (size_t)n) == 0);
	free(g);
	free(back);
	free(packed);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct evt_colenc c;
	struct evt_buf form = {0}, back = {0}, again = {0};
	const char *why = NULL;

	for (int f = EVT_COLFORM_1; f <= EVT_COLFORM_2; f++) {
		c.form = f;
		round_trip(&c, data, size, &form, &back);
		back.len = 0;
		int rc = evt_colform_decode(f, data, size, 1u << 20, &back,
		    &why);
		CHECK(rc == 0 || rc == EVT_ERR_NOMEM ||
		    (rc == EVT_ERR_CORRUPT && why != NULL));
		if (rc == 0)
			round_trip(&c, back.p, back.len, &form, &again);
	}

	guids(data, size);
	evt_buf_free(&form);
	evt_buf_free(&back);
	evt_buf_free(&again);
	return 0;
}
