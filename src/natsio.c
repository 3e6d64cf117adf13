/*
 * natsio.c: the NATS layer every evtape program shares (natsio.h): the
 * options, the subjects and headers of formats/nats.md, a connection with
 * reconnect and the JetStream stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "evtape/cli.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/json.h"
#include "evtape/log.h"
#include "evtape/natsio.h"
#include "evtape/record.h"
#include "evtape/timefmt.h"

/* ------------------------------------------------------------ options */

void
evt_nats_opts_init(struct evt_nats_opts *o)
{
	memset(o, 0, sizeof *o);
	o->replicas = 1;
	o->dup_window_us = EVT_NATS_DEFAULT_DUP_US;
	o->window = EVT_NATS_DEFAULT_WINDOW;
}

void
evt_nats_opts_free(struct evt_nats_opts *o)
{
	char **s[] = { &o->servers, &o->user, &o->password_file, &o->creds,
		&o->cacert, &o->site, &o->prefix, &o->stream };
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
		free(*s[i]);
		*s[i] = NULL;
	}
	evt_cli_free_secret(o->password);
	o->password = NULL;
}

/* A flag's value: NULL (on the command line) or a config-file boolean. */
static int
flag_value(const char *v)
{
	return v == NULL || strcasecmp(v, "1") == 0 ||
	    strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
	    strcasecmp(v, "on") == 0;
}

/* Replaces string option *dst by a copy of v, or exits (out of memory). */
static void
set_str(char **dst, const char *v)
{
	free(*dst);
	if ((*dst = strdup(v)) == NULL)
		evt_cli_fatal("out of memory");
}

/* A count option within lo..hi, or exits 2. */
static uint64_t
count_in(const char *where, const char *v, uint64_t lo, uint64_t hi,
    const char *range)
{
	uint64_t n = evt_cli_count_arg(where, v);
	if (n < lo || n > hi)
		evt_cli_range_err(where, v, range);
	return n;
}

int
evt_nats_opt(struct evt_nats_opts *o, int id, const char *v,
    const char *where)
{
	static const char *const discard_words[] = { "old", "new", NULL };
	switch (id) {
	case EVT_NATS_OP_PUBLISH: set_str(&o->servers, v); break;
	case EVT_NATS_OP_USER: set_str(&o->user, v); break;
	case EVT_NATS_OP_PASSWORD_FILE: set_str(&o->password_file, v); break;
	case EVT_NATS_OP_CREDS: set_str(&o->creds, v); break;
	case EVT_NATS_OP_CACERT: set_str(&o->cacert, v); break;
	case EVT_NATS_OP_INSECURE: o->insecure = flag_value(v); break;
	case EVT_NATS_OP_SITE:
		if (v[0] == '\0')
			evt_cli_range_err(where, v, "not empty");
		set_str(&o->site, v);
		break;
	case EVT_NATS_OP_PREFIX:
		if (!evt_nats_prefix_ok(v))
			evt_cli_usage_err("%s: \"%s\" is not a subject prefix "
			    "(tokens of letters, digits, '_' or '-' joined "
			    "by dots, no wildcard)", where, v);
		set_str(&o->prefix, v);
		break;
	case EVT_NATS_OP_STREAM:
		/* A stream name is one token without '.', '*', '>'. */
		for (const char *p = v; *p; p++)
			if (*p == '.' || *p == '*' || *p == '>' ||
			    (unsigned char)*p <= ' ' || *p == 0x7f || *p == '/'
			    || *p == '\\')
				evt_cli_usage_err("%s: \"%s\" is not a stream "
				    "name (no dot, wildcard, slash or blank)",
				    where, v);
		if (v[0] == '\0' || strlen(v) > 200)
			evt_cli_range_err(where, v, "1..200 bytes");
		set_str(&o->stream, v);
		break;
	case EVT_NATS_OP_REPLICAS:
		o->replicas = (int)count_in(where, v, 1, 5, "1..5");
		break;
	case EVT_NATS_OP_MAX_MSGS:
		o->max_msgs = (int64_t)count_in(where, v, 0, INT64_MAX,
		    "0..2^63-1");
		break;
	case EVT_NATS_OP_MAX_BYTES: {
		uint64_t n = evt_cli_size_arg(where, v);
		if (n > INT64_MAX)
			evt_cli_range_err(where, v, "below 8E");
		o->max_bytes = (int64_t)n;
		break;
	}
	case EVT_NATS_OP_MAX_AGE:
		o->max_age_us = evt_cli_duration_arg(where, v);
		break;
	case EVT_NATS_OP_DISCARD:
		o->discard_new = evt_cli_choice_arg(where, v, discard_words);
		break;
	case EVT_NATS_OP_DUPLICATES:
		o->dup_window_us = evt_cli_duration_arg(where, v);
		if (o->dup_window_us < 1000000)
			evt_cli_range_err(where, v, "at least 1s");
		break;
	case EVT_NATS_OP_WINDOW:
		o->window = (uint32_t)count_in(where, v, 1,
		    EVT_NATS_MAX_WINDOW, "1..1000000");
		break;
	default:
		return 0;
	}
	return 1;
}

int
evt_nats_prefix_ok(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > 200 || p[0] == '.' || p[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '.' ? p[i + 1] == '.' : c <= ' ' || c == 0x7f ||
		    c == '*' || c == '>')
			return 0;
	}
	return 1;
}

/* Whether one server of the list is [nats://|tls://]HOST:PORT. */
static int
server_ok(const char *s, size_t len)
{
	static const char *const schemes[] = { "nats://", "tls://" };
	for (size_t i = 0; i < 2; i++) {
		size_t k = strlen(schemes[i]);
		if (len >= k && strncasecmp(s, schemes[i], k) == 0) {
			s += k;
			len -= k;
			break;
		}
	}
	const char *colon = NULL;
	for (size_t i = 0; i < len; i++)
		if (s[i] == ':')
			colon = s + i;
	if (colon == NULL || colon == s || colon + 1 == s + len)
		return 0;
	for (const char *p = colon + 1; p < s + len; p++)
		if (*p < '0' || *p > '9')
			return 0;
	for (const char *p = s; p < colon; p++)
		if ((unsigned char)*p <= ' ' || *p == '/' || *p == '@')
			return 0; /* credentials go in files, not URLs */
	return 1;
}

void
evt_nats_opts_finish(struct evt_nats_opts *o, const char *default_site)
{
	if (o->servers == NULL)
		return;
	const char *s = o->servers;
	for (;;) {
		const char *c = strchr(s, ',');
		size_t len = c != NULL ? (size_t)(c - s) : strlen(s);
		if (!server_ok(s, len))
			evt_cli_usage_err("--publish: \"%.*s\" is not a NATS "
			    "server (want nats://HOST:PORT or tls://HOST:PORT, "
			    "comma-separated)", (int)len, s);
		if (c == NULL)
			break;
		s = c + 1;
	}
	if (o->password_file != NULL && o->user == NULL)
		evt_cli_usage_err("--nats-password-file needs --nats-user");
	if (o->user != NULL && o->password_file == NULL)
		evt_cli_usage_err("--nats-user needs --nats-password-file");
	if (o->creds != NULL && o->user != NULL)
		evt_cli_usage_err("--nats-creds and --nats-user exclude each "
		    "other");
	if (o->cacert != NULL && o->insecure)
		evt_cli_usage_err("--nats-cacert and --nats-insecure exclude "
		    "each other");
	if (o->site == NULL)
		set_str(&o->site, default_site != NULL && default_site[0] ?
		    default_site : "local");
	if (o->stream == NULL)
		set_str(&o->stream, EVT_NATS_DEFAULT_STREAM);
	if (o->prefix == NULL) {
		struct evt_buf b = {0};
		if (evt_buf_put(&b, "xprotect.", 9) != 0 ||
		    evt_nats_token(&b, o->site, strlen(o->site)) != 0 ||
		    evt_buf_putc(&b, '\0') != 0)
			evt_cli_fatal("out of memory");
		o->prefix = (char *)b.p;
	}
	if (o->password_file != NULL && o->password == NULL)
		o->password = evt_cli_secret_arg(evt_cli_prog(),
		    "--nats-password-file", o->password_file);
}

/* ------------------------------------------- subjects and headers */

/* Whether byte c stays in a token. */
static int
token_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int
evt_nats_token(struct evt_buf *b, const char *s, size_t len)
{
	if (len == 0)
		return evt_buf_putc(b, '_');
	if (evt_buf_grow(b, len) != 0)
		return EVT_ERR_NOMEM;
	for (size_t i = 0; i < len; i++)
		b->p[b->len++] = token_byte((unsigned char)s[i]) ?
		    (uint8_t)s[i] : '_';
	return 0;
}

static const char *const kind_names[] = {
	"event", "session", "gap", "config", "states", "json", "raw",
};

const char *
evt_nats_kind_name(int k)
{
	return k >= 0 && k <= EVT_NATS_RAW ? kind_names[k] : "?";
}

int
evt_nats_kind_of(int rec_kind)
{
	switch (rec_kind) {
	case EVT_K_MSG: return EVT_NATS_EVENT;
	case EVT_K_SESSION: return EVT_NATS_SESSION;
	case EVT_K_GAP: return EVT_NATS_GAP;
	case EVT_K_CONFIG: return EVT_NATS_CONFIG;
	case EVT_K_STATES: return EVT_NATS_STATES;
	case EVT_K_JSON: return EVT_NATS_JSON;
	case EVT_K_RAW: return EVT_NATS_RAW;
	default: return -1;
	}
}

/*
 * Decodes JSON string bytes s[0..len) (escapes as in the text) into out
 * (cap bytes, NUL-terminated); returns the length or -1 (a bad escape, or
 * longer than cap - 1).
 */
static int
decode_str(const char *s, size_t len, int escaped, char *out, size_t cap)
{
	if (len >= cap)
		return -1;
	if (!escaped) {
		memcpy(out, s, len);
		out[len] = '\0';
		return (int)len;
	}
	int n = evt_json_unescape(s, len, out);
	if (n < 0)
		return -1;
	out[n] = '\0';
	return n;
}

/* The token of the decoded string s[0..len) into out (cap bytes). */
static void
token_into(const char *s, size_t len, int escaped, char *out, size_t cap,
    size_t upto)
{
	char tmp[256];
	int n = s == NULL ? 0 : decode_str(s, len, escaped, tmp, sizeof tmp);
	size_t k = 0;
	if (n < 0)
		n = 0; /* unreadable: as if absent */
	for (int i = 0; i < n && k + 1 < cap; i++) {
		if (upto && tmp[i] == '/')
			break;
		out[k++] = token_byte((unsigned char)tmp[i]) ? tmp[i] : '_';
	}
	if (k == 0)
		out[k++] = '_';
	out[k] = '\0';
}

void
evt_nats_event_read(const char *ev, size_t len, struct evt_nats_event *e)
{
	struct evt_ess_event_fields f;
	size_t i = 0;
	memset(e, 0, sizeof *e);
	while (i < len && (ev[i] == ' ' || ev[i] == '\t' || ev[i] == '\n' ||
	    ev[i] == '\r'))
		i++;
	e->is_object = i < len && ev[i] == '{' &&
	    evt_ess_event_fields(ev, len, &f) == 0;
	if (!e->is_object) {
		strcpy(e->rt, "_");
		strcpy(e->type, "_");
		return;
	}
	/* Each field's own escapes: the flag is for any of them. */
	token_into(f.source, f.source_len, f.escaped, e->rt, sizeof e->rt, 1);
	token_into(f.type, f.type_len, f.escaped, e->type, sizeof e->type, 0);
	if (f.id != NULL && f.id_len > 0) {
		int n = decode_str(f.id, f.id_len, f.escaped, e->id,
		    sizeof e->id);
		/* A header value holds no control byte (CR, LF, NUL). */
		for (int k = 0; k < n; k++)
			if ((unsigned char)e->id[k] < ' ' || e->id[k] == 0x7f)
				n = -1;
		if (n <= 0)
			e->id[0] = '\0';
	}
}

int
evt_nats_subject(struct evt_buf *b, const char *prefix, int k,
    const struct evt_nats_event *e)
{
	b->len = 0;
	int rc = evt_buf_put(b, prefix, strlen(prefix));
	if (rc == 0 && k == EVT_NATS_EVENT) {
		const char *rt = e != NULL && e->is_object ? e->rt : "_";
		const char *ty = e != NULL && e->is_object ? e->type : "_";
		rc = evt_buf_put(b, ".ev.", 4) | evt_buf_put(b, rt,
		    strlen(rt)) | evt_buf_putc(b, '.') | evt_buf_put(b, ty,
		    strlen(ty));
	} else if (rc == 0) {
		const char *w = evt_nats_kind_name(k);
		rc = evt_buf_put(b, ".mk.", 4) | evt_buf_put(b, w, strlen(w));
	}
	if (rc == 0)
		rc = evt_buf_putc(b, '\0');
	return rc != 0 ? EVT_ERR_NOMEM : 0;
}

/* "<uuid><sep><seq><sep><ordinal>" at p (NUL-terminated); returns its
 * end. */
static char *
put_ref(char *p, const struct evt_nats_ref *ref, char sep)
{
	evt_guid_format(ref->uuid, p);
	p += 36;
	*p++ = sep;
	p = evt_put_u64(p, ref->seg);
	*p++ = sep;
	p = evt_put_u64(p, ref->ord);
	*p = '\0';
	return p;
}

void
evt_nats_headers(struct evt_nats_hdrs *h, int k, int64_t rx_us,
    const struct evt_nats_ref *ref, const struct evt_nats_event *e)
{
	char *p;
	put_ref(h->frame, ref, '/');
	h->item[0] = '\0';
	if (k == EVT_NATS_EVENT && ref->item >= 0) {
		p = evt_put_i64(h->item, ref->item);
		*p++ = '/';
		*evt_put_u64(p, ref->nitems) = '\0';
	}
	*evt_put_i64(h->rx, rx_us) = '\0';
	if (e != NULL && e->id[0] != '\0') {
		memcpy(h->msg_id, e->id, strlen(e->id) + 1);
	} else {
		p = put_ref(h->msg_id, ref, ':');
		if (h->item[0] != '\0') {
			*p++ = ':';
			*evt_put_i64(p, ref->item) = '\0';
		}
	}
	h->kind = evt_nats_kind_name(k);
}

/* Reads a decimal uint64 from *s up to stop (or the end); advances. */
static int
read_u64(const char **s, int stop, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p != stop)
		return -1;
	*s = *p ? p + 1 : p;
	*out = v;
	return 0;
}

int
evt_nats_ref_parse(const char *frame, const char *item,
    struct evt_nats_ref *ref)
{
	memset(ref, 0, sizeof *ref);
	ref->item = -1;
	if (frame == NULL || strlen(frame) < 38 || frame[36] != '/' ||
	    !evt_guid_parse(frame, 36, ref->uuid, 0))
		return -1;
	const char *p = frame + 37;
	if (read_u64(&p, '/', &ref->seg) != 0 ||
	    read_u64(&p, '\0', &ref->ord) != 0)
		return -1;
	if (item == NULL || item[0] == '\0')
		return 0;
	uint64_t i;
	p = item;
	if (read_u64(&p, '/', &i) != 0 || read_u64(&p, '\0',
	    &ref->nitems) != 0 || i >= ref->nitems || i > INT64_MAX)
		return -1;
	ref->item = (int64_t)i;
	return 0;
}

int
evt_nats_ref_cmp(const struct evt_nats_ref *a, const struct evt_nats_ref *b)
{
	if (a->seg != b->seg)
		return a->seg < b->seg ? -1 : 1;
	if (a->ord != b->ord)
		return a->ord < b->ord ? -1 : 1;
	if (a->item != b->item)
		return a->item < b->item ? -1 : 1;
	return 0;
}

natsStatus
evt_nats_msg(natsMsg **out, const char *subj, const void *data, size_t len,
    const struct evt_nats_hdrs *h, const char *site)
{
	natsMsg *m = NULL;
	if (len > INT32_MAX)
		return NATS_INVALID_ARG;
	natsStatus s = natsMsg_Create(&m, subj, NULL, data, (int)len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Nats-Msg-Id", h->msg_id);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Evtape-Rx", h->rx);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Evtape-Frame", h->frame);
	if (s == NATS_OK && h->item[0] != '\0')
		s = natsMsgHeader_Set(m, "Evtape-Item", h->item);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Evtape-Site", site);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Evtape-Kind", h->kind);
	if (s != NATS_OK) {
		natsMsg_Destroy(m);
		m = NULL;
	}
	*out = m;
	return s;
}

/* One "Name: value\r\n" line. */
static int
put_header(struct evt_buf *b, const char *name, const char *v)
{
	return evt_buf_put(b, name, strlen(name)) | evt_buf_put(b, ": ", 2) |
	    evt_buf_put(b, v, strlen(v)) | evt_buf_put(b, "\r\n", 2);
}

int
evt_nats_header_block(struct evt_buf *b, const struct evt_nats_hdrs *h,
    const char *site)
{
	int rc = evt_buf_put(b, "NATS/1.0\r\n", 10) |
	    put_header(b, "Nats-Msg-Id", h->msg_id) |
	    put_header(b, "Evtape-Rx", h->rx) |
	    put_header(b, "Evtape-Frame", h->frame);
	if (h->item[0] != '\0')
		rc |= put_header(b, "Evtape-Item", h->item);
	rc |= put_header(b, "Evtape-Site", site) |
	    put_header(b, "Evtape-Kind", h->kind) | evt_buf_put(b, "\r\n", 2);
	return rc != 0 ? EVT_ERR_NOMEM : 0;
}

/* ------------------------------------------- parts of a large frame */

/* The end (exclusive) of token t's text (a string's off is after its
 * opening quote). */
static size_t
tok_end(const struct evt_jtok *t)
{
	return (size_t)t->off + t->len + (t->type == EVT_J_STRING);
}

/* The largest array member of the object at token 0, or 0. */
static uint32_t
largest_array(const struct evt_jparser *jp)
{
	const struct evt_jtok *t = jp->tok;
	uint32_t best = 0, i = 1;
	for (uint32_t m = 0; m < t[0].size; m++) {
		const struct evt_jtok *v = &t[i + 1];
		if (v->type == EVT_J_ARRAY && (best == 0 || v->len >
		    t[best].len))
			best = i + 1;
		i = v->next;
	}
	return best;
}

/* Cuts the array at token a of text into slices of at most max bytes
 * with P and S (sp->pre, sp->post set); fills sp->cut and sp->n. */
static int
split_cuts(struct evt_nats_split *sp, const struct evt_jparser *jp,
    uint32_t a, const char *text, size_t len, size_t max)
{
	const struct evt_jtok *t = jp->tok;
	size_t nel = t[a].size, base = sp->pre + (len - sp->post);
	size_t start = sp->pre, prev = 0;
	int have = 0;
	if ((sp->cut = malloc((nel + 1) * sizeof *sp->cut)) == NULL)
		return EVT_ERR_NOMEM;
	sp->cut[0] = sp->pre;
	sp->n = 0;
	uint32_t e = a + 1;
	for (size_t j = 0; j < nel; j++, e = t[e].next) {
		size_t end = sp->post;
		if (j + 1 < nel)
			for (end = tok_end(&t[e]); text[end] != ','; end++)
				;
		if (have && base + (end - start) > max) {
			/* Part n ends before element j, at its comma. */
			sp->cut[++sp->n] = prev;
			start = prev + 1;
		}
		if (base + (end - start) > max)
			return EVT_ERR_TOOBIG;	/* one element alone */
		have = 1;
		prev = end;
	}
	sp->cut[++sp->n] = sp->post;
	return 0;
}

int
evt_nats_split(struct evt_nats_split *sp, const char *text, size_t len,
    size_t max)
{
	struct evt_jparser jp;
	uint32_t a;
	int rc;
	memset(sp, 0, sizeof *sp);
	evt_json_init(&jp, 0);
	rc = evt_json_parse(&jp, text, len);
	if (rc < 0)
		rc = rc == EVT_ERR_NOMEM ? rc : EVT_ERR_JSON;
	else if (jp.tok[0].type != EVT_J_OBJECT ||
	    (a = largest_array(&jp)) == 0 || jp.tok[a].size == 0)
		rc = EVT_ERR_JSON;
	else {
		sp->pre = (size_t)jp.tok[a].off + 1;
		sp->post = (size_t)jp.tok[a].off + jp.tok[a].len - 1;
		rc = split_cuts(sp, &jp, a, text, len, max);
	}
	evt_json_free(&jp);
	if (rc != 0)
		evt_nats_split_free(sp);
	return rc < 0 ? rc : 0;
}

void
evt_nats_split_free(struct evt_nats_split *sp)
{
	free(sp->cut);
	sp->cut = NULL;
	sp->n = 0;
}

int
evt_nats_part(struct evt_buf *out, const struct evt_nats_split *sp,
    const char *text, size_t len, size_t k, size_t *off, size_t *slen)
{
	size_t s = sp->cut[k] + (k > 0), e = sp->cut[k + 1];
	out->len = 0;
	*off = sp->pre;
	*slen = e - s;
	if (evt_buf_put(out, text, sp->pre) != 0 ||
	    evt_buf_put(out, text + s, e - s) != 0 ||
	    evt_buf_put(out, text + sp->post, len - sp->post) != 0)
		return EVT_ERR_NOMEM;
	return 0;
}

natsStatus
evt_nats_part_msg(natsMsg **out, const char *subj, const void *data,
    size_t len, const struct evt_nats_hdrs *h, const char *site, size_t k,
    size_t n, size_t off, size_t slen)
{
	struct evt_nats_hdrs ph = *h;
	char part[48], slice[48];
	size_t l = strlen(ph.msg_id);
	snprintf(ph.msg_id + l, sizeof ph.msg_id - l, ":part%zu", k + 1);
	snprintf(part, sizeof part, "%zu/%zu", k + 1, n);
	snprintf(slice, sizeof slice, "%zu/%zu", off, slen);
	natsStatus s = evt_nats_msg(out, subj, data, len, &ph, site);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(*out, "Evtape-Part", part);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(*out, "Evtape-Part-Slice", slice);
	if (s != NATS_OK) {
		natsMsg_Destroy(*out);
		*out = NULL;
	}
	return s;
}

int
evt_nats_part_parse(const char *part, const char *slice, size_t len,
    size_t *k, size_t *n, size_t *off, size_t *slen)
{
	uint64_t v[4];
	const char *p = part, *q = slice;
	if (p == NULL || q == NULL || read_u64(&p, '/', &v[0]) != 0 ||
	    read_u64(&p, '\0', &v[1]) != 0 || read_u64(&q, '/', &v[2]) != 0 ||
	    read_u64(&q, '\0', &v[3]) != 0 || v[0] < 1 || v[0] > v[1] ||
	    v[1] < 2 || v[1] > SIZE_MAX || v[2] > len || v[3] > len - v[2])
		return -1;
	*k = (size_t)v[0] - 1;
	*n = (size_t)v[1];
	*off = (size_t)v[2];
	*slen = (size_t)v[3];
	return 0;
}

int
evt_nats_join(struct evt_buf *out, const void *data, size_t len, size_t k,
    size_t n, size_t off, size_t slen)
{
	const char *d = data;
	int rc = k == 0 ? evt_buf_put(out, d, off + slen) :
	    evt_buf_putc(out, ',') | evt_buf_put(out, d + off, slen);
	if (rc == 0 && k + 1 == n)
		rc = evt_buf_put(out, d + off + slen, len - off - slen);
	return rc != 0 ? EVT_ERR_NOMEM : 0;
}

/* ---------------------------------------------- connection, stream */

struct evt_nats {
	natsConnection *nc;
	jsCtx *js;
	struct evt_nats_cbs cbs;
	char *servers;		/* for messages */
	char *creds;		/* --nats-creds (read at each connect) */
	/* libnats calls back on a thread of its own, the closed callback
	 * last: evt_nats_close waits for it before freeing this. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int closing, closed;
};

/* A libnats error text without its "(file.c:123): " prefix. */
static const char *
bare_error(const char *t)
{
	const char *close;
	if (t != NULL && t[0] == '(' && (close = strstr(t, "): ")) != NULL &&
	    close - t < 40)
		return close + 3;
	return t;
}

void
evt_nats_errtext(natsStatus s, char *err, size_t errlen)
{
	const char *last = bare_error(nats_GetLastError(NULL));
	if (last != NULL && last[0] != '\0')
		snprintf(err, errlen, "%s", last);
	else
		snprintf(err, errlen, "%s", natsStatus_GetText(s));
}

void
evt_nats_note(const struct evt_nats_cbs *cbs, int level, const char *fmt,
    ...)
{
	char msg[1024];
	va_list ap;
	if (cbs == NULL || cbs->note == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cbs->note(cbs->arg, level, msg);
}

const char *
evt_nats_url(const struct evt_nats *n, char *buf, size_t len)
{
	if (n->nc != NULL && natsConnection_GetConnectedUrl(n->nc, buf,
	    len) == NATS_OK && buf[0] != '\0')
		return buf;
	snprintf(buf, len, "%s", n->servers);
	return buf;
}

static void
disconnected_cb(natsConnection *nc, void *closure)
{
	struct evt_nats *n = closure;
	pthread_mutex_lock(&n->lock);
	int closing = n->closing;
	pthread_mutex_unlock(&n->lock);
	if (!closing && !natsConnection_IsClosed(nc))
		evt_nats_note(&n->cbs, EVT_LOG_WARN, "NATS %s: disconnected; reconnecting",
		    n->servers);
}

static void
closed_cb(natsConnection *nc, void *closure)
{
	struct evt_nats *n = closure;
	(void)nc;
	pthread_mutex_lock(&n->lock);
	n->closed = 1;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

static void
reconnected_cb(natsConnection *nc, void *closure)
{
	struct evt_nats *n = closure;
	char url[256];
	if (natsConnection_GetConnectedUrl(nc, url, sizeof url) != NATS_OK)
		snprintf(url, sizeof url, "%s", n->servers);
	evt_nats_note(&n->cbs, EVT_LOG_INFO, "NATS: reconnected to %s", url);
}

static void
error_cb(natsConnection *nc, natsSubscription *sub, natsStatus err,
    void *closure)
{
	struct evt_nats *n = closure;
	const char *last = NULL;
	natsConnection_GetLastError(nc, &last);
	evt_nats_note(&n->cbs, EVT_LOG_WARN, "NATS %s: %s", n->servers, last != NULL &&
	    last[0] ? bare_error(last) : natsStatus_GetText(err));
}

/* Splits the server list into an array of URLs (bare HOST:PORT gets
 * nats://); scheme tls:// anywhere asks for TLS. */
static natsStatus
set_servers(natsOptions *no, const char *list, int *tls)
{
	char *copy = strdup(list);
	const char *urls[64];
	char *bare[64];
	int n = 0, nb = 0;
	natsStatus s = NATS_NO_MEMORY;
	if (copy == NULL)
		return s;
	*tls = 0;
	for (char *save = NULL, *t = strtok_r(copy, ",", &save);
	    t != NULL && n < 64; t = strtok_r(NULL, ",", &save)) {
		if (strncasecmp(t, "tls://", 6) == 0)
			*tls = 1;
		if (strstr(t, "://") == NULL) {
			char *u = malloc(strlen(t) + 8);
			if (u == NULL)
				goto out;
			sprintf(u, "nats://%s", t);
			bare[nb++] = u;
			t = u;
		}
		urls[n++] = t;
	}
	s = natsOptions_SetServers(no, urls, n);
out:
	for (int i = 0; i < nb; i++)
		free(bare[i]);
	free(copy);
	return s;
}

static natsStatus creds_jwt_cb(char **jwt, char **errtxt, void *closure);
static natsStatus creds_sig_cb(char **errtxt, unsigned char **sig,
    int *siglen, const char *nonce, void *closure);

/* Fills the libnats options of o. */
static natsStatus
make_options(natsOptions **out, const struct evt_nats_opts *o,
    const char *name, struct evt_nats *n)
{
	natsOptions *no = NULL;
	int tls = 0;
	natsStatus s = natsOptions_Create(&no);
	if (s == NATS_OK)
		s = set_servers(no, o->servers, &tls);
	if (s == NATS_OK)
		s = natsOptions_SetName(no, name);
	/* Connected once, it reconnects forever (jittered, 1 s apart); a
	 * silent server is noticed within 3 pings of 5 s. */
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(no, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(no, 1000);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectJitter(no, 200, 1000);
	if (s == NATS_OK)
		s = natsOptions_SetPingInterval(no, 5000);
	if (s == NATS_OK)
		s = natsOptions_SetMaxPingsOut(no, 3);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(no, 5000);
	/* Publishes made while disconnected fail at once rather than
	 * waiting in a buffer the archive makes needless. */
	if (s == NATS_OK)
		s = natsOptions_SetReconnectBufSize(no, 0);
	if (s == NATS_OK && (tls || o->cacert != NULL || o->insecure))
		s = natsOptions_SetSecure(no, true);
	if (s == NATS_OK && o->cacert != NULL)
		s = natsOptions_LoadCATrustedCertificates(no, o->cacert);
	if (s == NATS_OK && o->insecure)
		s = natsOptions_SkipServerVerification(no, true);
	if (s == NATS_OK && o->user != NULL)
		s = natsOptions_SetUserInfo(no, o->user, o->password);
	if (s == NATS_OK && o->creds != NULL)
		s = natsOptions_SetUserCredentialsCallbacks(no, creds_jwt_cb, n,
		    creds_sig_cb, n);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(no, disconnected_cb, n);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(no, reconnected_cb, n);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(no, closed_cb, n);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(no, error_cb, n);
	if (s != NATS_OK) {
		natsOptions_Destroy(no);
		no = NULL;
	}
	*out = no;
	return s;
}

/* Checks o->creds before connecting: 0, or -1 with err naming the option,
 * the file and the fault (libnats' words would name neither).  A file
 * others may read is said once per process. */
static int
creds_usable(const struct evt_nats_opts *o, const struct evt_nats_cbs *cbs,
    char *err, size_t errlen)
{
	static atomic_flag said = ATOMIC_FLAG_INIT;
	char why[200];
	int loose;
	if (evt_nats_creds_check(o->creds, why, sizeof why, &loose) != 0) {
		snprintf(err, errlen, "NATS %s: --nats-creds %s: %s",
		    o->servers, o->creds, why);
		return -1;
	}
	if (loose && !atomic_flag_test_and_set(&said))
		evt_nats_note(cbs, EVT_LOG_WARN, "--nats-creds %s: other users "
		    "may read it (its NKey seed is a secret): chmod o-rwx it",
		    o->creds);
	return 0;
}

int
evt_nats_connect(const struct evt_nats_opts *o, const char *name,
    const jsOptions *jso, const struct evt_nats_cbs *cbs,
    struct evt_nats **out, char *err, size_t errlen)
{
	struct evt_nats *n = calloc(1, sizeof *n);
	natsOptions *no = NULL;
	char why[400];
	natsStatus s;
	*out = NULL;
	if (n == NULL || (n->servers = strdup(o->servers)) == NULL ||
	    (o->creds != NULL && (n->creds = strdup(o->creds)) == NULL)) {
		if (n != NULL)
			free(n->servers);
		free(n);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	if (cbs != NULL)
		n->cbs = *cbs;
	if (o->creds != NULL && creds_usable(o, &n->cbs, err, errlen) != 0) {
		evt_nats_close(n);
		return -1;
	}
	s = make_options(&no, o, name, n);
	if (s != NATS_OK) {
		evt_nats_errtext(s, why, sizeof why);
		snprintf(err, errlen, "NATS %s: %s%s%s%s", o->servers, why,
		    o->cacert != NULL ? " (--nats-cacert " : "",
		    o->cacert != NULL ? o->cacert : "",
		    o->cacert != NULL ? ")" : "");
		evt_nats_close(n);
		return -1;
	}
	s = natsConnection_Connect(&n->nc, no);
	natsOptions_Destroy(no);
	if (s == NATS_OK) {
		jsOptions copy;	/* (libnats takes it non-const) */
		if (jso != NULL)
			copy = *jso;
		else
			jsOptions_Init(&copy);
		s = natsConnection_JetStream(&n->js, n->nc, &copy);
	}
	if (s != NATS_OK) {
		evt_nats_errtext(s, why, sizeof why);
		snprintf(err, errlen, "NATS %s: cannot connect: %s%s%s%s",
		    o->servers, why, o->creds != NULL ? " (as the user of "
		    "--nats-creds " : "", o->creds != NULL ? o->creds : "",
		    o->creds != NULL ? ")" : "");
		evt_nats_close(n);
		return -1;
	}
	*out = n;
	return 0;
}

void
evt_nats_close(struct evt_nats *n)
{
	if (n == NULL)
		return;
	if (n->js != NULL)
		jsCtx_Destroy(n->js);
	if (n->nc != NULL) {
		pthread_mutex_lock(&n->lock);
		n->closing = 1;
		pthread_mutex_unlock(&n->lock);
		natsConnection_Close(n->nc);
		/* A connection that connected once calls closed_cb last; at
		 * most 5 s (a stuck callback thread is not waited for). */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 5;
		pthread_mutex_lock(&n->lock);
		while (!n->closed && pthread_cond_timedwait(&n->cond,
		    &n->lock, &until) == 0)
			;
		int closed = n->closed;
		pthread_mutex_unlock(&n->lock);
		natsConnection_Destroy(n->nc);
		if (!closed)
			return; /* n leaks rather than being used after free */
	}
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	free(n->servers);
	free(n->creds);
	free(n);
}

natsConnection *
evt_nats_conn(const struct evt_nats *n)
{
	return n->nc;
}

jsCtx *
evt_nats_js(const struct evt_nats *n)
{
	return n->js;
}

/* "<prefix>.>" into buf. */
static void
all_subjects(char *buf, size_t len, const char *prefix)
{
	snprintf(buf, len, "%s.>", prefix);
}

int
evt_nats_ensure_stream(struct evt_nats *n, const struct evt_nats_opts *o,
    int *created, char *err, size_t errlen)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	char why[400], subj[256];
	*created = 0;
	natsStatus s = js_GetStreamInfo(&si, n->js, o->stream, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return 0;
	}
	if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
		evt_nats_errtext(s, why, sizeof why);
		snprintf(err, errlen, "NATS %s: stream %s: %s", n->servers,
		    o->stream, why);
		return -1;
	}
	jsStreamConfig cfg;
	const char *subjects[1] = { subj };
	all_subjects(subj, sizeof subj, o->prefix);
	jsStreamConfig_Init(&cfg);
	cfg.Name = o->stream;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Storage = js_FileStorage;
	cfg.Replicas = o->replicas;
	cfg.Duplicates = o->dup_window_us * 1000;
	if (o->max_msgs > 0)
		cfg.MaxMsgs = o->max_msgs;
	if (o->max_bytes > 0)
		cfg.MaxBytes = o->max_bytes;
	if (o->max_age_us > 0)
		cfg.MaxAge = o->max_age_us * 1000;
	cfg.Discard = o->discard_new ? js_DiscardNew : js_DiscardOld;
	jerr = 0;
	s = js_AddStream(&si, n->js, &cfg, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		*created = 1;
		return 0;
	}
	if (jerr == JSStreamNameExistErr)
		return 0; /* another program made it meanwhile */
	evt_nats_errtext(s, why, sizeof why);
	snprintf(err, errlen, "NATS %s: cannot create stream %s (subjects "
	    "%s): %s", n->servers, o->stream, subj, why);
	return -1;
}

/* The stream's last message under the prefix into *m: 1, 0 when there is
 * none, or -1 with err. */
static int
last_msg(struct evt_nats *n, const struct evt_nats_opts *o, natsMsg **m,
    char *err, size_t errlen)
{
	jsErrCode jerr = 0;
	char subj[256], why[400];
	all_subjects(subj, sizeof subj, o->prefix);
	*m = NULL;
	natsStatus s = js_GetLastMsg(m, n->js, o->stream, subj, NULL, &jerr);
	if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr)
		return 0;
	if (s != NATS_OK) {
		evt_nats_errtext(s, why, sizeof why);
		snprintf(err, errlen, "NATS %s: stream %s: last message of %s: "
		    "%s", n->servers, o->stream, subj, why);
		return -1;
	}
	return 1;
}

int
evt_nats_last_ref(struct evt_nats *n, const struct evt_nats_opts *o,
    struct evt_nats_ref *ref, char *id, size_t idlen, int64_t *rx_us,
    char *err, size_t errlen)
{
	natsMsg *m = NULL;
	const char *frame = NULL, *item = NULL;
	int rc = last_msg(n, o, &m, err, errlen);
	if (rc <= 0)
		return rc;
	rc = 0;
	const char *v = NULL;
	if (natsMsgHeader_Get(m, "Evtape-Frame", &frame) == NATS_OK) {
		if (natsMsgHeader_Get(m, "Evtape-Item", &item) != NATS_OK)
			item = NULL;
		rc = evt_nats_ref_parse(frame, item, ref) == 0;
	}
	snprintf(id, idlen, "%s", natsMsgHeader_Get(m, "Nats-Msg-Id", &v) ==
	    NATS_OK && v != NULL ? v : "");
	*rx_us = natsMsgHeader_Get(m, "Evtape-Rx", &v) == NATS_OK &&
	    v != NULL ? strtoll(v, NULL, 10) : 0;
	natsMsg_Destroy(m);
	return rc;
}

int
evt_nats_last_part(struct evt_nats *n, const struct evt_nats_opts *o,
    size_t *k, size_t *np, char *err, size_t errlen)
{
	natsMsg *m = NULL;
	size_t off, slen;
	int rc = last_msg(n, o, &m, err, errlen);
	if (rc <= 0)
		return rc;
	const char *part = NULL, *slice = NULL;
	natsMsgHeader_Get(m, "Evtape-Part", &part);
	natsMsgHeader_Get(m, "Evtape-Part-Slice", &slice);
	rc = evt_nats_part_parse(part, slice, (size_t)natsMsg_GetDataLength(m),
	    k, np, &off, &slen) == 0;
	natsMsg_Destroy(m);
	return rc;
}

void
evt_nats_init(void)
{
	/* (The process's memory goes back to the system at exit anyway.) */
	(void)OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
}

void
evt_nats_shutdown(void)
{
	/* Waits for libnats' threads (a callback may still run after a
	 * connection is destroyed), at most 5 s. */
	(void)nats_CloseAndWait(5000);
}

/* One line of a credentials file: its start and length (CR, LF end it). */
struct creds_line {
	const char *p;
	size_t n;
};

/* The next non-empty line at or after *at (advanced past it); 0 at the
 * end. */
static int
creds_line(const char **at, struct creds_line *l)
{
	const char *s = *at;
	while (*s == '\r' || *s == '\n')
		s++;
	l->p = s;
	while (*s != '\0' && *s != '\r' && *s != '\n')
		s++;
	l->n = (size_t)(s - l->p);
	*at = s;
	return l->n > 0;
}

/* Whether a line is a block's fence ("-----BEGIN ...-----"): it ends with
 * "---" and holds "---" before that, as libnats reads it. */
static int
creds_fence(const struct creds_line *l)
{
	return l->n >= 6 && memcmp(l->p + l->n - 3, "---", 3) == 0 &&
	    memmem(l->p, l->n - 3, "---", 3) != NULL;
}

/* The values of the first two fenced blocks of text (the JWT, the seed),
 * as libnats takes them: a fence, one line, a fence.  Returns how many. */
static int
creds_blocks(const char *text, struct creds_line v[2])
{
	struct creds_line l, val;
	const char *at = text;
	int k = 0;
	while (k < 2 && creds_line(&at, &l))
		if (creds_fence(&l) && creds_line(&at, &val) &&
		    !creds_fence(&val) && creds_line(&at, &l) &&
		    creds_fence(&l))
			v[k++] = val;
	return k;
}

/* Whether l is base64url text (a JWT part). */
static int
b64url_part(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' &&
		    p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') ||
		    p[i] == '-' || p[i] == '_'))
			return 0;
	return n > 0;
}

/* The "exp" claim (Unix seconds) of a JWT's claims part p[0..n)
 * (base64url): 1 and *exp, or 0 (none, or unreadable). */
static int
jwt_expiry(const char *p, size_t n, int64_t *exp)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	struct evt_jparser jp;
	char *json = malloc(n);
	size_t len = 0;
	uint32_t acc = 0;
	int bits = 0, found = 0;
	if (json == NULL)
		return 0;
	for (size_t i = 0; i < n; i++) {
		acc = acc << 6 | (uint32_t)(strchr(b64, p[i]) - b64);
		if ((bits += 6) >= 8) {
			bits -= 8;
			json[len++] = (char)(acc >> bits & 0xff);
		}
	}
	evt_json_init(&jp, 0);
	if (evt_json_parse(&jp, json, len) > 0 && jp.tok[0].type ==
	    EVT_J_OBJECT) {
		/* Top-level members: a key, then its value's subtree. */
		for (uint32_t k = 1; k < jp.ntok; k = jp.tok[k + 1].next) {
			const struct evt_jtok *key = &jp.tok[k];
			const struct evt_jtok *v = &jp.tok[k + 1];
			uint64_t mag;
			int neg;
			if (key->len == 3 && memcmp(json + key->off, "exp", 3) ==
			    0 && v->type == EVT_J_NUMBER && evt_json_int(json +
			    v->off, v->len, &neg, &mag) == 1 && !neg &&
			    mag < INT64_MAX / 1000000) {
				*exp = (int64_t)mag;
				found = 1;
			}
		}
	}
	evt_json_free(&jp);
	free(json);
	return found;
}

/* What is wrong with the JWT and seed of a credentials file, or NULL; buf
 * (len bytes) holds what needs formatting. */
static const char *
creds_fault(const char *text, char *buf, size_t len)
{
	struct creds_line v[2];
	int k = creds_blocks(text, v);
	if (k == 0)
		return "no user JWT in it (a -----BEGIN NATS USER JWT----- "
		    "block): not a NATS credentials file";
	const char *d1 = memchr(v[0].p, '.', v[0].n);
	const char *d2 = d1 != NULL ? memchr(d1 + 1, '.', (size_t)(v[0].p +
	    v[0].n - d1 - 1)) : NULL;
	if (d2 == NULL || !b64url_part(v[0].p, (size_t)(d1 - v[0].p)) ||
	    !b64url_part(d1 + 1, (size_t)(d2 - d1 - 1)) ||
	    !b64url_part(d2 + 1, (size_t)(v[0].p + v[0].n - d2 - 1)))
		return "its user JWT block does not hold a JWT";
	int64_t exp;
	if (jwt_expiry(d1 + 1, (size_t)(d2 - d1 - 1), &exp) &&
	    exp <= (int64_t)time(NULL)) {
		char at[28];
		evt_time_format_us(exp * 1000000, at);
		snprintf(buf, len, "its user JWT expired at %.19sZ (the server "
		    "refuses it: a new credentials file is needed)", at);
		return buf;
	}
	if (k == 1)
		return "no NKey seed in it (a -----BEGIN USER NKEY SEED----- "
		    "block after the JWT)";
	if (v[1].n != 58 || memcmp(v[1].p, "SU", 2) != 0)
		return "its seed block does not hold a user NKey seed (58 "
		    "characters, SU...)";
	/* The seed's checksum, by signing with it (what the connection
	 * will do). */
	char seed[59];
	unsigned char *sig = NULL;
	int siglen = 0;
	memcpy(seed, v[1].p, 58);
	seed[58] = '\0';
	natsStatus s = nats_Open(-1); /* (nats_Sign needs the library) */
	if (s == NATS_OK)
		s = nats_Sign(seed, "evtape", &sig, &siglen);
	OPENSSL_cleanse(seed, sizeof seed);
	free(sig);
	return s == NATS_OK ? NULL : "its NKey seed is damaged (its checksum "
	    "or encoding is wrong)";
}

enum { CREDS_MAX = 64 * 1024 };

/* Wipes and frees a text creds_load returned. */
static void
creds_free(char *text)
{
	if (text != NULL) {
		OPENSSL_cleanse(text, CREDS_MAX + 1);
		free(text);
	}
}

/* Reads and checks the credentials file path: 0 and *text (NUL-ended;
 * creds_free), or -1 with err.  *loose as evt_nats_creds_check says. */
static int
creds_load(const char *path, char **text, int *loose, char *err,
    size_t errlen)
{
	struct stat st;
	char *t = NULL;
	ssize_t n = 0;
	size_t len = 0;
	const char *fault = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	*text = NULL;
	*loose = 0;
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot read it: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*loose = (st.st_mode & S_IRWXO) != 0;
	if (!S_ISREG(st.st_mode))
		fault = "not a regular file";
	else if ((t = malloc(CREDS_MAX + 1)) == NULL)
		fault = "out of memory";
	while (fault == NULL && len < CREDS_MAX &&
	    (n = read(fd, t + len, CREDS_MAX - len)) != 0) {
		if (n < 0 && errno != EINTR) {
			snprintf(err, errlen, "cannot read it: %s",
			    strerror(errno));
			close(fd);
			creds_free(t);
			return -1;
		}
		len += n > 0 ? (size_t)n : 0;
	}
	close(fd);
	if (fault == NULL) {
		t[len] = '\0';
		fault = len == CREDS_MAX ? "larger than 64 KiB" :
		    strlen(t) != len ? "binary (a NUL byte)" : creds_fault(t,
		    err, errlen);
	}
	if (fault == NULL) {
		*text = t;
		return 0;
	}
	creds_free(t);
	if (fault != err)
		snprintf(err, errlen, "%s", fault);
	return -1;
}

int
evt_nats_creds_check(const char *path, char *err, size_t errlen,
    int *loose)
{
	char *text;
	int rc = creds_load(path, &text, loose, err, errlen);
	creds_free(text);
	return rc;
}

/*
 * libnats' credential callbacks (closure: the struct evt_nats): the file is
 * read and checked at every connect and reconnect, so that a reconnect a
 * damaged or vanished file fails is said (libnats' own file reading fails
 * it silently) and a replaced file is taken.  Item 0: the JWT, 1: the seed
 * (into out, cap bytes).
 */
static natsStatus
creds_item(struct evt_nats *n, int item, char *out, size_t cap,
    char **errtxt)
{
	struct creds_line v[2];
	char why[200], msg[600];
	char *text;
	int loose;
	if (creds_load(n->creds, &text, &loose, why, sizeof why) == 0) {
		creds_blocks(text, v);
		int fits = v[item].n < cap;
		if (fits) {
			memcpy(out, v[item].p, v[item].n);
			out[v[item].n] = '\0';
		}
		creds_free(text);
		if (fits)
			return NATS_OK;
		snprintf(why, sizeof why, "its JWT is too long");
	}
	snprintf(msg, sizeof msg, "--nats-creds %s: %s", n->creds, why);
	/* (A first connection's failure is the caller's to say.) */
	if (n->nc != NULL && item == 0)
		evt_nats_note(&n->cbs, EVT_LOG_ERR, "NATS %s: reconnecting: %s",
		    n->servers, msg);
	*errtxt = strdup(msg);
	return NATS_ERR;
}

static natsStatus
creds_jwt_cb(char **jwt, char **errtxt, void *closure)
{
	char *buf = malloc(CREDS_MAX + 1);
	natsStatus s = buf == NULL ? NATS_NO_MEMORY : creds_item(closure, 0,
	    buf, CREDS_MAX + 1, errtxt);
	if (s != NATS_OK) {
		free(buf);
		buf = NULL;
	}
	*jwt = buf;
	return s;
}

static natsStatus
creds_sig_cb(char **errtxt, unsigned char **sig, int *siglen,
    const char *nonce, void *closure)
{
	char seed[64];
	natsStatus s = creds_item(closure, 1, seed, sizeof seed, errtxt);
	if (s == NATS_OK)
		s = nats_Sign(seed, nonce, sig, siglen);
	OPENSSL_cleanse(seed, sizeof seed);
	return s;
}
