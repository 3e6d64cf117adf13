/*
 * evgen: writes synthetic gateway traffic from the deterministic generator
 * (src/gen.c) to stdout, one message a line as "<rx_us>\t<message json>",
 * until at least --events events were written; or, with --states, the
 * getState "states" array once.  Used to make test input and to measure.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/buf.h"
#include "evtape/cli.h"
#include "evtape/gen.h"

/* Prints the usage text to f. */
static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: evgen [--seed N] [--events N] [--rate R] [--cameras N]\n"
	    "             [--start-us TIME] [--data-fraction F] [--states]\n"
	    "  --seed N           PRNG seed (default 0)\n"
	    "  --events N         write at least N events (default 100000)\n"
	    "  --rate R           mean events per second (default 200)\n"
	    "  --cameras N        number of cameras (default 2659)\n"
	    "  --start-us TIME    first receive time: microseconds since the\n"
	    "                     epoch or an ISO-8601 time (default\n"
	    "                     2026-01-05T08:00:00Z; 0 means that too)\n"
	    "  --data-fraction F  share of events with a data payload\n"
	    "                     (default 0.005; 0 or negative: none)\n"
	    "  --states           print the initial states array and exit\n"
	    "Exit: 0 done, 2 usage, 3 failure (README, \"Exit status\").\n");
}

/* Parses the command line into opts, *events and *states, or exits (0
 * for --help, 2 for a bad option or value). */
static void
parse_args(int argc, char **argv, struct evt_gen_opts *opts,
    uint64_t *events, int *states)
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
	uint64_t v;
	int ch;

	opterr = 0;	/* evt_cli_getopt_err says it */
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': opts->seed = evt_cli_count_arg("--seed", optarg); break;
		case 'n': *events = evt_cli_count_arg("--events", optarg); break;
		case 'r':
			opts->rate = evt_cli_number_arg("--rate", optarg);
			if (!(opts->rate > 0))
				evt_cli_range_err("--rate", optarg,
				    "more than 0");
			break;
		case 'c':
			v = evt_cli_count_arg("--cameras", optarg);
			if (v == 0 || v > 10000000)
				evt_cli_range_err("--cameras", optarg,
				    "1..10000000");
			opts->ncameras = (uint32_t)v;
			break;
		case 't':
			opts->start_us = evt_cli_time_arg("--start-us", optarg);
			break;
		case 'd':
			opts->data_fraction = evt_cli_number_arg(
			    "--data-fraction", optarg);
			if (opts->data_fraction > 1)
				evt_cli_range_err("--data-fraction", optarg,
				    "at most 1");
			/* The library reads 0 as "default"; 0 here means none. */
			if (opts->data_fraction == 0)
				opts->data_fraction = -1;
			break;
		case 'S': *states = 1; break;
		case 'h':
			usage(stdout);
			exit(EVT_EXIT_OK);
		default:
			evt_cli_getopt_err(ch, argv);
		}
	}
	if (optind != argc)
		evt_cli_usage_err("unexpected argument: %s", argv[optind]);
}

/* Writes at least events events as "<rx_us>\t<json>" lines to stdout.
 * Returns 0, or -1 on a write error (reported). */
static int
write_events(struct evt_gen *g, uint64_t events)
{
	struct evt_buf *out = evt_cli_out_buf();
	uint64_t done = 0;
	const char *json;
	char head[24], *p;
	int64_t rx;
	uint32_t n;
	size_t len;

	while (done < events) {
		len = evt_gen_next(g, &json, &rx, &n);
		p = evt_put_i64(head, rx);
		*p++ = '\t';
		if (evt_buf_put(out, head, (size_t)(p - head)) != 0 ||
		    evt_buf_put(out, json, len) != 0 ||
		    evt_buf_putc(out, '\n') != 0)
			evt_cli_fatal("out of memory");
		if (evt_cli_out_maybe() != 0)
			return -1;
		done += n;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct evt_gen_opts opts;
	struct evt_gen *g;
	uint64_t events = 100000;
	const char *json;
	size_t len;
	int states = 0, rc;

	evt_cli_init("evgen");
	memset(&opts, 0, sizeof(opts));
	parse_args(argc, argv, &opts, &events, &states);
	if ((g = evt_gen_new(&opts)) == NULL)
		evt_cli_fatal("out of memory");
	if (states) {
		len = evt_gen_states(g, &json);
		if (json == NULL)
			evt_cli_fatal("out of memory");
		rc = evt_cli_out(json, len) | evt_cli_out("\n", 1);
	} else
		rc = write_events(g, events);
	evt_gen_free(g);
	rc |= evt_cli_out_flush();
	evt_cli_out_free();
	return rc == 0 ? EVT_EXIT_OK : EVT_EXIT_FAIL;
}
