/*
 * select.c: the selection of a reading command (see select.h): receive
 * time range, sources and types compared as GUIDs are, in any letter case.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "evtape/err.h"
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
	if (s->sources == NULL || s->types == NULL) {
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
	s->sources = s->types = NULL;
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
