/*
 * natspub.h: the publisher of evrec --publish (formats/nats.md): a thread
 * of its own that follows the archive as the recorder writes it and
 * publishes every frame to NATS JetStream, so that recording never waits
 * for NATS.  The archive is the outbox:
 *
 *   archive (follow.h) -> frames -> events / markers -> natsMsg (natsio.h)
 *     -> js_PublishMsgAsync, at most o->window unacknowledged
 *     -> acks: the contiguous acknowledged prefix -> DIR/nats-publish.json
 *        (tmp + fsync + rename + fsync of DIR, about every second and at
 *        the end)
 *
 * Any failure (no connection, a publish refused by the stream, an ack
 * that does not come) sends the publisher back to the last acknowledged
 * position after a backoff (1 s doubling to 30 s; to 5 s when
 * connecting); what is sent again is absorbed by the stream's duplicate
 * window (Nats-Msg-Id).  At start it
 * resumes after the position file, or after the stream's last message
 * of this archive if that is further (a duplicate window that expired
 * during a long outage must not let the stream take a frame twice).
 *
 * Thread-safety: evt_natspub_recorded and evt_natspub_stats may be called
 * from any thread; start and stop from one.
 */
#ifndef EVTAPE_NATSPUB_H
#define EVTAPE_NATSPUB_H

#include <stdint.h>

#include "evtape/natsio.h"

/* The name of the position file in the archive directory (and its
 * temporary, NAME.tmp). */
#define EVT_NATSPUB_FILE "nats-publish.json"

struct evt_natspub;

/* The publisher's counters (the metrics of evrec). */
struct evt_natspub_stats {
	uint64_t published;	/* messages handed to libnats (resends too) */
	uint64_t acked;		/* messages acknowledged by the stream */
	uint64_t pending;	/* published, not yet acknowledged */
	uint64_t rejected;	/* publishes the stream refused or that
				   timed out (each sent again later) */
	uint64_t too_big;	/* messages over the server's max_payload,
				   passed over (noted) */
	uint64_t lag_events;	/* events recorded (or read) and not yet
				   acknowledged */
	double lag_s;		/* receive time of the newest recorded frame
				   minus that of the last acknowledged one
				   (0 when caught up) */
	int connected;
};

/*
 * Starts the publisher of the archive in dir (borrowed for its life) with
 * options o (borrowed; checked by evt_nats_opts_finish) and the note
 * callback cbs (logging; called from any thread).  Reads the position
 * file; the connection is made by the thread (errors are noted and
 * retried, never fatal).  Returns 0 and *out, or a negative evt_err (the
 * position file cannot be read: EVT_ERR_CORRUPT, noted).
 */
int evt_natspub_start(const char *dir, const struct evt_nats_opts *o,
    const struct evt_nats_cbs *cbs, struct evt_natspub **out);

/* Tells the publisher how many events the recorder has written in this
 * run so far (for lag_events) and the receive time of the newest. */
void evt_natspub_recorded(struct evt_natspub *p, uint64_t events,
    int64_t last_rx);

/* Fills *s. */
void evt_natspub_stats(struct evt_natspub *p, struct evt_natspub_stats *s);

/*
 * Stops: the thread publishes what the archive holds (call it after the
 * recorder sealed the archive), waits at most grace_us for that to be
 * acknowledged (not at all while NATS is unreachable), writes the
 * position, closes its connection and ends.  Returns 0 when everything
 * was acknowledged, 1 when some was left for the next start (noted).
 * NULL is fine.
 */
int evt_natspub_stop(struct evt_natspub *p, int64_t grace_us);

/*
 * Frees a stopped publisher (NULL is fine).  Call it after
 * evt_nats_shutdown(): a libnats thread may still be inside the ack
 * handler when the connection is closed, and the shutdown waits for it.
 */
void evt_natspub_free(struct evt_natspub *p);

#endif
