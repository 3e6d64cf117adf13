/*
 * ess_int.h: what the ESS protocol core (ess.c) and its subscription
 * filters (ess_filter.c) share: case-folding name matches on tokenized
 * JSON, the limits' defaults, and building a subscription from the tokens
 * of a command.  Internal to src/; sans-I/O like both files.
 */
#ifndef EVT_ESS_INT_H
#define EVT_ESS_INT_H

#include <stddef.h>

#include "evtape/buf.h"
#include "evtape/ess.h"
#include "evtape/json.h"

/* ASCII lower case, leaving other bytes alone (no locale). */
static inline unsigned char
ess_lc(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Returns 1 if s[0..n) equals the lower-case name, ASCII
 * case-insensitively. */
int ess_eq_fold(const char *s, size_t n, const char *name);

/* Returns 1 if key token k (a string of buf) names `name` (lower case),
 * case-insensitively, decoding escapes when present. */
int ess_key_is(const char *buf, const struct evt_jtok *k, const char *name);

/* Appends a NUL-free C string; returns 0 or EVT_ERR_NOMEM. */
int ess_puts(struct evt_buf *b, const char *s);

/* Fills lim with src (may be NULL) and the ess.h defaults where it has
 * zeros. */
void ess_limits_fill(struct evt_ess_limits *lim,
    const struct evt_ess_limits *src);

/*
 * Builds a new subscription (*out, transferred) from the "filters" value
 * at token index ai of t (tokens of buf, borrowed for the call); ai < 0
 * (missing) or a null token gives one that matches nothing.  Returns as
 * evt_ess_sub_parse, with *why set on EVT_ERR_ARG/EVT_ERR_TOOBIG.
 */
int ess_sub_from_tokens(const char *buf, const struct evt_jtok *t, long ai,
    const struct evt_ess_limits *lim, struct evt_ess_sub **out,
    const char **why);

/* Returns the index of the subscription with id[0..idlen) (borrowed) in
 * set (not NULL), or -1. */
long ess_subs_find(const struct evt_ess_subs *set, const char *id,
    size_t idlen);

#endif
