/*
 * err.c: texts for enum evt_err.
 */
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
