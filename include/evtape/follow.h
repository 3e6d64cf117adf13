/*
 * follow.h: following an archive as a recorder writes it (`evtool cat
 * -f`; later evplay --follow): every segment in order, from the oldest,
 * then every block the writer adds, across rotation, sealing,
 * compaction, retention and writer restarts (formats/archive.md,
 * "Following a live archive").
 *
 * The position is the open segment: its sequence number and, inside it,
 * the scan's offset (the next block).  The open descriptor is what makes
 * the rest simple: a segment sealed in place is read on from that
 * offset, and one that compaction or repair renames over, or retention
 * deletes, while it is open keeps its old file, which holds the same
 * frames; only a segment deleted before it was opened is lost, and
 * reported.  Changes are awaited with inotify on the directory (no
 * polling); a quiet timeout is the caller's fallback (evt_follow_wait).
 *
 * Use: evt_follow_reader returns a segment reader to read with
 * evt_segr_next (or a frame reader over it) until it returns 0; then call
 * evt_follow_reader again, and when it returns 0, evt_follow_wait.  A
 * reader stops only between blocks, and a frame never spans two blocks,
 * so a frame reader may be started afresh over it at every call.
 */
#ifndef EVTAPE_FOLLOW_H
#define EVTAPE_FOLLOW_H

#include <signal.h>
#include <stdint.h>

#include "evtape/archive.h"
#include "evtape/segment.h"

struct evt_follow;

/*
 * Opens the archive in dir for following (no lock), watching it first so
 * that no change is missed.  Problems inside segments and lost segments
 * go to cb (file, offset, what).  from_us lets sealed segments skip the
 * blocks that end before it (INT64_MIN: none).  Returns 0 and *out, or
 * EVT_ERR_NOTFOUND (no such directory), EVT_ERR_ARG (not a directory),
 * EVT_ERR_CORRUPT (a directory with neither LOCK nor a segment: not an
 * archive), EVT_ERR_IO (errno set), EVT_ERR_NOMEM.
 */
int evt_follow_open(const char *dir, int64_t from_us, evt_seg_err_cb cb,
    void *arg, struct evt_follow **out);

/* Closes (NULL is fine). */
void evt_follow_close(struct evt_follow *f);

/*
 * Before the first evt_follow_reader: the first segment read is the
 * lowest numbered seq or above (segments below are not opened; the
 * publisher of evrec --publish resumes in its position's segment).
 * seq 0 or 1: from the oldest, as without the call.
 */
void evt_follow_start_at(struct evt_follow *f, uint64_t seq);

/*
 * The reader to read now: 1 and *r (borrowed until the next call) with
 * its file's path, and *fresh set when it is not the reader of the last
 * call; 0 when nothing is to be read until the archive changes; or a
 * negative evt_err (EVT_ERR_NOMEM, EVT_ERR_IO).
 */
int evt_follow_reader(struct evt_follow *f, struct evt_segr **r,
    const char **path, int *fresh);

/*
 * Waits for a change of the archive, at most timeout_ms (-1: no limit),
 * with the signal mask sigmask (NULL: the current one) as ppoll(2) does,
 * so that a caller that blocks its stop signals and checks its flag
 * first misses none.  Returns 1 (changed), 0 (the timeout passed: when
 * it was not 0, the archive was quiet, and an unsealed segment that is
 * not the newest is then taken as left by a dead writer if no writer
 * holds the lock; a long timeout, evtool's is 5 s, is also the fallback
 * for notifications lost to a full inotify queue), EVT_ERR_AGAIN (a
 * signal), EVT_ERR_NOTFOUND (the directory was deleted or moved),
 * EVT_ERR_IO.
 */
int evt_follow_wait(struct evt_follow *f, int timeout_ms,
    const sigset_t *sigmask);

/* The inotify descriptor, readable when the archive changed (for an event
 * loop, which then calls evt_follow_wait(f, 0, NULL), and after a quiet
 * interval of its own timer evt_follow_wait(f, 1, NULL)). */
int evt_follow_fd(const struct evt_follow *f);

/* What could not be read so far (see evt_archive_lost): *events known
 * lost, *unknown places of unknown count (lost segments among them). */
void evt_follow_lost(const struct evt_follow *f, uint64_t *events,
    uint64_t *unknown);

#endif
