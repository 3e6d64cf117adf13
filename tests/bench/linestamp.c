/*
 * linestamp: the follower's side of tests/bench/follow.sh.  Reads lines
 * (evtool cat -f --tsv) from stdin and notes, for each, the wall clock
 * when the read that completed it returned and the first "id" in it (the
 * message's first event).  Kept in memory until end of input, so no I/O
 * between arrivals; then writes "<wall clock us> <id>" per line to OUT,
 * the form of evsim --log-sent-times and of wscount's "ids" stamps.
 *
 *   linestamp OUT
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evtape/timefmt.h"

struct stamp {
	uint64_t us;
	char id[40];
};

/* Notes line[0..len) as arrived at us. */
static void
note(struct stamp **st, size_t *n, size_t *cap, const char *line,
    size_t len, uint64_t us)
{
	const char *p = memmem(line, len, "\"id\":\"", 6);
	size_t k = 0;

	if (p == NULL)
		return;
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 4096;
		if ((*st = realloc(*st, *cap * sizeof **st)) == NULL) {
			fprintf(stderr, "linestamp: out of memory\n");
			exit(1);
		}
	}
	p += 6;
	while (k < sizeof (*st)->id - 1 && p + k < line + len && p[k] != '"')
		k++;
	memcpy((*st)[*n].id, p, k);
	(*st)[*n].id[k] = '\0';
	(*st)[*n].us = us;
	(*n)++;
}

int
main(int argc, char **argv)
{
	static char buf[1 << 20];
	struct stamp *st = NULL;
	size_t n = 0, cap = 0, have = 0;
	ssize_t r;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: linestamp OUT\n");
		return 2;
	}
	for (;;) {
		r = read(0, buf + have, sizeof buf - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		uint64_t us = (uint64_t)evt_wall_us();
		have += (size_t)r;
		char *s = buf, *nl;
		while ((nl = memchr(s, '\n', have - (size_t)(s - buf))) !=
		    NULL) {
			note(&st, &n, &cap, s, (size_t)(nl - s), us);
			s = nl + 1;
		}
		have -= (size_t)(s - buf);
		memmove(buf, s, have);
		if (have == sizeof buf)
			have = 0; /* a line longer than the buffer: dropped */
	}
	if ((f = fopen(argv[1], "w")) == NULL) {
		perror(argv[1]);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%llu %s\n", (unsigned long long)st[i].us, st[i].id);
	free(st);
	return fclose(f) == 0 ? 0 : 1;
}
