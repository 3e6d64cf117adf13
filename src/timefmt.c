/*
 * timefmt.c: the tick form "YYYY-MM-DDTHH:MM:SS.fffffffZ" <-> 100 ns ticks
 * since the Unix epoch, user time input, and microsecond output.
 *
 * Formatting is on the hot path of every export (a million events a second),
 * so it uses integer arithmetic and a two-digit table, never snprintf, and
 * keeps the text of the last second it formatted in a thread-local cache:
 * consecutive events nearly always fall into the same second, so most calls
 * only write the seven fraction digits.  Parsing checks a fixed template and
 * then the calendar, which together make the accepted set exactly the set
 * evt_ticks_format produces (every field is fixed width, so no two strings
 * parse to the same ticks).
 *
 * Calendar conversions are Howard Hinnant's days_from_civil/civil_from_days
 * (proleptic Gregorian, valid for any year that fits).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evtape/timefmt.h"

#define TICKS_PER_SEC 10000000LL
#define TICKS_PER_DAY (86400LL * TICKS_PER_SEC)
#define US_PER_SEC 1000000LL
#define US_PER_DAY (86400LL * US_PER_SEC)

/* Days from 1970-01-01 of 0001-01-01 and of 10000-01-01. */
#define DAYS_MIN (-719162LL)
#define DAYS_END 2932897LL

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.9999999Z in ticks. */
#define TICKS_MIN (DAYS_MIN * TICKS_PER_DAY)
#define TICKS_MAX (DAYS_END * TICKS_PER_DAY - 1)

/* The same bounds in microseconds. */
#define US_MIN (DAYS_MIN * US_PER_DAY)
#define US_MAX (DAYS_END * US_PER_DAY - 1)

static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

/* Writes the two decimal digits of v (0..99) to p. */
static inline void
put2(char *p, unsigned v)
{
	memcpy(p, digits2 + 2 * v, 2);
}

/* Floor division for a positive divisor. */
static inline int64_t
floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b) < 0)
		q--;
	return q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12, d 1..31). */
int64_t
evt_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* days_from_civil for years 1..9999 in unsigned arithmetic (cheaper). */
static inline int64_t
days_from_civil_u(unsigned y, unsigned m, unsigned d)
{
	unsigned era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64_t)era * 146097 + doe - 719468;
}

/* Splits days since 1970-01-01 into a proleptic Gregorian date. */
void
evt_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Returns 1 if y (0..9999) is a Gregorian leap year. */
static inline int
is_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Returns the number of days in month m (1..12) of year y (1..9999). */
static inline unsigned
month_days(unsigned y, unsigned m)
{
	static const unsigned char len[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && is_leap(y))
		return 29;
	return len[m - 1];
}

/* Writes "YYYY-MM-DDTHH:MM:SS" (19 chars) for sec, years 0001..9999. */
static void
put_date_time(int64_t sec, char *p)
{
	int64_t days, y;
	unsigned m, d, sod;

	days = floordiv(sec, 86400);
	sod = (unsigned)(sec - days * 86400);
	evt_civil_from_days(days, &y, &m, &d);
	put2(p, (unsigned)(y / 100));
	put2(p + 2, (unsigned)(y % 100));
	p[4] = '-';
	put2(p + 5, m);
	p[7] = '-';
	put2(p + 8, d);
	p[10] = 'T';
	put2(p + 11, sod / 3600);
	p[13] = ':';
	put2(p + 14, sod / 60 % 60);
	p[16] = ':';
	put2(p + 17, sod % 60);
}

/* Whether ticks lie in years 1..9999; see timefmt.h. */
int
evt_ticks_valid(int64_t ticks)
{
	return ticks >= TICKS_MIN && ticks <= TICKS_MAX;
}

/* Formats ticks as the 28-character tick form; -1 if out of years 1..9999. */
int
evt_ticks_format(int64_t ticks, char out[EVT_TICKS_LEN])
{
	static _Thread_local int64_t last_sec = INT64_MIN;
	static _Thread_local char last_text[19];
	int64_t sec;
	uint32_t f;

	if (!evt_ticks_valid(ticks))
		return -1;
	sec = floordiv(ticks, TICKS_PER_SEC);
	f = (uint32_t)(ticks - sec * TICKS_PER_SEC);
	if (sec != last_sec) {
		put_date_time(sec, last_text);
		last_sec = sec;
	}
	memcpy(out, last_text, 19);
	out[19] = '.';
	out[20] = (char)('0' + f / 1000000);
	f %= 1000000;
	put2(out + 21, f / 10000);
	put2(out + 23, f / 100 % 100);
	put2(out + 25, f % 100);
	out[27] = 'Z';
	return 0;
}

/* Returns the value of n decimal digits at s (the caller checked them). */
static inline unsigned
num(const char *s, int n)
{
	unsigned v = 0;

	while (n-- > 0)
		v = v * 10 + (unsigned)(*s++ - '0');
	return v;
}

/* Returns the digit at s[i], or-ing 1 into *bad if it is not a digit. */
static inline unsigned
dig(const char *s, int i, unsigned *bad)
{
	unsigned d = (unsigned)(unsigned char)s[i] - '0';

	*bad |= d > 9;
	return d;
}

/*
 * Parses exactly the 28-character tick form with a valid date into ticks.
 * Straight-line and branch-free up to the calendar check: it runs once per
 * recorded event.
 */
int
evt_ticks_parse(const char *s, size_t len, int64_t *ticks)
{
	unsigned bad = 0, y, mo, d, h, mi, se, f;

	if (len != EVT_TICKS_LEN)
		return 0;
	y = dig(s, 0, &bad) * 1000 + dig(s, 1, &bad) * 100 +
	    dig(s, 2, &bad) * 10 + dig(s, 3, &bad);
	mo = dig(s, 5, &bad) * 10 + dig(s, 6, &bad);
	d = dig(s, 8, &bad) * 10 + dig(s, 9, &bad);
	h = dig(s, 11, &bad) * 10 + dig(s, 12, &bad);
	mi = dig(s, 14, &bad) * 10 + dig(s, 15, &bad);
	se = dig(s, 17, &bad) * 10 + dig(s, 18, &bad);
	f = dig(s, 20, &bad) * 1000000 + dig(s, 21, &bad) * 100000 +
	    dig(s, 22, &bad) * 10000 + dig(s, 23, &bad) * 1000 +
	    dig(s, 24, &bad) * 100 + dig(s, 25, &bad) * 10 +
	    dig(s, 26, &bad);
	bad |= (s[4] != '-') | (s[7] != '-') | (s[10] != 'T') |
	    (s[13] != ':') | (s[16] != ':') | (s[19] != '.') | (s[27] != 'Z');
	bad |= (y < 1) | (mo - 1 > 11) | (h > 23) | (mi > 59) | (se > 59);
	if (bad || d < 1 || d > month_days(y, mo))
		return 0;
	*ticks = (days_from_civil_u(y, mo, d) * 86400 + h * 3600 +
	    mi * 60 + se) * TICKS_PER_SEC + f;
	return 1;
}

/* Writes "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" and a NUL, clamped to years 1..9999. */
void
evt_time_format_us(int64_t us, char out[28])
{
	int64_t sec;
	uint32_t f;

	/* The output has room for four year digits only. */
	if (us < US_MIN)
		us = US_MIN;
	if (us > US_MAX)
		us = US_MAX;
	sec = floordiv(us, US_PER_SEC);
	f = (uint32_t)(us - sec * US_PER_SEC);
	put_date_time(sec, out);
	out[19] = '.';
	put2(out + 20, f / 10000);
	put2(out + 22, f / 100 % 100);
	put2(out + 24, f % 100);
	out[26] = 'Z';
	out[27] = '\0';
}

/* Reads exactly n digits at *pp into *v and advances; 0 if not digits. */
static int
take_digits(const char **pp, int n, unsigned *v)
{
	const char *p = *pp;
	int i;

	for (i = 0; i < n; i++)
		if ((unsigned char)(p[i] - '0') > 9)
			return 0;
	*v = num(p, n);
	*pp = p + n;
	return 1;
}

/* Parses an optionally negative decimal integer filling all of s. */
static int
parse_int_us(const char *s, int64_t *us)
{
	uint64_t v = 0, lim;
	int neg = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (*s == '\0')
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s != '\0'; s++) {
		if ((unsigned char)(*s - '0') > 9)
			return -1;
		if (v > (lim - (unsigned)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (neg)
		*us = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*us = (int64_t)v;
	return 0;
}

/*
 * Parses a user time: an integer of microseconds or an ISO-8601 date with
 * optional time, fraction and zone (a zone only after a time).
 */
int
evt_time_parse_user(const char *s, int64_t *us)
{
	const char *p;
	unsigned y, mo, d, h = 0, mi = 0, se = 0, zh = 0, zm = 0;
	int64_t frac_us = 0, scale = 100000, off = 0, v;
	int sign;

	if (s == NULL)
		return -1;
	/* A bare integer never has a '-' after its first character. */
	if (strchr(s + (*s == '-'), '-') == NULL && strchr(s, ':') == NULL)
		return parse_int_us(s, us);

	p = s;
	if (!take_digits(&p, 4, &y) || *p++ != '-' ||
	    !take_digits(&p, 2, &mo) || *p++ != '-' ||
	    !take_digits(&p, 2, &d))
		return -1;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo))
		return -1;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (!take_digits(&p, 2, &h) || *p++ != ':' ||
		    !take_digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (!take_digits(&p, 2, &se))
				return -1;
			if (*p == '.') {
				int n = 0;

				p++;
				while ((unsigned char)(*p - '0') <= 9) {
					if (++n > 9)
						return -1;
					frac_us += (*p - '0') * scale;
					scale /= 10;
					p++;
				}
				if (n == 0)
					return -1;
			}
		}
		if (h > 23 || mi > 59 || se > 59)
			return -1;
		if (*p == 'Z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '-' ? -1 : 1;
			if (!take_digits(&p, 2, &zh))
				return -1;
			if (*p == ':') {
				p++;
				if (!take_digits(&p, 2, &zm))
					return -1;
			} else if ((unsigned char)(*p - '0') <= 9) {
				if (!take_digits(&p, 2, &zm))
					return -1;
			}
			if (zh > 23 || zm > 59)
				return -1;
			off = sign * (int64_t)(zh * 3600 + zm * 60);
		}
	}
	if (*p != '\0')
		return -1;
	v = evt_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	*us = (v - off) * US_PER_SEC + frac_us;
	return 0;
}

/* Reads one clock in microseconds. */
static int64_t
clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Returns the monotonic clock in microseconds. */
int64_t
evt_mono_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

/* Returns the wall clock in microseconds since the epoch. */
int64_t
evt_wall_us(void)
{
	return clock_us(CLOCK_REALTIME);
}
