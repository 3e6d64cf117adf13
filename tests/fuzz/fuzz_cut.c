/*
 * fuzz_cut.c: libFuzzer target for what `evtool info` reads from a cut
 * archive's first record, the cut marker body (src/cut.c,
 * evt_cut_origin_line), and the test that tells a synthesised state
 * snapshot from a received getState answer (evt_cut_is_snapshot): both
 * take bytes from a file.
 *
 * The line is appended only for a JSON object whose "event" is "cut" (or
 * "merged", with inputs), never longer than the body plus the fixed words
 * (per input for a merge), and nothing is
 * appended otherwise; a text is a synthesised snapshot exactly when it
 * begins with {"evtapeSnapshot":.  Any violation abort()s.  Plain C11 +
 * the library, so tests/fuzz/driver.c replays the corpus.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/buf.h"
#include "evtape/cut.h"
#include "evtape/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the failed condition: the fuzzer's only way to report. */
#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "fuzz_cut: %s:%d: %s\n",           \
			    __FILE__, __LINE__, #c);                    \
			abort();                                        \
		}                                                       \
	} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct evt_buf out = {0};
	int rc = evt_cut_origin_line(body, size, &out);
	CHECK(rc == 0 || rc == 1 || rc == 2 || rc == EVT_ERR_NOMEM);
	if (rc == 0)
		CHECK(out.len == 0);
	if (rc == 1) {
		CHECK(memmem(body, size, "cut", 3) != NULL);
		CHECK(out.len <= 7 * size + 80); /* each member at most once */
	}
	if (rc == 2) {
		CHECK(memmem(body, size, "merged", 6) != NULL);
		/* per input at most its size and 30 bytes of text */
		CHECK(out.len > 0 && out.len <= 31 * size);
	}
	evt_buf_free(&out);
	static const char key[] = "{\"evtapeSnapshot\":";
	CHECK(evt_cut_is_snapshot(body, size) == (size > sizeof key - 1 &&
	    memcmp(body, key, sizeof key - 1) == 0));
	return 0;
}
