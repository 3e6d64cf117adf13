/*
 * evrec.c: the recorder daemon.  Connects to a Milestone API Gateway's
 * Events and State WebSocket API (docs/ess-protocol.md) and records everything
 * it receives into an archive (formats/), for months, through gateway
 * recycles, token expiry, full disks and kill -9.
 *
 *   IDP token (idp.c) -> WebSocket (wsclient.c, wsconn.c)
 *     -> [authenticate] -> startSession -> (new) addSubscription, getState,
 *        Config REST snapshot (httpc.c)      (resumed) nothing more
 *     -> every inbound frame: evt_ess_classify -> dedupe (recorder.c)
 *        -> evt_archive_frame_tok (or the in-memory queue while the disk
 *        fails); the frame is tokenized once, by the classifier, and the
 *        record encoder reuses those tokens
 *
 * One event loop, one 100 ms tick (archive duty, write retries, reading
 * back-pressure), a summary timer and signals.  The recorder's decisions
 * that need no I/O live in recorder.c and are unit-tested there.
 *
 * Resume across restarts: the archive remembers the last SESSION marker
 * and the id of the last event on disk (evt_archive_session,
 * evt_archive_last_id); startup asks the gateway to resume that session
 * from that event, so events lost in the buffer of a killed recorder are
 * sent again.  A resume the gateway refuses is recorded as a GAP marker.
 *
 * A full disk: a write error is logged once; frames are then queued in
 * memory (bounded by --max-buffer; past it the socket is no longer read, so
 * TCP holds the gateway back) and written again, in order, once a retry
 * succeeds (every second).
 *
 * Publishing (--publish, formats/nats.md): a thread of natspub.c follows
 * the archive and publishes it to NATS JetStream; the archive is its
 * outbox, so NATS never holds recording back.
 *
 * Secrets: the password and tokens live in heap memory wiped after use,
 * never in argv, logs or the archive.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <ini.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "evtape/timefmt.h"
#include "evtape/archive.h"
#include "evtape/cli.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/http.h"
#include "evtape/httpc.h"
#include "evtape/idp.h"
#include "evtape/log.h"
#include "evtape/natsarc.h"
#include "evtape/natsio.h"
#include "evtape/natspub.h"
#include "evtape/record.h"
#include "evtape/recorder.h"
#include "evtape/tls.h"
#include "evtape/wsclient.h"
#include "evtape/wsconn.h"

#define EVREC_VERSION "0.1.0"
#define TICK_US 100000
#define FLUSH_MIN_US 10000		/* --flush-interval bounds */
#define FLUSH_MAX_US 60000000
#define RETRY_WRITE_US 1000000		/* retry a failing disk every 1 s */
#define TOKEN_MARGIN_US (INT64_C(60) * 1000000)
#define BACKOFF_BASE_MS 500
#define BACKOFF_MAX_MS 30000
/* A session that stays up this long or delivers this many events resets
 * the backoff (evt_recorder_stable). */
#define STABLE_US (INT64_C(10) * 1000000)
#define STABLE_EVENTS 100
#define ID_MAX EVT_ESS_ID_MAX
/* A getState answer may take minutes on a large site (docs/ess-protocol.md
 * section 4) while a quiet site sends nothing else: the dead-peer timeout
 * is this much longer while one is awaited. */
#define STATE_GRACE_S 300
/* The metrics port's bounds (see metrics_accept_cb). */
#define METRICS_CONNS 8
#define METRICS_IDLE_S 5
#define METRICS_REQ_MAX 8192
#define METRICS_FD_RESERVE 16	/* descriptors it never takes */
/* At a stop, the publisher's time to publish what the archive holds. */
#define PUBLISH_GRACE_US (INT64_C(5) * 1000000)

/* Command-line and config-file options. */
struct opts {
	char *archive, *url, *user, *password_file, *token_file, *cacert;
	char *log_file, *metrics;
	int insecure, auth_command, level;
	const char **specs;	/* --include / --exclude, in order */
	int *exclude;
	size_t nspecs;
	double ping, dead, summary, connect_timeout, state_interval;
	double ack_wait;	/* --ack-wait (--from-nats) */
	size_t max_message, max_buffer;
	int fsync;
	uint64_t seg_size, max_bytes;
	int64_t seg_age_us, max_age_us;
	int64_t flush_us;	/* --flush-interval: the open block's bound */
	int no_config_snapshot;
	int segment_filter;	/* seal with id filters (off: the idindex) */
	int from_nats;		/* --from-nats: the central archiver */
	int publish;		/* --publish given */
	char *durable, *filter;
	struct evt_nats_opts nats; /* --publish or --from-nats (servers) and
				      their options */
};

/* Connection states. */
enum state {
	ST_IDLE = 0,	/* waiting for the retry timer */
	ST_TOKEN,	/* token request in flight */
	ST_CONNECTING,	/* TCP/TLS/upgrade */
	ST_HANDSHAKE,	/* ESS commands in flight */
	ST_RUNNING,	/* recording */
	ST_STOPPING,	/* SIGTERM: closing */
};

/* What the command in flight is. */
enum cmd { CMD_NONE = 0, CMD_AUTH, CMD_START, CMD_SUB, CMD_STATE,
	CMD_SNAPSHOT };

/* Counters (also the metrics). */
struct counters {
	uint64_t events, messages, bytes, reconnects, resumes, gaps, raw;
	uint64_t dups, other, sessions;
};

/* Config REST resources of the configuration snapshot: event types, state
 * groups and every resource type that can be an event source (the
 * "source" prefixes and resourceTypes of docs/ess-protocol.md sections 3.2
 * and 6; one a site does not have answers 404 and is passed over). */
static const char *const cfg_resources[] = {
	"eventTypes", "stateGroups", "cameras", "hardware", "microphones",
	"speakers", "metadata", "inputEvents", "outputs", "userDefinedEvents",
	"analyticsEvents", "genericEvents", "recordingServers", "sites",
};
#define NCFG (sizeof cfg_resources / sizeof cfg_resources[0])
/* A snapshot stops asking after this many answerless requests in a row
 * (the gateway is unreachable); one timeout alone loses one type. */
#define CFG_MAX_FAILS 2
/* Name lookups found in the same second share one CONFIG delta marker. */
#define DELTA_HOLD_US 1000000
/* A snapshot follows "System configuration changed" events this long
 * after the last of them (one snapshot for a burst of changes). */
#define CHANGED_WAIT_US 2000000

/* A name lookup: the path asked (GET /api/rest/v1/<path>) while busy.
 * The recorder holds EVT_RECORDER_NAMES_INFLIGHT of them, so nothing is
 * allocated per lookup and nothing is left over at exit. */
struct lookup {
	int busy;
	char path[EVT_RECORDER_NAMES_PATH];
};

/* The recorder (one per process). */
static struct evrec {
	struct opts o;
	struct event_base *base;
	struct evdns_base *dns;
	SSL_CTX *ssl;
	struct evt_httpc_url url;
	struct evt_archive *ar;
	char *password;			/* wiped at exit */
	char *token;			/* wiped when replaced */
	int64_t token_exp_us;		/* 0 none, < 0 no expiry */
	int64_t token_life_us;		/* its lifetime when it came */
	unsigned gen;			/* generation of async callbacks */

	enum state state;
	unsigned attempt;		/* backoff step */
	int64_t run_start_us;		/* session running since (0: not) */
	uint64_t run_events0;		/* R.c.events then */
	int connected_once;
	struct evt_wsclient *wc;
	struct evt_wsconn *ws;
	struct event *retry_ev, *tick_ev, *summary_ev, *prune_ev, *stop_ev;
	struct event *snapshot_ev;
	struct event *sig_ev[4];

	struct evt_ess_client cl;
	struct evt_buf cmd, filters;
	enum cmd pending;
	uint64_t pending_id;
	char sid[ID_MAX + 1];		/* session being recorded */
	char asked_sid[ID_MAX + 1];	/* what startSession asked for */
	char last_id[ID_MAX + 1];	/* resume cursor */
	char after[ID_MAX + 1];		/* last event before the session */
	struct evt_jparser jp;
	struct evt_ess_msg msg;
	struct evt_recorder_seen seen;
	struct evt_buf rebuilt, marker;

	/* Write failure: queued records (u8 kind, i64 rx, u32 len, bytes). */
	struct evt_buf pend;
	size_t pend_off;
	uint64_t pend_count;
	int write_failing, paused;
	int64_t fail_since_us, next_retry_us;

	/* Config snapshot in progress (cfg_running) and the last written. */
	unsigned cfg_gen;
	size_t cfg_i;
	int cfg_running, cfg_started, cfg_warned, cfg_fails;
	struct evt_recorder_cfg cfg;
	uint64_t cfg_hash;		/* of the last snapshot written */

	/* Name lookups of ids the snapshot did not list: names_on is 0
	 * (none: no snapshot), 1 (noting ids while a snapshot is fetched)
	 * or 2 (looking them up); answers gather in delta. */
	int names_on, token_renewing;
	struct evt_recorder_names names;
	struct evt_recorder_cfg delta;
	struct lookup lk[EVT_RECORDER_NAMES_INFLIGHT];
	int64_t delta_since;		/* its first answer (mono), 0 none */
	int64_t changed_at;		/* a "System configuration changed"
					   event came (mono), 0 none */
	uint64_t lookups, lookups_named;

	struct counters c, last;
	int64_t last_summary_us, last_event_mono;
	int64_t anchor_wall, anchor_mono, last_rx;
	struct evconnlistener *mlis;	/* --metrics */
	struct bufferevent *mconn[METRICS_CONNS]; /* its connections, oldest
						     first */
	struct event *mresume_ev;
	int spare_fd;			/* kept for EMFILE (metrics) */
	rlim_t fd_limit;		/* RLIMIT_NOFILE (soft) */
	int foreign;			/* another writer: stopping */
	int exit_code;
	struct evt_natspub *pub;	/* --publish */
} R;

static void connect_begin(void);
static void foreign_writer(void);
static void schedule_retry(const char *why);
static void ws_close(int code, const char *reason);

/* ------------------------------------------------------------ helpers */

/* Pins the receive timeline to the wall clock (at start and on each new
 * connection): between anchors it runs on the monotonic clock, so a clock
 * step never distorts the pacing of a recording, and it never goes back. */
static void
anchor_time(void)
{
	R.anchor_wall = evt_wall_us();
	R.anchor_mono = evt_mono_us();
}

/* Receive time of a frame arriving now. */
static int64_t
rx_now(void)
{
	int64_t rx = R.anchor_wall + (evt_mono_us() - R.anchor_mono);

	if (rx < R.last_rx)
		rx = R.last_rx;
	R.last_rx = rx;
	return rx;
}

/* Aborts on out-of-memory (daemon glue may: README, "Layout and hacking"). */
static void
oom(int rc, const char *where)
{
	if (rc == EVT_ERR_NOMEM) {
		evt_log_err("%s: out of memory", where);
		abort();
	}
}

/* Wipes, frees and forgets a secret string. */
static void
secret_free(char **s)
{
	evt_cli_free_secret(*s);
	*s = NULL;
}

/* ------------------------------------------------------------ storage */

/* Bytes held in memory that are not on disk yet. */
static size_t
buffered_bytes(void)
{
	struct evt_segw *w = R.ar != NULL ? evt_archive_writer(R.ar) : NULL;

	return (R.pend.len - R.pend_off) + (w != NULL ?
	    evt_segw_block_bytes(w) : 0);
}

/*
 * Stops or restarts reading from the gateway: paused while the archive
 * cannot write (at once, so that what is held stays at about what was in
 * flight) or while more than max_buffer bytes wait for the disk; reading
 * again once writes work and at most half the bound is held.  Pausing is
 * evt_wsconn_pause: TCP back-pressure to the gateway, and no dead-peer
 * close for a silence we cause.
 */
static void
apply_backpressure(void)
{
	size_t b = buffered_bytes();

	if (!R.paused && (R.write_failing || b > R.o.max_buffer)) {
		R.paused = 1;
		if (R.write_failing)
			evt_log_warn("not reading from the gateway while the "
			    "archive cannot write (%zu bytes held)", b);
		else
			evt_log_warn("%zu bytes wait for the disk (bound %zu): "
			    "not reading from the gateway until they are "
			    "written", b, R.o.max_buffer);
		evt_wsconn_pause(R.ws);
	} else if (R.paused && !R.write_failing && b <= R.o.max_buffer / 2) {
		R.paused = 0;
		evt_log_info("reading from the gateway again");
		evt_wsconn_resume(R.ws);
	}
}

/* Notes the first write failure (logged once until writing works). */
static void
write_failed(int rc)
{
	if (R.write_failing)
		return;
	R.write_failing = 1;
	R.fail_since_us = evt_mono_us();
	R.next_retry_us = R.fail_since_us + RETRY_WRITE_US;
	evt_log_err("cannot write to the archive %s: %s%s%s; keeping new data "
	    "in memory (up to %zu bytes) and retrying every second",
	    R.o.archive, evt_strerror(rc), errno != 0 ? ": " : "",
	    errno != 0 ? strerror(errno) : "", R.o.max_buffer);
}

/*
 * Appends one record to the archive: a frame (kind 0) or a marker (kind
 * EVT_K_SESSION/GAP/CONFIG).  jp, if not NULL, holds the frame's tokens
 * (R.jp after evt_ess_classify), which spares the archive a second parse.
 * Returns 0 if the archive took it (written or
 * buffered inside the archive), 1 if it was not taken and must be kept,
 * or another negative evt_err for a record that can never be stored.
 */
static int
archive_put(int kind, int64_t rx, const char *p, size_t len,
    const struct evt_jparser *jp)
{
	struct evt_segw *w0 = evt_archive_writer(R.ar), *w1;
	size_t b0 = w0 != NULL ? evt_segw_block_bytes(w0) : 0;
	int rc;

	errno = 0;
	rc = kind == 0 ? evt_archive_frame_tok(R.ar, rx, p, len, jp) :
	    evt_archive_marker(R.ar, kind, rx, p, len);
	if (rc >= 0)
		return 0;
	oom(rc, "archive");
	if (rc == EVT_ERR_FOREIGN) {
		foreign_writer();	/* stopping: nothing more is kept */
		return 0;
	}
	if (rc != EVT_ERR_NOSPC && rc != EVT_ERR_IO)
		return rc;
	write_failed(rc);
	/* Did the record reach the archive's block before the write
	 * failed?  Then the archive holds it; else we must. */
	w1 = evt_archive_writer(R.ar);
	if (w1 != NULL && (w1 != w0 ? evt_segw_block_bytes(w1) > 0 :
	    evt_segw_block_bytes(w1) > b0))
		return 0;
	return 1;
}

/* Queues a record in memory (the archive cannot take it now). */
static void
queue_put(int kind, int64_t rx, const char *p, size_t len)
{
	uint8_t h[13];

	h[0] = (uint8_t)kind;
	memcpy(h + 1, &rx, 8);
	memcpy(h + 9, &(uint32_t){(uint32_t)len}, 4);
	oom(evt_buf_put(&R.pend, h, sizeof h), "queue");
	oom(evt_buf_put(&R.pend, p, len), "queue");
	R.pend_count++;
}

/* Stores a frame or marker, in order behind anything queued; jp: see
 * archive_put. */
static void
store(int kind, int64_t rx, const char *p, size_t len,
    const struct evt_jparser *jp)
{
	int rc;

	if (R.foreign)
		return;	/* stopping; the archive is not ours any more */
	if (R.write_failing || R.pend.len > R.pend_off) {
		queue_put(kind, rx, p, len);
		apply_backpressure();
		return;
	}
	rc = archive_put(kind, rx, p, len, jp);
	if (rc == 1)
		queue_put(kind, rx, p, len);
	else if (rc < 0)
		evt_log_err("a %s of %zu bytes cannot be stored: %s",
		    kind == 0 ? "frame" : evt_kind_name(kind), len,
		    evt_strerror(rc));
	if (R.write_failing)
		apply_backpressure();
}

/* Writes queued records to the archive; stops at the first failure.
 * Returns 0 when the queue is empty. */
static int
drain_queue(void)
{
	while (R.pend.len - R.pend_off >= 13) {
		const uint8_t *h = R.pend.p + R.pend_off;
		int64_t rx;
		uint32_t len;
		int rc;

		memcpy(&rx, h + 1, 8);
		memcpy(&len, h + 9, 4);
		rc = archive_put(h[0], rx, (const char *)h + 13, len, NULL);
		if (rc == 1)
			return 1;
		R.pend_off += 13 + (size_t)len;
		R.pend_count--;
		if (rc < 0 && rc != EVT_ERR_NOSPC && rc != EVT_ERR_IO)
			evt_log_err("a queued record cannot be stored: %s",
			    evt_strerror(rc));
	}
	/* Empty: give the memory back (it may have grown to the bound). */
	evt_buf_free(&R.pend);
	R.pend_off = 0;
	R.pend_count = 0;
	return 0;
}

/* Writes a marker body built in R.marker. */
static void
store_marker(int kind)
{
	store(kind, rx_now(), (const char *)R.marker.p, R.marker.len, NULL);
}

/* Pushes the open block to disk so a session marker survives a kill -9. */
static void
flush_now(void)
{
	int rc;

	if (R.write_failing)
		return;
	errno = 0;
	if ((rc = evt_archive_flush(R.ar)) == EVT_ERR_FOREIGN)
		foreign_writer();
	else if (rc < 0)
		write_failed(rc);
}

/* Makes the newest segment name the current session. */
static void
set_carry(void)
{
	R.marker.len = 0;
	oom(evt_recorder_session_json(&R.marker, "continued", R.sid,
	    R.url.base, NULL, R.after, NULL), "carry");
	oom(evt_archive_set_carry(R.ar, (const char *)R.marker.p,
	    R.marker.len), "carry");
}

/* ------------------------------------------------------- config snapshot */

static void cfg_next(void);

/* FNV-1a of a snapshot body: an unchanged snapshot is not written again. */
static uint64_t
body_hash(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* The options of every Config REST request. */
static struct evt_httpc_opts
rest_opts(void)
{
	return (struct evt_httpc_opts){R.base, R.dns, R.ssl, R.o.insecure,
	    (int)R.o.connect_timeout, 0};
}

/* One Config REST answer arrived: reduced at once, so only the reduced
 * items of the types fetched so far are held. */
static void
cfg_done_cb(void *arg, int status, const char *body, size_t len,
    const char *why)
{
	const char *res = cfg_resources[R.cfg_i];

	if ((unsigned)(uintptr_t)arg != R.cfg_gen || R.state == ST_STOPPING)
		return;
	R.cfg_fails = status == 0 ? R.cfg_fails + 1 : 0;
	if (status == 200) {
		int rc = evt_recorder_cfg_add(&R.cfg, res, body, len);

		oom(rc, "config");
		if (rc < 0)
			evt_log_warn("configuration snapshot: GET %s: the "
			    "answer is not a JSON list", res);
	} else if (status != 404 && !R.cfg_warned++)
		evt_log_warn("configuration snapshot: GET %s: %s%s", res,
		    status ? "HTTP " : why, status ?
		    evt_http_reason(status) : "");
	/* 404: a resource type this site does not have. */
	R.cfg_i = R.cfg_fails >= CFG_MAX_FAILS ? NCFG : R.cfg_i + 1;
	cfg_next();
}

/* The snapshot is complete: writes it (unless it is the one written
 * last) and makes its ids the known ones of the name lookups. */
static void
cfg_finish(void)
{
	uint64_t h;
	int rc;

	R.cfg_running = 0;
	if (R.cfg.items == 0) {
		evt_log_warn("configuration snapshot: nothing could be "
		    "fetched; recording without names");
		evt_recorder_names_clear(&R.names);
		R.names_on = 0;
		evt_recorder_cfg_free(&R.cfg);
		return;
	}
	R.marker.len = 0;
	oom(evt_recorder_cfg_body(&R.cfg, 0, &R.marker), "config");
	h = body_hash(R.marker.p, R.marker.len);
	if (h != R.cfg_hash) {
		store_marker(EVT_K_CONFIG);
		R.cfg_hash = h;
		evt_log_info("configuration snapshot: %zu items", R.cfg.items);
	} else
		evt_log_debug("configuration snapshot: %zu items, unchanged "
		    "(not written again)", R.cfg.items);
	evt_recorder_cfg_free(&R.cfg);
	rc = evt_recorder_names_learn(&R.names, (const char *)R.marker.p,
	    R.marker.len);
	oom(rc, "names");
	R.names_on = rc >= 0 ? 2 : 0;
}

/* Asks for the next resource, or finishes the snapshot. */
static void
cfg_next(void)
{
	struct evt_httpc_opts ho = rest_opts();
	char path[128];
	int rc;

	while (R.cfg_i < NCFG) {
		snprintf(path, sizeof path, "/api/rest/v1/%s",
		    cfg_resources[R.cfg_i]);
		rc = evt_httpc_request(&ho, &R.url, path, R.token, NULL, NULL,
		    0, cfg_done_cb, (void *)(uintptr_t)R.cfg_gen, NULL);
		if (rc == 0)
			return;
		evt_log_warn("configuration snapshot: %s", evt_strerror(rc));
		R.cfg_i = NCFG;
	}
	cfg_finish();
}

/* Starts fetching a configuration snapshot (a new session, the first
 * resumed one of this process, and every --state-interval), unless one is
 * being fetched.  Ids that events name meanwhile are noted, and looked up
 * once the snapshot shows which it lacks. */
static void
cfg_start(void)
{
	if (R.o.no_config_snapshot || R.cfg_running)
		return;
	R.cfg_gen++;
	R.cfg_i = 0;
	R.cfg_running = R.cfg_started = 1;
	R.cfg_warned = R.cfg_fails = 0;
	evt_recorder_cfg_free(&R.cfg);
	if (R.names_on == 0)
		R.names_on = 1;
	cfg_next();
}

/* ---------------------------------------------------------- name lookups */

/* Writes the answers gathered so far as one CONFIG delta marker: when
 * forced (stopping), when nothing more is in flight or waiting, or once
 * the first answer is DELTA_HOLD_US old. */
static void
names_flush(int force)
{
	if (R.delta.items == 0)
		return;
	if (!force && (R.names.inflight > 0 ||
	    evt_recorder_names_waiting(&R.names) > 0) &&
	    evt_mono_us() - R.delta_since < DELTA_HOLD_US)
		return;
	R.marker.len = 0;
	oom(evt_recorder_cfg_body(&R.delta, 1, &R.marker), "names");
	store_marker(EVT_K_CONFIG);
	evt_log_info("names: %zu looked up (%" PRIu64 " asked, %" PRIu64
	    " named so far)", R.delta.items, R.lookups, R.lookups_named);
	evt_recorder_cfg_free(&R.delta);
	R.delta_since = 0;
}

/* A name lookup's answer: an item goes into the delta; a 404 (an id the
 * gateway does not list) or a failure leaves the id unnamed. */
static void
lookup_done_cb(void *arg, int status, const char *body, size_t len,
    const char *why)
{
	struct lookup *lk = arg;
	char *slash = strchr(lk->path, '/');
	int rc;

	evt_recorder_names_done(&R.names);
	lk->busy = 0;
	if (R.ar == NULL)	/* stopped: the archive is closed */
		return;
	if (status == 200) {
		*slash = '\0';	/* the resource type */
		rc = evt_recorder_cfg_add(&R.delta, lk->path, body, len);
		*slash = '/';
		oom(rc, "names");
		if (rc > 0) {
			R.lookups_named++;
			if (R.delta_since == 0)
				R.delta_since = evt_mono_us();
		} else
			evt_log_debug("name lookup %s: no item in the answer",
			    lk->path);
	} else if (status == 404)
		evt_log_debug("name lookup %s: not found", lk->path);
	else
		evt_log_warn("name lookup %s: %s%s", lk->path, status ?
		    "HTTP " : why, status ? evt_http_reason(status) : "");
	names_flush(0);
}

/* Makes a token answer the current token (its access token taken over,
 * the rest freed). */
static void
token_take(struct evt_http_token *tok)
{
	secret_free(&R.token);
	R.token = tok->access_token;	/* taken over */
	tok->access_token = NULL;
	R.token_exp_us = tok->expires_in >= 0 ? evt_mono_us() +
	    tok->expires_in * 1000000 : -1;
	R.token_life_us = tok->expires_in * 1000000;
	evt_http_token_free(tok);
}

/* The token renewal for REST requests ended: the new one is used by
 * lookups and by the next connection alike. */
static void
rest_token_cb(void *arg, int rc, struct evt_http_token *tok, const char *why)
{
	R.token_renewing = 0;
	if (rc != 0 || R.state == ST_STOPPING) {
		if (rc != 0)
			evt_log_warn("token renewal for name lookups: %s", why);
		evt_http_token_free(tok);
		return;
	}
	token_take(tok);
}

/* Tells whether REST requests may go out with the current token now (1),
 * or not yet (0): a token near its expiry is renewed first (the WebSocket
 * outlives its token, docs/ess-protocol.md 1.4; REST requests do not). */
static int
rest_token_ready(void)
{
	struct evt_httpc_opts ho = rest_opts();

	if (R.token_renewing)
		return 0;
	/* Within the last half of a short token's life (a 2 s token would
	 * otherwise always be within the 60 s margin). */
	if (R.o.user == NULL || R.state != ST_RUNNING ||
	    !evt_recorder_token_due(R.token_exp_us, evt_mono_us(),
	    R.token_life_us / 2 < TOKEN_MARGIN_US ? R.token_life_us / 2 :
	    TOKEN_MARGIN_US))
		return 1;
	if (evt_idp_token(&ho, &R.url, R.o.user, R.password, rest_token_cb,
	    NULL, NULL) == 0)
		R.token_renewing = 1;
	return 0;
}

/* Takes a new configuration snapshot CHANGED_WAIT_US after the last of a
 * run of "System configuration changed" events (a rename, a new device):
 * renames show within seconds, not at the next --state-interval. */
static void
config_changed(void)
{
	int64_t now = evt_mono_us();

	if (R.names.changed > 0) {
		R.names.changed = 0;
		R.changed_at = now;
	}
	if (R.changed_at == 0 || now - R.changed_at < CHANGED_WAIT_US ||
	    R.cfg_running || R.state != ST_RUNNING)
		return;
	R.changed_at = 0;
	evt_log_info("the gateway says its configuration changed: a new "
	    "configuration snapshot");
	cfg_start();
}

/* Starts the lookups that pacing allows (called every tick). */
static void
names_pump(void)
{
	struct evt_httpc_opts ho = rest_opts();
	const char *p;
	char path[EVT_RECORDER_NAMES_PATH + 16];

	names_flush(0);
	config_changed();
	if (R.names_on != 2 || evt_recorder_names_waiting(&R.names) == 0 ||
	    R.state == ST_STOPPING || !rest_token_ready())
		return;
	while ((p = evt_recorder_names_take(&R.names, evt_mono_us(),
	    EVT_RECORDER_NAMES_RATE)) != NULL) {
		struct lookup *lk = &R.lk[0];

		/* take bounds the lookups in flight to the slots. */
		while (lk->busy)
			lk++;
		lk->busy = 1;
		snprintf(lk->path, sizeof lk->path, "%s", p);
		snprintf(path, sizeof path, "/api/rest/v1/%s", p);
		R.lookups++;
		evt_log_debug("name lookup %s", p);
		if (evt_httpc_request(&ho, &R.url, path, R.token, NULL, NULL,
		    0, lookup_done_cb, lk, NULL) != 0) {
			evt_recorder_names_done(&R.names);
			lk->busy = 0;
		}
	}
}

/* ------------------------------------------------------------ protocol */

/* Sends the command built in R.cmd and waits for its answer. */
static void
send_cmd(enum cmd what, uint64_t id)
{
	int rc = evt_wsconn_send_text(R.ws, R.cmd.p, R.cmd.len);

	if (what == CMD_AUTH)
		evt_http_wipe(R.cmd.p, R.cmd.len);
	R.cmd.len = 0;
	oom(rc, "send");
	R.pending = what;
	R.pending_id = id;
	if ((what == CMD_STATE || what == CMD_SNAPSHOT) && R.o.dead > 0)
		evt_wsconn_set_dead_timeout(R.ws, R.o.dead + STATE_GRACE_S);
}

/* Sends startSession: resume the known session from the last event. */
static void
send_start(void)
{
	uint64_t id;

	snprintf(R.asked_sid, sizeof R.asked_sid, "%s", R.sid);
	R.cmd.len = 0;
	oom(evt_ess_client_start_session(&R.cl, R.sid, strlen(R.sid),
	    R.last_id, strlen(R.last_id), &R.cmd, &id), "startSession");
	evt_log_debug("startSession sessionId=\"%s\" eventId=\"%s\"", R.sid,
	    R.last_id);
	send_cmd(CMD_START, id);
}

/* The handshake is complete: recording. */
static void
session_running(void)
{
	R.state = ST_RUNNING;
	/* The backoff starts over only once the session proved stable (see
	 * schedule_retry), not at every handshake. */
	R.run_start_us = evt_mono_us();
	R.run_events0 = R.c.events;
	R.pending = CMD_NONE;
}

/* Acts on the answer to startSession. */
static void
on_start_answer(const struct evt_ess_msg *m)
{
	uint64_t id;
	int out = evt_recorder_start_outcome(R.asked_sid, m->status,
	    m->session_id);

	switch (out) {
	case EVT_RECORDER_FAILED:
		evt_log_err("startSession failed: status %d%s%s", m->status,
		    m->error_text[0] ? ": " : "", m->error_text);
		ws_close(EVT_WS_NORMAL, "startSession failed");
		return;
	case EVT_RECORDER_RESUMED:
		R.c.resumes++;
		R.marker.len = 0;
		oom(evt_recorder_session_json(&R.marker, "resumed", R.sid,
		    R.url.base, R.last_id, R.after, NULL), "marker");
		store_marker(EVT_K_SESSION);
		/* Every later segment names the session, as after a new one
		 * (formats/records.md, "Markers"). */
		set_carry();
		flush_now();
		evt_log_info("session %s resumed after event %s", R.sid,
		    R.last_id[0] ? R.last_id : "(none)");
		session_running();
		/* The first session of this process: the known ids of the
		 * name lookups come from a snapshot. */
		if (!R.cfg_started)
			cfg_start();
		return;
	case EVT_RECORDER_REFUSED:
		R.c.gaps++;
		R.marker.len = 0;
		oom(evt_recorder_gap_json(&R.marker, "resume refused",
		    R.asked_sid, R.last_id, m->session_id), "marker");
		store_marker(EVT_K_GAP);
		evt_log_warn("the gateway did not resume session %s (new "
		    "session %s): events after %s may be missing (gap recorded)",
		    R.asked_sid, m->session_id, R.last_id[0] ? R.last_id :
		    "the start");
		break;
	default:
		break;
	}
	snprintf(R.sid, sizeof R.sid, "%s", m->session_id);
	/* The new session's events come after the archive's last one; until
	 * the first arrives, a resume asks for the whole session ("").  The
	 * old cursor is kept in the markers (startedAfter) so that a restart
	 * can tell (evt_recorder_resume_id). */
	snprintf(R.after, sizeof R.after, "%s", R.last_id);
	R.last_id[0] = '\0';
	R.c.sessions++;
	R.marker.len = 0;
	oom(evt_recorder_session_json(&R.marker, "new", R.sid, R.url.base,
	    NULL, R.after, "evrec " EVREC_VERSION), "marker");
	store_marker(EVT_K_SESSION);
	set_carry();
	flush_now();
	evt_log_info("new session %s", R.sid);
	R.cmd.len = 0;
	oom(evt_ess_client_add_subscription(&R.cl, (const char *)R.filters.p,
	    R.filters.len, &R.cmd, &id), "addSubscription");
	send_cmd(CMD_SUB, id);
}

/* Stores a getState answer (data, as it came), restores the dead-peer
 * timeout and logs the outcome (a success at level). */
static void
store_state(const struct evt_ess_msg *m, int ok, const char *frame,
    size_t len, int64_t rx, int level)
{
	evt_wsconn_set_dead_timeout(R.ws, R.o.dead);
	store(0, rx, frame, len, NULL);
	if (!ok)
		evt_log_warn("getState failed: status %d%s%s", m->status,
		    m->error_text[0] ? ": " : "", m->error_text);
	else
		evt_log(level, "state snapshot: %zu states", m->nstates);
}

/* Acts on the answer to the command in flight. */
static void
on_answer(const struct evt_ess_msg *m, const char *frame, size_t len,
    int64_t rx)
{
	uint64_t id;
	int ok = m->status >= 200 && m->status <= 299;

	switch (R.pending) {
	case CMD_AUTH:
		R.pending = CMD_NONE;
		if (!ok) {
			evt_log_err("authenticate refused: status %d%s%s",
			    m->status, m->error_text[0] ? ": " : "",
			    m->error_text);
			R.token_exp_us = R.o.user != NULL ? 0 : R.token_exp_us;
			ws_close(EVT_WS_NORMAL, "authentication failed");
			return;
		}
		send_start();
		return;
	case CMD_START:
		R.pending = CMD_NONE;
		on_start_answer(m);
		return;
	case CMD_SUB:
		R.pending = CMD_NONE;
		if (!ok) {
			evt_log_err("addSubscription failed: status %d%s%s",
			    m->status, m->error_text[0] ? ": " : "",
			    m->error_text);
			ws_close(EVT_WS_NORMAL, "addSubscription failed");
			return;
		}
		evt_log_debug("subscription %s added", m->subscription_id);
		R.cmd.len = 0;
		oom(evt_ess_client_get_state(&R.cl, &R.cmd, &id), "getState");
		send_cmd(CMD_STATE, id);
		return;
	case CMD_STATE:
		store_state(m, ok, frame, len, rx, EVT_LOG_INFO);
		session_running();
		cfg_start();
		return;
	case CMD_SNAPSHOT:
		/* A periodic snapshot: a later state lookup (evtool state,
		 * evplay) starts from the last one, not the archive's start. */
		R.pending = CMD_NONE;
		store_state(m, ok, frame, len, rx, EVT_LOG_DEBUG);
		return;
	default:
		return;
	}
}

/* Handles one text message (on_text). */
static void
on_text_frame(const char *frame, size_t len)
{
	struct evt_ess_msg *m = &R.msg;
	int64_t rx = rx_now();
	size_t nd = 0;
	int k, r;

	k = evt_ess_classify(&R.jp, frame, len, m);
	oom(k, "classify");
	R.c.bytes += len;
	switch (k) {
	case EVT_ESS_EVENTS:
		r = evt_recorder_dedupe(&R.seen, &R.jp, frame, len, &R.rebuilt,
		    &nd);
		oom(r, "dedupe");
		R.c.dups += nd;
		R.c.events += m->nevents - nd;
		R.c.messages++;
		if (m->last_id[0] != '\0')
			memcpy(R.last_id, m->last_id, strlen(m->last_id) + 1);
		R.last_event_mono = evt_mono_us();
		if (R.names_on != 0)
			oom(evt_recorder_names_scan(&R.names, &R.jp, frame),
			    "names");
		if (r == EVT_RECORDER_KEEP || r < 0)
			store(0, rx, frame, len, &R.jp); /* < 0: kept whole */
		else if (r == EVT_RECORDER_REBUILT) {
			store(0, rx, (const char *)R.rebuilt.p, R.rebuilt.len,
			    NULL);
			R.rebuilt.len = 0;
		}
		if (nd > 0)
			evt_log_debug("dropped %zu redelivered events", nd);
		return;
	case EVT_ESS_RESPONSE:
		if (R.pending != CMD_NONE && m->has_int_id &&
		    (uint64_t)m->command_id == R.pending_id) {
			on_answer(m, frame, len, rx);
			return;
		}
		/* An answer we did not ask for: keep it as data. */
		R.c.other++;
		store(0, rx, frame, len, &R.jp);
		return;
	case EVT_ESS_OTHER:
		R.c.other++;
		store(0, rx, frame, len, &R.jp);
		return;
	default:
		R.c.raw++;
		store(0, rx, frame, len, NULL);
		if (R.c.raw <= 10 || R.c.raw % 1000 == 0)
			evt_log_warn("frame of %zu bytes is not JSON; stored "
			    "raw (%" PRIu64 " so far)", len, R.c.raw);
		return;
	}
}

/*
 * WebSocket text message: the recorder's hot path.  The tokens of a huge
 * message (a getState answer) are given back once it is handled: a
 * recorder runs for months.
 */
static void
on_text(struct evt_wsconn *conn, const char *frame, size_t len, void *arg)
{
	on_text_frame(frame, len);
	evt_json_shrink(&R.jp);
}

/* Binary messages are not part of the protocol; keep them raw anyway. */
static void
on_binary(struct evt_wsconn *conn, const char *msg, size_t len, void *arg)
{
	R.c.raw++;
	store(0, rx_now(), msg, len, NULL);
}

/* The connection ended. */
static void
on_close(struct evt_wsconn *conn, int code, const char *reason, void *arg)
{
	evt_wsconn_free(conn);
	R.ws = NULL;
	R.pending = CMD_NONE;
	if (R.state == ST_STOPPING) {
		event_active(R.stop_ev, EV_TIMEOUT, 1);
		return;
	}
	evt_log_warn("connection to %s lost: %d %s", R.url.base, code, reason);
	R.state = ST_IDLE;
	schedule_retry(NULL);
}

/* Closes the connection; on_close follows. */
static void
ws_close(int code, const char *reason)
{
	if (R.ws != NULL && evt_wsconn_close(R.ws, code, reason) != 0) {
		evt_wsconn_free(R.ws);
		R.ws = NULL;
		if (R.state != ST_STOPPING) {
			R.state = ST_IDLE;
			schedule_retry(NULL);
		}
	}
}

/* ------------------------------------------------------------ connect */

/* The WebSocket attempt ended. */
static void
ws_done_cb(void *arg, struct evt_wsconn *conn, int status, const char *why)
{
	R.wc = NULL;
	if ((unsigned)(uintptr_t)arg != R.gen)
		return;
	if (conn == NULL) {
		if (status == 401 && R.o.user != NULL)
			R.token_exp_us = 0;	/* renew before the next try */
		R.state = ST_IDLE;
		schedule_retry(why);
		return;
	}
	R.ws = conn;
	if (R.paused)
		evt_wsconn_pause(conn);	/* the disk is still behind */
	R.state = ST_HANDSHAKE;
	anchor_time();
	evt_log_info("connected to %s", R.url.base);
	evt_ess_client_init(&R.cl);
	if (R.o.auth_command) {
		uint64_t id;

		R.cmd.len = 0;
		oom(evt_ess_client_authenticate(&R.cl, R.token != NULL ?
		    R.token : "", R.token != NULL ? strlen(R.token) : 0,
		    &R.cmd, &id), "authenticate");
		send_cmd(CMD_AUTH, id);
	} else
		send_start();
}

/* Opens the WebSocket with the current token. */
static void
ws_connect(void)
{
	struct evt_wsclient_opts wo;
	int rc;

	memset(&wo, 0, sizeof wo);
	wo.base = R.base;
	wo.dns = R.dns;
	wo.ssl = R.ssl;
	wo.insecure = R.o.insecure;
	wo.timeout = R.o.connect_timeout;
	wo.ws.role = EVT_WSCONN_CLIENT;
	wo.ws.max_msg = R.o.max_message;
	wo.ws.ping_interval = R.o.ping;
	wo.ws.dead_timeout = R.o.dead;
	wo.ws.on_text = on_text;
	wo.ws.on_binary = on_binary;
	wo.ws.on_close = on_close;
	R.state = ST_CONNECTING;
	rc = evt_wsclient_connect(&wo, &R.url, R.o.auth_command ? NULL :
	    R.token, ws_done_cb, (void *)(uintptr_t)R.gen, &R.wc);
	if (rc != 0) {
		R.state = ST_IDLE;
		schedule_retry(evt_strerror(rc));
	}
}

/* The token request ended. */
static void
token_done_cb(void *arg, int rc, struct evt_http_token *tok, const char *why)
{
	if ((unsigned)(uintptr_t)arg != R.gen || R.state != ST_TOKEN) {
		evt_http_token_free(tok);
		return;
	}
	if (rc != 0) {
		R.state = ST_IDLE;
		schedule_retry(why);
		return;
	}
	token_take(tok);
	evt_log_debug("token received (expires in %" PRId64 " s)",
	    (R.token_exp_us - evt_mono_us()) / 1000000);
	ws_connect();
}

/* Starts a connection attempt: token first if needed. */
static void
connect_begin(void)
{
	struct evt_httpc_opts ho = {R.base, R.dns, R.ssl, R.o.insecure,
	    (int)R.o.connect_timeout, 0};
	int rc;

	if (R.state == ST_STOPPING)
		return;
	if (R.paused || buffered_bytes() > R.o.max_buffer) {
		/* The disk is behind: reading more would only be dropped. */
		struct timeval tv = {1, 0};

		evtimer_add(R.retry_ev, &tv);
		return;
	}
	R.gen++;
	if (R.connected_once++)
		R.c.reconnects++;
	if (R.o.token_file != NULL) {
		char *t = evt_cli_read_secret(R.o.token_file);

		if (t == NULL) {
			R.state = ST_IDLE;
			schedule_retry("cannot read the token file");
			return;
		}
		secret_free(&R.token);
		R.token = t;
		R.token_exp_us = -1;
	} else if (R.o.user != NULL && evt_recorder_token_due(R.token_exp_us,
	    evt_mono_us(), TOKEN_MARGIN_US)) {
		R.state = ST_TOKEN;
		rc = evt_idp_token(&ho, &R.url, R.o.user, R.password,
		    token_done_cb, (void *)(uintptr_t)R.gen, NULL);
		if (rc != 0) {
			R.state = ST_IDLE;
			schedule_retry(evt_strerror(rc));
		}
		return;
	}
	ws_connect();
}

/* Retry timer. */
static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	connect_begin();
}

/* Schedules the next attempt with backoff; why (may be NULL) is logged. */
static void
schedule_retry(const char *why)
{
	uint32_t rnd = 0, ms;
	struct timeval tv;

	if (R.state == ST_STOPPING)
		return;
	if (R.run_start_us != 0 && evt_recorder_stable(evt_mono_us() -
	    R.run_start_us, R.c.events - R.run_events0, STABLE_US,
	    STABLE_EVENTS))
		R.attempt = 0;
	R.run_start_us = 0;
	RAND_bytes((unsigned char *)&rnd, sizeof rnd);
	ms = evt_recorder_backoff_ms(R.attempt++, BACKOFF_BASE_MS,
	    BACKOFF_MAX_MS, rnd);
	if (why != NULL)
		evt_log_warn("cannot connect to %s: %s; retrying in %.1f s",
		    R.url.base, why, ms / 1000.0);
	else
		evt_log_info("reconnecting in %.1f s", ms / 1000.0);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(R.retry_ev, &tv);
}

/* ------------------------------------------------------------ timers */

/*
 * Starts a clean stop: the connection is closed with 1001, then stop_cb
 * writes what is left and seals (on_close, or a 2 s bound, triggers it).
 */
static void
begin_stop(void)
{
	R.state = ST_STOPPING;
	R.gen++;
	event_del(R.retry_ev);
	if (R.ws != NULL && evt_wsconn_close(R.ws, EVT_WS_GOING_AWAY,
	    "recorder stopping") == 0) {
		struct timeval tv = {2, 0};

		event_add(R.stop_ev, &tv);
		return;
	}
	event_active(R.stop_ev, EV_TIMEOUT, 1);
}

/*
 * Another writer is at work in the archive (evt_archive_tick said so): the
 * open segment is left as it is, and evrec stops with status 1 rather than
 * damage it further.  What it held in memory is not written; the gateway
 * sends it again to the next evrec that resumes the session (formats/
 * archive.md, "The LOCK file").
 */
static void
foreign_writer(void)
{
	if (R.foreign)
		return;
	R.foreign = 1;
	evt_log_err("another writer is changing the archive %s (see the "
	    "warning above): stopping without writing to it", R.o.archive);
	if (R.state != ST_STOPPING)
		begin_stop();
}

/* The tick (every 100 ms or less, tick_us): archive duty (a block as old
 * as --flush-interval is written), write retries, back-pressure. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t now = evt_mono_us();
	int rc;

	if (R.write_failing) {
		if (now < R.next_retry_us)
			return;
		R.next_retry_us = now + RETRY_WRITE_US;
		errno = 0;
		if ((rc = evt_archive_tick(R.ar, rx_now())) ==
		    EVT_ERR_FOREIGN) {
			foreign_writer();
			return;
		}
		if (rc != 0 || drain_queue() != 0) {
			apply_backpressure();
			return;
		}
		R.write_failing = 0;
		evt_log_info("writing to the archive again after %.1f s; "
		    "nothing was lost", (double)(now - R.fail_since_us) / 1e6);
		apply_backpressure();
		return;
	}
	errno = 0;
	if ((rc = evt_archive_tick(R.ar, rx_now())) == EVT_ERR_FOREIGN) {
		foreign_writer();
	} else if (rc != 0) {
		write_failed(rc);
		apply_backpressure();
	}
	names_pump();
	if (R.pub != NULL)
		evt_natspub_recorded(R.pub, R.c.events, R.last_rx);
}

/* Every --state-interval: a getState snapshot and a configuration
 * snapshot while a session runs and no command is outstanding. */
static void
snapshot_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t id;

	if (R.state != ST_RUNNING || R.pending != CMD_NONE || R.ws == NULL)
		return;
	R.cmd.len = 0;
	oom(evt_ess_client_get_state(&R.cl, &R.cmd, &id), "getState");
	send_cmd(CMD_SNAPSHOT, id);
	/* Renames and new sources since the last one (written only when the
	 * configuration changed). */
	cfg_start();
}

/* Formats the summary numbers into out. */
static void
summary_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t now = evt_mono_us();
	double dt = (double)(now - R.last_summary_us) / 1e6;

	if (dt <= 0)
		dt = 1;
	evt_log_info("summary: %" PRIu64 " events (%.1f/s), %" PRIu64
	    " bytes, %" PRIu64 " reconnects, %" PRIu64 " resumes, %" PRIu64
	    " gaps, %" PRIu64 " raw frames, %" PRIu64 " duplicates, %" PRIu64
	    " other frames%s", R.c.events,
	    (double)(R.c.events - R.last.events) / dt, R.c.bytes,
	    R.c.reconnects, R.c.resumes, R.c.gaps, R.c.raw, R.c.dups,
	    R.c.other, R.write_failing ? ", archive writes failing" : "");
	R.last = R.c;
	R.last_summary_us = now;
	if (R.pub != NULL) {
		struct evt_natspub_stats st;

		evt_natspub_stats(R.pub, &st);
		evt_log_info("summary: NATS %s: %" PRIu64 " published, %" PRIu64
		    " acknowledged, %" PRIu64 " pending, %" PRIu64 " refused or "
		    "timed out, lag %" PRIu64 " events (%.1f s)",
		    st.connected ? "connected" : "not connected", st.published,
		    st.acked, st.pending, st.rejected, st.lag_events, st.lag_s);
	}
}

/* Hourly retention. */
static void
prune_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t freed = 0;
	int n = evt_archive_prune(R.ar, R.o.max_bytes, R.o.max_age_us,
	    evt_wall_us(), &freed);

	if (n > 0)
		evt_log_info("retention: deleted %d segments (%" PRIu64
		    " bytes)", n, freed);
	else if (n < 0)
		evt_log_warn("retention: %s", evt_strerror(n));
}

/* Writes the Prometheus text of the publisher's metrics into b. */
static void
nats_metrics_text(struct evbuffer *b)
{
	struct evt_natspub_stats st;

	evt_natspub_stats(R.pub, &st);
#define M(name, help, type, v)                                         \
	evbuffer_add_printf(b, "# HELP " name " " help "\n# TYPE " name \
	    " " type "\n" name " %" PRIu64 "\n", (uint64_t)(v))
	M("evrec_nats_published_total", "Messages published to NATS "
	    "JetStream (resends too).", "counter", st.published);
	M("evrec_nats_acknowledged_total", "Messages the stream "
	    "acknowledged.", "counter", st.acked);
	M("evrec_nats_pending", "Messages published, not yet acknowledged.",
	    "gauge", st.pending);
	M("evrec_nats_refused_total", "Publishes refused or timed out (sent "
	    "again later).", "counter", st.rejected);
	M("evrec_nats_too_big_total", "Messages over the server's "
	    "max_payload, not published.", "counter", st.too_big);
	M("evrec_nats_lag_events", "Events recorded and not yet "
	    "acknowledged by the stream.", "gauge", st.lag_events);
	M("evrec_nats_connected", "1 while connected to NATS.", "gauge",
	    st.connected);
#undef M
	evbuffer_add_printf(b, "# HELP evrec_nats_lag_seconds Receive time "
	    "of the newest recorded frame less that of the last acknowledged "
	    "event (0: caught up).\n# TYPE evrec_nats_lag_seconds gauge\n"
	    "evrec_nats_lag_seconds %.3f\n", st.lag_s);
}

/* Writes the Prometheus text of the metrics into b. */
static void
metrics_text(struct evbuffer *b)
{
	double since = R.last_event_mono ? (double)(evt_mono_us() -
	    R.last_event_mono) / 1e6 : -1;

#define M(name, help, type, v)                                         \
	evbuffer_add_printf(b, "# HELP " name " " help "\n# TYPE " name \
	    " " type "\n" name " %" PRIu64 "\n", (uint64_t)(v))
	M("evrec_events_total", "Events recorded.", "counter", R.c.events);
	M("evrec_bytes_total", "Bytes of frames received.", "counter",
	    R.c.bytes);
	M("evrec_reconnects_total", "Connection attempts after the first.",
	    "counter", R.c.reconnects);
	M("evrec_resumes_total", "Sessions resumed.", "counter", R.c.resumes);
	M("evrec_gaps_total", "Resumes refused (events may be missing).",
	    "counter", R.c.gaps);
	M("evrec_raw_frames_total", "Frames that were not JSON.", "counter",
	    R.c.raw);
	M("evrec_duplicates_total", "Redelivered events dropped.", "counter",
	    R.c.dups);
	M("evrec_other_frames_total", "Unexpected JSON frames kept.",
	    "counter", R.c.other);
	M("evrec_buffered_bytes", "Bytes waiting for the disk.", "gauge",
	    buffered_bytes());
	M("evrec_write_failing", "1 while archive writes fail.", "gauge",
	    R.write_failing);
#undef M
	evbuffer_add_printf(b, "# HELP evrec_seconds_since_last_event "
	    "Seconds since the last event (-1: none yet).\n# TYPE "
	    "evrec_seconds_since_last_event gauge\n"
	    "evrec_seconds_since_last_event %.3f\n", since);
	if (R.pub != NULL)
		nats_metrics_text(b);
}

/*
 * The metrics port is unauthenticated, so it must never take what the
 * recorder needs (METRICS_* at the top): at most METRICS_CONNS
 * connections (a new one closes the oldest), none that would leave the
 * recorder fewer than METRICS_FD_RESERVE descriptors, each closed after
 * METRICS_IDLE_S seconds without a complete request or once answered,
 * requests up to METRICS_REQ_MAX bytes.  Out of descriptors, accept() is
 * backed off for a second (one spare descriptor lets the pending
 * connection be taken and closed) instead of spinning.
 */

/* Frees metrics connection slot i. */
static void
metrics_drop(size_t i)
{
	if (R.mconn[i] != NULL)
		bufferevent_free(R.mconn[i]);
	R.mconn[i] = NULL;
}

/* Finds the slot of a metrics connection. */
static size_t
metrics_slot(struct bufferevent *bev)
{
	size_t i;

	for (i = 0; i < METRICS_CONNS && R.mconn[i] != bev; i++)
		;
	return i;
}

/* The answer is out (or the peer went away): close. */
static void
metrics_done_cb(struct bufferevent *bev, void *arg)
{
	metrics_drop(metrics_slot(bev));
}

/* EOF, error or idle timeout. */
static void
metrics_event_cb(struct bufferevent *bev, short what, void *arg)
{
	metrics_drop(metrics_slot(bev));
}

/* Request bytes: answers "GET /metrics" once the header is complete. */
static void
metrics_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	struct evbuffer *body;
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	char *line;
	int status = 200;

	if (end.pos < 0) {
		if (evbuffer_get_length(in) > METRICS_REQ_MAX)
			metrics_drop(metrics_slot(bev));
		return;
	}
	line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF);
	if (line == NULL || strncmp(line, "GET ", 4) != 0)
		status = 405;
	else if (strncmp(line + 4, "/metrics", 8) != 0 ||
	    (line[12] != ' ' && line[12] != '?'))
		status = 404;
	free(line);
	bufferevent_disable(bev, EV_READ);
	if ((body = evbuffer_new()) == NULL) {
		metrics_drop(metrics_slot(bev));
		return;
	}
	if (status == 200)
		metrics_text(body);
	else
		evbuffer_add_printf(body, "%s\n", evt_http_reason(status));
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%sConnection: close\r\n\r\n", status,
	    evt_http_reason(status), status == 200 ?
	    "text/plain; version=0.0.4" : "text/plain",
	    evbuffer_get_length(body), status == 405 ? "Allow: GET\r\n" : "");
	evbuffer_add_buffer(out, body);
	evbuffer_free(body);
	bufferevent_setcb(bev, NULL, metrics_done_cb, metrics_event_cb, NULL);
}

/* A metrics client: takes a free slot, or the oldest one's. */
static void
metrics_accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct timeval tv = {METRICS_IDLE_S, 0};
	struct bufferevent *bev;
	size_t i = metrics_slot(NULL);

	/* Descriptors are allocated lowest first: one this high means the
	 * recorder is short of them (a low limit); it needs them more. */
	if ((rlim_t)fd + METRICS_FD_RESERVE >= R.fd_limit) {
		evutil_closesocket(fd);
		evt_log_warn("metrics: connection refused: fewer than %d "
		    "descriptors left (limit %llu)", METRICS_FD_RESERVE,
		    (unsigned long long)R.fd_limit);
		return;
	}
	if (i == METRICS_CONNS) {
		/* Full: the oldest goes (slot 0), the rest move down. */
		metrics_drop(0);
		memmove(R.mconn, R.mconn + 1,
		    (METRICS_CONNS - 1) * sizeof R.mconn[0]);
		R.mconn[METRICS_CONNS - 1] = NULL;
		i = METRICS_CONNS - 1;
		evt_log_debug("metrics: %d connections open; closed the "
		    "oldest", METRICS_CONNS);
	}
	bev = bufferevent_socket_new(R.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		evutil_closesocket(fd);
		return;
	}
	R.mconn[i] = bev;
	bufferevent_setcb(bev, metrics_read_cb, NULL, metrics_event_cb, NULL);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ);
}

/* Takes accepting up again after a pause. */
static void
metrics_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	evconnlistener_enable(R.mlis);
}

/*
 * accept() failed.  Out of descriptors the pending connection stays
 * queued and the listener would wake the loop at once, forever: give the
 * spare descriptor back, take the connection and close it, and pause
 * accepting for a second.
 */
static void
metrics_error_cb(struct evconnlistener *lis, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = {1, 0};

	if ((err == EMFILE || err == ENFILE) && R.spare_fd >= 0) {
		int fd;

		close(R.spare_fd);
		fd = accept(evconnlistener_get_fd(lis), NULL, NULL);
		if (fd >= 0)
			close(fd);
		R.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	evt_log_warn("metrics: accept: %s; not accepting for 1 s",
	    strerror(err));
	evconnlistener_disable(lis);
	event_add(R.mresume_ev, &tv);
}

/* ------------------------------------------------------------ signals */

/* Stops the publisher: it publishes what the sealed archive holds, a few
 * seconds at most, and keeps its position for the next start. */
static void
stop_publishing(void)
{
	if (R.pub != NULL && evt_natspub_stop(R.pub, PUBLISH_GRACE_US) == 0)
		evt_log_info("NATS: everything recorded was published");
}

/* Final step of a stop: writes what is left and seals. */
static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	int rc;

	if (R.ws != NULL) {
		evt_wsconn_free(R.ws);
		R.ws = NULL;
	}
	if (R.wc != NULL) {
		evt_wsclient_cancel(R.wc);
		R.wc = NULL;
	}
	names_flush(1);	/* the names looked up so far */
	errno = 0;
	if (R.write_failing && !R.foreign &&
	    (evt_archive_tick(R.ar, rx_now()) != 0 || drain_queue() != 0))
		evt_log_err("stopping with %" PRIu64 " records (%zu bytes) "
		    "that could not be written", R.pend_count,
		    R.pend.len - R.pend_off);
	rc = evt_archive_close(R.ar);
	R.ar = NULL;
	/* Closing may outlast a tick (it waits for the sealing thread):
	 * the timers must not run on the closed archive. */
	event_del(R.tick_ev);
	if (R.prune_ev != NULL)
		event_del(R.prune_ev);
	if (rc == EVT_ERR_FOREIGN) {
		evt_log_err("stopped; the open segment of %s was left as "
		    "another writer made it", R.o.archive);
		R.exit_code = EVT_EXIT_FAIL;
	} else if (rc != 0) {
		evt_log_err("closing the archive %s: %s", R.o.archive,
		    evt_strerror(rc));
		R.exit_code = EVT_EXIT_FAIL;
	} else
		evt_log_info("stopped; archive sealed (%" PRIu64 " events "
		    "recorded in this run)", R.c.events);
	stop_publishing();
	event_base_loopexit(R.base, NULL);
}

/* SIGTERM / SIGINT: stop cleanly.  SIGHUP: rotate and reopen the log. */
static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP) {
		int rc;

		if (evt_log_reopen() != 0)
			evt_log_warn("cannot reopen the log file: %s",
			    strerror(errno));
		if (R.write_failing) {
			evt_log_warn("SIGHUP: not rotating while writes fail");
			return;
		}
		rc = evt_archive_rotate(R.ar);
		if (rc != 0)
			evt_log_warn("rotation: sealing the previous segment "
			    "failed: %s", evt_strerror(rc));
		else
			evt_log_info("SIGHUP: segment rotated");
		return;
	}
	if (R.state == ST_STOPPING)
		return;
	evt_log_info("signal %d: stopping", (int)sig);
	begin_stop();
}

/* ------------------------------------------------------------ options */

enum {
	OP_ARCHIVE = 1000, OP_USER, OP_PASSWORD_FILE, OP_TOKEN_FILE, OP_CONFIG,
	OP_CACERT, OP_INSECURE, OP_INCLUDE, OP_EXCLUDE, OP_AUTH, OP_PING, OP_DEAD,
	OP_MAX_MESSAGE, OP_MAX_BUFFER, OP_FSYNC, OP_SEG_SIZE, OP_SEG_AGE,
	OP_MAX_BYTES, OP_MAX_AGE, OP_LOG_FILE, OP_SUMMARY, OP_METRICS, OP_URL,
	OP_CONNECT_TIMEOUT, OP_NO_CONFIG_SNAPSHOT, OP_VERSION, OP_STATE_INTERVAL,
	OP_NO_SEGMENT_FILTER, OP_SEGMENT_FILTER, OP_FLUSH_INTERVAL,
	OP_FROM_NATS, OP_DURABLE, OP_FILTER, OP_ACK_WAIT,
};

static const struct option long_opts[] = {
	{"archive", required_argument, NULL, OP_ARCHIVE},
	{"user", required_argument, NULL, OP_USER},
	{"password-file", required_argument, NULL, OP_PASSWORD_FILE},
	{"token-file", required_argument, NULL, OP_TOKEN_FILE},
	{"config", required_argument, NULL, OP_CONFIG},
	{"cacert", required_argument, NULL, OP_CACERT},
	{"insecure", no_argument, NULL, OP_INSECURE},
	{"include", required_argument, NULL, OP_INCLUDE},
	{"exclude", required_argument, NULL, OP_EXCLUDE},
	{"auth", required_argument, NULL, OP_AUTH},
	{"ping", required_argument, NULL, OP_PING},
	{"dead-timeout", required_argument, NULL, OP_DEAD},
	{"max-message", required_argument, NULL, OP_MAX_MESSAGE},
	{"max-buffer", required_argument, NULL, OP_MAX_BUFFER},
	{"fsync", required_argument, NULL, OP_FSYNC},
	{"segment-size", required_argument, NULL, OP_SEG_SIZE},
	{"segment-age", required_argument, NULL, OP_SEG_AGE},
	{"flush-interval", required_argument, NULL, OP_FLUSH_INTERVAL},
	{"max-bytes", required_argument, NULL, OP_MAX_BYTES},
	{"max-age", required_argument, NULL, OP_MAX_AGE},
	{"log-file", required_argument, NULL, OP_LOG_FILE},
	{"summary-interval", required_argument, NULL, OP_SUMMARY},
	{"state-interval", required_argument, NULL, OP_STATE_INTERVAL},
	{"metrics", required_argument, NULL, OP_METRICS},
	{"url", required_argument, NULL, OP_URL},
	{"connect-timeout", required_argument, NULL, OP_CONNECT_TIMEOUT},
	{"no-config-snapshot", no_argument, NULL, OP_NO_CONFIG_SNAPSHOT},
	{"no-segment-filter", no_argument, NULL, OP_NO_SEGMENT_FILTER},
	{"segment-filter", no_argument, NULL, OP_SEGMENT_FILTER},
	{"from-nats", required_argument, NULL, OP_FROM_NATS},
	{"durable", required_argument, NULL, OP_DURABLE},
	{"filter", required_argument, NULL, OP_FILTER},
	{"ack-wait", required_argument, NULL, OP_ACK_WAIT},
	{"verbose", no_argument, NULL, 'v'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OP_VERSION},
	EVT_NATS_LONG_OPTIONS,
	{NULL, 0, NULL, 0},
};

/* Prints the usage text. */
static void
usage(FILE *f)
{
	fprintf(f,
"usage: evrec [options] --archive DIR URL\n"
"       evrec [options] --archive DIR --from-nats nats://H:P[,H:P...]\n"
"             --stream NAME --durable NAME [--filter SUBJECT]\n"
"  URL                     gateway base, http://host[:port] or https://...\n"
"  --archive DIR           archive directory (created if missing)\n"
"  --user NAME             IDP user; password from --password-file FILE\n"
"  --password-file FILE    or the EVREC_PASSWORD environment variable\n"
"  --token-file FILE       a ready token instead (read at every connect)\n"
"  --auth header|command   send the token as Bearer header (default) or\n"
"                          with the authenticate command\n"
"  --config FILE           ini file; keys are the long option names\n"
"  --cacert FILE           trust these CAs instead of the system's\n"
"  --insecure              do not verify the gateway's certificate\n"
"  --include SPEC          filter, repeatable: resourceTypes=cameras;\n"
"  --exclude SPEC            sourceIds=*;eventTypes=<guid>,<guid>\n"
"                          (default: everything)\n"
"  --ping DUR              keepalive ping interval [20s]\n"
"  --dead-timeout DUR      reconnect after DUR without a message [60s]\n"
"  --connect-timeout DUR   connect + handshake bound [30s]\n"
"  --max-message SIZE      largest message [64M]\n"
"  --max-buffer SIZE       memory for data the disk has not taken [256M]\n"
"  --fsync always|interval|never  [interval]\n"
"  --segment-size SIZE     rotate past this size [32M]\n"
"  --segment-age DUR       rotate past this age [1h]\n"
"  --flush-interval DUR    write the open block to the segment file once\n"
"                          its first event is DUR old, 10ms..60s [1s]\n"
"  --max-bytes SIZE        retention: delete oldest segments past SIZE\n"
"  --max-age DUR           retention: delete segments older than DUR\n"
"  --no-config-snapshot    do not fetch names from the Config REST API (no\n"
"                          snapshot, no lookups of unknown sources)\n"
"  --segment-filter        seal segments with their own id filter as well\n"
"                          (~2.3 bytes/event; the archive's id index finds\n"
"                          ids without it; --no-segment-filter: default)\n"
"  --log-file FILE         log there (SIGHUP reopens) instead of stderr\n"
"  -v, --verbose           debug log;  -q, --quiet: warnings and errors\n"
"  --summary-interval DUR  one-line summary every DUR (0: never) [60s]\n"
"  --state-interval DUR    record a getState snapshot every DUR as well as\n"
"                          at each session start (0: only then), and a\n"
"                          configuration snapshot if it changed [1h]\n"
"  --metrics ADDR:PORT     Prometheus metrics at http://ADDR:PORT/metrics\n"
"Central archiver (formats/records.md, \"Central archives\"; no URL):\n"
"  --from-nats SERVERS     archive the evtape messages of JetStream stream\n"
"                          --stream, nats://H:P[,H:P...], read\n"
"  --durable NAME          through this durable pull consumer (created if\n"
"                          missing; two archivers on one share the work)\n"
"  --filter SUBJECT        its filter when created, e.g. xprotect.siteA.>\n"
"  --ack-wait DUR          its AckWait when created: a killed archiver's\n"
"                          messages are delivered again after it [60s]\n"
"Publishing every recorded event to NATS JetStream (formats/nats.md):\n"
EVT_NATS_USAGE
"SIZE: digits with k, M, G or T (64M, 1T).  DUR: digits with us, ms, s, m,\n"
"h, d or w (30s, 2w); a bare number is seconds.\n"
"Signals: TERM/INT stop and seal; HUP rotates the segment, reopens the log.\n"
"Exit: 0 stopped, 2 usage, 3 failure (README, \"Exit status\").\n");
}

/* Parses a boolean config value (NULL: a flag on the command line). */
static int
parse_bool(const char *s)
{
	return s == NULL || strcasecmp(s, "1") == 0 ||
	    strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 ||
	    strcasecmp(s, "on") == 0;
}

/* Checks and adds an --include or --exclude spec, or exits 2. */
static void
add_filter(int exclude, const char *v, const char *where)
{
	struct evt_buf fb = {0};
	int frc = v[0] == '\0' ? EVT_ERR_ARG :
	    evt_ess_filter_spec(0, v, strlen(v), &fb);
	const char **sp;
	int *x;

	evt_buf_free(&fb);
	oom(frc, "options");
	if (frc != 0)
		evt_cli_usage_err("%s: \"%s\" is not a filter (resourceTypes="
		    "...;sourceIds=...;eventTypes=..., at least one of them)",
		    where, v);
	sp = realloc(R.o.specs, (R.o.nspecs + 1) * sizeof *sp);
	if (sp != NULL)
		R.o.specs = sp;
	x = realloc(R.o.exclude, (R.o.nspecs + 1) * sizeof *x);
	if (x != NULL)
		R.o.exclude = x;
	if (sp == NULL || x == NULL)
		oom(EVT_ERR_NOMEM, "options");
	R.o.specs[R.o.nspecs] = strdup(v);
	R.o.exclude[R.o.nspecs++] = exclude;
}

/* The field of a duration option kept in seconds, or NULL. */
static double *
seconds_field(int id)
{
	switch (id) {
	case OP_PING: return &R.o.ping;
	case OP_DEAD: return &R.o.dead;
	case OP_SUMMARY: return &R.o.summary;
	case OP_STATE_INTERVAL: return &R.o.state_interval;
	case OP_CONNECT_TIMEOUT: return &R.o.connect_timeout;
	case OP_ACK_WAIT: return &R.o.ack_wait;
	default: return NULL;
	}
}

/* The field of a string option, or NULL. */
static char **
string_field(int id)
{
	switch (id) {
	case OP_ARCHIVE: return &R.o.archive;
	case OP_URL: return &R.o.url;
	case OP_USER: return &R.o.user;
	case OP_PASSWORD_FILE: return &R.o.password_file;
	case OP_TOKEN_FILE: return &R.o.token_file;
	case OP_CACERT: return &R.o.cacert;
	case OP_LOG_FILE: return &R.o.log_file;
	case OP_METRICS: return &R.o.metrics;
	case OP_DURABLE: return &R.o.durable;
	case OP_FILTER: return &R.o.filter;
	default: return NULL;
	}
}

/* Applies one size option, or exits 2. */
static void
set_size(int id, const char *v, const char *where)
{
	uint64_t sz = evt_cli_size_arg(where, v);

	if (id == OP_MAX_MESSAGE)
		R.o.max_message = (size_t)sz;
	else if (id == OP_MAX_BUFFER)
		R.o.max_buffer = (size_t)sz;
	else if (id == OP_SEG_SIZE)
		R.o.seg_size = sz;
	else
		R.o.max_bytes = sz;
}

/* Applies --flush-interval, or exits 2.  Below 10 ms blocks would hold
 * a few events each (and the tick would spin); past a minute a follower
 * waits longer than any use of the option asks for. */
static void
set_flush_interval(const char *v, const char *where)
{
	int64_t us = evt_cli_duration_arg(where, v);

	if (us < FLUSH_MIN_US || us > FLUSH_MAX_US)
		evt_cli_range_err(where, v, "10ms..60s");
	R.o.flush_us = us;
}

/*
 * Applies one option of the command line or the config file: v is its
 * value (NULL for a flag on the command line), where names it in messages
 * ("--ping", "FILE:LINE: ping").  A bad value exits 2 with the common
 * message of the command-line layer.
 */
static void
set_opt(int id, const char *v, const char *where)
{
	static const char *const auth_words[] = { "header", "command", NULL };
	static const char *const fsync_words[] = { "always", "interval",
		"never", NULL };
	static const int fsync_modes[] = { EVT_FSYNC_ALWAYS,
		EVT_FSYNC_INTERVAL, EVT_FSYNC_NEVER };
	char **str = string_field(id);
	double *sec = seconds_field(id);

	if (id == EVT_NATS_OP_PUBLISH)
		R.o.publish = 1;
	if (id == OP_FROM_NATS) {
		R.o.from_nats = 1;
		id = EVT_NATS_OP_PUBLISH;	/* its server list */
	}
	if (str != NULL) {
		free(*str);
		if ((*str = strdup(v)) == NULL)
			oom(EVT_ERR_NOMEM, "options");
	} else if (sec != NULL) {
		int64_t us = evt_cli_duration_arg(where, v);

		/* 0 would mean never: a dead gateway kept forever (and
		 * an AckWait of 0 is the server's default). */
		if ((id == OP_DEAD || id == OP_ACK_WAIT) && us == 0)
			evt_cli_range_err(where, v, "more than 0");
		*sec = (double)us / 1e6;
	} else switch (id) {
	case OP_INSECURE: R.o.insecure = parse_bool(v); break;
	case OP_NO_CONFIG_SNAPSHOT: R.o.no_config_snapshot = parse_bool(v);
		break;
	case OP_NO_SEGMENT_FILTER: R.o.segment_filter = !parse_bool(v);
		break;
	case OP_SEGMENT_FILTER: R.o.segment_filter = parse_bool(v);
		break;
	case 'v':
		if (parse_bool(v))
			R.o.level = EVT_LOG_DEBUG;
		break;
	case 'q':
		if (parse_bool(v))
			R.o.level = EVT_LOG_WARN;
		break;
	case OP_INCLUDE: case OP_EXCLUDE:
		add_filter(id == OP_EXCLUDE, v, where);
		break;
	case OP_AUTH:
		R.o.auth_command = evt_cli_choice_arg(where, v, auth_words);
		break;
	case OP_FSYNC:
		R.o.fsync = fsync_modes[evt_cli_choice_arg(where, v,
		    fsync_words)];
		break;
	case OP_SEG_AGE: R.o.seg_age_us = evt_cli_duration_arg(where, v); break;
	case OP_FLUSH_INTERVAL: set_flush_interval(v, where); break;
	case OP_MAX_AGE: R.o.max_age_us = evt_cli_duration_arg(where, v); break;
	case OP_MAX_MESSAGE: case OP_MAX_BUFFER: case OP_SEG_SIZE:
	case OP_MAX_BYTES:
		set_size(id, v, where);
		break;
	default:
		(void)evt_nats_opt(&R.o.nats, id, v, where);
		break;
	}
}

/* The config file being read and its current line (ini_cb's "where"). */
static struct {
	const char *path;
	FILE *f;
	int line;
} cfg;

/* inih reader: fgets that counts lines, so messages name FILE:LINE. */
static char *
ini_read_line(char *str, int num, void *stream)
{
	char *r = fgets(str, num, stream);

	if (r != NULL)
		cfg.line++;
	return r;
}

/* inih handler: key = long option name (any section); a bad key or
 * value exits 2 naming FILE:LINE. */
static int
ini_cb(void *user, const char *section, const char *name, const char *value)
{
	char where[PATH_MAX + 64];

	snprintf(where, sizeof where, "%s:%d: %s", cfg.path, cfg.line, name);
	for (const struct option *lo = long_opts; lo->name != NULL; lo++) {
		if (strcmp(lo->name, name) != 0)
			continue;
		if (lo->val == OP_CONFIG || lo->val == 'h' ||
		    lo->val == OP_VERSION)
			break;
		if (lo->val == OP_PASSWORD_FILE || lo->val == OP_TOKEN_FILE ||
		    lo->val == OP_USER || lo->val == EVT_NATS_OP_PASSWORD_FILE ||
		    lo->val == EVT_NATS_OP_USER || lo->has_arg == no_argument ||
		    value[0] != '\0') {
			set_opt(lo->val, value, where);
			return 1;
		}
		break;
	}
	if (strcmp(name, "password") == 0 || strcmp(name, "token") == 0)
		evt_cli_usage_err("%s:%d: secrets do not go into the config "
		    "file; use password-file or token-file", cfg.path,
		    cfg.line);
	evt_cli_usage_err("%s:%d: unknown key %s", cfg.path, cfg.line, name);
}

/* Sets the defaults the usage text names. */
static void
set_defaults(void)
{
	R.o.level = EVT_LOG_INFO;
	R.o.ping = 20;
	R.o.dead = 60;
	R.o.summary = 60;
	R.o.state_interval = 3600;
	R.o.connect_timeout = 30;
	R.o.max_message = (size_t)64 << 20;
	R.o.max_buffer = (size_t)256 << 20;
	R.o.fsync = EVT_FSYNC_INTERVAL;
	R.o.flush_us = 1000000;
	R.o.ack_wait = 60;
	evt_nats_opts_init(&R.o.nats);
}

/* Reads the config file the command line names (--config), if any, before
 * the other options so that the command line wins; or exits 2. */
static void
read_config(int argc, char **argv)
{
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			cfg.path = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			cfg.path = argv[i] + 9;
	}
	if (cfg.path == NULL)
		return;
	if ((cfg.f = fopen(cfg.path, "r")) == NULL)
		evt_cli_usage_err("--config: cannot read %s: %s", cfg.path,
		    strerror(errno));
	rc = ini_parse_stream(ini_read_line, cfg.f, ini_cb, NULL);
	fclose(cfg.f);
	if (rc != 0)
		evt_cli_usage_err("%s:%d: bad line (want key = value)",
		    cfg.path, rc);
}

/* Applies the command-line options, or exits (0 for --help and
 * --version, 2 for a bad one). */
static void
read_command_line(int argc, char **argv)
{
	char where[64];
	int c, i = 0;

	opterr = 0;	/* evt_cli_getopt_err says it */
	while ((c = getopt_long(argc, argv, ":vqh", long_opts, &i)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(EVT_EXIT_OK);
		}
		if (c == OP_VERSION) {
			printf("evrec " EVREC_VERSION "\n");
			exit(EVT_EXIT_OK);
		}
		if (c == '?' || c == ':')
			evt_cli_getopt_err(c, argv);
		/* getopt_long sets i for long options only. */
		snprintf(where, sizeof where, "--%s", c == 'v' ? "verbose" :
		    c == 'q' ? "quiet" : long_opts[i].name);
		set_opt(c, optarg, where);
	}
	if (optind < argc)
		set_opt(OP_URL, argv[optind++], "URL");
	if (optind < argc)
		evt_cli_usage_err("unexpected argument: %s", argv[optind]);
}

/* Checks the options against each other, or exits 2. */
static void
check_opts(void)
{
	if (R.o.from_nats) {
		if (R.o.publish)
			evt_cli_usage_err("--from-nats and --publish exclude "
			    "each other");
		if (R.o.archive == NULL || R.o.url != NULL)
			evt_cli_usage_err("--from-nats takes --archive DIR "
			    "and no gateway URL");
		if (R.o.durable == NULL || R.o.durable[0] == '\0' ||
		    strpbrk(R.o.durable, ". *>") != NULL)
			evt_cli_usage_err("--from-nats needs --durable NAME "
			    "(no '.', '*', '>' or blank)");
		evt_nats_opts_finish(&R.o.nats, NULL);
		return;
	}
	if (R.o.durable != NULL || R.o.filter != NULL)
		evt_cli_usage_err("--durable and --filter go with "
		    "--from-nats");
	if (R.o.archive == NULL || R.o.url == NULL)
		evt_cli_usage_err("--archive DIR and URL are required");
	if (evt_httpc_url_parse(R.o.url, &R.url) != 0)
		evt_cli_usage_err("bad gateway URL %s (want "
		    "http[s]://host[:port])", R.o.url);
	if (R.o.token_file != NULL && R.o.user != NULL)
		evt_cli_usage_err("--user and --token-file exclude each other");
	if (R.o.password_file != NULL && R.o.user == NULL)
		evt_cli_usage_err("--password-file needs --user");
	if (R.o.max_message == 0 || R.o.max_message > EVT_FRAME_MAX)
		evt_cli_usage_err("--max-message must be 1..%u bytes",
		    EVT_FRAME_MAX);
	if (R.o.max_buffer < ((size_t)1 << 20))
		evt_cli_usage_err("--max-buffer must be at least 1M");
	/* The site defaults to the gateway's host (reads the NATS password
	 * file too). */
	evt_nats_opts_finish(&R.o.nats, R.url.host);
}

/* Parses the config file and the command line (which wins), or exits. */
static void
parse_args(int argc, char **argv)
{
	set_defaults();
	read_config(argc, argv);
	read_command_line(argc, argv);
	check_opts();
}

/* Gets the password from its file or EVREC_PASSWORD (then scrubbed from
 * the environment).  Returns 0 or -1 after logging why. */
static int
load_password(void)
{
	char *env;

	if (R.o.user == NULL)
		return 0;
	if (R.o.password_file != NULL) {
		R.password = evt_cli_read_secret(R.o.password_file);
		if (R.password == NULL) {
			evt_cli_err("cannot read the password file %s: %s",
			    R.o.password_file, evt_cli_strerror(errno));
			return -1;
		}
		return 0;
	}
	if ((env = getenv("EVREC_PASSWORD")) == NULL || env[0] == '\0') {
		evt_cli_err("--user needs --password-file or EVREC_PASSWORD");
		return -1;
	}
	if ((R.password = strdup(env)) == NULL)
		return -1;
	/* Wipe it where /proc/PID/environ shows it, then drop it. */
	OPENSSL_cleanse(env, strlen(env));
	unsetenv("EVREC_PASSWORD");
	return 0;
}

/* ------------------------------------------------------------ startup */

/* Archive problems found while opening. */
static void
ar_err_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	evt_log_warn("%s: offset %" PRIu64 ": %s", path, off, what);
}

/* Archive warnings. */
static void
ar_warn_cb(void *arg, const char *msg)
{
	evt_log_warn("%s", msg);
}

/* Fills the dedupe set with the archive's newest event ids: a gateway
 * that redelivers them after a restart (a resume, or a refused one that
 * starts a replay over) is not stored twice. */
static void
load_seen(void)
{
	uint64_t *keys = malloc((size_t)R.seen.cap * sizeof *keys);
	int64_t t0 = evt_mono_us();
	size_t n = 0;
	int rc;

	if (keys == NULL)
		oom(EVT_ERR_NOMEM, "dedupe");
	rc = evt_archive_recent_keys(R.ar, keys, R.seen.cap, &n);
	oom(rc == EVT_ERR_NOMEM ? rc : 0, "dedupe");
	for (size_t i = 0; i < n; i++)
		(void)evt_recorder_seen_add_key(&R.seen, keys[i]);
	free(keys);
	if (rc < 0)
		evt_log_warn("archive %s: the newest event ids could not all "
		    "be read (%s): a redelivery may be stored twice",
		    R.o.archive, evt_strerror(rc));
	evt_log_info("archive %s: %zu newest event ids loaded for dedupe "
	    "(%.1f ms)", R.o.archive, n, (double)(evt_mono_us() - t0) / 1e3);
}

/* Opens the archive and loads the resume state.  Returns 0 or -1. */
static int
open_archive(void)
{
	struct evt_archive_opts ao;
	const char *s;
	size_t len;
	int rc;

	memset(&ao, 0, sizeof ao);
	ao.seg.fsync = R.o.fsync;
	ao.seg_bytes = R.o.seg_size;
	ao.seg_age_us = R.o.seg_age_us;
	ao.block_age_us = R.o.flush_us;
	ao.seg.no_filter = !R.o.segment_filter;
	ao.seg.level = EVT_LEVEL_DEFAULT;
	errno = 0;
	rc = evt_archive_open(R.o.archive, EVT_AR_WRITE | EVT_AR_CREATE, &ao,
	    ar_err_cb, ar_warn_cb, NULL, &R.ar);
	if (rc == EVT_ERR_EXISTS) {
		evt_log_err("the archive %s is locked by another writer "
		    "(another evrec?)", R.o.archive);
		return -1;
	}
	if (rc != 0) {
		evt_log_err("cannot open the archive %s: %s%s%s", R.o.archive,
		    evt_strerror(rc), errno ? ": " : "",
		    errno ? strerror(errno) : "");
		return -1;
	}
	if (R.o.from_nats)
		return 0;	/* no gateway session to resume */
	if ((s = evt_archive_session(R.ar, &len)) != NULL &&
	    evt_recorder_session_parse(s, len, R.sid) == 0) {
		char archive_last[ID_MAX + 1] = "";
		int have_after = evt_recorder_session_after(s, len,
		    R.after) == 0;

		if ((s = evt_archive_last_id(R.ar, &len)) != NULL &&
		    len <= ID_MAX) {
			memcpy(archive_last, s, len);
			archive_last[len] = '\0';
		}
		snprintf(R.last_id, sizeof R.last_id, "%s",
		    evt_recorder_resume_id(archive_last, have_after ?
		    R.after : NULL));
		if (!have_after)
			R.after[0] = '\0';
		evt_log_info("archive %s: will resume session %s after event "
		    "%s", R.o.archive, R.sid, R.last_id[0] ? R.last_id :
		    "(none)");
	} else
		evt_log_info("archive %s: no earlier session", R.o.archive);
	return 0;
}

/* Starts the metrics HTTP server.  Returns 0 or -1. */
static int
start_metrics(void)
{
	struct evutil_addrinfo hints, *ai = NULL;
	char *host = NULL, port[8];
	uint16_t pnum;
	int rc;

	if (evt_cli_hostport(R.o.metrics, &host, &pnum) != 0) {
		evt_log_err("--metrics wants ADDR:PORT, not %s", R.o.metrics);
		return -1;
	}
	snprintf(port, sizeof port, "%u", (unsigned)pnum);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_ADDRCONFIG;
	rc = evutil_getaddrinfo(host, port, &hints, &ai);
	free(host);
	if (rc != 0) {
		evt_log_err("--metrics %s: %s", R.o.metrics,
		    evutil_gai_strerror(rc));
		return -1;
	}
	R.mlis = evconnlistener_new_bind(R.base, metrics_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    16, ai->ai_addr, (int)ai->ai_addrlen);
	evutil_freeaddrinfo(ai);
	if (R.mlis == NULL) {
		evt_log_err("cannot listen for metrics on %s: %s", R.o.metrics,
		    strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(R.mlis, metrics_error_cb);
	if ((R.mresume_ev = evtimer_new(R.base, metrics_resume_cb, NULL)) ==
	    NULL)
		return -1;
	evt_log_info("metrics at http://%s/metrics", R.o.metrics);
	return 0;
}

/*
 * Keeps descriptors for the recorder: the soft limit goes up to the hard
 * one, and one descriptor is held in reserve for the metrics listener's
 * way out of EMFILE (metrics_error_cb).
 */
static void
reserve_fds(void)
{
	struct rlimit rl;

	R.fd_limit = RLIM_INFINITY;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
			(void)getrlimit(RLIMIT_NOFILE, &rl);
		}
		R.fd_limit = rl.rlim_cur;
	}
	R.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* libevent's own messages go through our log (and its repeat limit). */
static void
libevent_log_cb(int severity, const char *msg)
{
	evt_log(severity >= EVENT_LOG_ERR ? EVT_LOG_ERR :
	    severity == EVENT_LOG_WARN ? EVT_LOG_WARN : EVT_LOG_DEBUG,
	    "libevent: %s", msg);
}

/* Starts a persistent timer calling cb every sec seconds (0: never).
 * Returns 0 or -1. */
static int
every(struct event **ev, double sec, event_callback_fn cb)
{
	struct timeval tv = {(time_t)sec,
	    (suseconds_t)((sec - (double)(time_t)sec) * 1e6)};

	if (sec <= 0)
		return 0;
	if ((*ev = event_new(R.base, -1, EV_PERSIST, cb, NULL)) == NULL)
		return -1;
	return event_add(*ev, &tv);
}

/* The tick's period: TICK_US, or a quarter of a shorter --flush-interval,
 * so that a block is written at most 1.25 flush intervals after its first
 * event arrived, whether or not another event follows. */
static int64_t
tick_us(void)
{
	return R.o.flush_us / 4 < TICK_US ? R.o.flush_us / 4 : TICK_US;
}

/* Creates the event loop's timers and signal events.  Returns 0 or -1. */
static int
start_events(void)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	struct timeval tick = {0, (suseconds_t)tick_us()};

	R.retry_ev = evtimer_new(R.base, retry_cb, NULL);
	R.tick_ev = event_new(R.base, -1, EV_PERSIST, tick_cb, NULL);
	R.stop_ev = evtimer_new(R.base, stop_cb, NULL);
	if (R.retry_ev == NULL || R.tick_ev == NULL || R.stop_ev == NULL)
		return -1;
	event_add(R.tick_ev, &tick);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		R.sig_ev[i] = evsignal_new(R.base, sigs[i], signal_cb, NULL);
		if (R.sig_ev[i] == NULL || evsignal_add(R.sig_ev[i], NULL) != 0)
			return -1;
	}
	R.last_summary_us = evt_mono_us();
	if (every(&R.summary_ev, R.o.summary, summary_cb) != 0 ||
	    every(&R.snapshot_ev, R.o.state_interval, snapshot_cb) != 0)
		return -1;
	if (R.o.max_bytes != 0 || R.o.max_age_us != 0) {
		if (every(&R.prune_ev, 3600, prune_cb) != 0)
			return -1;
		prune_cb(-1, 0, NULL);
	}
	return 0;
}

/* Sets up the TLS context (or warns of clear text).  Returns 0 or -1. */
static int
start_tls(void)
{
	char err[300];

	if (!R.url.tls) {
		if (R.o.user != NULL || R.o.token_file != NULL)
			evt_log_warn("%s is not TLS: credentials travel in "
			    "clear text", R.url.base);
		return 0;
	}
	if (evt_tls_client_ctx(R.o.cacert, R.o.insecure, &R.ssl, err,
	    sizeof err) != 0) {
		evt_log_err("%s", err);
		return -1;
	}
	if (R.o.insecure)
		evt_log_warn("--insecure: the gateway's certificate is not "
		    "verified");
	return 0;
}

/* What the NATS layer and the publisher say goes to the log. */
static void
nats_note_cb(void *arg, int level, const char *msg)
{
	evt_log(level, "%s", msg);
}

/* Starts the publisher (--publish) once the archive is open.  Returns 0
 * or -1 after logging why. */
static int
start_publishing(void)
{
	struct evt_nats_cbs cbs = { nats_note_cb, NULL };
	int rc;

	if (R.o.nats.servers == NULL)
		return 0;
	rc = evt_natspub_start(R.o.archive, &R.o.nats, &cbs, &R.pub);
	if (rc != 0) {
		evt_log_err("cannot start publishing to NATS: %s",
		    evt_strerror(rc));
		return -1;
	}
	evt_log_info("publishing to NATS %s, stream %s, subjects %s.> "
	    "(site %s)", R.o.nats.servers, R.o.nats.stream, R.o.nats.prefix,
	    R.o.nats.site);
	return 0;
}

/* Everything before the loop runs: the loop, DNS, TLS, the archive, the
 * timers, the metrics server.  Returns 0 or -1 after logging why. */
static int
start(void)
{
	event_set_log_callback(libevent_log_cb);
	reserve_fds();
	evt_json_init(&R.jp, 0);
	if (evt_recorder_seen_init(&R.seen, 0) != 0)
		return -1;
	if ((R.base = event_base_new()) == NULL)
		return -1;
	R.dns = evdns_base_new(R.base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (R.dns == NULL)
		R.dns = evdns_base_new(R.base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (start_tls() != 0 || open_archive() != 0)
		return -1;
	if (start_publishing() != 0)
		return -1;
	load_seen();
	anchor_time();
	if (start_events() != 0)
		return -1;
	if (R.o.metrics != NULL && start_metrics() != 0)
		return -1;
	return 0;
}

/* Frees what start() and the loop made, sealing the archive if a fatal
 * error left it open. */
static void
finish(void)
{
	struct event **evs[] = { &R.mresume_ev, &R.retry_ev, &R.tick_ev,
		&R.stop_ev, &R.summary_ev, &R.snapshot_ev, &R.prune_ev };

	if (R.ar != NULL) {
		/* Fatal path: the archive is still sealed. */
		if (evt_archive_close(R.ar) != 0)
			R.exit_code = EVT_EXIT_FAIL;
		R.ar = NULL;
	}
	if (R.pub != NULL || R.o.nats.servers != NULL) {
		stop_publishing();
		evt_nats_shutdown();
		evt_natspub_free(R.pub);
		R.pub = NULL;
	}
	evt_nats_opts_free(&R.o.nats);
	secret_free(&R.password);
	secret_free(&R.token);
	for (size_t i = 0; i < METRICS_CONNS; i++)
		metrics_drop(i);
	if (R.mlis != NULL)
		evconnlistener_free(R.mlis);
	if (R.spare_fd >= 0)
		close(R.spare_fd);
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
		if (*evs[i] != NULL)
			event_free(*evs[i]);
	for (size_t i = 0; i < sizeof R.sig_ev / sizeof R.sig_ev[0]; i++)
		if (R.sig_ev[i] != NULL)
			event_free(R.sig_ev[i]);
	if (R.ssl != NULL)
		SSL_CTX_free(R.ssl);
	evt_json_free(&R.jp);
	evt_recorder_seen_free(&R.seen);
	evt_recorder_names_clear(&R.names);
	evt_recorder_cfg_free(&R.cfg);
	evt_recorder_cfg_free(&R.delta);
	evt_buf_free(&R.cmd);
	evt_buf_free(&R.filters);
	evt_buf_free(&R.rebuilt);
	evt_buf_free(&R.marker);
	evt_buf_free(&R.pend);
	evt_nats_opts_free(&R.o.nats);
	evt_log_close();
}

/* ------------------------------------------------------ central archiver */

/* SIGTERM / SIGINT under --from-nats: the loop stops at its next turn. */
static volatile sig_atomic_t nats_stop;

static void
nats_stop_signal(int sig)
{
	(void)sig;
	nats_stop = 1;
}

/* What the NATS connection tells (libnats' threads): logged. */
static void
nats_note(void *arg, int level, const char *msg)
{
	evt_log(level, "nats: %s", msg);
}

/* evrec --from-nats: the archive, its newest ids for dedupe, the
 * consumer loop (natsarc.c) until a stop signal, then seal. */
static int
run_from_nats(void)
{
	struct evt_natsarc_opts no = {
		.stream = R.o.nats.stream, .durable = R.o.durable,
		.filter = R.o.filter, .recorder = "evrec " EVREC_VERSION,
		.flush_us = R.o.flush_us, .max_pending = 32768,
		.ack_wait_us = (int64_t)(R.o.ack_wait * 1e6), .fetch = 16384,
	};
	struct sigaction sa = {.sa_handler = nats_stop_signal};
	struct evt_nats_cbs cbs = {nats_note, NULL};
	struct evt_nats *nc;
	char err[512];
	int rc;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (evt_recorder_seen_init(&R.seen, 0) != 0 || open_archive() != 0)
		return EVT_EXIT_FAIL;
	load_seen();
	/* (No retry here: a service manager restarts evrec; once
	 * connected, libnats reconnects forever.) */
	if (evt_nats_connect(&R.o.nats, "evrec --from-nats", NULL, &cbs, &nc,
	    err, sizeof err) != 0) {
		evt_log_err("%s", err);
		return EVT_EXIT_FAIL;
	}
	evt_log_info("evrec " EVREC_VERSION " archiving stream %s from %s "
	    "into %s", R.o.nats.stream, R.o.nats.servers, R.o.archive);
	rc = evt_natsarc_run(nc, R.ar, &R.seen, &no, &nats_stop);
	/* The acknowledgements out before the connection goes. */
	natsConnection_FlushTimeout(evt_nats_conn(nc), 5000);
	evt_nats_close(nc);
	evt_nats_shutdown();
	if (evt_archive_close(R.ar) != 0)
		rc = -1;
	R.ar = NULL;
	if (rc == 0)
		evt_log_info("stopped; archive sealed");
	return rc == 0 ? EVT_EXIT_OK : EVT_EXIT_FAIL;
}

int
main(int argc, char **argv)
{
	int rc;

	evt_nats_init();
	evt_cli_init("evrec");
	/* It holds a password or tokens: no core file, no /proc/PID/mem. */
	evt_cli_no_dump();
	signal(SIGPIPE, SIG_IGN);
	/* A file size limit must fail the write (EFBIG), not kill us. */
	signal(SIGXFSZ, SIG_IGN);
	/*
	 * A recorder runs for months: what a burst makes it allocate (a
	 * getState answer's tokens, a big frame) must go back to the system
	 * afterwards.  glibc raises its mmap threshold to the largest block
	 * freed, after which such buffers come from the heap and stay; a
	 * fixed threshold keeps every buffer over 1 MiB a mapping of its
	 * own, returned by free().
	 */
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	parse_args(argc, argv);
	if (evt_log_open("evrec", R.o.level, R.o.log_file) != 0) {
		evt_cli_err("cannot open the log file %s: %s", R.o.log_file,
		    strerror(errno));
		return EVT_EXIT_FAIL;
	}
	rc = evt_ess_filters_from_specs(R.o.specs, R.o.exclude, R.o.nspecs,
	    &R.filters);
	if (rc != 0)
		evt_cli_usage_err("bad --include/--exclude filter: %s",
		    evt_strerror(rc));
	if (load_password() != 0)
		return EVT_EXIT_USAGE;
	if (R.o.from_nats) {
		R.exit_code = run_from_nats();
		finish();
		return R.exit_code;
	}
	R.exit_code = EVT_EXIT_FAIL;
	if (start() == 0) {
		evt_log_info("evrec " EVREC_VERSION " recording %s into %s",
		    R.url.base, R.o.archive);
		R.exit_code = EVT_EXIT_OK;
		connect_begin();
		event_base_dispatch(R.base);
	}
	finish();
	return R.exit_code;
}
