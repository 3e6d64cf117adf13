/*
 * evtape error codes.
 *
 * Every library function returns 0 (or a non-negative count) on success and a
 * negative enum evt_err on failure.  Codes are grouped in ranges so a caller
 * can decide what to do from the range alone:
 *
 *   -1 ..  -99   I/O: retry later (AGAIN) or report the system error (IO).
 *   -100 .. -199  protocol / parse: the input is not what the protocol allows;
 *                 keep it raw, count it, go on.
 *   -200 .. -299  argument / state: a caller bug or a lookup that found nothing.
 *   -300 .. -399  corrupt data on disk: report with file and offset, skip on.
 *   -900 .. -999  fatal: out of memory; daemon glue may abort.
 */
#ifndef EVTAPE_ERR_H
#define EVTAPE_ERR_H

#include <stdint.h>

enum evt_err {
	EVT_OK = 0,

	EVT_ERR_AGAIN = -1,	/* would block; call again later */
	EVT_ERR_IO = -2,	/* system call failed; errno is kept */
	EVT_ERR_NOSPC = -3,	/* disk full or file size limit */

	EVT_ERR_JSON = -100,	/* not valid JSON */
	EVT_ERR_DEPTH = -101,	/* JSON nested deeper than allowed */
	EVT_ERR_UTF8 = -102,	/* string is not valid UTF-8 */
	EVT_ERR_TOOBIG = -103,	/* input exceeds a configured bound */

	EVT_ERR_ARG = -200,	/* invalid argument */
	EVT_ERR_STATE = -201,	/* call not allowed in this state */
	EVT_ERR_NOTFOUND = -202, /* nothing matches */
	EVT_ERR_EXISTS = -203,	/* already exists / locked by another */
	EVT_ERR_FOREIGN = -204,	/* another writer changed the archive */

	EVT_ERR_CORRUPT = -300,	 /* structure is damaged */
	EVT_ERR_VERSION = -301,	 /* written by a newer, unknown format version */
	EVT_ERR_TRUNCATED = -302, /* file ends inside a structure */
	EVT_ERR_CHECKSUM = -303, /* checksum mismatch */

	EVT_ERR_NOMEM = -900,	/* out of memory */
};

/* Returns a static, human-readable text for an evt_err code. */
const char *evt_strerror(int err);

/* How the parsers of the derived files (id index runs, roll-up runs, the
 * catalog) fail: sets *why (a static text) and *at (the file offset it
 * concerns) and returns rc. */
int evt_parse_fail(const char **why, uint64_t *at, const char *w,
    uint64_t off, int rc);

/*
 * Crash points for the integration tests (tests/integration/idindex.sh,
 * catalog.sh): with EVTAPE_TEST_IDX_KILL set to "STAGE:N", the process
 * kills itself (SIGKILL, as kill -9) the N-th time it reaches STAGE (one
 * count for all stages).  Stages: the id index's "tmp", "rename", "drop"
 * (src/idindex.c), the roll-up's "sum-tmp", "sum-rename", "sum-drop"
 * (src/rollup.c), the catalog's "catalog" (half of it written,
 * src/catalog.c).  Unset, this costs one getenv.
 */
void evt_test_kill_point(const char *stage);

#endif
