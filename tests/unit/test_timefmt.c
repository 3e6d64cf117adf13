/*
 * test_timefmt.c: unit tests for src/timefmt.c: known tick vectors (the
 * epoch, .NET's DateTime.MinValue/MaxValue), random round trips against
 * glibc's timegm/gmtime_r, exhaustive single-byte mutations that must either
 * fail or round-trip byte for byte, calendar rejections, and the user forms.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "evtape/timefmt.h"
#include "t.h"

/* .NET ticks of 1970-01-01T00:00:00Z (DateTime.UnixEpoch.Ticks). */
#define NET_EPOCH 621355968000000000LL

static uint64_t sm_state = 0x243f6a8885a308d3ULL;

/* Returns the next splitmix64 value of the test's own generator. */
static uint64_t
next_rand(void)
{
	uint64_t z = (sm_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Returns 1 if s parses to want and formats back to s. */
static int
vector_ok(const char *s, int64_t want)
{
	char out[EVT_TICKS_LEN];
	int64_t t = 12345;

	if (!evt_ticks_parse(s, strlen(s), &t) || t != want)
		return 0;
	if (evt_ticks_format(want, out) != 0)
		return 0;
	return memcmp(out, s, EVT_TICKS_LEN) == 0;
}

/* Returns 1 if s is rejected by evt_ticks_parse. */
static int
rejected(const char *s)
{
	int64_t t;

	return !evt_ticks_parse(s, strlen(s), &t);
}

/* Formats ticks with gmtime_r as an independent reference. */
static int
ref_format(int64_t ticks, char out[EVT_TICKS_LEN + 1])
{
	int64_t sec = ticks / 10000000, f = ticks % 10000000;
	struct tm tm;
	time_t tt;
	char buf[96];

	if (f < 0) {
		f += 10000000;
		sec--;
	}
	tt = (time_t)sec;
	if (gmtime_r(&tt, &tm) == NULL)
		return -1;
	if (snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%07dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)f) != EVT_TICKS_LEN)
		return -1;
	memcpy(out, buf, EVT_TICKS_LEN + 1);
	return 0;
}

/* Returns 1 if the user form s parses to want microseconds. */
static int
user_is(const char *s, int64_t want)
{
	int64_t us = 777;

	return evt_time_parse_user(s, &us) == 0 && us == want;
}

/* Returns 1 if the user form s is rejected. */
static int
user_bad(const char *s)
{
	int64_t us = 777;

	return evt_time_parse_user(s, &us) == -1 && us == 777;
}

int
main(void)
{
	static const char mut[] = "0123456789-T:.Z zt+/\x80\xff";
	const char *base = "2024-02-29T23:59:59.9999999Z";
	char out[EVT_TICKS_LEN], ref[EVT_TICKS_LEN + 1], s[EVT_TICKS_LEN + 1];
	char us[28];
	int64_t t, lo, hi, span, x;
	int i, j, bad, mismatch, parsed;

	/* Calendar. */
	T_EQ(evt_days_from_civil(1970, 1, 1), 0, "days 1970-01-01");
	T_EQ(evt_days_from_civil(2000, 3, 1), 11017, "days 2000-03-01");
	T_EQ(evt_days_from_civil(1, 1, 1), -719162, "days 0001-01-01");
	T_EQ(evt_days_from_civil(1969, 12, 31), -1, "days 1969-12-31");

	/* Known vectors. */
	T_OK(vector_ok("1970-01-01T00:00:00.0000000Z", 0), "epoch is 0");
	T_OK(vector_ok("1970-01-01T00:00:00.0000001Z", 1), "one tick");
	T_OK(vector_ok("1969-12-31T23:59:59.9999999Z", -1), "minus one tick");
	T_OK(vector_ok("2025-10-27T15:03:52.8070000Z", 17615774328070000LL),
	    "2025-10-27T15:03:52.8070000Z");
	T_OK(vector_ok("2026-01-05T08:00:00.0000000Z", 17676000000000000LL),
	    "2026-01-05T08:00:00Z");
	T_OK(vector_ok("0001-01-01T00:00:00.0000000Z", -NET_EPOCH),
	    "DateTime.MinValue");
	T_OK(vector_ok("9999-12-31T23:59:59.9999999Z",
	    3155378975999999999LL - NET_EPOCH), "DateTime.MaxValue");
	T_OK(vector_ok("2024-02-29T12:00:00.5000000Z",
	    (evt_days_from_civil(2024, 2, 29) * 86400 + 43200) * 10000000 +
	    5000000), "leap day 2024 accepted");
	T_OK(vector_ok("2000-02-29T00:00:00.0000000Z",
	    evt_days_from_civil(2000, 2, 29) * 864000000000LL),
	    "leap day 2000 accepted");

	/* Out of range formatting writes nothing. */
	memset(out, 'x', sizeof(out));
	T_EQ(evt_ticks_format(-NET_EPOCH - 1, out), -1, "year 0 refused");
	T_EQ(evt_ticks_format(3155378976000000000LL - NET_EPOCH, out), -1,
	    "year 10000 refused");
	T_EQ(evt_ticks_format(INT64_MIN, out), -1, "INT64_MIN refused");
	T_EQ(evt_ticks_format(INT64_MAX, out), -1, "INT64_MAX refused");
	T_OK(out[0] == 'x' && out[27] == 'x', "nothing written when refused");

	/* Rejections. */
	T_OK(rejected("2025-10-27T15:03:52.807000Z"), "27 chars");
	T_OK(rejected("2025-10-27T15:03:52.80700000Z"), "29 chars");
	T_OK(rejected("2025-10-27T15:03:52.8070000z"), "lower-case z");
	T_OK(rejected("2025-10-27t15:03:52.8070000Z"), "lower-case t");
	T_OK(rejected("2025-10-27 15:03:52.8070000Z"), "space for T");
	T_OK(rejected("2025-10-27T15:03:52,8070000Z"), "comma fraction");
	T_OK(rejected("2023-02-29T00:00:00.0000000Z"), "Feb 29 2023");
	T_OK(rejected("1900-02-29T00:00:00.0000000Z"), "Feb 29 1900");
	T_OK(rejected("2025-04-31T00:00:00.0000000Z"), "Apr 31");
	T_OK(rejected("2025-01-32T00:00:00.0000000Z"), "Jan 32");
	T_OK(rejected("2025-01-00T00:00:00.0000000Z"), "day 00");
	T_OK(rejected("2025-00-10T00:00:00.0000000Z"), "month 00");
	T_OK(rejected("2025-13-10T00:00:00.0000000Z"), "month 13");
	T_OK(rejected("0000-01-01T00:00:00.0000000Z"), "year 0000");
	T_OK(rejected("2025-10-27T24:00:00.0000000Z"), "24:00:00");
	T_OK(rejected("2025-10-27T23:60:00.0000000Z"), "minute 60");
	T_OK(rejected("2025-10-27T23:59:60.0000000Z"), "leap second 60");
	T_OK(rejected("2025-10-27T15:03:52.8070000+"), "zone instead of Z");
	T_OK(rejected("+025-10-27T15:03:52.8070000Z"), "sign in year");
	T_OK(rejected(""), "empty");
	t = 42;
	T_OK(evt_ticks_parse("2025-10-27T15:03:52.8070000Zjunk", 28, &t) &&
	    t == 17615774328070000LL, "parses only len bytes");
	T_OK(!evt_ticks_parse("2025-10-27T15:03:52.8070000Z", 27, &t),
	    "a short len is refused");

	/* Every single-byte mutation fails or round-trips byte for byte. */
	bad = parsed = 0;
	for (i = 0; i < EVT_TICKS_LEN; i++) {
		for (j = 0; mut[j] != '\0'; j++) {
			memcpy(s, base, EVT_TICKS_LEN);
			s[i] = mut[j];
			if (!evt_ticks_parse(s, EVT_TICKS_LEN, &t))
				continue;
			parsed++;
			if (evt_ticks_format(t, out) != 0 ||
			    memcmp(out, s, EVT_TICKS_LEN) != 0)
				bad++;
		}
	}
	T_EQ(bad, 0, "mutations: accepted ones round-trip (%d accepted)",
	    parsed);
	T_OK(parsed > 50, "mutations: some digit changes accepted");

	/* Random round trips over years 0001..9999 against gmtime_r. */
	lo = -NET_EPOCH;
	hi = 3155378975999999999LL - NET_EPOCH;
	span = hi - lo + 1;
	bad = mismatch = 0;
	for (i = 0; i < 200000; i++) {
		x = lo + (int64_t)(next_rand() % (uint64_t)span);
		if (i < 16)
			x = i < 8 ? lo + i : hi - (i - 8);
		if (evt_ticks_format(x, out) != 0 ||
		    !evt_ticks_parse(out, EVT_TICKS_LEN, &t) || t != x)
			bad++;
		if (ref_format(x, ref) != 0 ||
		    memcmp(ref, out, EVT_TICKS_LEN) != 0)
			mismatch++;
	}
	T_EQ(bad, 0, "200000 random ticks round-trip");
	T_EQ(mismatch, 0, "200000 random ticks match gmtime_r");

	/* Consecutive ticks across second, day and year boundaries. */
	bad = 0;
	x = evt_days_from_civil(2023, 12, 31) * 864000000000LL +
	    863999990000LL;
	for (i = 0; i < 40000; i++, x += 7) {
		if (evt_ticks_format(x, out) != 0 || ref_format(x, ref) != 0 ||
		    memcmp(ref, out, EVT_TICKS_LEN) != 0)
			bad++;
	}
	T_EQ(bad, 0, "consecutive ticks across a year boundary");

	/* User forms. */
	T_OK(user_is("0", 0), "user: 0");
	T_OK(user_is("-5", -5), "user: -5");
	T_OK(user_is("1767600000000000", 1767600000000000LL),
	    "user: bare integer");
	T_OK(user_is("9223372036854775807", INT64_MAX), "user: INT64_MAX");
	T_OK(user_is("-9223372036854775808", INT64_MIN), "user: INT64_MIN");
	T_OK(user_bad("9223372036854775808"), "user: overflow");
	T_OK(user_bad("99999999999999999999"), "user: big overflow");
	T_OK(user_is("2026-01-05", 1767571200000000LL), "user: date");
	T_OK(user_is("2026-01-05T08:00", 1767600000000000LL),
	    "user: date and HH:MM");
	T_OK(user_is("2026-01-05 08:00:00", 1767600000000000LL),
	    "user: space separator");
	T_OK(user_is("2026-01-05T08:00:00Z", 1767600000000000LL), "user: Z");
	T_OK(user_is("2025-10-27T15:03:52.807", 1761577432807000LL),
	    "user: .807");
	T_OK(user_is("2025-10-27T15:03:52.123456789Z", 1761577432123456LL),
	    "user: 9 fraction digits truncate");
	T_OK(user_is("1969-12-31T23:59:59.9999999Z", -1),
	    "user: before the epoch truncates toward the past");
	T_OK(user_is("2026-01-05T10:00:00+02:00", 1767600000000000LL),
	    "user: +02:00");
	T_OK(user_is("2026-01-05T02:30:00-05:30", 1767600000000000LL),
	    "user: -05:30");
	T_OK(user_is("2026-01-05T13:30:00+0530", 1767600000000000LL),
	    "user: +0530");
	T_OK(user_is("2026-01-05T09:00:00+01", 1767600000000000LL),
	    "user: +01");
	T_OK(user_is("2024-02-29", evt_days_from_civil(2024, 2, 29) *
	    86400000000LL), "user: leap day");
	T_OK(user_bad(""), "user: empty");
	T_OK(user_bad("-"), "user: lone minus");
	T_OK(user_bad("12a"), "user: trailing junk on integer");
	T_OK(user_bad("+5"), "user: plus sign");
	T_OK(user_bad("abc"), "user: word");
	T_OK(user_bad("2023-02-29"), "user: Feb 29 2023");
	T_OK(user_bad("2025-13-01"), "user: month 13");
	T_OK(user_bad("2025-1-01"), "user: one-digit month");
	T_OK(user_bad("2025-10-27T"), "user: T without time");
	T_OK(user_bad("2025-10-27T15"), "user: hour only");
	T_OK(user_bad("2025-10-27T24:00"), "user: 24:00");
	T_OK(user_bad("2025-10-27T15:03:52."), "user: empty fraction");
	T_OK(user_bad("2025-10-27T15:03:52.1234567890"),
	    "user: 10 fraction digits");
	T_OK(user_bad("2025-10-27T15:03:52+"), "user: empty zone");
	T_OK(user_bad("2025-10-27T15:03:52+1"), "user: one-digit zone");
	T_OK(user_bad("2025-10-27T15:03:52+01:"), "user: zone colon only");
	T_OK(user_bad("2025-10-27T15:03:52+25:00"), "user: zone hour 25");
	T_OK(user_bad("2025-10-27T15:03:52Zx"), "user: junk after Z");
	T_OK(user_bad("2025-10-27Z"), "user: zone without time");
	T_OK(user_bad("2025-10-27T15:03:52 "), "user: trailing space");

	/* Microsecond output. */
	evt_time_format_us(1761577432807000LL, us);
	T_OK(strcmp(us, "2025-10-27T15:03:52.807000Z") == 0, "format_us: %s",
	    us);
	evt_time_format_us(-1, us);
	T_OK(strcmp(us, "1969-12-31T23:59:59.999999Z") == 0, "format_us -1");
	evt_time_format_us(INT64_MIN, us);
	T_OK(strcmp(us, "0001-01-01T00:00:00.000000Z") == 0,
	    "format_us clamps low");
	evt_time_format_us(INT64_MAX, us);
	T_OK(strcmp(us, "9999-12-31T23:59:59.999999Z") == 0,
	    "format_us clamps high");
	bad = 0;
	for (i = 0; i < 20000; i++) {
		x = (int64_t)(next_rand() % 300000000000000000ULL) -
		    60000000000000000LL;
		evt_time_format_us(x, us);
		if (evt_time_parse_user(us, &t) != 0 || t != x)
			bad++;
	}
	T_EQ(bad, 0, "format_us output parses back as a user time");
	T_DONE();
}
