/*
 * t.h: the unit-test harness.  Each test program prints TAP lines
 * ("ok N - what" / "not ok N - what") that tests/run.sh counts, and exits
 * non-zero if any check failed.
 */
#ifndef EVT_T_H
#define EVT_T_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_n, t_failed;

/* A literal with its length (embedded NULs included). */
#define L(s) (s), (sizeof(s) - 1)

/* Each test program may pick its own deterministic PRNG seed. */
#ifndef T_RNG_SEED
#define T_RNG_SEED 0x9E3779B97F4A7C15ULL
#endif
static uint64_t rng_state = T_RNG_SEED;

/* Returns the next value of a xorshift64 PRNG (deterministic). */
static inline uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Records one check: cond true passes. */
#define T_OK(cond, ...)                                                   \
	do {                                                              \
		int t_c_ = (cond) ? 1 : 0;                                \
		t_n++;                                                    \
		if (!t_c_)                                                \
			t_failed++;                                       \
		printf("%sok %d - ", t_c_ ? "" : "not ", t_n);            \
		printf(__VA_ARGS__);                                      \
		if (!t_c_)                                                \
			printf("  (%s:%d: %s)", __FILE__, __LINE__, #cond); \
		printf("\n");                                             \
	} while (0)

/* Checks two integers for equality, printing both on failure. */
#define T_EQ(a, b, ...)                                                    \
	do {                                                               \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);    \
		T_OK(t_a_ == t_b_, __VA_ARGS__);                           \
		if (t_a_ != t_b_)                                          \
			printf("#   got %lld, want %lld\n", t_a_, t_b_);   \
	} while (0)

/* Ends the test program. */
#define T_DONE()                                     \
	do {                                         \
		printf("1..%d\n", t_n);              \
		return t_failed ? 1 : 0;             \
	} while (0)

#endif
