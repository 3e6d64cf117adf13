/*
 * cfgrest.h: answers Config REST requests (GET /api/rest/v1/...) from a
 * recorded CONFIG marker body (formats/records.md, "Marker bodies"), so a
 * replay server gives clients the names the recorded gateway gave: the
 * official samples read data.displayName of GET {source} (e.g.
 * cameras/<guid>), eventTypes/<id> (and data.state) and stateGroups/<id>
 * (docs/ess-protocol.md 8.1 item 12).
 *
 *   CONFIG body -> evt_cfgrest_new (parsed once)
 *   "cameras/<guid>" -> evt_cfgrest_answer -> {"data":{...}}, 200 | 404
 *
 * Answers, in the Milestone REST form: a collection ("eventTypes",
 * "stateGroups", or a source kind such as "cameras") is
 * {"array":[item,...]}, one item is {"data":item}; an item is
 * {"id","name","displayName"[,"state"][,"stateGroupId"],
 *  "relations":{"self":{"type":<collection>,"id":<id>}}} with the
 * recorded values (displayName = name where none was recorded).  Ids
 * compare in any letter case, collection names too.  Sans-I/O.
 */
#ifndef EVTAPE_CFGREST_H
#define EVTAPE_CFGREST_H

#include <stddef.h>

#include "evtape/buf.h"

struct evt_cfgrest;

/*
 * Parses a CONFIG body (body[0..len) copied).  Returns 0 and *out (free
 * with evt_cfgrest_free), or EVT_ERR_JSON (not a JSON object; lists that
 * are missing or not arrays are taken as empty), EVT_ERR_NOMEM.
 */
int evt_cfgrest_new(const char *body, size_t len, struct evt_cfgrest **out);

/* Frees it; NULL is fine. */
void evt_cfgrest_free(struct evt_cfgrest *c);

/*
 * Appends the answer to GET /api/rest/v1/<path> (path[0..len) borrowed:
 * what follows "v1/", no query) to out.  Returns 200 (body appended), 404
 * (unknown collection or id; out unchanged) or EVT_ERR_NOMEM (out
 * unchanged).
 */
int evt_cfgrest_answer(const struct evt_cfgrest *c, const char *path,
    size_t len, struct evt_buf *out);

/*
 * The configuration in force as of marker `at` (< n) of cs[0..n), the
 * parsed CONFIG markers of an archive in archive order, snapshots and
 * deltas alike: every item that any of them lists, each taken whole from
 * the latest marker at or before `at` that lists its id (any letter
 * case), else from the earliest after (formats/records.md, "Names from
 * CONFIG markers"); a list that no marker has stays absent.  Returns 0
 * and *out (free with evt_cfgrest_free) or EVT_ERR_NOMEM.
 */
int evt_cfgrest_merge(struct evt_cfgrest *const *cs, size_t n, size_t at,
    struct evt_cfgrest **out);

/* The JSON body c was parsed from (a merge's: the merged body), borrowed
 * until evt_cfgrest_free; *len set.  What `evtool cut` writes as the
 * names in force at its start. */
const char *evt_cfgrest_body(const struct evt_cfgrest *c, size_t *len);

#endif
