/*
 * fuzz_names.c: libFuzzer target for the CONFIG marker bodies every
 * reading tool parses for names (names.c).
 *
 * The input is a CONFIG body, taken twice (receive times 10 and 20), then
 * looked up: every id a glob of everything ("*") matches must resolve at
 * both times to a name; the text is then used as an event object with
 * --names members and as a text line, which must end with one newline.
 * The body also goes to the Config REST merge (cfgrest.c: two markers,
 * merged as of each), whose answers must be 200 or 404.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/buf.h"
#include "evtape/cfgrest.h"
#include "evtape/err.h"
#include "evtape/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* evt_names_match callback: every id matched resolves to a name. */
static int
check_cb(void *arg, const char *id)
{
	struct evt_names_item it;
	for (int64_t rx = 0; rx <= 30; rx += 15)
		if (!evt_names_get(arg, EVT_NAMES_SOURCE, id, strlen(id), rx,
		    &it) || it.name == NULL)
			abort();
	return 0;
}

/* The body as two markers, merged as of each, asked for every list. */
static void
merge(const char *p, size_t size)
{
	static const char *const path[] = {"eventTypes", "stateGroups",
	    "cameras"};
	struct evt_cfgrest *c[2] = {NULL, NULL}, *m;
	struct evt_buf b = {0};
	if (evt_cfgrest_new(p, size, &c[0]) != 0 ||
	    evt_cfgrest_new(p, size, &c[1]) != 0) {
		evt_cfgrest_free(c[0]);
		return;
	}
	for (size_t at = 0; at < 2; at++) {
		if (evt_cfgrest_merge(c, 2, at, &m) != 0)
			continue;
		for (int k = 0; k < 3; k++) {
			b.len = 0;
			int st = evt_cfgrest_answer(m, path[k],
			    strlen(path[k]), &b);
			if (st != 200 && st != 404 && st != EVT_ERR_NOMEM)
				abort();
		}
		evt_cfgrest_free(m);
	}
	evt_buf_free(&b);
	evt_cfgrest_free(c[0]);
	evt_cfgrest_free(c[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	merge((const char *)data, size);
	struct evt_names *n = evt_names_new();
	if (n == NULL)
		return 0;
	const char *p = (const char *)data;
	int rc = evt_names_add(n, 20, p, size);
	if (rc == 0)
		rc = evt_names_add(n, 10, p, size);
	if (rc != 0 && rc != EVT_ERR_JSON && rc != EVT_ERR_NOMEM)
		abort();
	if (evt_names_finish(n) != 0) {
		evt_names_free(n);
		return 0;
	}
	if (evt_names_match(n, EVT_NAMES_SOURCE, "*", check_cb, n) < 0)
		abort();
	struct evt_buf b = {0};
	struct evt_names_text t;
	if (evt_buf_put(&b, p, size) == 0)
		evt_names_put_json(n, &b, 0, 15);
	b.len = 0;
	evt_names_text_init(&t, n, 1, 1);
	if (evt_buf_put(&b, p, size) == 0 &&
	    evt_names_put_text(n, &t, &b, 0, 15) == 0 &&
	    (b.len == 0 || b.p[b.len - 1] != '\n' ||
	    memchr(b.p, '\n', b.len - 1) != NULL))
		abort();
	evt_buf_free(&b);
	evt_names_free(n);
	return 0;
}
