/*
 * cli.c: secret files, sizes, HOST:PORT arguments and ready files (cli.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "evtape/cli.h"
#include "evtape/http.h"

#define SECRET_MAX 4096

void
evt_cli_no_dump(void)
{
	/* Not dumpable: no core file, and /proc/PID/mem, environ and
	 * ptrace are the superuser's only. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

char *
evt_cli_read_secret(const char *path)
{
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd;

	evt_cli_no_dump();
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if ((buf = malloc(SECRET_MAX + 1)) == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	while (len < SECRET_MAX &&
	    (n = read(fd, buf + len, SECRET_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			OPENSSL_cleanse(buf, SECRET_MAX + 1);
			free(buf);
			errno = e;
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	if (len == 0 || strlen(buf) != len) {
		OPENSSL_cleanse(buf, SECRET_MAX + 1);
		free(buf);
		errno = EINVAL;
		return NULL;
	}
	return buf;
}

char *
evt_cli_secret_arg(const char *prog, const char *opt, const char *path)
{
	char *s = evt_cli_read_secret(path);

	if (s == NULL) {
		fprintf(stderr, "%s: %s: cannot read %s: %s\nTry '%s --help'.\n",
		    prog, opt, path, evt_cli_strerror(errno), prog);
		exit(2);
	}
	return s;
}

/* Checks and adds a --cors value (see cli.h). */
void
evt_cli_cors_arg(const char *prog, const char *arg, const char **list,
    size_t *n)
{
	if (!evt_http_cors_origin_ok(arg)) {
		fprintf(stderr, "%s: --cors: '%s' is neither * nor an origin "
		    "like http://host:port (scheme, host, optional port, no "
		    "path)\nTry '%s --help'.\n", prog, arg, prog);
		exit(2);
	}
	if (*n >= EVT_CLI_MAX_CORS) {
		fprintf(stderr, "%s: --cors: at most %d origins\nTry '%s "
		    "--help'.\n", prog, EVT_CLI_MAX_CORS, prog);
		exit(2);
	}
	list[(*n)++] = arg;
}

void
evt_cli_free_secret(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

const char *
evt_cli_strerror(int err)
{
	return err == EINVAL ? "empty or binary" : strerror(err);
}

int
evt_cli_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t m = 1;

	/* strtoull takes "-1" as 2^64 - 1, and skips leading blanks. */
	if (s[0] < '0' || s[0] > '9')
		goto bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		goto bad;
	switch (*end) {
	case 'k': case 'K': m = 1ull << 10; end++; break;
	case 'm': case 'M': m = 1ull << 20; end++; break;
	case 'g': case 'G': m = 1ull << 30; end++; break;
	case 't': case 'T': m = 1ull << 40; end++; break;
	default: break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0' || (v != 0 && m > UINT64_MAX / v))
		goto bad;
	*out = v * m;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
evt_cli_hostport(const char *s, char **host, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	struct in6_addr a6;
	const char *p;
	char *end;
	unsigned long v;
	size_t hl;

	if (colon == NULL && s[0] != '\0' &&
	    strspn(s, "0123456789") == strlen(s))
		p = s;	/* a port alone: loopback */
	else if (colon == NULL)
		goto bad;
	else
		p = colon + 1;
	errno = 0;
	v = strtoul(p, &end, 10);
	if (errno != 0 || end == p || *end != '\0' || *p == '-' || *p == '+' ||
	    v > 65535)
		goto bad;
	if (colon == NULL) {
		s = "127.0.0.1";
		colon = s + strlen(s);
	}
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl == 0)
		goto bad;
	if ((*host = strndup(s, hl)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	/* Numeric only: a listening address names no host to resolve. */
	if (inet_pton(AF_INET, *host, &a6) != 1 &&
	    inet_pton(AF_INET6, *host, &a6) != 1) {
		free(*host);
		*host = NULL;
		goto bad;
	}
	*port = (uint16_t)v;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
evt_cli_write_ready(const char *path, unsigned port)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >=
	    (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((f = fopen(tmp, "w")) == NULL)
		return -1;
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		int e = errno;

		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
}
