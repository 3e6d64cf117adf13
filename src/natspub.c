/*
 * natspub.c: the publisher of evrec --publish (natspub.h, formats/nats.md).
 *
 * One thread reads the archive (a follower, follow.h, and a frame reader
 * over its segments) and publishes; libnats' threads deliver the acks to
 * ack_cb.  They share the ring of messages in flight, in publishing order,
 * under mu: a slot is in flight, acknowledged or failed.  The thread pops
 * the acknowledged prefix of the ring (the contiguous acknowledged
 * position, persisted about every second); a failed slot, a connection
 * that is not up or an ack timeout (libnats reports it as a failed ack
 * unacknowledged after ACK_WAIT_US: the publisher's own check of its
 * oldest slot, cheaper than libnats' MaxWait, whose timer scans every
 * pending message) throws the rest of the ring away and reads the archive
 * again from that position ("rewind"), after a backoff.
 *
 * Frame ordinals count the frames of a segment from its start, so a
 * segment is always read from its start; a resume opens the follower at
 * its position's segment and passes over the frames up to the position.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/err.h"
#include "evtape/follow.h"
#include "evtape/json.h"
#include "evtape/log.h"
#include "evtape/natspub.h"
#include "evtape/record.h"
#include "evtape/segment.h"
#include "evtape/timefmt.h"

#define SAVE_EVERY_US 1000000		/* the position file, about */
#define ACK_WAIT_US 10000000	/* an ack later than this: resend */
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define BACKOFF_CONNECT_MS 5000		/* connecting: a server that comes
					   back is found within 5 s */
#define IDLE_WAIT_MS 1000		/* follower wait when quiet */
#define STEP_FRAMES 256			/* frames published per step */

enum { SLOT_FLIGHT = 0, SLOT_ACKED, SLOT_FAILED };

/* A message in flight. */
struct slot {
	natsMsg *m;		/* identity while in flight; NULL after */
	int state;
	int is_event;
	int partial;		/* a part of a frame but its last: its ack
				   does not move the position */
	int64_t rx;
	int64_t sent;		/* mono */
	struct evt_nats_ref ref;
	char id[EVT_NATS_ID_MAX + 80];	/* its Nats-Msg-Id */
};

/* The last acknowledged message (the position file's content). */
struct position {
	int have;
	struct evt_nats_ref ref;
	int64_t rx;
	char id[EVT_NATS_ID_MAX + 80];
};

struct evt_natspub {
	char *dir, *path, *tmp;
	const struct evt_nats_opts *o;
	struct evt_nats_cbs cbs;
	pthread_t th;
	int th_started, joined;
	int wake_fd;		/* eventfd: stop, acks while the thread
				   sleeps */

	pthread_mutex_t mu;	/* the ring, the counters, the stop */
	pthread_cond_t cv;
	struct slot *ring;
	uint32_t cap;
	uint64_t head, tail;	/* publish numbers: oldest, next */
	uint64_t hint;		/* where ack_cb looks first */
	int failed, sleeping, waiting, stop;
	uint32_t wake_acks;	/* acks since the thread began waiting */
	int64_t stop_deadline;	/* mono */
	char why[512];		/* the last failed ack's text */
	char perr[512];		/* why a publish call failed (the
				   thread's own) */
	uint64_t published, acked, rejected, too_big;
	uint64_t rec_events, acked_events, read_pre;
	int64_t rec_rx, acked_rx, read_rx;
	int caught_up, connected;

	/* The thread's own. */
	struct evt_nats *n;
	int64_t max_payload;	/* n's */
	int pub_on_conn;	/* n has had an async publish (libnats 3.4
				   crashes in js_PublishAsyncGetPendingList
				   before the first) */
	struct position pos, saved;
	struct position held;	/* the stream's last message (guard) */
	int64_t saved_at;	/* mono */
	struct evt_nats_ref skip; /* pass over frames up to here */
	int have_skip;
	int skip_seek;		/* and open the follower at its segment (the
				   archive UUID is known to match) */
	int guard_done;		/* the stream's last message was asked */
	struct evt_follow *fo;
	struct evt_frames fr;
	int fr_init;
	struct evt_frame *f;	/* the frame being published, or NULL */
	uint32_t next_item;
	uint8_t uuid[16];
	uint64_t seq, ord, f_ord;
	struct evt_nats_ref max_read; /* furthest event read (for read_pre) */
	int64_t start_wall;
	int backoff_ms;
	struct evt_buf subj;
	struct evt_buf part;	/* a part's payload (publish_parts) */
};

/* Wakes the thread from its poll. */
static void
wake(struct evt_natspub *p)
{
	uint64_t one = 1;
	ssize_t w = write(p->wake_fd, &one, sizeof one);
	(void)w;
}

/* ------------------------------------------------------------ acks */

/* libnats' ack handler: marks the message's slot. */
static void
ack_cb(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
    void *closure)
{
	struct evt_natspub *p = closure;
	pthread_mutex_lock(&p->mu);
	/* Acks come in order: the slot after the last one matched first. */
	uint64_t start = p->hint >= p->head && p->hint < p->tail ? p->hint :
	    p->head;
	for (uint64_t k = 0; k < p->tail - p->head; k++) {
		uint64_t no = start + k;
		if (no >= p->tail)
			no = p->head + (no - p->tail);
		struct slot *s = &p->ring[no % p->cap];
		if (s->m != msg)
			continue;
		s->m = NULL;
		p->hint = no + 1;
		if (pa != NULL) {
			s->state = SLOT_ACKED;
			p->acked++;
		} else {
			s->state = SLOT_FAILED;
			p->rejected++;
			if (!p->failed) {
				const char *t = pae != NULL && pae->ErrText !=
				    NULL ? pae->ErrText : natsStatus_GetText(
				    pae != NULL ? pae->Err : NATS_ERR);
				if (pae != NULL && pae->ErrCode != 0)
					snprintf(p->why, sizeof p->why,
					    "%s (JetStream error %d)", t,
					    (int)pae->ErrCode);
				else
					snprintf(p->why, sizeof p->why, "%s",
					    t);
			}
			p->failed = 1;
		}
		break;
	}
	if (p->sleeping) {
		p->sleeping = 0;
		wake(p);
	}
	/* A full ring wakes the thread once a quarter of it is acknowledged
	 * (not at every ack: a context switch per message). */
	if (p->waiting && (++p->wake_acks >= (p->cap + 3) / 4 || p->failed))
		pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	natsMsg_Destroy(msg);
}

/* Pops the acknowledged prefix of the ring into the position.  Returns
 * whether a failed slot was found (the ring must be resent). */
static int
advance(struct evt_natspub *p)
{
	pthread_mutex_lock(&p->mu);
	int popped = 0;
	while (p->head < p->tail) {
		struct slot *s = &p->ring[p->head % p->cap];
		if (s->state != SLOT_ACKED)
			break;
		if (!s->partial) {
			p->pos.have = 1;
			p->pos.ref = s->ref;
			p->pos.rx = s->rx;
			memcpy(p->pos.id, s->id, strlen(s->id) + 1);
		}
		s->partial = 0;
		p->acked_events += s->is_event;
		if (s->is_event)
			p->acked_rx = s->rx;
		p->head++;
		popped = 1;
	}
	int failed = p->failed;
	if (!failed && p->head < p->tail &&
	    evt_mono_us() - p->ring[p->head % p->cap].sent > ACK_WAIT_US) {
		snprintf(p->why, sizeof p->why, "no acknowledgement within %d "
		    "s", (int)(ACK_WAIT_US / 1000000));
		p->rejected++;
		failed = p->failed = 1;
	}
	pthread_mutex_unlock(&p->mu);
	if (popped)
		p->backoff_ms = 0;
	return failed;
}

/* ------------------------------------------------------- position file */

/* Writes the position file (tmp, fsync, rename, fsync of the directory)
 * if it changed.  Returns 0 or -1 (noted). */
static int
save_position(struct evt_natspub *p)
{
	if (!p->pos.have || memcmp(&p->pos, &p->saved, sizeof p->pos) == 0)
		return 0;
	struct evt_buf b = {0};
	char u[37], num[160];
	evt_guid_format(p->pos.ref.uuid, u);
	u[36] = '\0';
	int rc = evt_buf_put(&b, "{\"stream\":", 10) |
	    evt_json_put_string(&b, p->o->stream, strlen(p->o->stream)) |
	    evt_buf_put(&b, ",\"prefix\":", 10) |
	    evt_json_put_string(&b, p->o->prefix, strlen(p->o->prefix)) |
	    evt_buf_put(&b, ",\"archive\":", 11) |
	    evt_json_put_string(&b, u, 36) |
	    evt_buf_put(&b, ",\"id\":", 6) |
	    evt_json_put_string(&b, p->pos.id, strlen(p->pos.id));
	snprintf(num, sizeof num, ",\"rxUs\":%" PRId64 ",\"segment\":%" PRIu64
	    ",\"frame\":%" PRIu64 ",\"item\":%" PRId64 ",\"items\":%" PRIu64
	    "}\n", p->pos.rx, p->pos.ref.seg, p->pos.ref.ord, p->pos.ref.item,
	    p->pos.ref.nitems);
	rc |= evt_buf_put(&b, num, strlen(num));
	int fd = rc != 0 ? -1 : open(p->tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0644);
	int ok = fd >= 0 && write(fd, b.p, b.len) == (ssize_t)b.len &&
	    fsync(fd) == 0;
	int err = errno;
	if (fd >= 0 && close(fd) != 0)
		ok = 0;
	if (ok && rename(p->tmp, p->path) != 0) {
		ok = 0;
		err = errno;
	}
	if (ok) {
		int dfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
		p->saved = p->pos;
	} else {
		evt_nats_note(&p->cbs, EVT_LOG_WARN, "%s: cannot write the publishing "
		    "position: %s (publishing goes on; a restart may resend "
		    "more)", p->path, rc != 0 ? "out of memory" :
		    strerror(err));
		if (fd >= 0)
			unlink(p->tmp);
	}
	evt_buf_free(&b);
	p->saved_at = evt_mono_us();
	return ok ? 0 : -1;
}

/* The value token of member key of the object at token 0, or NULL. */
static const struct evt_jtok *
member(const struct evt_jparser *jp, const char *text, const char *key)
{
	const struct evt_jtok *t = jp->tok;
	if (jp->ntok == 0 || t[0].type != EVT_J_OBJECT)
		return NULL;
	uint32_t i = 1;
	for (uint32_t m = 0; m < t[0].size; m++) {
		const struct evt_jtok *k = &t[i], *v = &t[i + 1];
		if (k->len == strlen(key) && memcmp(text + k->off, key,
		    k->len) == 0)
			return v;
		i = v->next;
	}
	return NULL;
}

/* A string member into out (cap bytes); 0 or -1. */
static int
member_str(const struct evt_jparser *jp, const char *text, const char *key,
    char *out, size_t cap)
{
	const struct evt_jtok *v = member(jp, text, key);
	if (v == NULL || v->type != EVT_J_STRING || v->len >= cap)
		return -1;
	int n = evt_json_unescape(text + v->off, v->len, out);
	if (n < 0)
		return -1;
	out[n] = '\0';
	return 0;
}

/* An integer member; 0 or -1. */
static int
member_int(const struct evt_jparser *jp, const char *text, const char *key,
    int64_t *out)
{
	const struct evt_jtok *v = member(jp, text, key);
	int neg;
	uint64_t mag;
	if (v == NULL || v->type != EVT_J_NUMBER ||
	    evt_json_int(text + v->off, v->len, &neg, &mag) != 1 ||
	    mag > INT64_MAX)
		return -1;
	*out = neg ? -(int64_t)mag : (int64_t)mag;
	return 0;
}

/* Parses the position file's text; 0, or -1 with *why. */
static int
parse_position(struct evt_natspub *p, const char *text, size_t len,
    const char **why)
{
	struct evt_jparser jp;
	char s[256], u[64];
	int64_t seg, ord, item, items, rx;
	int rc = -1;
	evt_json_init(&jp, 4);
	*why = "not a JSON object with stream, prefix, archive, segment, "
	    "frame and item";
	if (evt_json_parse(&jp, text, len) < 1 ||
	    member_str(&jp, text, "archive", u, sizeof u) != 0 ||
	    !evt_guid_parse(u, strlen(u), p->pos.ref.uuid, 0) ||
	    member_int(&jp, text, "segment", &seg) != 0 || seg < 0 ||
	    member_int(&jp, text, "frame", &ord) != 0 || ord < 0 ||
	    member_int(&jp, text, "item", &item) != 0 || item < -1 ||
	    member_str(&jp, text, "stream", s, sizeof s) != 0)
		goto out;
	if (strcmp(s, p->o->stream) != 0 || member_str(&jp, text, "prefix", s,
	    sizeof s) != 0 || strcmp(s, p->o->prefix) != 0) {
		*why = "written for another stream or subject prefix";
		goto out;
	}
	p->pos.ref.seg = (uint64_t)seg;
	p->pos.ref.ord = (uint64_t)ord;
	p->pos.ref.item = item;
	p->pos.ref.nitems = member_int(&jp, text, "items", &items) == 0 &&
	    items > 0 ? (uint64_t)items : 0;
	p->pos.rx = member_int(&jp, text, "rxUs", &rx) == 0 ? rx : 0;
	if (member_str(&jp, text, "id", p->pos.id, sizeof p->pos.id) != 0)
		p->pos.id[0] = '\0';
	p->pos.have = 1;
	rc = 0;
out:
	evt_json_free(&jp);
	return rc;
}

/* Reads the position file, if any: the publishing resumes after it. */
static void
load_position(struct evt_natspub *p)
{
	char buf[4096];
	const char *why = NULL;
	int fd = open(p->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			evt_nats_note(&p->cbs, EVT_LOG_WARN, "%s: cannot read: %s; "
			    "publishing from the archive's start (the stream's "
			    "duplicate window and its last message keep what "
			    "it has from coming twice)", p->path,
			    strerror(errno));
		return;
	}
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	if (n < 0 || (size_t)n >= sizeof buf)
		why = n < 0 ? strerror(errno) : "too long";
	else if (parse_position(p, buf, (size_t)n, &why) == 0)
		why = NULL;
	if (why != NULL) {
		memset(&p->pos, 0, sizeof p->pos);
		evt_nats_note(&p->cbs, EVT_LOG_WARN, "%s: %s; publishing from the archive's "
		    "start (the stream's duplicate window and its last "
		    "message keep what it has from coming twice)", p->path,
		    why);
		return;
	}
	p->saved = p->pos;
	evt_nats_note(&p->cbs, EVT_LOG_INFO, "publishing resumes after segment %" PRIu64
	    " frame %" PRIu64 "%s%s (%s)", p->pos.ref.seg, p->pos.ref.ord,
	    p->pos.id[0] ? ", event " : "", p->pos.id, p->path);
}

/* ------------------------------------------------------------ reading */

/* Damage met while reading the archive. */
static void
seg_err_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	struct evt_natspub *p = arg;
	evt_nats_note(&p->cbs, EVT_LOG_WARN, "publishing: %s: offset %" PRIu64 ": %s", path,
	    off, what);
}

/* Closes the reading (a rewind reopens it at the position). */
static void
close_reading(struct evt_natspub *p)
{
	if (p->fr_init)
		evt_frames_free(&p->fr);
	p->fr_init = 0;
	p->f = NULL;
	evt_follow_close(p->fo);
	p->fo = NULL;
}

/* Whether ref is at or before what is to be passed over. */
static int
skipped(struct evt_natspub *p, const struct evt_nats_ref *ref)
{
	if (!p->have_skip)
		return 0;
	if (memcmp(p->skip.uuid, ref->uuid, 16) != 0 ||
	    evt_nats_ref_cmp(ref, &p->skip) > 0) {
		p->have_skip = 0; /* past it (or another archive's) */
		return 0;
	}
	/* The stream's last message is of this archive after all: it is
	 * the position. */
	if (!p->pos.have && p->held.have)
		p->pos = p->held;
	return 1;
}

/*
 * The next frame to publish into p->f (its first item to publish in
 * p->next_item): 1, 0 when the archive has nothing more for now, or a
 * negative evt_err.
 */
static int
next_frame(struct evt_natspub *p)
{
	int rc;
	if (p->fo == NULL) {
		rc = evt_follow_open(p->dir, INT64_MIN, seg_err_cb, p, &p->fo);
		if (rc != 0)
			return rc;
		if (p->have_skip && p->skip_seek)
			evt_follow_start_at(p->fo, p->skip.seg);
	}
	for (;;) {
		if (!p->fr_init) {
			struct evt_segr *r;
			const char *path;
			int fresh;
			if ((rc = evt_follow_reader(p->fo, &r, &path,
			    &fresh)) <= 0)
				return rc;
			if (fresh) {
				const struct evt_seg_info *si =
				    evt_segr_info(r);
				memcpy(p->uuid, si->uuid, 16);
				p->seq = si->seq;
				p->ord = 0;
			}
			evt_frames_init(&p->fr, r, NULL, NULL, seg_err_cb, p,
			    path);
			p->fr_init = 1;
		}
		struct evt_frame *f;
		if ((rc = evt_frames_next(&p->fr, &f)) < 0)
			return rc;
		if (rc == 0) {
			evt_frames_free(&p->fr);
			p->fr_init = 0;
			continue;
		}
		p->f_ord = p->ord++;
		if (evt_nats_kind_of(f->kind) < 0)
			continue;
		struct evt_nats_ref ref = { .seg = p->seq, .ord = p->f_ord,
			.item = -1 };
		memcpy(ref.uuid, p->uuid, 16);
		p->next_item = 0;
		if (skipped(p, &ref)) {
			/* Its events after the position's item, if any. */
			if (f->kind != EVT_K_MSG || p->skip.ord != ref.ord ||
			    p->skip.seg != ref.seg || p->skip.item < 0 ||
			    (uint64_t)p->skip.item + 1 >= f->kept)
				continue;
			p->next_item = (uint32_t)p->skip.item + 1;
			p->have_skip = 0;
		}
		if (f->kind == EVT_K_MSG && p->next_item >= f->kept)
			continue; /* no events */
		p->f = f;
		return 1;
	}
}

/* ------------------------------------------------------------ publishing */

/*
 * Hands m, the message of the ring's newest slot, to libnats; if it is
 * refused, the slot is taken back (no ack can name it).  Returns 0, or -1
 * with p->perr set.
 */
static int
send_last(struct evt_natspub *p, natsMsg *m)
{
	natsMsg *mm = m;
	natsStatus s = js_PublishMsgAsync(evt_nats_js(p->n), &mm, NULL);
	p->pub_on_conn = 1;
	if (s == NATS_OK)
		return 0;
	pthread_mutex_lock(&p->mu);
	p->tail--;
	p->published--;
	p->ring[p->tail % p->cap].partial = 0;
	pthread_mutex_unlock(&p->mu);
	natsMsg_Destroy(mm);
	evt_nats_errtext(s, p->perr, sizeof p->perr);
	return -1;
}

/*
 * Publishes one message: into the ring first (its ack may come before
 * js_PublishMsgAsync returns), then to libnats.  Returns 0, or -1 with
 * p->perr set.
 */
static int
publish_one(struct evt_natspub *p, int k, const struct evt_nats_ref *ref,
    const struct evt_nats_event *e, const void *data, size_t len)
{
	struct evt_nats_hdrs h;
	natsMsg *m = NULL;
	int64_t rx = p->f->rx_us;
	/* Larger than the server takes (a getState answer of a big site
	 * over its max_payload, 1 MiB by default): never publishable, so
	 * passed over as if acknowledged, and said. */
	int64_t max = p->max_payload;
	int big = max > 0 && (int64_t)len + 1024 > max;
	if (evt_nats_subject(&p->subj, p->o->prefix, k, e) != 0) {
		snprintf(p->perr, sizeof p->perr, "out of memory");
		return -1;
	}
	evt_nats_headers(&h, k, rx, ref, e);
	natsStatus s = evt_nats_msg(&m, (const char *)p->subj.p, data, len, &h,
	    p->o->site);
	if (s != NATS_OK) {
		evt_nats_errtext(s, p->perr, sizeof p->perr);
		return -1;
	}
	if (big) {
		natsMsg_Destroy(m);
		m = NULL;
		evt_nats_note(&p->cbs, EVT_LOG_WARN, "NATS %s: %s message %s (segment %"
		    PRIu64 " frame %" PRIu64 ") of %zu bytes is larger than "
		    "the server's max_payload (%" PRId64 " bytes): not "
		    "published (raise max_payload up to 64 MB to carry it)",
		    p->o->servers, h.kind, h.msg_id, ref->seg, ref->ord, len,
		    max);
	}
	pthread_mutex_lock(&p->mu);
	struct slot *sl = &p->ring[p->tail % p->cap];
	sl->m = m;
	sl->state = big ? SLOT_ACKED : SLOT_FLIGHT;
	p->too_big += big;
	sl->is_event = k == EVT_NATS_EVENT;
	sl->rx = rx;
	sl->sent = evt_mono_us();
	sl->ref = *ref;
	memcpy(sl->id, h.msg_id, strlen(h.msg_id) + 1);
	p->tail++;
	p->published += !big;
	if (sl->is_event && evt_nats_ref_cmp(ref, &p->max_read) > 0) {
		p->max_read = *ref;
		p->read_rx = rx;
		p->read_pre += rx < p->start_wall;
	}
	pthread_mutex_unlock(&p->mu);
	if (big)
		return 0;
	return send_last(p, m);
}

/* Room in the ring. */
static uint64_t
room(struct evt_natspub *p)
{
	pthread_mutex_lock(&p->mu);
	uint64_t r = p->cap - (p->tail - p->head);
	pthread_mutex_unlock(&p->mu);
	return r;
}

/* ------------------------------------------------------------ parts */

static void nap(struct evt_natspub *p, int ms);

/* Whether a frame of kind k and len bytes goes as parts: a STATES or
 * other JSON frame over what the server takes (1 KiB kept for headers,
 * as publish_one counts). */
static int
split_wanted(struct evt_natspub *p, int k, size_t len)
{
	return (k == EVT_NATS_STATES || k == EVT_NATS_JSON) &&
	    p->max_payload > 1024 && (int64_t)len + 1024 > p->max_payload;
}

/* Puts part message m (Nats-Msg-Id id) of frame ref into the ring and
 * sends it; partial: not the frame's last part.  0, or -1 with p->perr. */
static int
send_part(struct evt_natspub *p, natsMsg *m, const struct evt_nats_ref *ref,
    const char *id, int partial)
{
	pthread_mutex_lock(&p->mu);
	struct slot *sl = &p->ring[p->tail % p->cap];
	sl->m = m;
	sl->state = SLOT_FLIGHT;
	sl->is_event = 0;
	sl->partial = partial;
	sl->rx = p->f->rx_us;
	sl->sent = evt_mono_us();
	sl->ref = *ref;
	snprintf(sl->id, sizeof sl->id, "%s", id);
	p->tail++;
	p->published++;
	pthread_mutex_unlock(&p->mu);
	return send_last(p, m);
}

/*
 * Publishes the frame p->f of kind k, too large for one message, as parts
 * (formats/nats.md, "Parts"), all at once once the ring has room for them;
 * only the last part's acknowledgement moves the position past the frame,
 * so a resend starts again at its first part (JetStream drops the parts it
 * has by their ids).  A frame that cannot be split (an element alone too
 * large, more parts than the ring holds) is publish_one's: not published,
 * said.  Returns 0 (p->f NULL when done) or -1 (p->perr).
 */
static int
publish_parts(struct evt_natspub *p, int k, const struct evt_nats_ref *ref)
{
	struct evt_frame *f = p->f;
	const char *text = (const char *)f->text.p;
	struct evt_nats_split sp;
	struct evt_nats_hdrs h;
	int rc = evt_nats_split(&sp, text, f->text.len,
	    (size_t)(p->max_payload - 1024));
	if (rc == EVT_ERR_NOMEM) {
		snprintf(p->perr, sizeof p->perr, "out of memory");
		return -1;
	}
	if (rc != 0 || sp.n > p->cap) {
		evt_nats_split_free(&sp);
		rc = publish_one(p, k, ref, NULL, text, f->text.len);
		if (rc == 0)
			p->f = NULL;
		return rc;
	}
	if (room(p) < sp.n) {
		evt_nats_split_free(&sp);
		nap(p, 100);	/* an ack wakes it */
		return 0;
	}
	if ((rc = evt_nats_subject(&p->subj, p->o->prefix, k, NULL)) != 0)
		snprintf(p->perr, sizeof p->perr, "out of memory");
	evt_nats_headers(&h, k, f->rx_us, ref, NULL);
	for (size_t i = 0; rc == 0 && i < sp.n; i++) {
		size_t off, slen;
		natsMsg *m = NULL;
		natsStatus s;
		if (evt_nats_part(&p->part, &sp, text, f->text.len, i, &off,
		    &slen) != 0) {
			rc = -1;
			snprintf(p->perr, sizeof p->perr, "out of memory");
			break;
		}
		s = evt_nats_part_msg(&m, (const char *)p->subj.p, p->part.p,
		    p->part.len, &h, p->o->site, i, sp.n, off, slen);
		if (s != NATS_OK) {
			evt_nats_errtext(s, p->perr, sizeof p->perr);
			rc = -1;
			break;
		}
		const char *id = NULL;
		natsMsgHeader_Get(m, "Nats-Msg-Id", &id);
		rc = send_part(p, m, ref, id != NULL ? id : h.msg_id,
		    i + 1 < sp.n);
	}
	evt_nats_split_free(&sp);
	if (rc == 0)
		p->f = NULL;
	return rc;
}

/* The guard's case of a stream whose last message is a part of a frame
 * but its last (the publisher stopped inside it): the stream holds the
 * frames before it, and the frame is published again from its first part.
 * Returns whether it was that case. */
static int
guard_part(struct evt_natspub *p, const struct evt_nats_ref *last, char *err,
    size_t errlen)
{
	size_t k = 0, n = 1;
	int rc = evt_nats_last_part(p->n, p->o, &k, &n, err, errlen);
	if (rc == 0 || (rc == 1 && k + 1 == n))
		return 0;
	if (rc < 0) {
		evt_nats_note(&p->cbs, EVT_LOG_WARN, "%s (resuming from the "
		    "position file only)", err);
		return 1;
	}
	if (p->pos.have && (memcmp(last->uuid, p->pos.ref.uuid, 16) != 0 ||
	    evt_nats_ref_cmp(last, &p->pos.ref) <= 0))
		return 1;
	evt_nats_note(&p->cbs, EVT_LOG_INFO, "stream %s already holds this "
	    "archive up to part %zu of %zu of segment %" PRIu64 " frame %"
	    PRIu64 ": publishing resumes at that frame", p->o->stream, k + 1,
	    n, last->seg, last->ord);
	/* "Before that frame": item -2 passes over the frames before it
	 * and not the frame (never a position: nothing is acknowledged). */
	p->skip = *last;
	p->skip.item = -2;
	p->have_skip = 1;
	p->skip_seek = p->pos.have;
	close_reading(p);
	return 1;
}


/*
 * Publishes what the frame p->f still has, as far as the ring has room.
 * Returns 0 (p->f NULL when the frame is done) or -1 (p->perr).
 */
static int
publish_frame(struct evt_natspub *p)
{
	struct evt_frame *f = p->f;
	int k = evt_nats_kind_of(f->kind);
	struct evt_nats_ref ref = { .seg = p->seq, .ord = p->f_ord,
		.item = -1, .nitems = f->nitems };
	memcpy(ref.uuid, p->uuid, 16);
	if (k != EVT_NATS_EVENT) {
		if (room(p) == 0)
			return 0;
		if (split_wanted(p, k, f->text.len))
			return publish_parts(p, k, &ref);
		if (publish_one(p, k, &ref, NULL, f->text.p, f->text.len) != 0)
			return -1;
		p->f = NULL;
		return 0;
	}
	uint64_t r = room(p);
	for (; p->next_item < f->kept && r > 0; p->next_item++, r--) {
		uint32_t i = p->next_item;
		const char *t = (const char *)f->text.p + f->span[2 * i];
		size_t len = f->span[2 * i + 1] - f->span[2 * i];
		struct evt_nats_event e;
		evt_nats_event_read(t, len, &e);
		ref.item = i;
		if (ref.nitems < f->kept)
			ref.nitems = f->kept;
		if (publish_one(p, k, &ref, &e, t, len) != 0)
			return -1;
	}
	if (p->next_item >= f->kept)
		p->f = NULL;
	return 0;
}

/* ------------------------------------------------------------ the loop */

/* The next backoff: 1 s, doubling up to max_ms (an ack resets it). */
static void
backoff_more(struct evt_natspub *p, int max_ms)
{
	p->backoff_ms = p->backoff_ms == 0 ? BACKOFF_MIN_MS :
	    p->backoff_ms * 2 > max_ms ? max_ms : p->backoff_ms * 2;
}

/* Drops what is in flight and reads again from the position after
 * backoff: a failure of some kind (why). */
static void
rewind_ring(struct evt_natspub *p, const char *what)
{
	natsMsgList pl;
	(void)advance(p);
	if (p->n != NULL && p->pub_on_conn &&
	    js_PublishAsyncGetPendingList(&pl, evt_nats_js(p->n)) == NATS_OK)
		natsMsgList_Destroy(&pl);
	pthread_mutex_lock(&p->mu);
	uint64_t dropped = p->tail - p->head;
	for (uint64_t no = p->head; no < p->tail; no++) {
		p->ring[no % p->cap].m = NULL;
		p->ring[no % p->cap].partial = 0;
	}
	p->head = p->tail;
	p->failed = 0;
	pthread_mutex_unlock(&p->mu);
	close_reading(p);
	p->skip = p->pos.ref;
	p->have_skip = p->skip_seek = p->pos.have;
	backoff_more(p, BACKOFF_MAX_MS);
	if (what != NULL)
		evt_nats_note(&p->cbs, EVT_LOG_WARN, "NATS %s: stream %s: %s; %" PRIu64
		    " unacknowledged messages are sent again from the last "
		    "acknowledged one in %d s (recording goes on)",
		    p->o->servers, p->o->stream, what, dropped,
		    p->backoff_ms / 1000);
}

/* Whether a stop was asked and its deadline passed (or it needs no
 * waiting: nothing is connected). */
static int
stop_now(struct evt_natspub *p, int *stopping)
{
	pthread_mutex_lock(&p->mu);
	*stopping = p->stop;
	int now = p->stop && (p->n == NULL || evt_mono_us() >=
	    p->stop_deadline);
	pthread_mutex_unlock(&p->mu);
	return now;
}

/* Sleeps ms, or until woken by a stop or an ack, and when follow is
 * set by an archive change (the follower's queue is drained only then:
 * else its pending changes would end every nap at once); at most 50 ms
 * while stopping.  Returns whether the archive changed. */
static int
nap_for(struct evt_natspub *p, int ms, int follow)
{
	struct pollfd pf[2] = {
		{ .fd = p->wake_fd, .events = POLLIN },
		{ .fd = follow && p->fo != NULL ? evt_follow_fd(p->fo) : -1,
		  .events = POLLIN },
	};
	pthread_mutex_lock(&p->mu);
	p->sleeping = 1;
	int stop = p->stop;
	pthread_mutex_unlock(&p->mu);
	(void)poll(pf, 2, stop && ms > 50 ? 50 : ms);
	pthread_mutex_lock(&p->mu);
	p->sleeping = 0;
	pthread_mutex_unlock(&p->mu);
	uint64_t v;
	if (pf[0].revents & POLLIN) {
		ssize_t r = read(p->wake_fd, &v, sizeof v);
		(void)r;
	}
	return (pf[1].revents & POLLIN) != 0;
}

/* A nap that the archive does not end (backoffs, waits for NATS). */
static void
nap(struct evt_natspub *p, int ms)
{
	(void)nap_for(p, ms, 0);
}

/* Applies the stream's last message of this prefix once after the first
 * connection: what the stream holds beyond the position file (a duplicate
 * window that expired in a long outage) is not published again. */
static void
guard(struct evt_natspub *p)
{
	struct evt_nats_ref last;
	char id[EVT_NATS_ID_MAX + 80], err[600];
	int64_t rx;
	int rc = evt_nats_last_ref(p->n, p->o, &last, id, sizeof id, &rx, err,
	    sizeof err);
	if (rc < 0) {
		evt_nats_note(&p->cbs, EVT_LOG_WARN, "%s (resuming from the position file "
		    "only)", err);
		return;
	}
	p->guard_done = 1;
	if (rc == 1 && guard_part(p, &last, err, sizeof err))
		return;
	if (rc == 0 || (p->pos.have && (memcmp(last.uuid, p->pos.ref.uuid,
	    16) != 0 || evt_nats_ref_cmp(&last, &p->pos.ref) <= 0)))
		return;
	evt_nats_note(&p->cbs, EVT_LOG_INFO, "stream %s already holds this archive up to "
	    "%s (segment %" PRIu64 " frame %" PRIu64 "): publishing resumes "
	    "after it", p->o->stream, id, last.seg, last.ord);
	p->held.have = 1;
	p->held.ref = last;
	p->held.rx = rx;
	snprintf(p->held.id, sizeof p->held.id, "%s", id);
	if (p->pos.have)
		p->pos = p->held; /* same archive, further on: acknowledged */
	p->skip = last;
	p->have_skip = 1;
	/* Without a position its UUID is not known to be this archive's:
	 * the frames are read from the start and passed over. */
	p->skip_seek = p->pos.have;
	close_reading(p);
}

/* Connects and makes sure of the stream.  0 or -1 (noted). */
static int
connect_step(struct evt_natspub *p)
{
	char err[600], name[300];
	jsOptions jo;
	int created;
	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending = p->cap;
	jo.PublishAsync.AckHandler = ack_cb;
	jo.PublishAsync.AckHandlerClosure = p;
	snprintf(name, sizeof name, "evrec %s", p->o->site);
	struct evt_nats *n = NULL;
	if (evt_nats_connect(p->o, name, &jo, &p->cbs, &n, err,
	    sizeof err) != 0 || evt_nats_ensure_stream(n, p->o, &created,
	    err, sizeof err) != 0) {
		evt_nats_close(n);
		backoff_more(p, BACKOFF_CONNECT_MS);
		evt_nats_note(&p->cbs, EVT_LOG_ERR, "%s; recording goes on, retrying in %d s",
		    err, p->backoff_ms / 1000);
		return -1;
	}
	char url[256];
	evt_nats_note(&p->cbs, EVT_LOG_INFO, "NATS: connected to %s; %s stream %s "
	    "(subjects %s.>)", evt_nats_url(n, url, sizeof url),
	    created ? "created" : "publishing to", p->o->stream, p->o->prefix);
	pthread_mutex_lock(&p->mu);
	p->n = n;
	p->max_payload = natsConnection_GetMaxPayload(evt_nats_conn(n));
	p->pub_on_conn = 0;
	p->connected = 1;
	pthread_mutex_unlock(&p->mu);
	if (!p->guard_done)
		guard(p);
	return 0;
}

/* Closes the connection (after rewinding what was in flight). */
static void
disconnect(struct evt_natspub *p)
{
	rewind_ring(p, NULL);
	pthread_mutex_lock(&p->mu);
	struct evt_nats *n = p->n;
	p->n = NULL;
	p->connected = 0;
	pthread_mutex_unlock(&p->mu);
	evt_nats_close(n);
}

/* One round of the loop.  Returns 1 to go on, 0 when a stop is done. */
static int
step(struct evt_natspub *p)
{
	int stopping;
	if (stop_now(p, &stopping))
		return 0;
	if (p->n == NULL) {
		if (connect_step(p) != 0) {
			nap(p, p->backoff_ms);
			return 1;
		}
	}
	natsConnection *nc = evt_nats_conn(p->n);
	natsConnStatus cs = natsConnection_Status(nc);
	if (cs == NATS_CONN_STATUS_CLOSED) {
		evt_nats_note(&p->cbs, EVT_LOG_WARN, "NATS %s: connection closed; "
		    "connecting again", p->o->servers);
		disconnect(p);
		nap(p, BACKOFF_MIN_MS);
		return 1;
	}
	if (cs != NATS_CONN_STATUS_CONNECTED) {
		pthread_mutex_lock(&p->mu);
		int inflight = p->tail != p->head;
		p->connected = 0;
		pthread_mutex_unlock(&p->mu);
		if (inflight)
			rewind_ring(p, NULL);
		nap(p, 200);
		return 1;
	}
	pthread_mutex_lock(&p->mu);
	p->connected = 1;
	pthread_mutex_unlock(&p->mu);
	if (advance(p)) {
		char what[600];
		snprintf(what, sizeof what, "a publish failed: %s", p->why);
		rewind_ring(p, what);
		nap(p, p->backoff_ms);
		return 1;
	}
	if (evt_mono_us() - p->saved_at >= SAVE_EVERY_US)
		save_position(p);
	if (room(p) == 0) {
		pthread_mutex_lock(&p->mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		p->waiting = 1;
		p->wake_acks = 0;
		if (p->ring[p->head % p->cap].state == SLOT_FLIGHT)
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		p->waiting = 0;
		pthread_mutex_unlock(&p->mu);
		return 1;
	}
	int rc = p->f != NULL ? 1 : next_frame(p);
	if (rc < 0) {
		evt_nats_note(&p->cbs, EVT_LOG_ERR, "publishing: reading the archive %s: %s; "
		    "trying again in %d s", p->dir, evt_strerror(rc),
		    BACKOFF_MAX_MS / 1000);
		close_reading(p);
		nap(p, BACKOFF_MAX_MS);
		return 1;
	}
	if (rc == 0) {
		pthread_mutex_lock(&p->mu);
		int empty = p->tail == p->head;
		p->caught_up = empty;
		pthread_mutex_unlock(&p->mu);
		if (stopping && empty)
			return 0;
		/* A quiet interval lets the follower take an unsealed
		 * segment a dead writer left as ended (follow.h). */
		int changed = nap_for(p, stopping ? 20 : IDLE_WAIT_MS, 1);
		if (p->fo != NULL)
			(void)evt_follow_wait(p->fo, changed || stopping ? 0 : 1,
			    NULL);
		return 1;
	}
	pthread_mutex_lock(&p->mu);
	p->caught_up = 0;
	pthread_mutex_unlock(&p->mu);
	/* A batch of frames while the ring has room, then the checks of a
	 * step again. */
	for (int k = 0; k < STEP_FRAMES; k++) {
		if (publish_frame(p) != 0) {
			char what[600];
			snprintf(what, sizeof what, "cannot publish: %s",
			    p->perr);
			rewind_ring(p, what);
			nap(p, p->backoff_ms);
			return 1;
		}
		if (p->f != NULL || next_frame(p) != 1)
			break; /* the ring is full, or nothing (an error is
				  met again by the next step) */
	}
	return 1;
}

static void *
run(void *arg)
{
	struct evt_natspub *p = arg;
	while (step(p))
		;
	(void)advance(p);
	save_position(p);
	pthread_mutex_lock(&p->mu);
	uint64_t left = p->tail - p->head;
	pthread_mutex_unlock(&p->mu);
	if (left > 0 || !p->caught_up)
		evt_nats_note(&p->cbs, EVT_LOG_WARN, "publishing stopped before NATS "
		    "acknowledged everything the archive holds; the next start "
		    "publishes the rest");
	if (p->n != NULL)
		disconnect(p);
	close_reading(p);
	return NULL;
}

/* ------------------------------------------------------------ interface */

void
evt_natspub_free(struct evt_natspub *p)
{
	if (p == NULL)
		return;
	if (!p->joined && p->th_started)
		(void)evt_natspub_stop(p, 0);
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->ring);
	free(p->dir);
	free(p->path);
	free(p->tmp);
	evt_buf_free(&p->subj);
	evt_buf_free(&p->part);
	free(p);
}

int
evt_natspub_start(const char *dir, const struct evt_nats_opts *o,
    const struct evt_nats_cbs *cbs, struct evt_natspub **out)
{
	struct evt_natspub *p = calloc(1, sizeof *p);
	if (p == NULL)
		return EVT_ERR_NOMEM;
	p->wake_fd = -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->o = o;
	if (cbs != NULL)
		p->cbs = *cbs;
	p->cap = o->window;
	p->ring = calloc(p->cap, sizeof *p->ring);
	p->dir = strdup(dir);
	p->path = evt_path_join(dir, EVT_NATSPUB_FILE);
	p->tmp = evt_path_join(dir, EVT_NATSPUB_FILE ".tmp");
	p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->ring == NULL || p->dir == NULL || p->path == NULL ||
	    p->tmp == NULL || p->wake_fd < 0) {
		int rc = p->wake_fd < 0 ? EVT_ERR_IO : EVT_ERR_NOMEM;
		evt_natspub_free(p);
		return rc;
	}
	p->start_wall = evt_wall_us();
	load_position(p);
	p->skip = p->pos.ref;
	p->have_skip = p->skip_seek = p->pos.have;
	p->saved_at = evt_mono_us();
	/* The lag in seconds counts from here until an ack says more. */
	p->acked_rx = p->pos.have && p->pos.rx > 0 ? p->pos.rx :
	    p->start_wall;
	if (pthread_create(&p->th, NULL, run, p) != 0) {
		evt_natspub_free(p);
		return EVT_ERR_IO;
	}
	p->th_started = 1;
	*out = p;
	return 0;
}

void
evt_natspub_recorded(struct evt_natspub *p, uint64_t events, int64_t last_rx)
{
	pthread_mutex_lock(&p->mu);
	p->rec_events = events;
	if (last_rx > p->rec_rx)
		p->rec_rx = last_rx;
	pthread_mutex_unlock(&p->mu);
}

void
evt_natspub_stats(struct evt_natspub *p, struct evt_natspub_stats *s)
{
	pthread_mutex_lock(&p->mu);
	s->published = p->published;
	s->acked = p->acked;
	s->pending = p->tail - p->head;
	s->rejected = p->rejected;
	s->too_big = p->too_big;
	s->connected = p->connected;
	uint64_t known = p->rec_events + p->read_pre;
	s->lag_events = known > p->acked_events ? known - p->acked_events : 0;
	int64_t newest = p->rec_rx > p->read_rx ? p->rec_rx : p->read_rx;
	s->lag_s = (p->caught_up && s->pending == 0) || newest <= p->acked_rx ?
	    0 : (double)(newest - p->acked_rx) / 1e6;
	if (p->caught_up && s->pending == 0)
		s->lag_events = 0;
	pthread_mutex_unlock(&p->mu);
}

int
evt_natspub_stop(struct evt_natspub *p, int64_t grace_us)
{
	if (p == NULL)
		return 0;
	if (p->joined)
		return p->caught_up ? 0 : 1;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	p->stop_deadline = evt_mono_us() + grace_us;
	wake(p);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->th, NULL);
	p->joined = 1;
	return p->caught_up ? 0 : 1;
}
