/*
 * ess_filter.h: subscriptions of the Events and State API and their
 * include/exclude filters (docs/ess-protocol.md §6), sans-I/O: parsing a
 * "filters" array, matching an event, the set of one session's
 * subscriptions, and evrec's command-line filter syntax that builds such
 * an array.  Included by ess.h; src/ess_filter.c.
 *
 *   addSubscription{"filters":[...]} -> evt_ess_sub_parse -> evt_ess_sub
 *     -> evt_ess_subs_add(session's set, id)
 *   event (source, type) -> evt_ess_subs_delivers: does any subscription
 *     of the set want it?
 *   evrec --include/--exclude specs -> evt_ess_filters_from_specs -> the
 *     array text it sends
 */
#ifndef EVTAPE_ESS_FILTER_H
#define EVTAPE_ESS_FILTER_H

#include <stddef.h>

#include "evtape/buf.h"

struct evt_ess_limits;		/* ess.h */

/*
 * One subscription: a list of include/exclude filters (§6).  It delivers an
 * event when at least one include filter matches and no exclude filter
 * matches.  A filter matches when the event's resource type is in
 * resourceTypes, its source id in sourceIds and its type in eventTypes; "*"
 * in a list matches anything; a missing, null or empty list matches nothing;
 * all comparisons are ASCII case-insensitive.
 */
struct evt_ess_sub;

/* A set of subscriptions keyed by subscription id (one session's). */
struct evt_ess_subs;

/*
 * Parses a "filters" JSON array text json[0..len) (borrowed for the call;
 * everything needed is copied) into a new subscription in *out (transferred
 * to the caller; free with evt_ess_sub_free).  lim may be NULL (defaults).
 * *why (may be NULL) receives a static errorText on failure.  Returns 0;
 * EVT_ERR_JSON/EVT_ERR_UTF8/EVT_ERR_DEPTH if the text is not JSON;
 * EVT_ERR_ARG if it is not an array of filter objects (unknown or missing
 * modifier, a list that is not an array of strings); EVT_ERR_TOOBIG if a
 * bound is exceeded; EVT_ERR_NOMEM.
 */
int evt_ess_sub_parse(const char *json, size_t len,
    const struct evt_ess_limits *lim, struct evt_ess_sub **out,
    const char **why);

/* Frees a subscription (NULL is fine). */
void evt_ess_sub_free(struct evt_ess_sub *s);

/*
 * Returns 1 if subscription s delivers an event with the given source and
 * type (both borrowed for the call, raw text without quotes), else 0.  The
 * source "cameras/<guid>" splits at its first '/' into resource type and
 * source id; a source without '/' is used whole as both.
 */
int evt_ess_sub_delivers(const struct evt_ess_sub *s, const char *source,
    size_t slen, const char *type, size_t tlen);

/* Returns a new, empty subscription set (owned by the caller), or NULL. */
struct evt_ess_subs *evt_ess_subs_new(void);

/* Frees a set and all its subscriptions (NULL is fine). */
void evt_ess_subs_free(struct evt_ess_subs *set);

/*
 * Adds subscription sub (ownership transferred to the set, also on failure,
 * when it is freed) under id[0..idlen) (copied).  Returns 0; EVT_ERR_EXISTS
 * if the id is taken; EVT_ERR_ARG if sub is NULL or idlen is 0 or >
 * EVT_ESS_ID_MAX;
 * EVT_ERR_NOMEM.
 */
int evt_ess_subs_add(struct evt_ess_subs *set, const char *id, size_t idlen,
    struct evt_ess_sub *sub);

/* Removes and frees the subscription with id[0..idlen) (borrowed); returns
 * 0 or EVT_ERR_NOTFOUND. */
int evt_ess_subs_remove(struct evt_ess_subs *set, const char *id,
    size_t idlen);

/* Returns the number of subscriptions in the set (0 for NULL). */
size_t evt_ess_subs_count(const struct evt_ess_subs *set);

/* Returns 1 if any subscription of set delivers the event (source and type
 * borrowed for the call), else 0; a NULL set delivers nothing. */
int evt_ess_subs_delivers(const struct evt_ess_subs *set, const char *source,
    size_t slen, const char *type, size_t tlen);

/*
 * Returns 1 if set delivers the event object text json[0..len) (borrowed),
 * 0 if not or if its source/type cannot be extracted.  Escaped strings are
 * decoded before matching.
 */
int evt_ess_subs_delivers_event(const struct evt_ess_subs *set,
    const char *json, size_t len);

/*
 * Builds one filter object from evrec's command-line syntax
 * "resourceTypes=cameras;sourceIds=*;eventTypes=<guid>,<guid>" (spec
 * borrowed for the call) and appends it to out.  Keys are case-insensitive,
 * a missing key means "*", values are comma-separated and trimmed of spaces,
 * empty ';' segments are ignored, so "" means everything.  sourceIds and
 * eventTypes entries must be "*" or GUIDs and are emitted in lower case.
 * Returns 0; EVT_ERR_ARG (unknown or repeated key, empty value or item,
 * non-GUID id, a non-empty spec without any key such as ";;;"; the empty
 * spec means everything); EVT_ERR_NOMEM.  On error out is unchanged.
 */
int evt_ess_filter_spec(int exclude, const char *spec, size_t len,
    struct evt_buf *out);

/*
 * Builds the "filters" array text from n NUL-terminated specs (borrowed for
 * the call; exclude[i] non-zero, exclude may be NULL, makes spec i an
 * exclude filter) and appends it to out.  n == 0 yields one include-everything filter.  Returns as
 * evt_ess_filter_spec; on error out is unchanged.
 */
int evt_ess_filters_from_specs(const char *const *specs, const int *exclude,
    size_t n, struct evt_buf *out);

#endif
