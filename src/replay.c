/*
 * replay.c: the replay scheduler (replay.h).  Maps receive times to a
 * timeline and the timeline to the caller's clock through one anchor
 * (wall time, timeline position, speed) that only user actions and slips
 * move; keeps lateness in a log-linear histogram of fixed size.
 */
#include <math.h>
#include <string.h>

#include "evtape/replay.h"

#define DEFAULT_SLACK_US 100000

/* Initialises the scheduler. */
void
evt_replay_init(struct evt_replay *r, const struct evt_replay_opts *o)
{
	memset(r, 0, sizeof *r);
	if (o != NULL)
		r->o = *o;
	if (!(r->o.speed > 0))
		r->o.speed = 1.0;
	if (r->o.slack_us == 0)
		r->o.slack_us = DEFAULT_SLACK_US;
	r->speed = r->o.speed;
	r->first_done = INT64_MIN;
}

/* Anchors the timeline's current position at now. */
static void
anchor(struct evt_replay *r, int64_t now, double pos)
{
	r->anchor_wall = now;
	r->anchor_pos = pos;
}

/* Where the timeline stands at now (not paused). */
static double
pos_at(const struct evt_replay *r, int64_t now)
{
	return r->anchor_pos + (double)(now - r->anchor_wall) * r->speed;
}

/* Starts the clock at now. */
void
evt_replay_start(struct evt_replay *r, int64_t now)
{
	r->started = 1;
	anchor(r, now, (double)r->pos);
	if (r->paused)
		r->paused_pos = (double)r->pos;
}

/* Makes rx_us the current event; returns its timeline position. */
int64_t
evt_replay_push(struct evt_replay *r, int64_t rx_us)
{
	if (r->have_prev) {
		int64_t d = rx_us - r->prev_rx;
		if (d < 0)
			d = 0;
		if (r->o.max_gap_us > 0 && d > r->o.max_gap_us)
			d = r->o.max_gap_us;
		r->pos += d;
	}
	r->have_prev = 1;
	r->prev_rx = rx_us;
	r->cur_rx = rx_us;
	return r->pos;
}

/* The next event follows the previous one without a gap. */
void
evt_replay_loop(struct evt_replay *r)
{
	r->have_prev = 0;
}

/* Due time of the current event. */
int64_t
evt_replay_due(const struct evt_replay *r)
{
	if (!r->started || r->paused)
		return INT64_MAX;
	if (r->o.top_speed)
		return INT64_MIN;
	double d = (double)r->anchor_wall +
	    ((double)r->pos - r->anchor_pos) / r->speed;
	/* Round up: an event is never early. */
	double c = ceil(d);
	if (c >= 9.2e18)
		return INT64_MAX - 1;
	return (int64_t)c;
}

/* Time left until the current event is due. */
int64_t
evt_replay_wait(const struct evt_replay *r, int64_t now)
{
	int64_t due = evt_replay_due(r);
	if (due == INT64_MAX)
		return INT64_MAX;
	return due <= now ? 0 : due - now;
}

/* Bucket of a lateness value: exact below EVT_REPLAY_HIST_SUB, then
 * EVT_REPLAY_HIST_SUB sub-buckets per power of two. */
unsigned
evt_replay_bucket(int64_t v)
{
	if (v < 0)
		v = 0;
	if (v < EVT_REPLAY_HIST_SUB)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll((unsigned long long)v);
	/* v in [2^e, 2^(e+1)); e >= 6 */
	unsigned shift = e - 6;
	unsigned sub = (unsigned)((uint64_t)v >> shift) & (EVT_REPLAY_HIST_SUB - 1);
	unsigned b = (shift + 1) * EVT_REPLAY_HIST_SUB + sub;
	return b < EVT_REPLAY_HIST_N ? b : EVT_REPLAY_HIST_N - 1;
}

/* Midpoint of a bucket. */
int64_t
evt_replay_bucket_value(unsigned b)
{
	if (b < EVT_REPLAY_HIST_SUB)
		return (int64_t)b;
	unsigned shift = b / EVT_REPLAY_HIST_SUB - 1;
	uint64_t lo = ((uint64_t)(EVT_REPLAY_HIST_SUB + b % EVT_REPLAY_HIST_SUB))
	    << shift;
	return (int64_t)(lo + ((1ull << shift) >> 1));
}

/* Records the current event done at now. */
void
evt_replay_done(struct evt_replay *r, int64_t now)
{
	int64_t due = evt_replay_due(r);
	int64_t late = 0;
	if (due != INT64_MIN && due != INT64_MAX)
		late = now - due;
	if (late < 0)
		late = 0;
	r->hist[evt_replay_bucket(late)]++;
	r->n++;
	if (late > r->max_late)
		r->max_late = late;
	if (r->first_done == INT64_MIN)
		r->first_done = now;
	r->last_done = now;
	r->last_late = late;
	if (r->o.slack_us > 0 && late > r->o.slack_us && !r->o.top_speed &&
	    due != INT64_MAX) {
		/* Slow consumer: the timeline slips so the following events
		 * keep their spacing instead of bursting to catch up. */
		r->anchor_wall += late;
		r->lag_us += late;
		r->slips++;
	}
}

/* Pauses at now. */
void
evt_replay_pause(struct evt_replay *r, int64_t now)
{
	if (r->paused)
		return;
	r->paused = 1;
	r->paused_pos = r->started ? pos_at(r, now) : (double)r->pos;
	if (r->paused_pos > (double)r->pos && r->have_prev)
		r->paused_pos = (double)r->pos; /* waiting: resume there */
}

/* Resumes at now. */
void
evt_replay_resume(struct evt_replay *r, int64_t now)
{
	if (!r->paused)
		return;
	r->paused = 0;
	anchor(r, now, r->paused_pos);
}

/* Changes the speed at now. */
void
evt_replay_set_speed(struct evt_replay *r, int64_t now, double speed)
{
	if (!(speed > 0))
		return;
	if (!r->paused && r->started)
		anchor(r, now, pos_at(r, now));
	r->speed = speed;
}

/* The speed. */
double
evt_replay_speed(const struct evt_replay *r)
{
	return r->speed;
}

/* Whether paused. */
int
evt_replay_paused(const struct evt_replay *r)
{
	return r->paused;
}

/* Re-anchors after the caller's source moved to to_rx. */
void
evt_replay_seek(struct evt_replay *r, int64_t now, int64_t to_rx)
{
	r->have_prev = 1;
	r->prev_rx = to_rx;
	r->cur_rx = to_rx;
	anchor(r, now, (double)r->pos);
	r->paused_pos = (double)r->pos;
}

/* Receive time of the current event. */
int64_t
evt_replay_position(const struct evt_replay *r)
{
	return r->cur_rx;
}

/* The value below which fraction q of the samples lie. */
static int64_t
quantile(const struct evt_replay *r, double q)
{
	if (r->n == 0)
		return 0;
	uint64_t want = (uint64_t)ceil(q * (double)r->n);
	if (want == 0)
		want = 1;
	uint64_t acc = 0;
	for (unsigned b = 0; b < EVT_REPLAY_HIST_N; b++) {
		acc += r->hist[b];
		if (acc >= want) {
			int64_t v = evt_replay_bucket_value(b);
			return v < r->max_late ? v : r->max_late;
		}
	}
	return r->max_late;
}

/* Fills the statistics. */
void
evt_replay_stats(const struct evt_replay *r, struct evt_replay_stats *st)
{
	memset(st, 0, sizeof *st);
	st->events = r->n;
	st->p50_us = quantile(r, 0.50);
	st->p99_us = quantile(r, 0.99);
	st->max_us = r->max_late;
	if (r->n > 1 && r->last_done > r->first_done)
		st->rate = (double)(r->n - 1) * 1e6 /
		    (double)(r->last_done - r->first_done);
	st->lag_us = r->lag_us;
	st->slips = r->slips;
	/* The last slip (if any) already includes the last event's
	 * lateness in lag_us. */
	st->drift_us = r->lag_us +
	    (r->slips > 0 && r->last_late > r->o.slack_us ? 0 : r->last_late);
}
