/*
 * replay.h: the replay scheduler, a pure module on a caller-given clock.
 *
 * The caller pushes events in archive order with their receive times; the
 * scheduler maps each to a timeline position (receive time relative to the
 * first event, idle gaps capped at max_gap, continuing across loops) and
 * answers when it is due on the caller's clock:
 *
 *     due = anchor_wall + (pos - anchor_pos) / speed
 *
 * Every due time is computed from the anchor, never from the previous
 * event, so error does not accumulate.  Start, pause/resume, speed changes,
 * seeks and slips re-anchor.  A consumer that takes the event later than
 * slack_us after its due time makes the timeline slip (the anchor moves
 * later by the lateness): nothing is dropped, the replay slows and the lag
 * is counted.  The scheduler also keeps lateness statistics in a
 * fixed-memory histogram (p50/p99/max), the achieved rate and end drift.
 *
 * Sans-I/O: no clock, no timers, no allocation.  Times in microseconds.
 */
#ifndef EVTAPE_REPLAY_H
#define EVTAPE_REPLAY_H

#include <stdint.h>

#define EVT_REPLAY_HIST_SUB 64 /* sub-buckets per power of two (~1.6 %) */
#define EVT_REPLAY_HIST_N (EVT_REPLAY_HIST_SUB * 38)

struct evt_replay_opts {
	double speed;	    /* > 0; 0 selects 1.0 */
	int top_speed;	    /* every event is due at once */
	int64_t max_gap_us; /* cap idle gaps at this; 0: no cap */
	int64_t slack_us;   /* lateness that makes the timeline slip;
			       0: 100 ms; < 0: never slip */
};

struct evt_replay_stats {
	uint64_t events;	   /* events done */
	int64_t p50_us, p99_us, max_us; /* lateness */
	double rate;		   /* events per second of the caller's
				      clock, first to last event done */
	int64_t lag_us;		   /* total slip (slow consumer) */
	int64_t drift_us;	   /* last event: done time minus its due
				      time on the schedule without slips */
	uint64_t slips;		   /* times the timeline slipped */
};

/* The scheduler; fields are private (embed it, no allocation). */
struct evt_replay {
	struct evt_replay_opts o;
	double speed;
	int paused, started, have_prev;
	int64_t prev_rx;    /* receive time of the previous event */
	int64_t pos;	    /* timeline position of the current event */
	int64_t cur_rx;	    /* receive time of the current event */
	int64_t anchor_wall;
	double anchor_pos;
	double paused_pos;  /* position where the pause began */
	int64_t lag_us;
	uint64_t slips;
	/* statistics */
	uint64_t hist[EVT_REPLAY_HIST_N];
	uint64_t n;
	int64_t max_late, first_done, last_done, last_late;
};

/* Initialises r with o (copied; NULL: defaults, 1x). */
void evt_replay_init(struct evt_replay *r, const struct evt_replay_opts *o);

/* Starts the clock: the first event pushed is due at now. */
void evt_replay_start(struct evt_replay *r, int64_t now);

/*
 * Makes the event with receive time rx_us the current one and returns its
 * timeline position.  Receive times that go backwards count as no gap.
 */
int64_t evt_replay_push(struct evt_replay *r, int64_t rx_us);

/* Marks a loop: the next event pushed follows the previous one without a
 * gap (the timeline goes on; positions keep growing). */
void evt_replay_loop(struct evt_replay *r);

/*
 * When the current event is due on the caller's clock: INT64_MIN at top
 * speed, INT64_MAX while paused or before start.
 */
int64_t evt_replay_due(const struct evt_replay *r);

/* Microseconds to wait at now before the current event is due (0: due;
 * INT64_MAX: paused). */
int64_t evt_replay_wait(const struct evt_replay *r, int64_t now);

/*
 * The current event was handed to the consumer and done at now: records
 * its lateness and, past the slack, slips the timeline by it.
 */
void evt_replay_done(struct evt_replay *r, int64_t now);

/* Pauses at now (no-op when paused). */
void evt_replay_pause(struct evt_replay *r, int64_t now);

/* Resumes at now: the timeline goes on from where it paused. */
void evt_replay_resume(struct evt_replay *r, int64_t now);

/* Changes the speed at now (re-anchors; speed <= 0 is ignored). */
void evt_replay_set_speed(struct evt_replay *r, int64_t now, double speed);

/* The speed. */
double evt_replay_speed(const struct evt_replay *r);

/* Whether paused. */
int evt_replay_paused(const struct evt_replay *r);

/*
 * After the caller repositioned its source to receive time to_rx: the
 * next event pushed (receive time e >= to_rx) is due at
 * now + (e - to_rx) / speed.  Keeps a pause.
 */
void evt_replay_seek(struct evt_replay *r, int64_t now, int64_t to_rx);

/* Receive time of the current event (the replay position). */
int64_t evt_replay_position(const struct evt_replay *r);

/* Fills *st with the statistics so far. */
void evt_replay_stats(const struct evt_replay *r, struct evt_replay_stats *st);

/* Histogram helpers (exposed for tests): the bucket of a value >= 0 and
 * a representative value of a bucket (its midpoint). */
unsigned evt_replay_bucket(int64_t v);
int64_t evt_replay_bucket_value(unsigned b);

#endif
