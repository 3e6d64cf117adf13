/*
 * natsarc.h: the central archiver (evrec --from-nats): consumes a durable
 * JetStream pull consumer whose messages follow the evtape NATS contract
 * (subjects and headers as evrec --publish writes them, README "NATS")
 * and writes them into one ordinary archive (formats/records.md, "Central
 * archives").
 *
 *   fetch a batch -> per message: Evtape-Kind, -Rx, -Site, -Frame, -Item
 *     -> a SESSION "nats" marker when the site or source archive changes
 *     -> events of one Evtape-Frame gathered into one MSG frame
 *        {"events":[...]}, duplicates (by id, the recorder's dedupe set)
 *        cut out; markers and other frames written as they are
 *   -> acknowledged only once evt_archive_durable says the records are
 *      durable per --fsync: a kill -9 loses nothing, what it redelivers
 *      is dropped by id.
 *
 * The sans-I/O parts (header parsing, marker bodies, the frame builder)
 * are here for the unit tests; evt_natsarc_run is the loop.
 */
#ifndef EVTAPE_NATSARC_H
#define EVTAPE_NATSARC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "evtape/buf.h"

struct evt_archive;
struct evt_nats;
struct evt_recorder_seen;

/* The kind (enum evt_nats_kind) an Evtape-Kind value (NUL-terminated,
 * NULL: none) names, or -1. */
int evt_natsarc_kind(const char *v);

/* Parses an Evtape-Rx value: decimal microseconds since the epoch, at
 * most 18 digits, optional leading '-'.  Returns 0 and *rx or EVT_ERR_ARG. */
int evt_natsarc_rx(const char *v, int64_t *rx);

/*
 * Appends the SESSION marker body of a central archive to out:
 *   {"event":"nats","site":S,"archive":A[,"gateway":G],"recorder":R,
 *    "stream":STREAM}
 * (gateway left out when NULL).  Returns 0 or EVT_ERR_NOMEM.
 */
int evt_natsarc_marker(struct evt_buf *out, const char *site,
    const char *archive, const char *gateway, const char *recorder,
    const char *stream);

/*
 * Appends to out a copy of the object body json[0..len) with the member
 * "site":S added as its last member (how a SESSION marker of a site is
 * copied into a central archive).  Returns 0, EVT_ERR_JSON (not an
 * object) or EVT_ERR_NOMEM.
 */
int evt_natsarc_add_site(struct evt_buf *out, const char *json, size_t len,
    const char *site);

/* The options of the archiver. */
struct evt_natsarc_opts {
	const char *stream, *durable, *filter; /* filter NULL: the stream's */
	const char *recorder;	/* "evrec <version>", for the markers */
	int64_t flush_us;	/* acknowledge at least this often */
	int64_t max_pending;	/* MaxAckPending of a consumer created here */
	int64_t ack_wait_us;	/* AckWait of a consumer created here */
	int fetch;		/* messages asked per fetch */
};

/*
 * Consumes until *stop is set (a signal handler sets it), writing into ar
 * (open for writing) and dropping events whose id is in seen (which the
 * caller filled with the archive's newest ids), through n's connection
 * and JetStream context (natsio.h).  At the end
 * everything written is made durable and acknowledged.  Returns 0, or -1
 * after logging why (the consumer could not be set up, the archive
 * failed).
 */
int evt_natsarc_run(struct evt_nats *n, struct evt_archive *ar,
    struct evt_recorder_seen *seen, const struct evt_natsarc_opts *o,
    volatile sig_atomic_t *stop);

#endif
