/*
 * gen.h: a deterministic generator of realistic gateway traffic.
 *
 * Models what ess-protocol.md section 8 reports from a live 2,659-camera
 * site: about 200 events/s in messages of 1..8 events (mean ~2.3-3.3), motion
 * started/stopped (~78 %), recording started/stopped (~20 %), "Recording FPS
 * Warning" (~2 %, stateless), a few events with a nested "data" payload;
 * random lower-case GUID ids, sources "cameras/<guid>" with skewed activity,
 * times with 7 fractional digits and 'Z' a few milliseconds before the
 * receive time.  The same seed and options give byte-identical output.
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
};

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

#endif
