/*
 * test_segment_layout.c: the on-disk layout code (src/segment_layout.h)
 * against formats/segment.md.  The three fixed structures of the spec's
 * worked example ("Worked example: a whole file") are built from their
 * fields and must come out as the spec's bytes, and read back as the same
 * fields; a segment the writer seals reads back through the same names;
 * and checking an id filter needs the trailer only, so that a lookup
 * finds an id in a segment whose index and filter are both damaged.
 * Runs in a private mkdtemp() directory.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/err.h"
#include "evtape/segment.h"
#include "../../src/segment_layout.h"
#include "t.h"

static char tmpdir[64];

/* The segment header of the worked example. */
static const uint8_t ex_seghdr[EVT_SEG_HDR_SIZE] = {
	0x89, 0x45, 0x56, 0x54, 0x53, 0x45, 0x47, 0x0a, /* magic */
	0x01, 0x00, 0x00, 0x00,				/* major, minor */
	0x40, 0x00, 0x00, 0x00,				/* hdr_size */
	0x01, 0, 0, 0, 0, 0, 0, 0,			/* seq */
	0x00, 0xe0, 0x1a, 0x72, 0x9f, 0x47, 0x06, 0x00, /* created */
	0x6a, 0x7f, 0x4b, 0x27, 0xb1, 0x6f, 0x42, 0xcc, /* uuid */
	0xb8, 0x36, 0xaf, 0x3c, 0x61, 0x64, 0x45, 0xbc,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,		/* reserved */
	0xe6, 0x8a, 0x34, 0x31,				/* crc */
};

/* The block header of the worked example. */
static const uint8_t ex_blkhdr[EVT_BLK_HDR_SIZE] = {
	0x9e, 0x45, 0x42, 0x4b, 0x40, 0x00, 0x01, 0x01, /* magic .. codec */
	0x43, 0x01, 0x00, 0x00, 0x75, 0x01, 0x00, 0x00, /* zlen, rawlen */
	0x02, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, /* nguid, nrec */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* nevent, str_base */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* shape_base, flags */
	0x00, 0xe0, 0x1a, 0x72, 0x9f, 0x47, 0x06, 0x00, /* first_rx */
	0x00, 0xe0, 0x1a, 0x72, 0x9f, 0x47, 0x06, 0x00, /* last_rx */
	0x17, 0x25, 0xf4, 0xcb, 0xd1, 0x68, 0x8b, 0x4a, /* payload_crc, crc */
};

/* The trailer of the worked example. */
static const uint8_t ex_trailer[EVT_TRAILER_SIZE] = {
	0x89, 0x45, 0x56, 0x54, 0x49, 0x44, 0x58, 0x0a, /* magic */
	0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, /* version ..
							   nblocks */
	0xe3, 0x01, 0, 0, 0, 0, 0, 0,			/* data_end */
	0xe3, 0x01, 0, 0, 0, 0, 0, 0,			/* meta_off */
	0x5e, 0x01, 0, 0, 0, 0, 0, 0,			/* meta_len */
	0x41, 0x03, 0, 0, 0, 0, 0, 0,			/* filt_off */
	0x18, 0x00, 0, 0, 0, 0, 0, 0,			/* filt_len */
	0x67, 0x34, 0xd2, 0x37, 0x25, 0xb2, 0xf6, 0x6d, /* seed */
	0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, /* seglen, segcount */
	0x02, 0, 0, 0, 0, 0, 0, 0,			/* nevents */
	0x11, 0, 0, 0, 0, 0, 0, 0,			/* nrecords */
	0x00, 0xe0, 0x1a, 0x72, 0x9f, 0x47, 0x06, 0x00, /* first_rx */
	0x00, 0xe0, 0x1a, 0x72, 0x9f, 0x47, 0x06, 0x00, /* last_rx */
	0xb2, 0xf8, 0xfd, 0xfd, 0x70, 0x9d, 0x2e, 0xcb, /* meta_crc,
							   filt_crc */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,		/* reserved */
	0x98, 0x60, 0x02, 0xbc,				/* crc */
};

#define EX_RX 1767600000000000LL

/* Whether flipping any single byte of the n-byte structure p makes its
 * CRC fail. */
static int
every_byte_checked(const uint8_t *p, size_t n)
{
	uint8_t b[EVT_TRAILER_SIZE];
	for (size_t i = 0; i < n; i++) {
		memcpy(b, p, n);
		b[i] ^= 0x20;
		if (evt_fixed_crc_ok(b, n))
			return 0;
	}
	return 1;
}

/* The segment header: the spec's bytes from the fields and back. */
static void
test_seghdr(void)
{
	struct evt_seghdr h = {
		.major = 1, .minor = 0, .hdr_size = 64, .seq = 1,
		.created = EX_RX,
		.uuid = {0x6a, 0x7f, 0x4b, 0x27, 0xb1, 0x6f, 0x42, 0xcc, 0xb8,
		    0x36, 0xaf, 0x3c, 0x61, 0x64, 0x45, 0xbc},
	};
	uint8_t p[EVT_SEG_HDR_SIZE];
	memset(p, 0xff, sizeof p); /* put must clear the reserved bytes */
	evt_seghdr_put(p, &h);
	T_OK(memcmp(p, ex_seghdr, sizeof p) == 0,
	    "segment header: the worked example's 64 bytes");
	T_OK(evt_seghdr_magic_ok(ex_seghdr) &&
	    evt_fixed_crc_ok(ex_seghdr, EVT_SEG_HDR_SIZE),
	    "segment header: magic and crc of the example check");
	struct evt_seghdr g;
	evt_seghdr_get(ex_seghdr, &g);
	T_OK(g.major == 1 && g.minor == 0 && g.hdr_size == 64 && g.seq == 1 &&
	    g.created == EX_RX && memcmp(g.uuid, h.uuid, 16) == 0,
	    "segment header: fields read back");
	T_OK(every_byte_checked(ex_seghdr, EVT_SEG_HDR_SIZE),
	    "segment header: a flipped byte anywhere fails the crc");
	T_OK(!evt_seghdr_magic_ok(ex_trailer) && !evt_seghdr_magic_ok(ex_blkhdr),
	    "segment header magic is neither the trailer's nor a block's");
}

/* The block header: the spec's bytes from the fields and back. */
static void
test_blkhdr(void)
{
	struct evt_blkhdr h = {
		.hdr_size = 64, .version = 1, .codec = 1, .zlen = 323,
		.rawlen = 373, .nguid = 2, .nrec = 17, .nevent = 2,
		.first_rx = EX_RX, .last_rx = EX_RX, .payload_crc = 0xcbf42517,
	};
	uint8_t p[EVT_BLK_HDR_SIZE];
	memset(p, 0xff, sizeof p);
	evt_blkhdr_put(p, &h);
	T_OK(memcmp(p, ex_blkhdr, sizeof p) == 0,
	    "block header: the worked example's 64 bytes");
	struct evt_blkhdr g;
	evt_blkhdr_get(ex_blkhdr, &g);
	T_OK((g.hdr_size == 64 &&
	    g.version == 1 && g.codec == 1 && g.zlen == 323 &&
	    g.rawlen == 373 && g.nguid == 2 && g.nrec == 17 && g.nevent == 2 &&
	    g.str_base == 0 && g.shape_base == 0 && g.flags == 0 &&
	    g.first_rx == EX_RX && g.last_rx == EX_RX &&
	    g.payload_crc == 0xcbf42517), "block header: fields read back");
	T_EQ(evt_blkhdr_payload_len(&g), 323 + 32,
	    "block header: payload is the frame and 2 GUID entries");
	T_OK(evt_blkhdr_magic_ok(ex_blkhdr) &&
	    every_byte_checked(ex_blkhdr, EVT_BLK_HDR_SIZE),
	    "block header: magic checks, a flipped byte fails the crc");
	/* Every field lands at its own offset: set one at a time. */
	const struct {
		size_t off;
		uint32_t *field;
	} f32[] = {
		{EVT_BH_ZLEN, &h.zlen}, {EVT_BH_RAWLEN, &h.rawlen},
		{EVT_BH_NGUID, &h.nguid}, {EVT_BH_NREC, &h.nrec},
		{EVT_BH_NEVENT, &h.nevent}, {EVT_BH_STR_BASE, &h.str_base},
		{EVT_BH_SHAPE_BASE, &h.shape_base}, {EVT_BH_FLAGS, &h.flags},
		{EVT_BH_PAYLOAD_CRC, &h.payload_crc},
	};
	int ok = 1;
	for (size_t i = 0; i < sizeof f32 / sizeof f32[0]; i++) {
		memset(&h, 0, sizeof h);
		*f32[i].field = 0xa1b2c3d4;
		evt_blkhdr_put(p, &h);
		ok &= le32_get(p + f32[i].off) == 0xa1b2c3d4;
		evt_blkhdr_get(p, &g);
		ok &= *f32[i].field == 0xa1b2c3d4;
	}
	T_OK(ok, "block header: each u32 field at its offset");
}

/* The trailer: the spec's bytes from the fields and back. */
static void
test_trailer(void)
{
	struct evt_trailer t = {
		.version = 1, .locbits = 0, .locshift = 0, .nblocks = 1,
		.data_end = 483, .meta_off = 483, .meta_len = 350,
		.filt_off = 833, .filt_len = 24, .seed = 0x6df6b22537d23467,
		.seglen = 4, .segcount = 1, .nevents = 2, .nrecords = 17,
		.first_rx = EX_RX, .last_rx = EX_RX, .meta_crc = 0xfdfdf8b2,
		.filt_crc = 0xcb2e9d70,
	};
	uint8_t p[EVT_TRAILER_SIZE];
	memset(p, 0xff, sizeof p);
	evt_trailer_put(p, &t);
	T_OK(memcmp(p, ex_trailer, sizeof p) == 0,
	    "trailer: the worked example's 128 bytes");
	struct evt_trailer g;
	evt_trailer_get(ex_trailer, &g);
	T_OK(g.version == 1 && g.locbits == 0 && g.locshift == 0 &&
	    g.nblocks == 1 && g.data_end == 483 && g.meta_off == 483 &&
	    g.meta_len == 350 && g.filt_off == 833 && g.filt_len == 24 &&
	    g.seed == 0x6df6b22537d23467 && g.seglen == 4 &&
	    g.segcount == 1 && g.nevents == 2 && g.nrecords == 17 &&
	    g.first_rx == EX_RX && g.last_rx == EX_RX &&
	    g.meta_crc == 0xfdfdf8b2 && g.filt_crc == 0xcb2e9d70,
	    "trailer: fields read back");
	T_OK(evt_trailer_magic_ok(ex_trailer) &&
	    every_byte_checked(ex_trailer, EVT_TRAILER_SIZE),
	    "trailer: magic checks, a flipped byte fails the crc");
	t.locbits = 7;
	t.locshift = 3;
	evt_trailer_put(p, &t);
	T_OK(p[EVT_TR_LOCBITS] == 7 && p[EVT_TR_LOCSHIFT] == 3,
	    "trailer: locbits at 10, locshift at 11");
}

/* Check list lengths (formats/segment.md, "Check lists"). */
static void
test_checks(void)
{
	T_OK(evt_chk_len(0) == 4 && evt_chk_len(1) == 8 &&
	    evt_chk_len(64) == 8 && evt_chk_len(65) == 12 &&
	    evt_chk_len(128) == 12,
	    "check list: 4 * (1 + ceil(nguid / 64)) bytes");
	static const uint8_t l[] = {1, 0, 0, 0, 0x78, 0x56, 0x34, 0x12};
	T_OK(evt_chk_get(l, 0) == 1 && evt_chk_get(l, 1) == 0x12345678,
	    "check list: little-endian u32 entries");
}

/* Reads the whole file at path into a malloc'd buffer. */
static uint8_t *
slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	struct stat st;
	fstat(fileno(f), &st);
	uint8_t *b = malloc((size_t)st.st_size + 1);
	*n = b != NULL ? fread(b, 1, (size_t)st.st_size, f) : 0;
	fclose(f);
	return b;
}

/* Overwrites n bytes at off of the file at path with v. */
static void
smash(const char *path, uint64_t off, size_t n, uint8_t v)
{
	int fd = open(path, O_WRONLY);
	uint8_t b[4096];
	memset(b, v, sizeof b);
	while (fd >= 0 && n > 0) {
		size_t k = n < sizeof b ? n : sizeof b;
		if (pwrite(fd, b, k, (off_t)off) != (ssize_t)k)
			break;
		off += k;
		n -= k;
	}
	if (fd >= 0)
		close(fd);
}

/* Writes an archive of a few messages of two events each, ids
 * 00000000-0000-4000-8000-0000000000NN, into dir/ (one sealed segment). */
static int
write_archive(const char *dir)
{
	struct evt_archive *a;
	if (evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, NULL, NULL,
	    NULL, NULL, &a) != 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < 20 && rc >= 0; i++) {
		char m[512];
		int n = snprintf(m, sizeof m, "{\"events\":[{\"id\":\"00000000-"
		    "0000-4000-8000-0000000000%02d\",\"type\":\"t\"},{\"id\":"
		    "\"00000000-0000-4000-8000-0000000001%02d\",\"type\":\"u\"}]}",
		    i, i);
		rc = evt_archive_frame(a, EX_RX + i, m, (size_t)n);
	}
	return evt_archive_close(a) == 0 && rc >= 0 ? 0 : -1;
}

/* A sealed segment of the writer read through the layout's names. */
static void
test_written(const char *seg)
{
	size_t n;
	uint8_t *b = slurp(seg, &n);
	if (b == NULL || n < EVT_SEG_HDR_SIZE + EVT_BLK_HDR_SIZE +
	    EVT_TRAILER_SIZE) {
		T_OK(0, "written segment readable");
		free(b);
		return;
	}
	struct evt_seghdr sh;
	evt_seghdr_get(b, &sh);
	T_OK(evt_seghdr_magic_ok(b) && evt_fixed_crc_ok(b, EVT_SEG_HDR_SIZE) &&
	    sh.major == EVT_SEG_VERSION && sh.minor == EVT_SEG_MINOR &&
	    sh.hdr_size == EVT_SEG_HDR_SIZE && sh.seq == 1 &&
	    sh.created == EX_RX, "written: segment header");
	const uint8_t *tp = b + n - EVT_TRAILER_SIZE;
	struct evt_trailer t;
	evt_trailer_get(tp, &t);
	T_OK(evt_trailer_magic_ok(tp) && evt_fixed_crc_ok(tp, EVT_TRAILER_SIZE) &&
	    t.version == EVT_TRL_VERSION && t.meta_off == t.data_end &&
	    t.filt_off == t.meta_off + t.meta_len &&
	    t.filt_off + t.filt_len == n - EVT_TRAILER_SIZE &&
	    t.filt_len == EVT_FILT_SLOT_SIZE * ((uint64_t)t.segcount + 2) *
	    t.seglen && t.nevents == 40 && t.first_rx == EX_RX &&
	    t.last_rx == EX_RX + 19 &&
	    evt_crc32c(0, b + t.meta_off, t.meta_len) == t.meta_crc &&
	    evt_crc32c(0, b + t.filt_off, t.filt_len) == t.filt_crc,
	    "written: trailer consistent with the file");
	const uint8_t *hp = b + EVT_SEG_HDR_SIZE;
	struct evt_blkhdr bh;
	evt_blkhdr_get(hp, &bh);
	uint64_t end = EVT_SEG_HDR_SIZE + EVT_BLK_HDR_SIZE +
	    evt_blkhdr_payload_len(&bh);
	T_OK(evt_blkhdr_magic_ok(hp) && evt_fixed_crc_ok(hp, EVT_BLK_HDR_SIZE) &&
	    bh.version == EVT_BLK_VERSION_JOIN && bh.codec == EVT_CODEC_ZSTD &&
	    bh.nguid == 40 && bh.nevent == 40 && end == t.data_end &&
	    (bh.flags & (EVT_BLKF_SET | EVT_BLKF_IDCOL | EVT_BLKF_UNIT)) ==
	    (EVT_BLKF_SET | EVT_BLKF_IDCOL | EVT_BLKF_UNIT) &&
	    evt_crc32c(0, hp + EVT_BLK_HDR_SIZE, end - EVT_SEG_HDR_SIZE -
	    EVT_BLK_HDR_SIZE) == bh.payload_crc,
	    "written: one block, header and payload crc, up to data_end");
	free(b);
}

/* Checking a filter needs the trailer, not the index: a lookup of an id
 * whose segment has a damaged index and a damaged filter scans it and
 * finds the id (formats/segment.md, "Lookup"). */
static void
test_filter_without_index(const char *dir, const char *seg)
{
	size_t n;
	uint8_t *b = slurp(seg, &n);
	if (b == NULL || n < EVT_TRAILER_SIZE) {
		T_OK(0, "segment readable");
		free(b);
		return;
	}
	struct evt_trailer t;
	evt_trailer_get(b + n - EVT_TRAILER_SIZE, &t);
	free(b);
	/* The index unusable: the metadata CRC fails. */
	smash(seg, t.meta_off + t.meta_len / 2, 1, 0x5a);
	struct evt_segr *r;
	T_OK(evt_segr_open(seg, NULL, NULL, &r) == 0, "open");
	T_EQ(evt_segr_check_filter(r), 0,
	    "damaged index: the intact filter still checks");
	T_OK(evt_segr_load_index(r) < 0, "... and the index is unusable");
	evt_segr_close(r);
	/* The filter emptied too: every probe says "absent". */
	smash(seg, t.filt_off, t.filt_len, 0);
	T_OK(evt_segr_open(seg, NULL, NULL, &r) == 0, "open");
	T_EQ(evt_segr_check_filter(r), EVT_ERR_CHECKSUM,
	    "damaged index and filter: the filter fails its crc");
	evt_segr_close(r);
	struct evt_archive *a;
	T_OK(evt_archive_open(dir, 0, NULL, NULL, NULL, NULL, &a) == 0,
	    "open the archive");
	struct evt_segr *fr = NULL;
	struct evt_rec rec;
	size_t si;
	uint64_t boff;
	static const char id[] = "00000000-0000-4000-8000-000000000113";
	int rc = evt_archive_find(a, id, sizeof id - 1, &fr, &si, &rec, &boff);
	T_EQ(rc, 1, "find: the id is found by scanning the segment");
	if (rc == 1)
		evt_archive_close_segment(a, fr);
	evt_archive_close(a);
}

int
main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/evt-test-layout-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_seghdr();
	test_blkhdr();
	test_trailer();
	test_checks();
	char dir[128], seg[192];
	snprintf(dir, sizeof dir, "%s/a", tmpdir);
	snprintf(seg, sizeof seg, "%s/seg-000000000001.evt", dir);
	T_OK(write_archive(dir) == 0, "archive written");
	test_written(seg);
	test_filter_without_index(dir, seg);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	T_DONE();
}
