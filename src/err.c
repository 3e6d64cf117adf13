/*
 * err.c: texts for enum evt_err.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evtape/err.h"

/* Returns a static description of an evt_err code. */
const char *
evt_strerror(int err)
{
	switch (err) {
	case EVT_OK: return "success";
	case EVT_ERR_AGAIN: return "operation would block";
	case EVT_ERR_IO: return "input/output error";
	case EVT_ERR_NOSPC: return "no space left (disk full or file size limit)";
	case EVT_ERR_JSON: return "invalid JSON";
	case EVT_ERR_DEPTH: return "JSON nested too deeply";
	case EVT_ERR_UTF8: return "invalid UTF-8";
	case EVT_ERR_TOOBIG: return "input too large";
	case EVT_ERR_ARG: return "invalid argument";
	case EVT_ERR_STATE: return "invalid state for this call";
	case EVT_ERR_NOTFOUND: return "not found";
	case EVT_ERR_EXISTS: return "already exists or in use";
	case EVT_ERR_FOREIGN: return "another writer changed the archive";
	case EVT_ERR_CORRUPT: return "corrupt data";
	case EVT_ERR_VERSION: return "unsupported format version";
	case EVT_ERR_TRUNCATED: return "truncated data";
	case EVT_ERR_CHECKSUM: return "checksum mismatch";
	case EVT_ERR_NOMEM: return "out of memory";
	}
	return "unknown error";
}

/* Kills the process at the N-th crash point of the stage the environment
 * names; see err.h. */
void
evt_test_kill_point(const char *stage)
{
	static int count;
	const char *e = getenv("EVTAPE_TEST_IDX_KILL");
	size_t n = strlen(stage);
	if (e == NULL || strncmp(e, stage, n) != 0 || e[n] != ':')
		return;
	if (++count == atoi(e + n + 1))
		kill(getpid(), SIGKILL);
}

/* Records why and where a parse failed; see err.h. */
int
evt_parse_fail(const char **why, uint64_t *at, const char *w, uint64_t off,
    int rc)
{
	*why = w;
	*at = off;
	return rc;
}
