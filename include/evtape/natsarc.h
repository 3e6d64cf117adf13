/*
 * natsarc.h: the central archiver (evrec --from-nats): consumes a durable
 * JetStream pull consumer whose messages follow the evtape NATS contract
 * (subjects and headers as evrec --publish writes them, README "NATS")
 * and writes them into one ordinary archive (formats/records.md, "Central
 * archives").
 *
 *   fetch a batch -> per message: Evtape-Kind, -Rx, -Site, -Frame, -Item
 *     (kind and site from the subject, receive time from the stream's
 *     timestamp where a header is missing: evt_natsarc_in)
 *     -> a SESSION "nats" marker when the site or source archive changes
 *     -> events of one Evtape-Frame gathered into one MSG frame
 *        {"events":[...]}, duplicates (by id, the recorder's dedupe set)
 *        cut out; markers and other frames written as they are, unless
 *        equal to one written before (evt_natsarc_rec_key)
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
#include "evtape/json.h"

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
 * What a message says of itself (formats/nats.md, "Consuming"): its kind
 * from Evtape-Kind, else from its subject; its site from Evtape-Site (not
 * empty), else the last token of the subject's prefix; its receive time
 * from Evtape-Rx when that parses.
 */
struct evt_natsarc_in {
	int kind;		/* enum evt_nats_kind */
	int kind_from_subject;	/* no usable Evtape-Kind */
	const char *site;	/* not NUL-terminated when from the subject */
	size_t site_len;
	int have_rx;		/* 0: take the stream's timestamp */
	int64_t rx;
};

/*
 * The kind a subject names and the last token of its prefix: a subject
 * whose second-to-last token is "mk" and last token a marker kind word
 * (session, gap, config, states, json, raw) is that marker, prefix the
 * tokens before "mk"; else one whose third-to-last token is "ev" is an
 * event, prefix the tokens before "ev".  The prefix has one token or more.
 * Returns the kind and *site / *site_len (borrowed from subj), or -1.
 */
int evt_natsarc_subject(const char *subj, const char **site,
    size_t *site_len);

/*
 * Fills *in from a message's subject and header values (NULL: absent).
 * Returns 0, or -1 when no kind can be told (the message is poison).
 */
int evt_natsarc_in(const char *subj, const char *kind, const char *rx,
    const char *site, struct evt_natsarc_in *in);

/*
 * The key under which the archiver remembers a written record that is not
 * a MSG frame (records.md, "Central archives"): FNV-1a 64 over the site,
 * the record kind (EVT_K_*; STATES, JSON and RAW frames all count as one
 * kind, EVT_K_JSON, since the archive chooses among them by the bytes),
 * the receive time and the body: when it parses as JSON (lone surrogate
 * escapes accepted), its tokens in order (type; strings decoded; numbers'
 * text; containers' sizes), so that whitespace and escapes, which the
 * archive normalises, do not count; otherwise its bytes.  jp is a scratch
 * parser, tmp a scratch buffer.
 */
uint64_t evt_natsarc_rec_key(struct evt_jparser *jp, struct evt_buf *tmp,
    const char *site, int rec_kind, int64_t rx, const char *body,
    size_t len);

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
