/*
 * test_replay.c: the replay scheduler on a virtual clock.
 */
#include <limits.h>
#include <stdint.h>

#include "evtape/replay.h"
#include "t.h"

/* 1x: due times follow the receive times from the start. */
static void
test_basic(void)
{
	struct evt_replay r;
	evt_replay_init(&r, NULL);
	T_EQ(evt_replay_due(&r), INT64_MAX, "not started: never due");
	evt_replay_start(&r, 1000);
	evt_replay_push(&r, 5000000);
	T_EQ(evt_replay_due(&r), 1000, "first event due at start");
	evt_replay_done(&r, 1000);
	evt_replay_push(&r, 5250000);
	T_EQ(evt_replay_due(&r), 251000, "second due 250 ms later");
	T_EQ(evt_replay_wait(&r, 1000), 250000, "wait");
	T_EQ(evt_replay_wait(&r, 300000), 0, "due when past");
	evt_replay_done(&r, 251000);
	struct evt_replay_stats st;
	evt_replay_stats(&r, &st);
	T_EQ(st.events, 2, "two events");
	T_EQ(st.max_us, 0, "no lateness");
}

/* Speed, max gap, backwards receive times. */
static void
test_speed_gap(void)
{
	struct evt_replay r;
	struct evt_replay_opts o = {.speed = 4, .max_gap_us = 1000000};
	evt_replay_init(&r, &o);
	evt_replay_start(&r, 0);
	evt_replay_push(&r, 100);
	evt_replay_push(&r, 400100);
	T_EQ(evt_replay_due(&r), 100000, "4x: 400 ms is 100 ms");
	evt_replay_push(&r, 3600400100LL); /* an hour of silence */
	T_EQ(evt_replay_position(&r), 3600400100LL, "position is rx");
	T_EQ(evt_replay_due(&r), 350000, "gap capped at 1 s (250 ms at 4x)");
	evt_replay_push(&r, 3600400000LL); /* backwards: no gap */
	T_EQ(evt_replay_due(&r), 350000, "backwards time: same due");
	o.top_speed = 1;
	evt_replay_init(&r, &o);
	evt_replay_start(&r, 0);
	evt_replay_push(&r, 1);
	evt_replay_push(&r, 1000000000);
	T_EQ(evt_replay_due(&r), INT64_MIN, "top speed: always due");
}

/* Pause, resume, speed change and seek re-anchor. */
static void
test_controls(void)
{
	struct evt_replay r;
	evt_replay_init(&r, NULL);
	evt_replay_start(&r, 0);
	evt_replay_push(&r, 0);
	evt_replay_done(&r, 0);
	evt_replay_push(&r, 1000000);
	evt_replay_pause(&r, 400000);
	T_OK(evt_replay_paused(&r), "paused");
	T_EQ(evt_replay_due(&r), INT64_MAX, "paused: not due");
	T_EQ(evt_replay_wait(&r, 500000), INT64_MAX, "paused: wait forever");
	evt_replay_resume(&r, 10000000);
	T_EQ(evt_replay_due(&r), 10600000, "resume keeps the 600 ms left");
	evt_replay_set_speed(&r, 10100000, 2);
	T_EQ(evt_replay_due(&r), 10350000, "2x: 500 ms left is 250 ms");
	T_EQ((long long)(evt_replay_speed(&r) * 10), 20, "speed 2");
	evt_replay_done(&r, 10350000);
	evt_replay_seek(&r, 20000000, 50000000);
	evt_replay_push(&r, 50200000);
	T_EQ(evt_replay_due(&r), 20100000, "seek: 200 ms at 2x after it");
	/* a pause before start, then start */
	evt_replay_init(&r, NULL);
	evt_replay_pause(&r, 0);
	evt_replay_start(&r, 5);
	evt_replay_push(&r, 7);
	T_EQ(evt_replay_due(&r), INT64_MAX, "paused at start");
	evt_replay_resume(&r, 100);
	T_EQ(evt_replay_due(&r), 100, "resumed");
}

/* Loops continue the timeline; a slow consumer slips it. */
static void
test_loop_slip(void)
{
	struct evt_replay r;
	evt_replay_init(&r, NULL);
	evt_replay_start(&r, 0);
	evt_replay_push(&r, 1000);
	evt_replay_done(&r, 0);
	evt_replay_push(&r, 2000);
	evt_replay_done(&r, 1000);
	evt_replay_loop(&r);
	evt_replay_push(&r, 1000);
	T_EQ(evt_replay_due(&r), 1000, "loop: no gap, no jump back");
	evt_replay_done(&r, 1000);
	evt_replay_push(&r, 2000);
	T_EQ(evt_replay_due(&r), 2000, "loop: timeline goes on");
	evt_replay_done(&r, 502000); /* consumer stalled 500 ms */
	evt_replay_push(&r, 3000);
	T_EQ(evt_replay_due(&r), 503000, "slip: spacing kept after a stall");
	evt_replay_done(&r, 503000);
	struct evt_replay_stats st;
	evt_replay_stats(&r, &st);
	T_EQ(st.lag_us, 500000, "lag reported");
	T_EQ(st.slips, 1, "one slip");
	T_EQ(st.drift_us, 500000, "end drift includes the lag");
	T_OK(st.max_us == 500000, "max lateness");
	T_EQ(st.p50_us, 0, "median on time");
}

/* Error does not accumulate: 1e6 events at odd spacing and speed. */
static void
test_no_accumulation(void)
{
	struct evt_replay r;
	struct evt_replay_opts o = {.speed = 3.0};
	evt_replay_init(&r, &o);
	int64_t start = 1234567;
	evt_replay_start(&r, start);
	int64_t rx = 1700000000000000LL, first = rx, worst = 0;
	for (int i = 0; i < 1000000; i++) {
		rx += 1 + (int64_t)(rng() % 997);
		evt_replay_push(&r, i == 0 ? first : rx);
		int64_t due = evt_replay_due(&r);
		int64_t exact = start + ((i == 0 ? first : rx) - first + 2) / 3;
		int64_t d = due > exact ? due - exact : exact - due;
		if (d > worst)
			worst = d;
		evt_replay_done(&r, due);
	}
	T_OK(worst <= 1, "1e6 events: due within 1 us of start + dt/speed "
	    "(worst %lld)", (long long)worst);
	struct evt_replay_stats st;
	evt_replay_stats(&r, &st);
	T_EQ(st.max_us, 0, "no lateness when done on time");
	T_EQ(st.drift_us, 0, "no end drift");
	T_EQ(st.events, 1000000, "count");
}

/* The histogram: buckets are monotonic and values within 1.6 %. */
static void
test_hist(void)
{
	int ok = 1;
	unsigned prev = 0;
	for (int64_t v = 0; v < (1LL << 36); v += 1 + v / 50) {
		unsigned b = evt_replay_bucket(v);
		int64_t m = evt_replay_bucket_value(b);
		int64_t d = m > v ? m - v : v - m;
		if (b < prev || (double)d > 0.016 * (double)v + 1)
			ok = 0;
		prev = b;
	}
	T_OK(ok, "buckets monotonic, midpoints within 1.6 %%");
	T_OK(evt_replay_bucket(INT64_MAX) == EVT_REPLAY_HIST_N - 1,
	    "huge values in the last bucket");
	struct evt_replay r;
	evt_replay_init(&r, NULL);
	evt_replay_start(&r, 0);
	for (int i = 0; i < 1000; i++) {
		evt_replay_push(&r, (int64_t)i * 1000);
		evt_replay_done(&r, (int64_t)i * 1000 + (i < 990 ? 100 : 5000));
	}
	struct evt_replay_stats st;
	evt_replay_stats(&r, &st);
	T_OK(st.p50_us >= 98 && st.p50_us <= 102, "p50 ~100 us (%lld)",
	    (long long)st.p50_us);
	T_OK(st.p99_us >= 98 && st.p99_us <= 102, "p99 ~100 us (%lld)",
	    (long long)st.p99_us);
	T_EQ(st.max_us, 5000, "max 5 ms");
	T_OK(st.rate > 994 && st.rate < 996, "rate 999 intervals / 1.004 s");
}

int
main(void)
{
	test_basic();
	test_speed_gap();
	test_controls();
	test_loop_slip();
	test_no_accumulation();
	test_hist();
	T_DONE();
}
