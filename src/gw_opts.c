/*
 * gw_opts.c: the gateway-server options of evsim and evplay, parsed once,
 * and the start, log lines and graceful stop around the gateway
 * (gw_opts.h).  The gateway itself is gateway.c; this is program glue.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "evtape/cli.h"
#include "evtape/err.h"
#include "evtape/gw_opts.h"
#include "evtape/timefmt.h"

#define MAX_SECS 1e6		/* longest time option, s (gateway.c's bound) */
#define STOP_GRACE_US 3000000	/* closing handshakes at shutdown */

/* Parses a time option (a duration: "30", "1.5s", "2m") into seconds,
 * up to MAX_SECS and more than 0 if positive is set, or exits 2. */
static double
secs_arg(const char *where, const char *s, int positive)
{
	int64_t us = evt_cli_duration_arg(where, s);

	if ((double)us / 1e6 > MAX_SECS || (positive && us == 0))
		evt_cli_range_err(where, s, positive ? "more than 0, up to "
		    "1e6 s" : "up to 1e6 s");
	return (double)us / 1e6;
}

/* Parses a size option ("64M", "1048576") of at least min bytes, or
 * exits 2 (range says the bounds). */
static uint64_t
size_arg(const char *where, const char *s, uint64_t min, uint64_t max,
    const char *range)
{
	uint64_t v = evt_cli_size_arg(where, s);

	if (v < min || v > max)
		evt_cli_range_err(where, s, range);
	return v;
}

/* Sets o to the defaults of a program (its clock and connection limit); see gw_opts.h. */
void
evt_gwo_init(struct evt_gwo *o, enum evt_gwo_clock clock, uint32_t max_conns)
{
	memset(o, 0, sizeof *o);
	o->clock = clock;
	o->go.max_conns = max_conns;
	o->verbosity = EVT_GW_LOG_WARN;
}

/* Takes the options that are strings or flags; returns 1 if c was one. */
static int
plain_arg(struct evt_gwo *o, int c, const char *arg)
{
	switch (c) {
	case EVT_GWO_LISTEN:
		free(o->host);
		o->host = NULL;
		if (evt_cli_hostport(arg, &o->host, &o->port) != 0)
			evt_cli_usage_err("--listen: expected [HOST:]PORT with "
			    "a numeric HOST (IPv4, or IPv6 in brackets), got "
			    "'%s'", arg);
		o->listen = arg;
		return 1;
	case EVT_GWO_READY: o->ready_file = arg; return 1;
	case EVT_GWO_CERT: o->go.tls_cert = arg; return 1;
	case EVT_GWO_KEY: o->go.tls_key = arg; return 1;
	case EVT_GWO_USER: o->go.username = arg; return 1;
	case EVT_GWO_PWFILE: o->pwfile = arg; return 1;
	case EVT_GWO_ANY: o->any_user = 1; return 1;
	case EVT_GWO_TOKFILE: o->tokfile = arg; return 1;
	case EVT_GWO_CORS:
		evt_cli_cors_arg(evt_cli_prog(), arg, o->cors, &o->go.ncors_origins);
		o->go.cors_origins = o->cors;
		return 1;
	case EVT_GWO_CLOCK:
		if (strcmp(arg, "session") == 0)
			o->clock = EVT_GWO_CLOCK_SESSION;
		else if (strcmp(arg, "shared") == 0)
			o->clock = EVT_GWO_CLOCK_SHARED;
		else
			evt_cli_usage_err("--clock: session or shared, not "
			    "'%s'", arg);
		return 1;
	default:
		return 0;
	}
}

/* The options that are a duration in seconds: where each goes in struct
 * evt_gw_opts, and whether 0 is refused. */
static const struct secs_opt {
	int c;
	const char *name;
	size_t off;
	int positive;
} secs_opts[] = {
	{EVT_GWO_WINDOW, "--resume-window",
	    offsetof(struct evt_gw_opts, resume_window), 1},
	{EVT_GWO_PING, "--ping",
	    offsetof(struct evt_gw_opts, ping_interval), 0},
	{EVT_GWO_DEAD, "--dead-timeout",
	    offsetof(struct evt_gw_opts, dead_timeout), 0},
	{EVT_GWO_HTTPTO, "--http-timeout",
	    offsetof(struct evt_gw_opts, http_timeout), 0},
	{EVT_GWO_HTTPIDLE, "--http-idle",
	    offsetof(struct evt_gw_opts, http_idle), 0},
	{EVT_GWO_WSTO, "--ws-session-timeout",
	    offsetof(struct evt_gw_opts, ws_session_timeout), 0},
	{EVT_GWO_SUBTO, "--sub-timeout",
	    offsetof(struct evt_gw_opts, sub_timeout), 0},
};

/* Takes a duration option; returns 1 if c was one. */
static int
secs_opt_arg(struct evt_gwo *o, int c, const char *arg)
{
	for (size_t i = 0; i < sizeof secs_opts / sizeof secs_opts[0]; i++) {
		const struct secs_opt *so = &secs_opts[i];
		if (so->c != c)
			continue;
		*(double *)(void *)((char *)&o->go + so->off) = secs_arg(
		    so->name, arg, so->positive);
		return 1;
	}
	return 0;
}

/* Applies one getopt_long result if it is a gateway-server option; see gw_opts.h. */
int
evt_gwo_arg(struct evt_gwo *o, int c, const char *arg)
{
	struct evt_gw_opts *go = &o->go;

	if (c < EVT_GWO_FIRST || c >= EVT_GWO_LAST)
		return 0;
	if (c != EVT_GWO_LISTEN)
		o->given = 1;
	if (plain_arg(o, c, arg))
		return 1;
	if (secs_opt_arg(o, c, arg)) {
		if (c == EVT_GWO_WSTO && go->ws_session_timeout == 0)
			go->ws_session_timeout = -1; /* the gateway's "never" */
		return 1;
	}
	switch (c) {
	case EVT_GWO_TOKLIFE:
		go->token_lifetime = (uint32_t)secs_arg("--token-lifetime",
		    arg, 1);
		if (go->token_lifetime == 0)
			evt_cli_range_err("--token-lifetime", arg,
			    "at least 1 s");
		break;
	case EVT_GWO_MAXCONN:
	case EVT_GWO_MAXCLIENTS: {
		const char *where = c == EVT_GWO_MAXCONN ? "--max-conns" :
		    "--max-clients";
		uint64_t n = evt_cli_count_arg(where, arg);
		if (n < 1 || n > 100000)
			evt_cli_range_err(where, arg, "1..100000");
		go->max_conns = (uint32_t)n;
		break;
	}
	case EVT_GWO_MAXFRAME:
		go->ess_limits.max_frame = (size_t)size_arg("--max-frame", arg,
		    1024, (uint64_t)1 << 30, "1k..1G");
		break;
	case EVT_GWO_HIST:
		go->history_bytes = (size_t)size_arg("--history-bytes", arg, 0,
		    SIZE_MAX, "a size_t");
		break;
	case EVT_GWO_MAXQUEUE:
		go->max_queue = (size_t)size_arg("--max-queue", arg,
		    (uint64_t)64 << 10, SIZE_MAX / 2, "at least 64k");
		break;
	default:
		return 0;
	}
	return 1;
}

/* Checks what the gateway-server options need of each other, or exits 2. */
void
evt_gwo_check(const struct evt_gwo *o)
{
	if ((o->go.tls_cert == NULL) != (o->go.tls_key == NULL))
		evt_cli_usage_err("--tls-cert and --tls-key go together");
	if (o->go.username != NULL && o->any_user)
		evt_cli_usage_err("--user and --any-user exclude each other");
	if ((o->go.username != NULL) != (o->pwfile != NULL))
		evt_cli_usage_err("--user and --password-file go together");
}

/* Formats a size as the parsers take it: "64M", "16k" or bytes. */
static const char *
fmt_size(uint64_t v, char out[24])
{
	static const char units[] = "kMGT";
	int u = -1;

	while (u < 3 && v >= 1024 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(out, 24, "%" PRIu64, v);
	else
		snprintf(out, 24, "%" PRIu64 "%c", v, units[u]);
	return out;
}

/* Prints the gateway-server options block of --help, with the defaults. */
void
evt_gwo_usage(FILE *f, const struct evt_gwo *o)
{
	struct evt_gw_opts d;
	char hist[24], queue[24], frame[24];

	/* The gateway's defaults, where the program sets none of its own. */
	memset(&d, 0, sizeof d);
	d.max_conns = o->go.max_conns;
	evt_gw_opts_defaults(&d);
	fprintf(f,
"gateway server:\n"
"  --listen [HOST:]PORT    listen address, HOST a numeric IPv4 or [IPv6]\n"
"                          address (%s unless given; port 0 picks a\n"
"                          free one)\n"
"  --ready-file FILE       write \"PORT\\n\" to FILE once listening\n"
"  --tls-cert FILE --tls-key FILE   serve https/wss\n"
"  --user NAME --password-file FILE the one accepted credential\n"
"  --any-user              accept any username and password\n"
"  --token-file FILE       also accept the token on FILE's first line\n"
"  --token-lifetime S      expires_in of issued tokens (default %u s)\n"
"  --cors ORIGIN|*         let pages of ORIGIN (http://host:port; * any)\n"
"                          call the token, REST and control endpoints\n"
"                          (repeatable)\n"
"  --clock session|shared  a timeline per session from its first\n"
"                          subscription, or one for all (default %s)\n"
"  --max-conns N           open connections (default %u; 503 beyond)\n"
"  --resume-window S       how long a session outlives its connection\n"
"                          (default %g s)\n"
"  --history-bytes B       per-session resume history bound (default %s)\n"
"  --max-queue B           responses a client leaves unread before 1008\n"
"                          (default %s)\n"
"  --max-frame B           largest inbound message (default %s; 1009)\n"
"  --ping S                WebSocket ping interval (default 0: none)\n"
"  --dead-timeout S        close (1006) a WebSocket silent for S (default\n"
"                          0: never)\n"
"  --http-timeout S        a request must arrive whole within S of its\n"
"                          first byte, else 408 (default %g)\n"
"  --http-idle S           keep-alive idle limit (default %g)\n"
"  --ws-session-timeout S  close (1008) a WebSocket without a session\n"
"                          after S (default %g; 0: never)\n"
"  --sub-timeout S         close (1008) a session without a subscription\n"
"                          after S (default 0: never)\n"
"  S: seconds, or with a unit (250ms, 30s, 2m, 1h); B: bytes, or with k,\n"
"  M, G (64M)\n",
	    d.host, d.token_lifetime,
	    o->clock == EVT_GWO_CLOCK_SHARED ? "shared" : "session",
	    d.max_conns, d.resume_window, fmt_size(d.history_bytes, hist),
	    fmt_size(d.max_queue, queue),
	    fmt_size(d.ess_limits.max_frame, frame), d.http_timeout,
	    d.http_idle, d.ws_session_timeout);
}

/* Reads the secret files into o->go (exits 2 if one cannot be read). */
static void
read_secrets(struct evt_gwo *o)
{
	if (o->pwfile != NULL) {
		o->password = evt_cli_secret_arg(evt_cli_prog(),
		    "--password-file",
		    o->pwfile);
		o->go.password = o->password;
	}
	if (o->tokfile != NULL) {
		o->token = evt_cli_secret_arg(evt_cli_prog(), "--token-file",
		    o->tokfile);
		o->stoks[0] = o->token;
		o->go.static_tokens = o->stoks;
		o->go.nstatic_tokens = 1;
	}
}

/* Wipes the secrets read for the start (the gateway keeps its copies). */
static void
wipe_secrets(struct evt_gwo *o)
{
	evt_cli_free_secret(o->password);
	evt_cli_free_secret(o->token);
	o->password = o->token = NULL;
	o->go.password = NULL;
	o->go.static_tokens = NULL;
	o->go.nstatic_tokens = 0;
}

/* Reads the secret files, starts the gateway and writes the ready file. */
int
evt_gwo_start(struct evt_gwo *o, struct event_base *base)
{
	const char *host = o->host != NULL ? o->host : "127.0.0.1";
	int rc;

	evt_cli_no_dump();	/* it holds the tokens it issues */
	signal(SIGPIPE, SIG_IGN);
	read_secrets(o);
	o->base = base;
	o->go.host = o->host;
	o->go.port = o->port;
	rc = evt_gw_new(base, &o->go, &o->gw);
	wipe_secrets(o);
	if (rc != 0) {
		/* EVT_ERR_IO: the gateway said why, in one line. */
		if (rc != EVT_ERR_IO)
			evt_cli_err("cannot serve on %s:%u: %s", host, o->port,
			    evt_strerror(rc));
		return rc == EVT_ERR_ARG ? EVT_EXIT_USAGE : EVT_EXIT_FAIL;
	}
	evt_gwo_log(o, EVT_GW_LOG_INFO, "listening on %s://%s%s%s:%u",
	    o->go.tls_cert != NULL ? "https" : "http",
	    strchr(host, ':') != NULL ? "[" : "", host,
	    strchr(host, ':') != NULL ? "]" : "", evt_gw_port(o->gw));
	if (o->ready_file != NULL && evt_cli_write_ready(o->ready_file,
	    evt_gw_port(o->gw)) != 0) {
		evt_cli_err("--ready-file %s: %s", o->ready_file,
		    strerror(errno));
		return EVT_EXIT_FAIL;
	}
	return 0;
}

/* The stop timer: leaves the loop once every connection has closed or
 * the grace time is over. */
static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evt_gwo *o = arg;
	struct evt_gw_stats st;
	struct timeval tv = {0, 10000};

	evt_gw_stats(o->gw, &st);
	if (st.conns_now == 0 || evt_mono_us() > o->stop_deadline) {
		/* Not loopbreak: the frees deferred by the last closes (a
		 * wsconn ended inside its own callback) are active events and
		 * run first; a break left them, and LeakSanitizer said so. */
		event_base_loopexit(o->base, NULL);
		return;
	}
	evtimer_add(o->stop_ev, &tv);
}

/* Closes every session (1001) and ends the loop once clients are gone
 * or a grace time has passed; see gw_opts.h. */
int
evt_gwo_shutdown(struct evt_gwo *o)
{
	if (o->stopping)
		return 0;
	o->stopping = 1;
	evt_gw_shutdown(o->gw, 1001);
	o->stop_deadline = evt_mono_us() + STOP_GRACE_US;
	if ((o->stop_ev = evtimer_new(o->base, stop_cb, o)) == NULL) {
		event_base_loopexit(o->base, NULL);
		return -1;
	}
	stop_cb(-1, 0, o);
	return 0;
}

/* Tells whether evt_gwo_shutdown was called. */
int
evt_gwo_stopping(const struct evt_gwo *o)
{
	return o->stopping;
}

/* Logs one line at level through evt_cli_err if verbose enough. */
void
evt_gwo_log(const struct evt_gwo *o, int level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info",
	    "debug"};
	va_list ap;

	char *m;
	int n;

	if (level > o->verbosity)
		return;
	/* Through evt_cli_err, so the program's before-message hook (a
	 * progress line to clear) runs for these lines too. */
	va_start(ap, fmt);
	n = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	evt_cli_err("%s: %s", names[level & 3], m);
	free(m);
}

/* Frees the gateway, the stop timer and what the options hold (secrets
 * wiped). */
void
evt_gwo_free(struct evt_gwo *o)
{
	evt_gw_free(o->gw);
	o->gw = NULL;
	if (o->stop_ev != NULL)
		event_free(o->stop_ev);
	o->stop_ev = NULL;
	wipe_secrets(o);
	free(o->host);
	o->host = NULL;
}
