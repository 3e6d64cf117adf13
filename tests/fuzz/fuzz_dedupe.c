/*
 * fuzz_dedupe.c: libFuzzer target for the recorder's message dedupe
 * (evt_recorder_dedupe in src/recorder.c), which rewrites gateway input.
 *
 * The input is one frame.  When evt_ess_classify calls it an events
 * message, it is deduped twice against a small set (so eviction runs):
 * whatever comes out must agree with the result code (KEEP: no duplicate;
 * DROP: all duplicates; REBUILT: a text that classifies as an events
 * message again, with exactly the events that were not dropped and the
 * same number of top-level members).  Any violation abort()s.  Plain C11 +
 * the library, so tests/fuzz/driver.c replays the corpus.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/json.h"
#include "evtape/recorder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the failed condition: the fuzzer's only way to report. */
#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "fuzz_dedupe: %s:%d: %s\n",     \
			    __FILE__, __LINE__, #c);                    \
			abort();                                        \
		}                                                       \
	} while (0)

/* One dedupe pass over frame f and the checks of its outcome. */
static void
pass(struct evt_recorder_seen *s, struct evt_jparser *p, const char *f,
    size_t len, const struct evt_ess_msg *m)
{
	struct evt_buf out = {0};
	struct evt_jparser q;
	struct evt_ess_msg m2;
	size_t nd = 0;
	uint32_t members = p->tok[0].size;
	int r = evt_recorder_dedupe(s, p, f, len, &out, &nd);

	if (r == EVT_ERR_NOMEM) {
		evt_buf_free(&out);
		return;
	}
	CHECK(r >= 0);
	CHECK(nd <= m->nevents);
	if (r == EVT_RECORDER_KEEP)
		CHECK(nd == 0 && out.len == 0);
	else if (r == EVT_RECORDER_DROP)
		CHECK(nd == m->nevents && nd > 0 && out.len == 0);
	else {
		CHECK(r == EVT_RECORDER_REBUILT && nd > 0 && nd < m->nevents);
		evt_json_init(&q, 0);
		CHECK(evt_ess_classify(&q, (const char *)out.p, out.len,
		    &m2) == EVT_ESS_EVENTS);
		CHECK(m2.nevents == m->nevents - nd);
		CHECK(q.tok[0].size == members);
		evt_json_free(&q);
	}
	evt_buf_free(&out);
}

/* Classifies the input and dedupes it twice. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evt_recorder_seen s;
	struct evt_jparser p;
	struct evt_ess_msg m;
	const char *f = (const char *)data;

	if (evt_recorder_seen_init(&s, 4) != 0)
		return 0;
	evt_json_init(&p, 0);
	if (evt_ess_classify(&p, f, size, &m) == EVT_ESS_EVENTS) {
		pass(&s, &p, f, size, &m);
		pass(&s, &p, f, size, &m);
	}
	evt_json_free(&p);
	evt_recorder_seen_free(&s);
	return 0;
}
