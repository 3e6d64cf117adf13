/*
 * timefmt.h: the two time forms evtape stores and prints.
 *
 * Ticks: the gateway's event time form "YYYY-MM-DDTHH:MM:SS.fffffffZ"
 * (exactly 28 characters, 7 fractional digits, UTC) held as a signed count of
 * 100 ns ticks since 1970-01-01T00:00:00Z.  Only text that formats back to the
 * very same bytes is accepted, so storing ticks is lossless.
 *
 * Microseconds: receive times and user-given times, signed microseconds since
 * the Unix epoch.
 *
 * Sans-I/O, no allocation, no locale, no time zone database.
 */
#ifndef EVTAPE_TIMEFMT_H
#define EVTAPE_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define EVT_TICKS_LEN 28 /* strlen("2025-10-27T15:03:52.8070000Z") */

/*
 * Parses s[0..len) if it is exactly the 28-character tick form with a valid
 * date (years 0001..9999, real month lengths, leap years, hour < 24,
 * minute < 60, second < 60).  Returns 1 and sets *ticks, else 0.
 */
int evt_ticks_parse(const char *s, size_t len, int64_t *ticks);

/*
 * Writes the 28-character form of ticks into out (no NUL).  ticks must be in
 * the range of years 0001..9999; returns 0 then, -1 (writing nothing) if not.
 */
int evt_ticks_format(int64_t ticks, char out[EVT_TICKS_LEN]);

/* Returns 1 if evt_ticks_format formats ticks (years 0001..9999), else 0. */
int evt_ticks_valid(int64_t ticks);

/*
 * Parses a user-supplied time into microseconds since the epoch.  Accepted:
 * an integer (microseconds since the epoch, optionally negative); ISO-8601
 * "YYYY-MM-DD", "YYYY-MM-DDTHH:MM", "YYYY-MM-DDTHH:MM:SS" with an optional
 * fraction of up to 9 digits (truncated to microseconds), 'T' or a space
 * between date and time, and an optional "Z", "+HH:MM", "-HH:MM", "+HHMM" or
 * "+HH" zone (no zone means UTC).  The string must end after that.
 * Returns 0 and sets *us, or -1 if the text is not such a time.
 */
int evt_time_parse_user(const char *s, int64_t *us);

/* Writes "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (27 chars + NUL) for us into out[28]. */
void evt_time_format_us(int64_t us, char out[28]);

/* Parses a duration into microseconds: the one duration parser,
 * evt_cli_duration (cli.h, where it lives), under its older name for the
 * callers not yet moved to cli.h.  Returns 0 or -1. */
int evt_duration_parse(const char *s, int64_t *us);

/* Days since 1970-01-01 of a proleptic Gregorian civil date. */
int64_t evt_days_from_civil(int64_t y, unsigned m, unsigned d);

/* The proleptic Gregorian date of z days since 1970-01-01. */
void evt_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* Returns the monotonic clock in microseconds (pacing, timeouts). */
int64_t evt_mono_us(void);

/* Returns the wall clock in microseconds since the epoch. */
int64_t evt_wall_us(void);

#endif
