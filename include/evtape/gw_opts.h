/*
 * gw_opts.h: what the two programs that serve the gateway (evsim and
 * evplay --listen) share around it: the gateway-server options (one
 * getopt table, one parser, one usage fragment, one set of checks), the
 * start (secret files, evt_gw_new, the ready file), log lines and the
 * graceful stop.  Each program keeps only what is its own (evsim's
 * generator and fault injection, evplay's archive and timelines).
 *
 *   argv -> getopt_long(prog's options + EVT_GWO_LONGOPTS)
 *        -> evt_gwo_arg (ours) -> evt_gwo_check -> o->go (+ callbacks)
 *        -> evt_gwo_start (reads the secret files, listens, wipes them,
 *           writes --ready-file) -> loop -> evt_gwo_shutdown -> evt_gwo_free
 *
 * Values are read by the shared parsers of cli.h (durations "30s", sizes
 * "64M", counts), with its messages: a bad value is a usage error (exit
 * EVT_EXIT_USAGE).  Messages carry the name evt_cli_init set.  Secrets
 * never reach argv or a log: they are read from the files named by
 * --password-file/--token-file when the gateway starts, copied by it, and
 * wiped at once.
 */
#ifndef EVTAPE_GW_OPTS_H
#define EVTAPE_GW_OPTS_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "evtape/cli.h"
#include "evtape/gateway.h"

struct event;
struct event_base;

/* getopt_long codes of the shared options; a program's own codes stay
 * below EVT_GWO_FIRST. */
enum {
	EVT_GWO_FIRST = 0x1000,
	EVT_GWO_LISTEN = EVT_GWO_FIRST, EVT_GWO_READY, EVT_GWO_CERT,
	EVT_GWO_KEY, EVT_GWO_USER, EVT_GWO_PWFILE, EVT_GWO_ANY,
	EVT_GWO_TOKFILE, EVT_GWO_TOKLIFE, EVT_GWO_CORS, EVT_GWO_CLOCK,
	EVT_GWO_MAXCONN, EVT_GWO_MAXCLIENTS, EVT_GWO_MAXFRAME,
	EVT_GWO_WINDOW, EVT_GWO_HIST, EVT_GWO_MAXQUEUE, EVT_GWO_PING,
	EVT_GWO_DEAD, EVT_GWO_HTTPTO, EVT_GWO_HTTPIDLE, EVT_GWO_WSTO,
	EVT_GWO_SUBTO,
	EVT_GWO_LAST
};

/* The shared entries of a program's struct option array (put them before
 * its {NULL, 0, NULL, 0} end).  --max-clients is a deprecated alias of
 * --max-conns (evplay's old name), not listed in the usage. */
#define EVT_GWO_LONGOPTS						\
	{"listen", required_argument, NULL, EVT_GWO_LISTEN},		\
	{"ready-file", required_argument, NULL, EVT_GWO_READY},		\
	{"tls-cert", required_argument, NULL, EVT_GWO_CERT},		\
	{"tls-key", required_argument, NULL, EVT_GWO_KEY},		\
	{"user", required_argument, NULL, EVT_GWO_USER},		\
	{"password-file", required_argument, NULL, EVT_GWO_PWFILE},	\
	{"any-user", no_argument, NULL, EVT_GWO_ANY},			\
	{"token-file", required_argument, NULL, EVT_GWO_TOKFILE},	\
	{"token-lifetime", required_argument, NULL, EVT_GWO_TOKLIFE},	\
	{"cors", required_argument, NULL, EVT_GWO_CORS},		\
	{"clock", required_argument, NULL, EVT_GWO_CLOCK},		\
	{"max-conns", required_argument, NULL, EVT_GWO_MAXCONN},	\
	{"max-clients", required_argument, NULL, EVT_GWO_MAXCLIENTS},	\
	{"max-frame", required_argument, NULL, EVT_GWO_MAXFRAME},	\
	{"resume-window", required_argument, NULL, EVT_GWO_WINDOW},	\
	{"history-bytes", required_argument, NULL, EVT_GWO_HIST},	\
	{"max-queue", required_argument, NULL, EVT_GWO_MAXQUEUE},	\
	{"ping", required_argument, NULL, EVT_GWO_PING},		\
	{"dead-timeout", required_argument, NULL, EVT_GWO_DEAD},	\
	{"http-timeout", required_argument, NULL, EVT_GWO_HTTPTO},	\
	{"http-idle", required_argument, NULL, EVT_GWO_HTTPIDLE},	\
	{"ws-session-timeout", required_argument, NULL, EVT_GWO_WSTO},	\
	{"sub-timeout", required_argument, NULL, EVT_GWO_SUBTO}

/* --clock: one timeline per session, or one shared by all. */
enum evt_gwo_clock { EVT_GWO_CLOCK_SESSION, EVT_GWO_CLOCK_SHARED };

/* The gateway server of a program: its options as given, then the
 * running gateway.  Strings borrowed from argv unless said otherwise. */
struct evt_gwo {
	const char *listen;	   /* --listen as given, or NULL */
	char *host;		   /* parsed --listen host (owned), or NULL:
				      127.0.0.1 */
	uint16_t port;		   /* parsed --listen port [0: a free one] */
	const char *ready_file;
	const char *pwfile, *tokfile;
	int any_user;		   /* --any-user */
	enum evt_gwo_clock clock;  /* --clock, else the program's default */
	int given;		   /* some option of ours besides --listen
				      (evplay: they need --listen) */
	int verbosity;		   /* evt_gwo_log prints levels up to this */
	const char *cors[EVT_CLI_MAX_CORS];
	struct evt_gw_opts go;	   /* what evt_gw_new gets; the program adds
				      its callbacks, arg and product name */
	struct evt_gw *gw;	   /* once started (owned) */

	/* private */
	struct event_base *base;
	struct event *stop_ev;
	int64_t stop_deadline;
	int stopping;
	char *password, *token;
	const char *stoks[1];
};

/*
 * Initialises o with the program's defaults: clock and max_conns (0: the
 * gateway's); verbosity EVT_GW_LOG_WARN.
 */
void evt_gwo_init(struct evt_gwo *o, enum evt_gwo_clock clock,
    uint32_t max_conns);

/*
 * Takes getopt_long's code c and optarg arg (borrowed: argv outlives o).
 * Returns 1 if c is one of ours (then its value is checked and stored),
 * 0 if not (the program's own or unknown).  A bad value is reported and
 * exits EVT_EXIT_USAGE.
 */
int evt_gwo_arg(struct evt_gwo *o, int c, const char *arg);

/*
 * Checks what goes together across options (--tls-cert with --tls-key,
 * --user with --password-file, not --user with --any-user); reports the
 * first problem and exits EVT_EXIT_USAGE.
 */
void evt_gwo_check(const struct evt_gwo *o);

/*
 * Prints the usage lines of the shared options (with the program's
 * defaults from evt_gwo_init) to f.
 */
void evt_gwo_usage(FILE *f, const struct evt_gwo *o);

/*
 * Reads the secret files (exits EVT_EXIT_USAGE if one cannot be read),
 * makes the process not dumpable, starts the gateway with o->go on base
 * (borrowed; must outlive o->gw), wipes the secrets, logs "listening on
 * URL" (info) and writes --ready-file.  Returns 0 (o->gw set), or the
 * exit status to leave with after a one-line report: EVT_EXIT_USAGE if
 * the gateway refused an option (EVT_ERR_ARG), else EVT_EXIT_FAIL.
 */
int evt_gwo_start(struct evt_gwo *o, struct event_base *base);

/*
 * Stops serving: closes every connection with 1001 (evt_gw_shutdown) and
 * leaves the loop (event_base_loopexit) once they are all gone, or after
 * 3 s.  A second call does nothing.  Returns 0, or -1 (out of memory: the
 * loop is left at once).
 */
int evt_gwo_shutdown(struct evt_gwo *o);

/* Tells whether evt_gwo_shutdown was called. */
int evt_gwo_stopping(const struct evt_gwo *o);

/*
 * Writes "PROG: LEVEL: text" to stderr through evt_cli_err if level <=
 * o->verbosity (the gateway's log_cb lines go through here too).
 */
void evt_gwo_log(const struct evt_gwo *o, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Frees the gateway (evt_gw_free: connections closed at once), the timer
 * and the parsed host; o can be initialised again. */
void evt_gwo_free(struct evt_gwo *o);

#endif
