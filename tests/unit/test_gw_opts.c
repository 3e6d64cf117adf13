/*
 * test_gw_opts.c: the gateway-server options of evsim and evplay
 * (gw_opts.c): values with units land in the gateway's options, the alias
 * acts as its option, bad values exit 2, the usage fragment carries the
 * program's defaults.  No network: evt_gwo_start is run by the
 * integration tests (serve_faults.sh).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evtape/gw_opts.h"
#include "t.h"

/* Runs evt_gwo_arg(c, arg) in a child with stderr discarded; returns its
 * exit status (0: the value was taken), or -1. */
static int
child_status(int c, const char *arg)
{
	int st;
	pid_t pid;

	fflush(stdout);		/* the child's exit() must not print it again */
	pid = fork();

	if (pid == 0) {
		struct evt_gwo o;
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 2);
		evt_gwo_init(&o, EVT_GWO_CLOCK_SHARED, 0);
		evt_gwo_arg(&o, c, arg);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* Values with units and their fields. */
static void
test_values(void)
{
	struct evt_gwo o;

	evt_gwo_init(&o, EVT_GWO_CLOCK_SESSION, 64);
	T_EQ(o.go.max_conns, 64, "init: the program's max_conns");
	T_EQ(o.clock, EVT_GWO_CLOCK_SESSION, "init: the program's clock");
	T_EQ(evt_gwo_arg(&o, 'v', NULL), 0, "a program's own option: not ours");
	T_EQ(evt_gwo_arg(&o, EVT_GWO_LISTEN, "[::1]:8080"), 1, "--listen");
	T_OK(o.host != NULL && strcmp(o.host, "::1") == 0 && o.port == 8080,
	    "--listen [::1]:8080: host ::1, port 8080");
	T_EQ(o.given, 0, "--listen alone: no other option given");
	T_EQ(evt_gwo_arg(&o, EVT_GWO_HIST, "4M"), 1, "--history-bytes");
	T_EQ(o.go.history_bytes, 4 << 20, "--history-bytes 4M");
	T_EQ(o.given, 1, "a gateway option besides --listen: given");
	T_EQ(evt_gwo_arg(&o, EVT_GWO_MAXFRAME, "64k"), 1, "--max-frame");
	T_EQ(o.go.ess_limits.max_frame, 65536, "--max-frame 64k");
	T_EQ(evt_gwo_arg(&o, EVT_GWO_MAXQUEUE, "2M"), 1, "--max-queue");
	T_EQ(o.go.max_queue, 2 << 20, "--max-queue 2M");
	evt_gwo_arg(&o, EVT_GWO_MAXCONN, "9");
	T_EQ(o.go.max_conns, 9, "--max-conns 9");
	evt_gwo_arg(&o, EVT_GWO_MAXCLIENTS, "7");
	T_EQ(o.go.max_conns, 7, "--max-clients 7 (alias)");
	evt_gwo_arg(&o, EVT_GWO_WINDOW, "2m");
	T_OK(o.go.resume_window == 120, "--resume-window 2m: 120 s");
	evt_gwo_arg(&o, EVT_GWO_PING, "1.5");
	T_OK(o.go.ping_interval == 1.5, "--ping 1.5: 1.5 s");
	evt_gwo_arg(&o, EVT_GWO_DEAD, "10s");
	T_OK(o.go.dead_timeout == 10, "--dead-timeout 10s: 10 s");
	evt_gwo_arg(&o, EVT_GWO_WSTO, "0");
	T_OK(o.go.ws_session_timeout < 0, "--ws-session-timeout 0: never");
	evt_gwo_arg(&o, EVT_GWO_TOKLIFE, "1h");
	T_EQ(o.go.token_lifetime, 3600, "--token-lifetime 1h");
	evt_gwo_arg(&o, EVT_GWO_CLOCK, "shared");
	T_EQ(o.clock, EVT_GWO_CLOCK_SHARED, "--clock shared");
	evt_gwo_arg(&o, EVT_GWO_CORS, "http://127.0.0.1:8000");
	evt_gwo_arg(&o, EVT_GWO_CORS, "*");
	T_OK(o.go.ncors_origins == 2 && o.go.cors_origins == o.cors &&
	    strcmp(o.cors[1], "*") == 0, "--cors twice: both origins");
	evt_gwo_arg(&o, EVT_GWO_USER, "alice");
	evt_gwo_arg(&o, EVT_GWO_PWFILE, "/nonexistent");
	evt_gwo_check(&o);	/* exits 2 if it disagrees */
	T_OK(o.pwfile != NULL && o.password == NULL,
	    "the password file is only named until the start");
	evt_gwo_free(&o);
	T_OK(o.host == NULL, "free: the host is freed");
}

/* Bad values exit 2; good ones are taken. */
static void
test_bad(void)
{
	static const struct {
		int c;
		const char *arg;
		int status;
	} cases[] = {
		{EVT_GWO_MAXCONN, "0", 2},
		{EVT_GWO_MAXCONN, "100001", 2},
		{EVT_GWO_MAXCONN, "-1", 2},
		{EVT_GWO_MAXCLIENTS, "x", 2},
		{EVT_GWO_HIST, "4X", 2},
		{EVT_GWO_HIST, "-5", 2},
		{EVT_GWO_MAXFRAME, "1023", 2},
		{EVT_GWO_MAXFRAME, "2G", 2},
		{EVT_GWO_MAXQUEUE, "1k", 2},
		{EVT_GWO_WINDOW, "0", 2},
		{EVT_GWO_PING, "-1", 2},
		{EVT_GWO_HTTPTO, "2e6", 2},	/* no exponent */
		{EVT_GWO_TOKLIFE, "0", 2},
		{EVT_GWO_CLOCK, "sideways", 2},
		{EVT_GWO_LISTEN, "localhost:80", 2},
		{EVT_GWO_CORS, "http://a/path", 2},
		{EVT_GWO_WINDOW, "1e3", 2},
		{EVT_GWO_PING, " 1", 2},
		{EVT_GWO_MAXCONN, "100000", 0},
		{EVT_GWO_HTTPTO, "1000000", 0},
		{EVT_GWO_HTTPTO, "1000001", 2},
		{EVT_GWO_SUBTO, "0", 0},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		T_EQ(child_status(cases[i].c, cases[i].arg), cases[i].status,
		    "option %d '%s': exit %d", cases[i].c, cases[i].arg,
		    cases[i].status);
}

/* The usage fragment names every option and the program's defaults. */
static void
test_usage(void)
{
	struct evt_gwo o;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	evt_gwo_init(&o, EVT_GWO_CLOCK_SHARED, 64);
	evt_gwo_usage(f, &o);
	fclose(f);
	T_OK(strstr(text, "--max-conns N") != NULL &&
	    strstr(text, "(default 64;") != NULL, "usage: --max-conns, "
	    "default 64");
	T_OK(strstr(text, "one for all (default shared)") != NULL,
	    "usage: the program's clock default");
	char want[64];
	snprintf(want, sizeof want, "resume history bound (default %zuM)",
	    (size_t)EVT_GW_DEFAULT_HISTORY_BYTES >> 20);
	T_OK(strstr(text, want) != NULL, "usage: the gateway's default "
	    "history size, from its table (%s)", want);
	T_OK(strstr(text, "--max-clients") == NULL,
	    "usage: the deprecated alias is not listed");
	T_OK(strstr(text, "--history-bytes") && strstr(text, "--max-queue") &&
	    strstr(text, "--ping") && strstr(text, "--dead-timeout"),
	    "usage: the limits");
	free(text);
}

int
main(void)
{
	evt_cli_init("test");
	test_values();
	test_bad();
	test_usage();
	T_DONE();
}
