/*
 * fuzz_recnames.c: libFuzzer target for the recorder's name tracking and
 * Config REST reduction (src/recorder.c: evt_recorder_names_*,
 * evt_recorder_cfg_*), which take gateway input: event messages and REST
 * answers.
 *
 * The input is used twice.  As a frame: when evt_ess_classify calls it an
 * events message, its ids are noted and every path the tracker hands out
 * must pass evt_recorder_names_path_ok, none twice, and a second scan of
 * the same message queues nothing.  As a REST answer:
 * reduced as a list or item of "cameras" and of "eventTypes"; the snapshot
 * and delta bodies built from it must parse as JSON objects, the tracker
 * must take the snapshot's ids (at most as many as items were reduced),
 * and after that no id it lists may be queued.  Any violation abort()s.
 * Plain C11 + the library, so tests/fuzz/driver.c replays the corpus.
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
			fprintf(stderr, "fuzz_recnames: %s:%d: %s\n",      \
			    __FILE__, __LINE__, #c);                    \
			abort();                                        \
		}                                                       \
	} while (0)

/* The frame side: noted ids come out valid, each once. */
static void
frame_side(const char *f, size_t len)
{
	struct evt_recorder_names n;
	struct evt_jparser jp;
	struct evt_ess_msg m;
	char taken[64][EVT_RECORDER_NAMES_PATH];
	const char *p;
	int rc, k = 0;
	int64_t now = 0;

	memset(&n, 0, sizeof n);
	evt_json_init(&jp, 0);
	if (evt_ess_classify(&jp, f, len, &m) == EVT_ESS_EVENTS) {
		rc = evt_recorder_names_scan(&n, &jp, f);
		CHECK(rc >= 0 || rc == EVT_ERR_NOMEM);
		CHECK(rc < 0 || (uint32_t)rc == evt_recorder_names_waiting(&n));
		while ((p = evt_recorder_names_take(&n, now, 4)) != NULL) {
			CHECK(evt_recorder_names_path_ok(p, strlen(p)));
			for (int i = 0; i < k && i < 64; i++)
				CHECK(strcmp(taken[i], p) != 0);
			if (k < 64)
				snprintf(taken[k], sizeof taken[k], "%s", p);
			k++;
			evt_recorder_names_done(&n);
			now += 250000;
		}
		/* Asked once (ids over the queue bound wait for their next
		 * event instead). */
		if (n.skipped == 0)
			CHECK(evt_recorder_names_scan(&n, &jp, f) == 0);
	}
	evt_recorder_names_clear(&n);
	evt_json_free(&jp);
}

/* The answer side: bodies built from it are JSON, their ids are known. */
static void
answer_side(const char *f, size_t len)
{
	struct evt_recorder_cfg c;
	struct evt_recorder_names n;
	struct evt_jparser jp;
	struct evt_buf snap = {0}, delta = {0};
	int rc;

	memset(&c, 0, sizeof c);
	memset(&n, 0, sizeof n);
	evt_json_init(&jp, 0);
	(void)evt_recorder_cfg_add(&c, "cameras", f, len);
	(void)evt_recorder_cfg_add(&c, "eventTypes", f, len);
	if (evt_recorder_cfg_body(&c, 0, &snap) == 0 &&
	    evt_recorder_cfg_body(&c, 1, &delta) == 0) {
		CHECK(evt_json_parse(&jp, (const char *)snap.p, snap.len) >= 0);
		CHECK(jp.tok[0].type == EVT_J_OBJECT);
		CHECK(evt_json_parse(&jp, (const char *)delta.p,
		    delta.len) >= 0);
		rc = evt_recorder_names_learn(&n, (const char *)snap.p,
		    snap.len);
		CHECK(rc == EVT_ERR_NOMEM || (rc >= 0 && (size_t)rc <= c.items));
		/* Every id of the snapshot is known: nothing to queue. */
		if (rc >= 0) {
			CHECK(evt_json_parse(&jp, (const char *)snap.p,
			    snap.len) >= 0);
			long v = evt_ess_member((const char *)snap.p, jp.tok, 0,
			    "sources");
			uint32_t e = (uint32_t)v + 1;

			CHECK(v >= 0);
			for (uint32_t i = 0; i < jp.tok[v].size; i++,
			    e = jp.tok[e].next) {
				long id = evt_ess_member((const char *)snap.p,
				    jp.tok, e, "id");

				CHECK(id >= 0);
				CHECK(evt_recorder_names_note(&n,
				    (const char *)snap.p + jp.tok[id].off,
				    jp.tok[id].len) == 0);
			}
		}
	}
	evt_recorder_names_clear(&n);
	evt_recorder_cfg_free(&c);
	evt_buf_free(&snap);
	evt_buf_free(&delta);
	evt_json_free(&jp);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	frame_side((const char *)data, size);
	answer_side((const char *)data, size);
	return 0;
}
