/*
 * natsceil: the server's ceiling for bench/nats.sh, a measuring
 * instrument, not a NATS client: it speaks just enough of the NATS
 * protocol over one loopback TCP socket (no TLS, no authentication, no
 * reconnect, no flow control beyond its window) to keep a JetStream
 * server as busy as a client can, so that the rate it gets is what the
 * server itself takes on this machine: the ceiling of any client, evrec
 * --publish and the libnats baseline (natspub) included.
 *
 *   natsceil nats://127.0.0.1:PORT FILE [--prefix P] [--window N]
 *            [--site SITE] [--server-pid PID]
 *
 * FILE: one event per line (`evtool cat` output), read into memory before
 * the clock starts.  Each line is published as evrec --publish would
 * publish it as the only event of a frame: its subject and every header
 * of formats/nats.md made by natsio (the same functions evrec uses;
 * Evtape-Frame <fixed uuid>/1/<line number>, Evtape-Item 0/1, Evtape-Rx
 * now), as pipelined HPUB with a reply subject _INBOX.<pid>.ceil.<n>; one
 * wildcard SUB takes the acknowledgements.  At most N (default 4096)
 * publishes await their ack.  Every ack must be a PubAck
 * ({"stream":..,"seq":..}): an error or a no-responders status (no
 * stream takes the subject) counts as failed and the first is printed.
 * Prints
 *   acked N failed F seconds S rate R server_cpu C
 * (R: acknowledged messages per second from the first publish to the last
 * ack; C: the server's CPU over that time in % of one core, from
 * /proc/PID/stat, with --server-pid; else -1).  Exit 0 if every message
 * was acknowledged.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "evtape/buf.h"
#include "evtape/cli.h"
#include "evtape/natsio.h"
#include "evtape/timefmt.h"

#define OUT_HIGH (1 << 20)	/* output buffered at most, about */
#define IN_MAX (8 << 20)	/* a protocol line or ack larger: fatal */

struct ceil {
	int fd;
	struct evt_buf out;	/* to write; written from out_off */
	size_t out_off;
	struct evt_buf in;	/* read, not yet parsed */
	unsigned long long acked, failed;
	char inbox[64];		/* "_INBOX.<pid>.ceil." */
};

/* The server's user + system CPU ticks, or -1. */
static long long
cpu_ticks(long pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the ")" that ends the name: state, then 10 fields, then
	 * utime (14th) and stime (15th). */
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
	    "%*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

/* Blocks until the whole buffer is written (the handshake). */
static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			evt_cli_fatal("write: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* Reads what the socket has into c->in; 0 at the end of the stream. */
static ssize_t
fill(struct ceil *c)
{
	if (evt_buf_grow(&c->in, 65536) != 0)
		evt_cli_fatal("out of memory");
	ssize_t r = read(c->fd, c->in.p + c->in.len, 65536);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return -1;
	if (r < 0)
		evt_cli_fatal("read: %s", strerror(errno));
	if (r == 0)
		evt_cli_fatal("the server closed the connection");
	c->in.len += (size_t)r;
	return r;
}

/* One ack's payload: a PubAck, or an error (the first printed). */
static void
ack(struct ceil *c, const char *hdr, size_t hlen, const char *pl, size_t n)
{
	int ok = hlen == 0 && n > 10 && memcmp(pl, "{\"stream\":", 10) == 0 &&
	    memmem(pl, n, "\"seq\":", 6) != NULL &&
	    memmem(pl, n, "\"error\"", 7) == NULL;
	if (ok) {
		c->acked++;
		return;
	}
	if (c->failed++ == 0) {
		if (hlen > 0)	/* a status: 503 no responders */
			evt_cli_err("publish failed: %.*s%s", (int)strcspn(hdr,
			    "\r"), hdr, memmem(hdr, hlen, " 503", 4) != NULL ?
			    " (no responders: no stream takes the subject)" :
			    "");
		else
			evt_cli_err("publish failed: %.*s", (int)n, pl);
	}
}

/*
 * Parses what c->in holds: MSG/HMSG (acks), PING (answered), +OK, PONG,
 * INFO (ignored), -ERR (fatal).  Returns the PONGs seen.
 */
static int
parse(struct ceil *c)
{
	size_t pos = 0;
	int pongs = 0;
	char *in = (char *)c->in.p;
	if (c->in.len == 0)
		return 0;
	for (;;) {
		char *e = memmem(in + pos, c->in.len - pos, "\r\n", 2);
		if (e == NULL)
			break;
		size_t ll = (size_t)(e - (in + pos));
		const char *l = in + pos;
		if (ll > 4 && (memcmp(l, "MSG ", 4) == 0 ||
		    memcmp(l, "HMSG ", 5) == 0)) {
			/* [H]MSG subject sid [reply] [hlen] total */
			int h = l[0] == 'H';
			const char *sp = memrchr(l, ' ', ll), *sp2;
			size_t total = strtoul(sp + 1, NULL, 10), hl = 0;
			if (h) {
				sp2 = memrchr(l, ' ', (size_t)(sp - l));
				hl = sp2 != NULL ? strtoul(sp2 + 1, NULL, 10) :
				    0;
			}
			if (hl > total || total > IN_MAX)
				evt_cli_fatal("bad line from the server: %.*s",
				    (int)ll, l);
			if (c->in.len - pos < ll + 2 + total + 2)
				break;
			const char *body = l + ll + 2;
			ack(c, body, hl, body + hl, total - hl);
			pos += ll + 2 + total + 2;
			continue;
		}
		if (ll >= 4 && memcmp(l, "PING", 4) == 0) {
			if (evt_buf_put(&c->out, "PONG\r\n", 6) != 0)
				evt_cli_fatal("out of memory");
		} else if (ll >= 4 && memcmp(l, "PONG", 4) == 0) {
			pongs++;
		} else if (ll >= 4 && memcmp(l, "-ERR", 4) == 0) {
			evt_cli_fatal("server: %.*s", (int)ll, l);
		}
		pos += ll + 2;
	}
	if (c->in.len - pos > IN_MAX)
		evt_cli_fatal("a line from the server is too long");
	memmove(in, in + pos, c->in.len - pos);
	c->in.len -= pos;
	return pongs;
}

/* Connects to 127.0.0.1:port (any numeric IPv4 "nats://A.B.C.D:P"). */
static int
dial(const char *url)
{
	const char *hp = strstr(url, "://") != NULL ? strstr(url, "://") + 3 :
	    url;
	char host[64];
	const char *colon = strrchr(hp, ':');
	struct sockaddr_in a = { .sin_family = AF_INET };
	if (colon == NULL || (size_t)(colon - hp) >= sizeof host)
		evt_cli_usage_err("%s: not nats://A.B.C.D:PORT", url);
	memcpy(host, hp, (size_t)(colon - hp));
	host[colon - hp] = '\0';
	a.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		evt_cli_usage_err("%s: not nats://A.B.C.D:PORT", url);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		evt_cli_fatal("%s: connect: %s", url, strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* INFO in, CONNECT + SUB + PING out, PONG awaited (blocking). */
static void
handshake(struct ceil *c)
{
	char cmd[256];
	snprintf(c->inbox, sizeof c->inbox, "_INBOX.%ld.ceil.",
	    (long)getpid());
	int n = snprintf(cmd, sizeof cmd, "CONNECT {\"verbose\":false,"
	    "\"pedantic\":false,\"headers\":true,\"no_responders\":true,"
	    "\"protocol\":1,\"name\":\"natsceil\"}\r\nSUB %s* 1\r\nPING\r\n",
	    c->inbox);
	write_all(c->fd, cmd, (size_t)n);
	while (parse(c) == 0) {
		fill(c);
		if (c->out.len > 0) {	/* a PING answered */
			write_all(c->fd, (char *)c->out.p, c->out.len);
			c->out.len = 0;
		}
	}
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) != 0)
		evt_cli_fatal("fcntl: %s", strerror(errno));
}

/* Appends HPUB of line number no (from 1) to c->out. */
static void
hpub(struct ceil *c, struct evt_buf *subj, struct evt_buf *hb,
    const char *prefix, const char *site, const char *line, size_t len,
    unsigned long long no)
{
	static const struct evt_nats_ref base = { .uuid = { 0x5f, 0x0c, 0x1d,
		0x2e, 0x3a, 0x4b, 0x4c, 0x5d, 0x8e, 0x6f, 0x7a, 0x8b, 0x9c,
		0x0d, 0x1e, 0x2f }, .seg = 1, .item = 0, .nitems = 1 };
	struct evt_nats_ref ref = base;
	struct evt_nats_event e;
	struct evt_nats_hdrs h;
	char cmd[600];
	ref.ord = no;
	evt_nats_event_read(line, len, &e);
	evt_nats_headers(&h, EVT_NATS_EVENT, evt_wall_us(), &ref, &e);
	hb->len = 0;
	if (evt_nats_subject(subj, prefix, EVT_NATS_EVENT, &e) != 0 ||
	    evt_nats_header_block(hb, &h, site) != 0)
		evt_cli_fatal("out of memory");
	int n = snprintf(cmd, sizeof cmd, "HPUB %s %s%llu %zu %zu\r\n",
	    (char *)subj->p, c->inbox, no, hb->len, hb->len + len);
	if (n < 0 || (size_t)n >= sizeof cmd || evt_buf_put(&c->out, cmd,
	    (size_t)n) != 0 || evt_buf_put(&c->out, hb->p, hb->len) != 0 ||
	    evt_buf_put(&c->out, line, len) != 0 ||
	    evt_buf_put(&c->out, "\r\n", 2) != 0)
		evt_cli_fatal("out of memory");
}

/* Writes what the socket takes of c->out. */
static void
flush_some(struct ceil *c)
{
	ssize_t w = write(c->fd, c->out.p + c->out_off,
	    c->out.len - c->out_off);
	if (w < 0 && errno != EAGAIN && errno != EINTR)
		evt_cli_fatal("write: %s", strerror(errno));
	if (w > 0)
		c->out_off += (size_t)w;
	if (c->out_off == c->out.len)
		c->out_off = c->out.len = 0;
	else if (c->out_off > OUT_HIGH / 2) {
		memmove(c->out.p, c->out.p + c->out_off,
		    c->out.len - c->out_off);
		c->out.len -= c->out_off;
		c->out_off = 0;
	}
}

static char *
read_input(const char *path, size_t *n)
{
	struct evt_buf b = {0};
	FILE *f = fopen(path, "rb");
	size_t r;
	if (f == NULL)
		evt_cli_fatal("%s: %s", path, strerror(errno));
	do {
		if (evt_buf_grow(&b, 1 << 20) != 0)
			evt_cli_fatal("out of memory");
		r = fread(b.p + b.len, 1, 1 << 20, f);
		b.len += r;
	} while (r > 0);
	if (ferror(f))
		evt_cli_fatal("%s: cannot read", path);
	fclose(f);
	*n = b.len;
	return (char *)b.p;
}

int
main(int argc, char **argv)
{
	const char *pos[2] = { NULL, NULL }, *prefix = "xprotect.bench";
	const char *site = "bench";
	unsigned long long window = 4096, sent = 0, lines = 0;
	long pid = 0;
	int npos = 0;
	struct ceil c = {0};
	struct evt_buf subj = {0}, hb = {0};
	size_t n;

	evt_cli_init("natsceil");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc)
			prefix = argv[++i];
		else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc)
			window = evt_cli_count_arg("--window", argv[++i]);
		else if (strcmp(argv[i], "--site") == 0 && i + 1 < argc)
			site = argv[++i];
		else if (strcmp(argv[i], "--server-pid") == 0 && i + 1 < argc)
			pid = (long)evt_cli_count_arg("--server-pid",
			    argv[++i]);
		else if (npos < 2)
			pos[npos++] = argv[i];	/* URL, FILE */
		else
			evt_cli_usage_err("%s: unexpected", argv[i]);
	}
	const char *url = pos[0], *file = pos[1];
	if (npos < 2 || window == 0 || !evt_nats_prefix_ok(prefix))
		evt_cli_usage_err("usage: natsceil nats://A.B.C.D:PORT FILE "
		    "[--prefix P] [--window N] [--site SITE] "
		    "[--server-pid PID]");
	char *buf = read_input(file, &n), *p = buf, *end = buf + n;
	for (char *q = buf; q < end; q++)
		lines += *q == '\n';
	if (n > 0 && end[-1] != '\n')
		lines++;
	c.fd = dial(url);
	handshake(&c);

	long long ticks0 = pid > 0 ? cpu_ticks(pid) : -1;
	int64_t t0 = evt_mono_us();
	while (c.acked + c.failed < lines) {
		while (p < end && sent - c.acked - c.failed < window &&
		    c.out.len < OUT_HIGH) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl != NULL ? (size_t)(nl - p) :
			    (size_t)(end - p);
			hpub(&c, &subj, &hb, prefix, site, p, len, ++sent);
			p += len + (nl != NULL);
		}
		struct pollfd pf = { .fd = c.fd, .events = POLLIN |
		    (c.out.len > c.out_off ? POLLOUT : 0) };
		if (poll(&pf, 1, 10000) == 0)
			evt_cli_fatal("no acknowledgement for 10 s (%llu of "
			    "%llu)", c.acked + c.failed, lines);
		if (pf.revents & POLLOUT)
			flush_some(&c);
		if (pf.revents & (POLLIN | POLLHUP | POLLERR) &&
		    fill(&c) > 0)
			(void)parse(&c);
	}
	double s = (double)(evt_mono_us() - t0) / 1e6;
	long long ticks1 = pid > 0 ? cpu_ticks(pid) : -1;
	double cpu = ticks0 >= 0 && ticks1 >= 0 && s > 0 ? 100.0 *
	    (double)(ticks1 - ticks0) / (double)sysconf(_SC_CLK_TCK) / s : -1;
	printf("acked %llu failed %llu seconds %.3f rate %.0f server_cpu "
	    "%.0f\n", c.acked, c.failed, s, s > 0 ? (double)c.acked / s : 0,
	    cpu);
	close(c.fd);
	free(buf);
	evt_buf_free(&c.out);
	evt_buf_free(&c.in);
	evt_buf_free(&subj);
	evt_buf_free(&hb);
	return c.failed == 0 && c.acked == lines ? 0 : 1;
}
