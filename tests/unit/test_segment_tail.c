/*
 * test_segment_tail.c: evt_segr_newest_keys, the newest ids of a segment
 * read from its last GUID columns (unsealed: found by the block headers;
 * sealed: by the block directory), against the ids written; and the
 * archive's recent keys (the recorder's dedupe set at start-up), which use
 * it and decode records where the columns cannot tell, against the keys of
 * the last events written.  Runs in a private mkdtemp() directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "evtape/archive.h"
#include "evtape/err.h"
#include "evtape/segment.h"
#include "t.h"

#define NEV 600 /* events written */

static char tmpdir[64];

/* Event i's id: a GUID, or with text set a text id (which is not stored
 * in the GUID column, so no block's column is then exactly its ids). */
static int
id_of(int i, int text, char id[40])
{
	return snprintf(id, 40, text ? "event-%d" :
	    "00000000-0000-4000-8000-%012d", i);
}

/* The key of event i's id. */
static uint64_t
key_of(int i, int text)
{
	char id[40];
	int n = id_of(i, text, id);
	return evt_id_key(id, (size_t)n);
}

/* Writes a segment at path of NEV events, two per message, in blocks of
 * about 300 bytes, with text ids if text is set, sealed if seal is. */
static int
write_seg(const char *path, int text, int seal)
{
	struct evt_segw_opts o = {.block_bytes = 300, .level = 1};
	uint8_t uuid[16] = {7};
	int64_t rx = INT64_C(1767600000000000);
	struct evt_segw *w;
	int bad = evt_segw_create(path, 1, uuid, rx, &o, &w) != 0;
	if (bad)
		return -1;
	for (int i = 0; i < NEV; i += 2) {
		char m[512], a[40], b[40];
		id_of(i, text, a);
		id_of(i + 1, text, b);
		int n = snprintf(m, sizeof m, "{\"events\":[{\"id\":\"%s\","
		    "\"type\":\"t\"},{\"id\":\"%s\",\"type\":\"t\"}]}", a, b);
		bad += evt_segw_frame(w, rx + i, m, (size_t)n) != EVT_K_MSG;
		if (i == 300) /* a frame without events between them */
			bad += evt_segw_frame(w, rx + i, L("{\"x\":1}")) !=
			    EVT_K_JSON;
	}
	if (seal)
		return evt_segw_seal(w) == 0 && !bad ? 0 : -1;
	bad += evt_segw_flush(w) != 0;
	evt_segw_close(w);
	return bad ? -1 : 0;
}

/* Whether the ring keys (want entries, got written) holds the keys of the
 * last events, the newest at (got - 1) % want. */
static int
ring_is_newest(const uint64_t *keys, size_t want, size_t got)
{
	if (got < want || got > NEV)
		return 0;
	for (size_t k = 0; k < want; k++)
		if (keys[(got - 1 - k) % want] != key_of(NEV - 1 - (int)k, 0))
			return 0;
	return 1;
}

/* evt_segr_newest_keys of the segment at path (its index loaded if it is
 * sealed). */
static int
newest(const char *path, uint64_t *keys, size_t want, size_t *got)
{
	struct evt_segr *r;
	int rc = evt_segr_open(path, NULL, NULL, &r);
	if (rc != 0)
		return rc;
	if (evt_segr_info(r)->sealed && evt_segr_load_index(r) != 0)
		rc = EVT_ERR_CORRUPT;
	if (rc == 0)
		rc = evt_segr_newest_keys(r, keys, want, got);
	evt_segr_close(r);
	return rc;
}

/* The last columns of a segment, unsealed or sealed, give the newest
 * ids. */
static void
test_newest_keys(int seal)
{
	const char *how = seal ? "sealed" : "unsealed";
	char path[128];
	snprintf(path, sizeof path, "%s/seg-000000000001.evt", tmpdir);
	T_OK(write_seg(path, 0, seal) == 0, "%s segment written", how);
	uint64_t keys[NEV];
	size_t got = 0;
	static const size_t wants[] = {1, 7, 64, 301, NEV};
	for (size_t i = 0; i < sizeof wants / sizeof wants[0]; i++) {
		int rc = newest(path, keys, wants[i], &got);
		T_OK(rc == 0 && ring_is_newest(keys, wants[i], got),
		    "%s: the newest %zu keys from the last columns (rc %d, "
		    "%zu read)", how, wants[i], rc, got);
		T_OK(got < wants[i] + 40, "%s: ... reading only the blocks "
		    "needed (%zu keys read)", how, got);
	}
	int rc = newest(path, keys, 2 * NEV, &got);
	T_OK(rc == 0 && got == NEV, "%s: asked for more, all %d (got %zu)",
	    how, NEV, got);
	remove(path);

	/* Text ids: the columns are not the ids. */
	T_OK(write_seg(path, 1, seal) == 0, "%s segment with text ids", how);
	T_EQ(newest(path, keys, 10, &got), EVT_ERR_AGAIN,
	    "%s: no column is the ids, EVT_ERR_AGAIN (decode instead)", how);
	remove(path);
}

/* The archive's recent keys: the columns of an unsealed newest segment,
 * a scan where they cannot tell; the same keys either way. */
static void
test_recent_keys(void)
{
	for (int e = 0; e < 2; e++) {
		char dir[128], path[192];
		snprintf(dir, sizeof dir, "%s/a%d", tmpdir, e);
		snprintf(path, sizeof path, "%s/seg-000000000001.evt", dir);
		mkdir(dir, 0755);
		T_OK(write_seg(path, e, 0) == 0, "archive %d written", e);
		struct evt_archive *a;
		T_EQ(evt_archive_open(dir, 0, NULL, NULL, NULL, NULL, &a), 0,
		    "open archive %d", e);
		uint64_t keys[NEV];
		size_t n = 0;
		int rc = evt_archive_recent_keys(a, keys, 100, &n);
		int ok = rc == 0 && n == 100;
		for (size_t k = 0; ok && k < n; k++)
			ok = keys[k] == key_of(NEV - 100 + (int)k, e);
		T_OK(ok, "archive %d (%s): the newest 100 keys, oldest first",
		    e, e ? "scanned" : "from the columns");
		evt_archive_close(a);
	}
}

int
main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/evt-test-tail-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_newest_keys(0);
	test_newest_keys(1);
	test_recent_keys();
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	T_DONE();
}
