/*
 * test_log.c: the daemon log's repeat limit (log.c): a line repeated in a
 * tight loop (accept() out of descriptors) is written once, then counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evtape/log.h"
#include "t.h"

/* Reads the log file into buf; returns the number of lines. */
static int
read_log(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = f != NULL ? fread(buf, 1, cap - 1, f) : 0;
	int lines = 0;

	if (f != NULL)
		fclose(f);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		lines += buf[i] == '\n';
	return lines;
}

int
main(void)
{
	char path[] = "/tmp/evtape-test-log.XXXXXX";
	static char buf[1 << 16];
	int fd = mkstemp(path);

	T_OK(fd >= 0, "temporary log file");
	close(fd);
	T_EQ(evt_log_open("test", EVT_LOG_INFO, path), 0, "log opened");
	evt_log_warn("first");
	for (int i = 0; i < 100000; i++)
		evt_log_warn("accept: %s", "Too many open files");
	evt_log_info("accept: %s", "Too many open files");	/* other level */
	evt_log_warn("after");
	evt_log_warn("after");
	evt_log_debug("not written at this level");
	evt_log_warn("end");
	evt_log_close();
	T_EQ(read_log(path, buf, sizeof buf), 7, "100,000 repeats: 7 lines");
	T_OK(strstr(buf, "warning: first\n") != NULL, "first line");
	T_OK(strstr(buf, "warning: accept: Too many open files\n") != NULL,
	    "the repeated line, once");
	T_OK(strstr(buf, "warning: last message repeated 99999 times\n") !=
	    NULL, "then its count");
	T_OK(strstr(buf, "info: accept: Too many open files\n") != NULL,
	    "the same text at another level is another message");
	T_OK(strstr(buf, "warning: last message repeated 1 time\n") != NULL,
	    "one repeat: \"1 time\"");
	T_OK(strstr(buf, "not written") == NULL, "levels still filter");
	T_OK(strstr(buf, "warning: end\n") != NULL, "last line");
	unlink(path);
	T_DONE();
}
