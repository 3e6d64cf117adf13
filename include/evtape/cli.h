/*
 * cli.h: small pieces the programs share on their command lines: secret
 * files (passwords, tokens), HOST:PORT arguments and ready files.
 */
#ifndef EVTAPE_CLI_H
#define EVTAPE_CLI_H

#include <stddef.h>
#include <stdint.h>

/*
 * Makes the process not dumpable (prctl PR_SET_DUMPABLE 0): a crash leaves
 * no core file holding a password or token, and /proc/PID/mem, environ
 * and ptrace are closed to other processes of the same user.  Called by
 * every program that holds a secret; evt_cli_read_secret calls it first.
 */
void evt_cli_no_dump(void);

/*
 * Reads a small secret file (up to 4 KiB), trailing CR/LF removed.
 * Returns a malloc'd string (the caller wipes it with OPENSSL_cleanse
 * before free) or NULL with errno set (EINVAL: empty, or holds a NUL).
 */
char *evt_cli_read_secret(const char *path);

/*
 * Reads a secret file named by option opt (e.g. "--password-file") of
 * program prog, or reports why not ("prog: opt: cannot read PATH: why")
 * and exits 2.
 */
char *evt_cli_secret_arg(const char *prog, const char *opt, const char *path);

/* Most --cors options a program takes. */
#define EVT_CLI_MAX_CORS 16

/*
 * Adds the value of a --cors option of program prog (borrowed; argv
 * outlives the list) to list[0..*n) (EVT_CLI_MAX_CORS entries), or
 * reports why not ("prog: --cors: ...") and exits 2: not "*" or an origin
 * "scheme://host[:port]" (evt_http_cors_origin_ok), or too many.
 */
void evt_cli_cors_arg(const char *prog, const char *arg, const char **list,
    size_t *n);

/* Wipes a secret string (OPENSSL_cleanse) and frees it; NULL is fine. */
void evt_cli_free_secret(char *s);

/* The reason for an evt_cli_read_secret() failure: errno's text, or
 * "empty or binary" for EINVAL. */
const char *evt_cli_strerror(int err);

/*
 * Parses a byte size: decimal digits, then optionally k, M, G or T
 * (powers of 1024, either case) and optionally B.  Nothing else: no sign,
 * no blanks.  Returns 0 and *out, or -1 (errno EINVAL: not such a size,
 * or over 2^64 - 1).
 */
int evt_cli_size(const char *s, uint64_t *out);

/*
 * Splits "HOST:PORT" (IPv6 in brackets, "[::1]:80") into a malloc'd host
 * (brackets removed) and a port; "PORT" alone is 127.0.0.1:PORT.  HOST must
 * be a numeric IPv4 or IPv6 address.  Returns 0, or -1 (errno EINVAL: no
 * colon, empty or non-numeric host, port not a number up to 65535;
 * ENOMEM).
 */
int evt_cli_hostport(const char *s, char **host, uint16_t *port);

/*
 * Writes "PORT\n" to path atomically (a temporary file renamed), so a
 * script waiting for the file never reads half of it.  Returns 0 or -1
 * (errno set).
 */
int evt_cli_write_ready(const char *path, unsigned port);

#endif
