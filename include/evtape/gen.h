/*
 * gen.h: a deterministic generator of realistic gateway traffic.
 *
 * Models what docs/ess-protocol.md section 8 reports from a live 2,659-camera
 * site: about 200 events/s in messages of 1..8 events (mean ~2.3-3.3), motion
 * started/stopped (~78 %), recording started/stopped (~20 %), "Recording FPS
 * Warning" (~2 %, stateless), a few events with a nested "data" payload;
 * random lower-case GUID ids, sources "cameras/<guid>" with skewed activity,
 * times with 7 fractional digits and 'Z' a few milliseconds before the
 * receive time.  The same seed and options give byte-identical output.
 * Optionally sources of other resource types and late sources (opts).
 *
 * Sans-I/O: no clock is read; receive times advance from opts.start_us.
 */
#ifndef EVTAPE_GEN_H
#define EVTAPE_GEN_H

#include <stddef.h>
#include <stdint.h>

struct evt_gen_opts {
	uint64_t seed;	      /* PRNG seed */
	uint32_t ncameras;    /* 0 means 2659 */
	double rate;	      /* mean events per second; 0 means 200 */
	int64_t start_us;     /* receive time of the first message, us since
				 epoch; 0 means 2026-01-05T08:00:00Z */
	double data_fraction; /* share of events with a "data" payload;
				 negative means 0, 0 means the default 0.005 */
	/*
	 * Sources of several resource types and sources that appear during
	 * the stream (for tests of name lookups).  Zero / NULL: every source
	 * is one of the cameras and the stream is what it always was.
	 */
	const char *const *kinds; /* resource types of the sources: source i
				     is kinds[i % nkinds] (copied; each 1..31
				     ASCII letters) */
	size_t nkinds;		  /* at most EVT_GEN_MAX_KINDS */
	uint32_t nlate;		  /* late sources: source ncameras + k first
				     appears, with one stateless event, after
				     (k + 1) * late_every events */
	uint32_t late_every;	  /* 0 means 500 */
};

#define EVT_GEN_MAX_KINDS 16

struct evt_gen;

/* Creates a generator; returns NULL on out of memory. */
struct evt_gen *evt_gen_new(const struct evt_gen_opts *opts);

/* Frees a generator (NULL is fine). */
void evt_gen_free(struct evt_gen *g);

/*
 * Produces the next gateway message {"events":[...]} (no whitespace, keys in
 * the order id, source, specversion, stategroupid, time, type, and for
 * payload events datacontenttype, data after type).  *json is owned by the
 * generator and valid until the next call.  Sets *rx_us to its receive time
 * and *nevents to its event count.  Returns the message length.
 */
size_t evt_gen_next(struct evt_gen *g, const char **json, int64_t *rx_us,
    uint32_t *nevents);

/*
 * Writes the current state as a getState "states" array body (a JSON array
 * of the latest stateful event per source and state group) into a buffer
 * owned by the generator; returns its length and sets *json.  Valid until
 * the next call on g.
 */
size_t evt_gen_states(struct evt_gen *g, const char **json);

/* Most events in one message of evt_gen_next. */
#define EVT_GEN_MAX_PER_MSG 8

/*
 * Splits the message of the last evt_gen_next call into its event object
 * texts: ev[i] (pointing into that message, so valid as long as it is) and
 * lens[i] for i < the returned count; both arrays must hold
 * EVT_GEN_MAX_PER_MSG entries.  Returns 0 before the first message.
 */
uint32_t evt_gen_last_events(const struct evt_gen *g, const char **ev,
    size_t *lens);

/*
 * Like evt_gen_states, but hands out the state object texts one by one
 * (what evt_ess_states_array filters): *st and *lens point to arrays owned
 * by the generator, valid until the next call on g.  Returns the number of
 * states (2 per camera), or 0 with *st = NULL on out of memory.
 */
size_t evt_gen_state_list(struct evt_gen *g, const char *const **st,
    const size_t **lens);

/* Returns the number of cameras. */
uint32_t evt_gen_ncameras(const struct evt_gen *g);

/*
 * Returns the GUID of camera i (i < evt_gen_ncameras, in creation order,
 * which is also activity order, busiest first): 36 lower-case characters,
 * NOT NUL-terminated, owned by the generator.  The cameras depend only on
 * seed and ncameras, not on rate or start_us.
 */
const char *evt_gen_camera(const struct evt_gen *g, uint32_t i);

/*
 * Returns the number of sources that exist now: the cameras and the late
 * sources that have appeared in the stream so far.
 */
uint32_t evt_gen_nsources(const struct evt_gen *g);

/*
 * Returns the GUID of source i (i < evt_gen_nsources; the cameras first,
 * then the late sources in order of appearance; 36 characters, not
 * NUL-terminated, owned by the generator) and sets *kind to its resource
 * type (NUL-terminated, owned by the generator), the prefix of its events'
 * "source".  NULL when i is out of range.
 */
const char *evt_gen_source(const struct evt_gen *g, uint32_t i,
    const char **kind);

/* An event type of the simulated site (static strings). */
struct evt_gen_type {
	const char *id;		  /* lower-case GUID */
	const char *name;	  /* e.g. "MotionStarted" */
	const char *display_name; /* e.g. "Motion Started" */
	const char *state_group;  /* state group GUID; NULL if stateless */
	const char *state;	  /* state this type sets; NULL if stateless */
};

/* A state group of the simulated site (static strings). */
struct evt_gen_state_group {
	const char *id;
	const char *name;
	const char *const *states; /* names of its states */
	size_t nstates;
};

/* Returns the event types (the ones the generator emits first, then the
 * communication types of docs/ess-protocol.md section 6) and sets *n. */
const struct evt_gen_type *evt_gen_event_types(size_t *n);

/* Returns the state groups and sets *n. */
const struct evt_gen_state_group *evt_gen_state_groups(size_t *n);

#endif
