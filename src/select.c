/*
 * select.c: the selection of a reading command (see select.h): receive
 * time range, sources and types compared as GUIDs are, in any letter case.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/json.h"
#include "evtape/names.h"
#include "evtape/select.h"

/* Prepares an empty selection; see select.h. */
int
evt_sel_init(struct evt_sel *s, size_t max)
{
	memset(s, 0, sizeof *s);
	s->from = INT64_MIN;
	s->to = INT64_MAX;
	s->sources = calloc(max + 1, sizeof *s->sources);
	s->types = calloc(max + 1, sizeof *s->types);
	s->sites = calloc(max + 1, sizeof *s->sites);
	s->cap = max;
	if (s->sources == NULL || s->types == NULL || s->sites == NULL) {
		evt_sel_free(s);
		return EVT_ERR_NOMEM;
	}
	return 0;
}

/* Frees the lists of a selection. */
void
evt_sel_free(struct evt_sel *s)
{
	free(s->sources);
	free(s->types);
	free(s->sites);
	s->sources = s->types = s->sites = NULL;
}

/* Whether a site is selected; see select.h. */
int
evt_sel_site(const struct evt_sel *s, const char *site)
{
	for (size_t i = 0; i < s->nsites; i++)
		if (fnmatch(s->sites[i], site, FNM_CASEFOLD) == 0)
			return 1;
	return s->nsites == 0;
}

/* The site a SESSION marker body names; see select.h. */
int
evt_session_site(const char *body, size_t len, struct evt_buf *out)
{
	struct evt_jparser jp;
	const struct evt_jtok *t;
	long v;
	int rc = 0, gw = 0;

	out->len = 0;
	evt_json_init(&jp, 16);
	if (evt_json_parse(&jp, body, len) < 0 ||
	    jp.tok[0].type != EVT_J_OBJECT)
		goto done;
	t = jp.tok;
	if ((v = evt_ess_member(body, t, 0, "site")) < 0 ||
	    t[v].type != EVT_J_STRING) {
		if ((v = evt_ess_member(body, t, 0, "gateway")) < 0 ||
		    t[v].type != EVT_J_STRING)
			goto done;
		gw = 1;
	}
	if (evt_buf_grow(out, t[v].len + 1) != 0) {
		rc = EVT_ERR_NOMEM;
		goto done;
	}
	int n = t[v].len == 0 ? 0 : evt_json_unescape(body + t[v].off,
	    t[v].len, (char *)out->p);
	out->len = n > 0 ? (size_t)n : 0;
	if (gw) {
		/* The host of http[s]://[user@]host[:port][/...]. */
		char *p = (char *)out->p, *e = p + out->len, *h = p, *q;
		if ((q = memmem(p, out->len, "://", 3)) != NULL)
			h = q + 3;
		for (q = h; q < e && *q != '/'; q++)
			if (*q == '@')
				h = q + 1;
		e = q;
		if (h < e && *h == '[') {	/* [v6]:port */
			for (q = h; q < e && *q != ']'; q++)
				;
			h++;
			e = q;
		} else
			for (q = h; q < e; q++)
				if (*q == ':') {
					e = q;
					break;
				}
		memmove(p, h, (size_t)(e - h));
		out->len = (size_t)(e - h);
	}
done:
	if (rc == 0) {
		if (evt_buf_grow(out, 1) != 0)
			rc = EVT_ERR_NOMEM;
		else
			out->p[out->len] = '\0';
	}
	evt_json_free(&jp);
	return rc;
}

/* Whether a SESSION marker is a site marker; see select.h. */
int
evt_session_is_site(const char *body, size_t len)
{
	static const char mk[] = "{\"event\":\"nats\",";
	return len > sizeof mk - 1 && memcmp(body, mk, sizeof mk - 1) == 0;
}

/* Starts a site tracker; see select.h. */
void
evt_siter_init(struct evt_siter *t, const struct evt_sel *sel)
{
	memset(t, 0, sizeof *t);
	t->sel = sel;
	t->on = sel == NULL || evt_sel_site(sel, "");
}

/* Takes the site of a SESSION marker; see select.h. */
int
evt_siter_marker(struct evt_siter *t, const char *body, size_t len)
{
	if (evt_session_site(body, len, &t->site) != 0)
		return EVT_ERR_NOMEM;
	const char *site = (const char *)t->site.p;
	t->on = t->sel == NULL || evt_sel_site(t->sel, site);
	for (size_t i = 0; i < t->nmet; i++)
		if (strcmp(t->met[i], site) == 0)
			return 0;
	if (t->nmet == EVT_SITER_MAX) {
		t->more++; /* (may count one twice: "more" only says so) */
		return 0;
	}
	if ((t->met[t->nmet] = strdup(site)) == NULL)
		return EVT_ERR_NOMEM;
	t->hit[t->nmet++] = (unsigned char)t->on;
	return 0;
}

/* The sites met; see select.h. */
size_t
evt_siter_count(const struct evt_siter *t, int selected)
{
	size_t n = 0;
	for (size_t i = 0; i < t->nmet; i++)
		n += !selected || t->hit[i];
	return n;
}

/* Lists the sites met; see select.h. */
int
evt_siter_list(const struct evt_siter *t, int selected, struct evt_buf *out)
{
	int rc = 0, n = 0;
	for (size_t i = 0; i < t->nmet; i++) {
		if (selected && !t->hit[i])
			continue;
		if (n++ > 0)
			rc |= evt_buf_put(out, ", ", 2);
		rc |= evt_json_put_string(out, t->met[i], strlen(t->met[i]));
	}
	if (t->more > 0)
		rc |= evt_buf_put(out, n > 0 ? ", ..." : "...", n > 0 ? 5 : 3);
	return rc != 0 ? EVT_ERR_NOMEM : 0;
}

/* Frees a site tracker; see select.h. */
void
evt_siter_free(struct evt_siter *t)
{
	for (size_t i = 0; i < t->nmet; i++)
		free(t->met[i]);
	t->nmet = 0;
	evt_buf_free(&t->site);
}

/* Whether rx is in the time range; see select.h. */
int
evt_sel_time(const struct evt_sel *s, int64_t rx)
{
	return rx >= s->from && (rx < s->to || s->to == INT64_MAX);
}

/* Case-insensitive membership of str in list[0..n). */
static int
match_any(const char **list, size_t n, const char *str)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(list[i], str) == 0)
			return 1;
	return 0;
}

/* Whether a source value is selected; see select.h. */
int
evt_sel_source(const struct evt_sel *s, const char *src)
{
	if (s->nsources == 0)
		return 1;
	if (match_any(s->sources, s->nsources, src))
		return 1;
	const char *slash = strrchr(src, '/');
	return slash != NULL && match_any(s->sources, s->nsources, slash + 1);
}

/* Whether event r passes the lists; see select.h. */
int
evt_sel_event(const struct evt_sel *s, struct evt_rdec *d,
    const struct evt_rec *r)
{
	char v[EVT_REC_MAX_INTERN + 1];
	if (s->nsources > 0) {
		if (evt_rdec_field(d, r, "source", v, sizeof v) < 0 ||
		    !evt_sel_source(s, v))
			return 0;
	}
	if (s->ntypes > 0) {
		if (evt_rdec_field(d, r, "type", v, sizeof v) < 0 ||
		    !match_any(s->types, s->ntypes, v))
			return 0;
	}
	return 1;
}

/* Whether an event text passes the lists; see select.h. */
int
evt_sel_event_text(const struct evt_sel *s, const char *ev, size_t len)
{
	struct evt_ess_event_fields f;
	char v[EVT_REC_MAX_INTERN + 1];
	if (s->nsources == 0 && s->ntypes == 0)
		return 1;
	if (evt_ess_event_fields(ev, len, &f) < 0)
		return 0;
	if (s->nsources > 0 && (f.source == NULL ||
	    !evt_sel_source(s, evt_names_decode(f.source, f.source_len,
	    f.escaped, v, sizeof v - 1))))
		return 0;
	return s->ntypes == 0 || (f.type != NULL && match_any(s->types,
	    s->ntypes, evt_names_decode(f.type, f.type_len, f.escaped, v,
	    sizeof v - 1)));
}

/* Whether a --source/--type entry is an id rather than a name: a '/', a
 * GUID's form (8-4-4-4-12 hex digits), or an id the names list. */
static int
is_id(struct evt_names *n, enum evt_names_list list, const char *e)
{
	struct evt_names_item it;
	size_t len = strlen(e);
	if (len == 0 || strchr(e, '/') != NULL || evt_names_get(n, list, e,
	    len, 0, &it))
		return 1;
	if (len != 36)
		return 0;
	for (size_t i = 0; i < len; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? e[i] != '-' : strchr("0123456789abcdefABCDEF",
		    e[i]) == NULL || e[i] == '\0')
			return 0;
	}
	return 1;
}

/* What a resolution collects: the ids a name matched. */
struct matched {
	const char **ids;
	size_t n, cap;
};

/* evt_names_match callback: keeps an id. */
static int
match_cb(void *arg, const char *id)
{
	struct matched *m = arg;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 16;
		const char **ids = realloc(m->ids, cap * sizeof *ids);
		if (ids == NULL)
			return EVT_ERR_NOMEM;
		m->ids = ids;
		m->cap = cap;
	}
	m->ids[m->n++] = id;
	return 0;
}

/* The candidates of an error message, appended to a buffer. */
struct cands {
	struct evt_buf *why;
	int shown, more;
};

/* evt_names_each callback: appends "\n  NAME (ID)", the first 20. */
static int
cand_cb(void *arg, const char *id, const char *name)
{
	struct cands *c = arg;
	char line[600];
	if (c->shown >= 20) {
		c->more++;
		return 0;
	}
	c->shown++;
	int k = snprintf(line, sizeof line, "\n  %s (%s)", name, id);
	return evt_buf_put(c->why, line, (size_t)k < sizeof line ? (size_t)k :
	    sizeof line - 1);
}

/* Says why entry e of option opt did not resolve, listing the
 * candidates: those matched (ambiguous) or every name of the list. */
static int
resolve_err(struct evt_names *n, enum evt_names_list list, const char *opt,
    const char *e, const struct matched *m, struct evt_buf *why)
{
	char head[400];
	if (m->n > 0)
		snprintf(head, sizeof head, "%s: \"%.256s\" is ambiguous: it "
		    "names %zu %s; give one of their ids:", opt, e, m->n,
		    list == EVT_NAMES_SOURCE ? "sources" : "event types");
	else
		snprintf(head, sizeof head, "%s: \"%.256s\" is not the name "
		    "of any %s the archive's CONFIG markers list; they list:",
		    opt, e, list == EVT_NAMES_SOURCE ? "source" : "event type");
	if (evt_buf_put(why, head, strlen(head)) != 0)
		return EVT_ERR_NOMEM;
	struct cands c = {why, 0, 0};
	int rc = 0;
	struct evt_names_item it;
	for (size_t i = 0; i < m->n && rc == 0; i++)
		rc = evt_names_get(n, list, m->ids[i], strlen(m->ids[i]),
		    INT64_MAX, &it) ? cand_cb(&c, m->ids[i], it.name) : 0;
	if (m->n == 0 && rc == 0)
		rc = evt_names_each(n, list, cand_cb, &c) < 0 ? EVT_ERR_NOMEM : 0;
	if (rc == 0 && c.more > 0) {
		snprintf(head, sizeof head, "\n  ... and %d more", c.more);
		rc = evt_buf_put(why, head, strlen(head));
	}
	if (rc != 0)
		return EVT_ERR_NOMEM;
	return m->n > 0 ? EVT_ERR_ARG : EVT_ERR_NOTFOUND;
}

/* Resolves the names of one list (*list[0..*cnt)) into ids. */
static int
resolve_list(const char ***list, size_t *cnt, size_t *cap,
    struct evt_names *n, enum evt_names_list which, const char *opt,
    struct evt_buf *why)
{
	size_t k = *cnt;
	for (size_t i = 0; i < k; i++) {
		const char *e = (*list)[i];
		if (e == NULL || is_id(n, which, e))
			continue;
		struct matched m = {0};
		int rc = evt_names_match(n, which, e, match_cb, &m);
		if (rc == 0 && !evt_names_any(n))
			continue;	/* no names at all: taken as an id */
		if (rc >= 0 && (m.n == 0 || (m.n > 1 && strpbrk(e, "*?[") ==
		    NULL)))
			rc = resolve_err(n, which, opt, e, &m, why);
		if (rc < 0) {
			free(m.ids);
			return rc;
		}
		/* The first id takes the name's place, the rest go last. */
		(*list)[i] = m.ids[0];
		if (*cnt + m.n > *cap) {
			const char **l = realloc(*list, (*cnt + m.n + 1) *
			    sizeof *l);
			if (l == NULL) {
				free(m.ids);
				return EVT_ERR_NOMEM;
			}
			*list = l;
			*cap = *cnt + m.n;
		}
		for (size_t j = 1; j < m.n; j++)
			(*list)[(*cnt)++] = m.ids[j];
		free(m.ids);
	}
	return 0;
}

/* Turns names into ids; see select.h. */
int
evt_sel_resolve(struct evt_sel *s, struct evt_names *n, struct evt_buf *why)
{
	size_t cap = s->cap;
	int rc = resolve_list(&s->sources, &s->nsources, &cap, n,
	    EVT_NAMES_SOURCE, "--source", why);
	size_t tcap = s->cap;
	if (rc == 0)
		rc = resolve_list(&s->types, &s->ntypes, &tcap, n,
		    EVT_NAMES_TYPE, "--type", why);
	return rc;
}
