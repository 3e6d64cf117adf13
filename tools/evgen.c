/*
 * evgen: writes synthetic gateway traffic from the deterministic generator
 * (src/gen.c) to stdout, one message a line as "<rx_us>\t<message json>",
 * until at least --events events were written; or, with --states, the
 * getState "states" array once.  Used to make test input and to measure.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/gen.h"
#include "evtape/timefmt.h"

/* Prints the usage text to stderr and exits with status 2. */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: evgen [--seed N] [--events N] [--rate R] [--cameras N]\n"
	    "             [--start-us US] [--data-fraction F] [--states]\n"
	    "  --seed N           PRNG seed (default 0)\n"
	    "  --events N         write at least N events (default 100000)\n"
	    "  --rate R           mean events per second (default 200)\n"
	    "  --cameras N        number of cameras (default 2659)\n"
	    "  --start-us US      first receive time: microseconds since the\n"
	    "                     epoch or an ISO-8601 time (default\n"
	    "                     2026-01-05T08:00:00Z; 0 means that too)\n"
	    "  --data-fraction F  share of events with a data payload\n"
	    "                     (default 0.005; 0 or negative: none)\n"
	    "  --states           print the initial states array and exit\n");
	exit(2);
}

/* Parses an unsigned decimal integer that fills s; -1 if it is not one. */
static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	return 0;
}

/* Parses a finite double that fills s; -1 if it is not one. */
static int
parse_double(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || *v != *v ||
	    *v > 1e300 || *v < -1e300)
		return -1;
	return 0;
}

/* Writes the decimal text of v to p; returns the end. */
static char *
put_i64(char *p, int64_t v)
{
	char tmp[20];
	uint64_t u;
	int n = 0;

	if (v < 0) {
		*p++ = '-';
		u = (uint64_t)0 - (uint64_t)v;
	} else
		u = (uint64_t)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* Flushes stdout and exits 1 with a message if any write failed. */
static void
finish(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "evgen: write error: %s\n", strerror(errno));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "events", required_argument, NULL, 'n' },
		{ "rate", required_argument, NULL, 'r' },
		{ "cameras", required_argument, NULL, 'c' },
		{ "start-us", required_argument, NULL, 't' },
		{ "data-fraction", required_argument, NULL, 'd' },
		{ "states", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct evt_gen_opts opts;
	struct evt_gen *g;
	uint64_t events = 100000, done = 0, v;
	const char *json;
	char head[24], *p;
	int64_t rx;
	uint32_t n;
	size_t len;
	int ch, states = 0;

	memset(&opts, 0, sizeof(opts));
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (parse_u64(optarg, &opts.seed) != 0)
				usage();
			break;
		case 'n':
			if (parse_u64(optarg, &events) != 0)
				usage();
			break;
		case 'r':
			if (parse_double(optarg, &opts.rate) != 0 ||
			    !(opts.rate > 0))
				usage();
			break;
		case 'c':
			if (parse_u64(optarg, &v) != 0 || v == 0 ||
			    v > 10000000)
				usage();
			opts.ncameras = (uint32_t)v;
			break;
		case 't':
			if (evt_time_parse_user(optarg, &opts.start_us) != 0)
				usage();
			break;
		case 'd':
			if (parse_double(optarg, &opts.data_fraction) != 0 ||
			    opts.data_fraction > 1)
				usage();
			/* The library reads 0 as "default"; 0 here means none. */
			if (opts.data_fraction == 0)
				opts.data_fraction = -1;
			break;
		case 'S':
			states = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	if ((g = evt_gen_new(&opts)) == NULL) {
		fprintf(stderr, "evgen: out of memory\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	if (states) {
		len = evt_gen_states(g, &json);
		if (json == NULL) {
			fprintf(stderr, "evgen: out of memory\n");
			return 1;
		}
		fwrite(json, 1, len, stdout);
		putchar('\n');
	} else {
		while (done < events) {
			len = evt_gen_next(g, &json, &rx, &n);
			p = put_i64(head, rx);
			*p++ = '\t';
			fwrite(head, 1, (size_t)(p - head), stdout);
			fwrite(json, 1, len, stdout);
			putchar('\n');
			done += n;
		}
	}
	evt_gen_free(g);
	finish();
	return 0;
}
