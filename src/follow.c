/*
 * follow.c: follows an archive as a recorder writes it (follow.h).
 *
 * One segment is open at a time.  A sealed one is read to its end.  An
 * unsealed one is read live (evt_segr_live): up to the block the writer
 * is writing, then again after every change inotify reports, until the
 * file (through the open descriptor) has a trailer: sealed, read to its
 * end.  An unsealed one that will never be sealed under this descriptor
 * is read to its end as any reader reads it (its torn tail reported): a
 * newer segment exists and either the file at its name is another one
 * (repair renamed a new one over it) or, after a quiet wait, no writer
 * holds the lock (a crash nobody has restarted after).  Then the next
 * segment: the lowest sequence number above, missing numbers in between
 * reported as lost (retention deleted them before they were read).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evtape/err.h"
#include "evtape/follow.h"

struct evt_follow {
	char *dir;
	int ifd;		/* inotify */
	evt_seg_err_cb cb;
	void *arg;
	int64_t from;
	uint64_t seq;		/* the open segment's, or the last one's
				   (0: none yet) */
	uint64_t newest;	/* the highest sequence number seen */
	char *path;		/* the open segment's */
	struct evt_segr *r;	/* open reader or NULL */
	dev_t dev;		/* its file */
	ino_t ino;
	int draining;		/* r is read to its end, then closed */
	int quiet;		/* the last wait timed out */
	uint64_t lost, lost_unknown;
};

/* Reports a problem of path through the callback. */
static void
follow_report(struct evt_follow *f, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
follow_report(struct evt_follow *f, const char *path, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (f->cb != NULL)
		f->cb(f->arg, path, 0, msg);
}

/*
 * Lists the directory: *next gets the lowest sequence number above f->seq
 * (0: none), f->newest the highest; *other is set when the directory
 * holds LOCK or a segment (an archive).  0 or EVT_ERR_IO.
 */
static int
follow_list(struct evt_follow *f, uint64_t *next, int *archive)
{
	DIR *d = opendir(f->dir);
	if (d == NULL)
		return EVT_ERR_IO;
	struct dirent *e;
	uint64_t s;
	*next = 0;
	*archive = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, "LOCK") == 0)
			*archive = 1;
		if (!evt_segment_parse_name(e->d_name, &s))
			continue;
		*archive = 1;
		if (s > f->newest)
			f->newest = s;
		if (s > f->seq && (*next == 0 || s < *next))
			*next = s;
	}
	closedir(d);
	return 0;
}

/* Reports segments lo..hi as deleted before they were read. */
static void
follow_lost(struct evt_follow *f, uint64_t lo, uint64_t hi)
{
	char name[24], last[24];
	evt_segment_name(lo, name, sizeof name);
	evt_segment_name(hi, last, sizeof last);
	char *path = evt_path_join(f->dir, name);
	if (lo == hi)
		follow_report(f, path != NULL ? path : f->dir, "deleted (by "
		    "retention, or moved aside) before this reader read it: "
		    "its events are lost");
	else
		follow_report(f, path != NULL ? path : f->dir, "deleted with "
		    "the segments after it up to %s (by retention, or moved "
		    "aside) before this reader read them: their events are "
		    "lost", last);
	free(path);
	f->lost_unknown++;
}

/* Opens the archive for following; see follow.h. */
int
evt_follow_open(const char *dir, int64_t from_us, evt_seg_err_cb cb,
    void *arg, struct evt_follow **out)
{
	/* O_NONBLOCK: a FIFO must not hang the check (O_DIRECTORY refuses
	 * it anyway). */
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? EVT_ERR_NOTFOUND : errno == ENOTDIR ?
		    EVT_ERR_ARG : EVT_ERR_IO;
	close(fd);
	struct evt_follow *f = calloc(1, sizeof *f);
	if (f == NULL || (f->dir = strdup(dir)) == NULL) {
		free(f);
		return EVT_ERR_NOMEM;
	}
	f->cb = cb;
	f->arg = arg;
	f->from = from_us;
	int rc = EVT_ERR_IO;
	f->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	/* Every change of the directory's entries or of a file in it:
	 * blocks appended, trailers, renames, deletions. */
	if (f->ifd < 0 || inotify_add_watch(f->ifd, dir, IN_MODIFY |
	    IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
	    IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
	    IN_ONLYDIR) < 0)
		goto fail;
	uint64_t next;
	int archive;
	if ((rc = follow_list(f, &next, &archive)) != 0)
		goto fail;
	if (!archive) {
		rc = EVT_ERR_CORRUPT;
		goto fail;
	}
	*out = f;
	return 0;
fail:
	{
		int e = errno;
		evt_follow_close(f);
		errno = e;
	}
	return rc;
}

/* Starts at segment seq; see follow.h.  (f->seq is the last segment
 * read: the one before seq, which a loss report then names.) */
void
evt_follow_start_at(struct evt_follow *f, uint64_t seq)
{
	if (f->r == NULL && f->seq == 0 && seq > 1)
		f->seq = seq - 1;
}

/* Closes the open segment, adding what it could not read. */
static void
follow_close_seg(struct evt_follow *f)
{
	if (f->r != NULL) {
		uint64_t ev, unk;
		evt_segr_lost(f->r, &ev, &unk);
		f->lost += ev;
		f->lost_unknown += unk;
		evt_segr_close(f->r);
	}
	f->r = NULL;
	free(f->path);
	f->path = NULL;
	f->draining = 0;
}

/* Closes the follower. */
void
evt_follow_close(struct evt_follow *f)
{
	if (f == NULL)
		return;
	follow_close_seg(f);
	if (f->ifd >= 0)
		close(f->ifd);
	free(f->dir);
	free(f);
}

/*
 * Opens the next segment: 1 (f->r open), 0 when there is none yet (or
 * the newest is still being created), or a negative evt_err.  Segments
 * that cannot be opened are reported (by the segment reader) and passed.
 */
static int
follow_open_next(struct evt_follow *f)
{
	for (;;) {
		uint64_t next;
		int archive;
		if (follow_list(f, &next, &archive) != 0)
			return EVT_ERR_IO;
		if (next == 0)
			return 0;
		char name[24];
		evt_segment_name(next, name, sizeof name);
		char *path = evt_path_join(f->dir, name);
		if (path == NULL)
			return EVT_ERR_NOMEM;
		struct stat st;
		/* A writer creates the file, then writes its header: a newest
		 * segment shorter than a header is not there yet. */
		if (next == f->newest && stat(path, &st) == 0 &&
		    S_ISREG(st.st_mode) && st.st_size < EVT_SEG_HDR_SIZE) {
			free(path);
			return 0;
		}
		if (f->seq != 0 && next > f->seq + 1)
			follow_lost(f, f->seq + 1, next - 1);
		f->seq = next;
		int rc = evt_segr_open(path, f->cb, f->arg, &f->r);
		if (rc == EVT_ERR_NOMEM) {
			free(path);
			return rc;
		}
		if (rc != 0) {
			f->r = NULL;
			f->lost_unknown++; /* reported by the reader */
			free(path);
			continue;
		}
		f->path = path;
		if (fstat(evt_segr_fd(f->r), &st) == 0) {
			f->dev = st.st_dev;
			f->ino = st.st_ino;
		}
		evt_segr_rewind(f->r, f->from);
		const struct evt_seg_info *si = evt_segr_info(f->r);
		/* An unsealed segment before the newest while no writer
		 * runs: a crash nobody restarted after; read it whole. */
		f->draining = si->sealed || (next < f->newest &&
		    !evt_archive_writer_running(f->dir));
		evt_segr_live(f->r, !f->draining);
		return 1;
	}
}

/*
 * Whether the open unsealed segment will never be sealed through its
 * descriptor: a newer segment exists and its name holds another file
 * (repair renamed one over it; the old file's frames are the same), or,
 * after a quiet wait, no writer holds the lock.
 */
static int
follow_abandoned(struct evt_follow *f)
{
	struct stat st;
	uint64_t next;
	int archive;
	/* After a quiet wait, the listing too (inotify's queue may have
	 * overflowed and taken a new segment's name with it). */
	if (f->quiet && follow_list(f, &next, &archive) != 0)
		return 0;
	if (f->newest <= f->seq)
		return 0;
	if (stat(f->path, &st) != 0 || st.st_dev != f->dev ||
	    st.st_ino != f->ino)
		return 1;
	return f->quiet && !evt_archive_writer_running(f->dir);
}

/* The reader to read now; see follow.h. */
int
evt_follow_reader(struct evt_follow *f, struct evt_segr **r,
    const char **path, int *fresh)
{
	*fresh = 0;
	for (;;) {
		if (f->r == NULL) {
			int rc = follow_open_next(f);
			if (rc <= 0)
				return rc;
			*fresh = 1;
			break;
		}
		if (f->draining) {
			follow_close_seg(f); /* read to its end */
			continue;
		}
		/* Live, and read up to where the writer is. */
		int rc = evt_segr_refresh(f->r);
		if (rc < 0)
			return rc;
		if (rc == 2)
			f->draining = 1; /* sealed: the rest, then the next */
		else if (rc == 0 && follow_abandoned(f)) {
			evt_segr_live(f->r, 0);
			f->draining = 1;
		} else if (rc == 0)
			return 0;
		break;
	}
	f->quiet = 0;
	*r = f->r;
	*path = f->path;
	return 1;
}

/* Reads the pending inotify events; notes the newest segment named.
 * 1, or EVT_ERR_NOTFOUND when the directory itself went away. */
static int
follow_drain(struct evt_follow *f)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct
	    inotify_event))));
	ssize_t n;
	int rc = 1;
	while ((n = read(f->ifd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n; ) {
			const struct inotify_event *e = (const void *)p;
			uint64_t s;
			if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF |
			    IN_IGNORED))
				rc = EVT_ERR_NOTFOUND;
			if (e->len > 0 && evt_segment_parse_name(e->name, &s) &&
			    s > f->newest)
				f->newest = s;
			p += sizeof *e + e->len;
		}
	}
	return rc;
}

/* Waits for a change; see follow.h. */
int
evt_follow_wait(struct evt_follow *f, int timeout_ms,
    const sigset_t *sigmask)
{
	struct pollfd p = {.fd = f->ifd, .events = POLLIN};
	struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) *
	    1000000L};
	int n = ppoll(&p, 1, timeout_ms < 0 ? NULL : &ts, sigmask);
	if (n < 0)
		return errno == EINTR ? EVT_ERR_AGAIN : EVT_ERR_IO;
	f->quiet = n == 0 && timeout_ms != 0;
	return n == 0 ? 0 : follow_drain(f);
}

/* The inotify descriptor. */
int
evt_follow_fd(const struct evt_follow *f)
{
	return f->ifd;
}

/* What could not be read so far. */
void
evt_follow_lost(const struct evt_follow *f, uint64_t *events,
    uint64_t *unknown)
{
	uint64_t ev = 0, unk = 0;
	if (f->r != NULL)
		evt_segr_lost(f->r, &ev, &unk);
	*events = f->lost + ev;
	*unknown = f->lost_unknown + unk;
}
