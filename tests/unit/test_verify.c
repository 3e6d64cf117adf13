/*
 * test_verify.c: the archive verifier (src/verify.c) that evtool verify
 * and repair share.  An archive of two sealed segments and an open one is
 * written in a private mkdtemp() directory; the verifier must pass it,
 * then, with one byte of a sealed block's payload flipped, report that
 * segment alone, list exactly the ids of the block's events as lost, and
 * count them in the archive's tally; an unsealed segment is to be
 * rewritten by a repair even when intact.  Also the wording of a loss.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/err.h"
#include "evtape/verify.h"
#include "t.h"

#define NMSG 300

static char dir[64];
static int problems, lost_n, lost_bad_seg;
static char lost_ids[NMSG][40];

/* Counts the verifier's reports. */
static void
err_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	problems++;
	printf("#   %s: offset %llu: %s\n", path, (unsigned long long)off, what);
}

/* Keeps the lost ids (verifier's lost callback). */
static void
lost_cb(void *arg, const char *path, uint64_t boff, const char *id,
    uint32_t entry)
{
	if (strstr(path, "seg-000000000001.evt") == NULL)
		lost_bad_seg++;
	if (lost_n < NMSG && id != NULL)
		snprintf(lost_ids[lost_n], sizeof lost_ids[0], "%s", id);
	lost_n++;
}

/* Writes NMSG messages of one event each with GUID ids in three sealed
 * segments. */
static void
write_archive(void)
{
	struct evt_archive *a;
	if (evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, NULL, NULL, NULL,
	    NULL, &a) != 0)
		abort();
	for (int i = 0; i < NMSG; i++) {
		char m[160];
		int n = snprintf(m, sizeof m, "{\"events\":[{\"id\":\"%08x-0000-"
		    "4000-8000-00000000%04x\",\"type\":\"t\"}]}", i, i);
		if ((i > 0 && i % (NMSG / 3) == 0 && evt_archive_rotate(a) != 0) ||
		    evt_archive_frame(a, 1767600000000000LL + i, m,
		    (size_t)n) < 0)
			abort();
	}
	if (evt_archive_close(a) != 0)
		abort();
}

/* The ids of the events of the block at offset 64 of segment path, into
 * ids; returns their count. */
static int
first_block_ids(const char *path, char ids[][40])
{
	struct evt_segr *r;
	struct evt_rec rec;
	uint64_t boff;
	int n = 0;
	if (evt_segr_open(path, NULL, NULL, &r) != 0)
		abort();
	evt_segr_rewind(r, INT64_MIN);
	while (evt_segr_next(r, &rec, &boff) == 1 && n < NMSG)
		if (boff == 64 && rec.kind == EVT_K_EVENT &&
		    evt_rdec_field(evt_segr_decoder(r), &rec, "id", ids[n],
		    40) > 0)
			n++;
	evt_segr_close(r);
	return n;
}

/* Verifies every segment of dir; returns the summary, the segments to
 * rewrite in *rewrite. */
static struct evt_verify_sum
verify_all(int *rewrite, size_t *nseg, uint8_t uuid[16], int *have_uuid)
{
	static const struct evt_verify_cbs cbs = {err_cb, NULL, lost_cb, NULL};
	struct evt_verify *v;
	struct evt_verify_sum s = {0};
	problems = lost_n = lost_bad_seg = 0;
	*rewrite = 0;
	if (evt_verify_open(dir, 0, &cbs, &v) != 0)
		abort();
	evt_archive_segments(evt_verify_archive(v), nseg);
	for (size_t i = 0; i < *nseg; i++) {
		struct evt_verify_seg vs;
		if (evt_verify_segment(v, i, &vs) != 0)
			abort();
		*rewrite += vs.rewrite;
	}
	*have_uuid = evt_verify_uuid(v, uuid);
	evt_verify_summary(v, &s);
	evt_verify_close(v);
	return s;
}

/* An intact archive passes; a flipped payload byte costs its block, whose
 * ids are listed. */
static void
test_verify(void)
{
	int rewrite, have_uuid;
	size_t nseg;
	uint8_t uuid[16];
	char seg1[128], want[NMSG][40];
	struct evt_verify_sum s = verify_all(&rewrite, &nseg, uuid,
	    &have_uuid);
	T_EQ(nseg, 3, "verify: three segments written");
	T_OK(s.problems == 0 && problems == 0 && s.bad == 0 && lost_n == 0 &&
	    s.listed == 0 && s.lost == 0 && s.unknown == 0 && rewrite == 0,
	    "verify: an intact sealed archive passes, nothing to rewrite");
	T_OK(have_uuid, "verify: the archive's uuid is found");

	snprintf(seg1, sizeof seg1, "%s/seg-000000000001.evt", dir);
	int nwant = first_block_ids(seg1, want);
	int fd = open(seg1, O_RDWR);
	uint8_t b;
	if (fd < 0 || pread(fd, &b, 1, 64 + 64 + 20) != 1)
		abort();
	b ^= 0xff;
	if (pwrite(fd, &b, 1, 64 + 64 + 20) != 1)
		abort();
	close(fd);
	s = verify_all(&rewrite, &nseg, uuid, &have_uuid);
	T_OK(s.problems >= 1 && s.problems == (uint64_t)problems &&
	    s.bad == 1 && rewrite == 1,
	    "verify: a damaged block: its segment alone is reported "
	    "(%llu problems) and to be rewritten", (unsigned long long)s.problems);
	T_OK(nwant > 0 && nwant < NMSG && lost_n == nwant && lost_bad_seg == 0 &&
	    s.listed == (uint64_t)nwant,
	    "verify: the block's %d events are listed as lost (%d)", nwant,
	    lost_n);
	int same = lost_n == nwant;
	for (int i = 0; same && i < nwant; i++)
		same = strcmp(lost_ids[i], want[i]) == 0;
	T_OK(same, "verify: with their ids, in order");
	T_EQ(s.lost, nwant, "verify: the archive's tally counts them");
	T_OK(have_uuid, "verify: the uuid of an intact header is still found");
}

/* The wording of a loss. */
static void
test_lost_text(void)
{
	char t[160];
	T_EQ(evt_verify_lost_text(t, sizeof t, 0, 0, "read"), 1,
	    "lost text: nothing lost");
	T_OK(t[0] == 0, "lost text: ... is empty");
	T_EQ(evt_verify_lost_text(t, sizeof t, 26, 0, "read"), 0,
	    "lost text: a count");
	T_OK(strcmp(t, "26 events could not be read") == 0, "lost text: %s",
	    t);
	evt_verify_lost_text(t, sizeof t, 3, 2, "recovered");
	T_OK(strcmp(t, "at least 3 events could not be recovered, and an "
	    "unknown number more in 2 damaged places") == 0, "lost text: %s",
	    t);
}

int
main(void)
{
	char cmd[128];
	snprintf(dir, sizeof dir, "/tmp/evtape-verify.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	write_archive();
	test_verify();
	test_lost_text();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	T_DONE();
}
