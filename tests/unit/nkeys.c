/*
 * nkeys: the tests' NATS operator, written on OpenSSL's Ed25519 so that
 * the credentials evrec and evplay are given come from outside libnats
 * (nsc, NATS' own tool, is not packaged).  Not installed.
 *
 *   nkeys make DIR [--name NAME] [--site SITE --stream STREAM]
 *       creates DIR (mode 700) with, each file mode 600:
 *       operator.jwt   an operator (self-signed; its system account SYS)
 *       server.conf    nats-server lines for it: operator, system_account,
 *                      resolver MEMORY, resolver_preload of SYS and ACC
 *       user.creds     a user of account ACC (JetStream without limits),
 *                      signed by ACC: the NATS credentials file
 *       user.jwt, user.seed  its two halves (for greps)
 *       stranger.creds a user of an account the operator signed but the
 *                      server is not told of
 *       expired.creds  a user of ACC whose JWT expired an hour ago
 *       account.pub    ACC's public key
 *       site.creds     with --site: a user of ACC that may publish to
 *                      xprotect.SITE.> and use the JetStream API of stream
 *                      STREAM only (info, create, get a message), replies
 *                      on _INBOX.>: what one site's evrec --publish needs
 *
 * The encodings are NATS' (docs.nats.io, "NKeys" and "JWTs"): a key is
 * base32 (RFC 4648 alphabet, no padding) of a prefix byte, the 32-byte
 * Ed25519 public key and a CRC-16/XMODEM of both, little-endian; a seed
 * the same of two prefix bytes (seed, then the key's type) and the 32-byte
 * private seed.  A JWT is base64url (no padding) of a header, of the claims
 * and of the issuer's Ed25519 signature of "header.claims".
 * Exit status: 0 done, 2 usage, 3 failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "evtape/buf.h"
#include "evtape/cli.h"

/* Prefix bytes: what a key is (its first base32 letter). */
enum {
	PFX_SEED = 18 << 3,	/* S */
	PFX_OPERATOR = 14 << 3,	/* O */
	PFX_ACCOUNT = 0,	/* A */
	PFX_USER = 20 << 3,	/* U */
};

struct key {
	unsigned char seed[32], pub[32];
	char seed_txt[64], pub_txt[64];
};

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char B64URL[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Appends p[0..n) in the alphabet of 2^bits letters (5: base32, 6:
 * base64), most significant bits first, without padding. */
static void
radix_put(struct evt_buf *b, const unsigned char *p, size_t n, int bits,
    const char *alphabet)
{
	uint32_t acc = 0;
	int have = 0;

	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | p[i];
		for (have += 8; have >= bits; have -= bits)
			if (evt_buf_putc(b, alphabet[(acc >> (have - bits)) &
			    ((1u << bits) - 1)]) != 0)
				evt_cli_fatal("out of memory");
		acc &= (1u << have) - 1;
	}
	if (have > 0 && evt_buf_putc(b, alphabet[(acc << (bits - have)) &
	    ((1u << bits) - 1)]) != 0)
		evt_cli_fatal("out of memory");
}

/* CRC-16/XMODEM (polynomial 0x1021, initial 0). */
static uint16_t
crc16(const unsigned char *p, size_t n)
{
	uint16_t c = 0;

	for (size_t i = 0; i < n; i++) {
		c ^= (uint16_t)(p[i] << 8);
		for (int k = 0; k < 8; k++)
			c = (uint16_t)(c & 0x8000 ? c << 1 ^ 0x1021 : c << 1);
	}
	return c;
}

/* The text of prefix bytes pfx[0..np) and 32 key bytes, with their CRC. */
static void
key_text(char *out, const unsigned char *pfx, size_t np,
    const unsigned char *k)
{
	unsigned char raw[36];
	struct evt_buf b = { 0 };
	uint16_t c;

	memcpy(raw, pfx, np);
	memcpy(raw + np, k, 32);
	c = crc16(raw, np + 32);
	raw[np + 32] = (unsigned char)(c & 0xff);
	raw[np + 33] = (unsigned char)(c >> 8);
	radix_put(&b, raw, np + 34, 5, B32);
	memcpy(out, b.p, b.len);
	out[b.len] = '\0';
	evt_buf_free(&b);
}

static EVP_PKEY *
pkey_of(const struct key *k)
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
	    k->seed, 32);

	if (pk == NULL)
		evt_cli_fatal("OpenSSL: no Ed25519 key");
	return pk;
}

/* A new key of type pfx (PFX_OPERATOR, ...). */
static void
key_new(struct key *k, unsigned char pfx)
{
	unsigned char sp[2] = { PFX_SEED | pfx >> 5, (unsigned char)(
	    (pfx & 31) << 3) };
	size_t n = 32;
	EVP_PKEY *pk;

	if (RAND_bytes(k->seed, 32) != 1)
		evt_cli_fatal("OpenSSL: no random bytes");
	pk = pkey_of(k);
	if (EVP_PKEY_get_raw_public_key(pk, k->pub, &n) != 1 || n != 32)
		evt_cli_fatal("OpenSSL: no Ed25519 public key");
	EVP_PKEY_free(pk);
	key_text(k->seed_txt, sp, 2, k->seed);
	key_text(k->pub_txt, &pfx, 1, k->pub);
}

/* A JWT of the claims "nats" object nats, for subject sub, signed by
 * issuer iss, into out (malloc'd); exp: its expiry (Unix seconds), or 0. */
static char *
jwt_exp(const struct key *iss, const struct key *sub, const char *name,
    const char *nats, long long exp)
{
	static const char hdr[] = "{\"typ\":\"JWT\",\"alg\":\"ed25519-nkey\"}";
	struct evt_buf b = { 0 }, c = { 0 };
	unsigned char jti[16], sig[64];
	size_t siglen = sizeof sig;
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	EVP_PKEY *pk = pkey_of(iss);
	char *claims;

	/* The jti only has to be unique (servers do not recompute it). */
	if (RAND_bytes(jti, sizeof jti) != 1)
		evt_cli_fatal("OpenSSL: no random bytes");
	radix_put(&c, jti, sizeof jti, 5, B32);
	char expm[40] = "";
	if (exp != 0)
		snprintf(expm, sizeof expm, "\"exp\":%lld,", exp);
	if (evt_buf_putc(&c, '\0') != 0 || asprintf(&claims, "{\"jti\":\"%s\","
	    "\"iat\":%lld,%s\"iss\":\"%s\",\"name\":\"%s\",\"sub\":\"%s\","
	    "\"nats\":%s}", (char *)c.p, (long long)time(NULL), expm,
	    iss->pub_txt, name, sub->pub_txt, nats) < 0)
		evt_cli_fatal("out of memory");
	radix_put(&b, (const unsigned char *)hdr, strlen(hdr), 6, B64URL);
	if (evt_buf_putc(&b, '.') != 0)
		evt_cli_fatal("out of memory");
	radix_put(&b, (const unsigned char *)claims, strlen(claims), 6,
	    B64URL);
	if (mc == NULL || EVP_DigestSignInit(mc, NULL, NULL, NULL, pk) != 1 ||
	    EVP_DigestSign(mc, sig, &siglen, b.p, b.len) != 1)
		evt_cli_fatal("OpenSSL: Ed25519 signing failed");
	if (evt_buf_putc(&b, '.') != 0)
		evt_cli_fatal("out of memory");
	radix_put(&b, sig, siglen, 6, B64URL);
	if (evt_buf_putc(&b, '\0') != 0)
		evt_cli_fatal("out of memory");
	EVP_MD_CTX_free(mc);
	EVP_PKEY_free(pk);
	free(claims);
	evt_buf_free(&c);
	return (char *)b.p;
}

static char *
jwt(const struct key *iss, const struct key *sub, const char *name,
    const char *nats)
{
	return jwt_exp(iss, sub, name, nats, 0);
}

/* Writes DIR/name (mode 600) from a printf format. */
static void __attribute__((format(printf, 3, 4)))
put_file(const char *dir, const char *name, const char *fmt, ...)
{
	char path[4096];
	va_list ap;
	FILE *f;
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
		evt_cli_fatal("%s: %s", path, strerror(errno));
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) != 0)
		evt_cli_fatal("%s: %s", path, strerror(errno));
}

/* The credentials file of a user: its JWT and its seed, as nsc writes
 * them. */
static void
put_creds(const char *dir, const char *name, const char *ujwt,
    const struct key *u)
{
	put_file(dir, name, "-----BEGIN NATS USER JWT-----\n%s\n"
	    "------END NATS USER JWT------\n\n"
	    "************************* IMPORTANT *************************\n"
	    "NKEY Seed printed below can be used to sign and prove identity.\n"
	    "NKEYs are sensitive and should be treated as secrets.\n\n"
	    "-----BEGIN USER NKEY SEED-----\n%s\n"
	    "------END USER NKEY SEED------\n\n"
	    "*************************************************************\n",
	    ujwt, u->seed_txt);
}

/* A user of account acc: its JWT (malloc'd); perms, the "pub" and "sub"
 * members (NULL: no limits). */
static char *
user_jwt(const struct key *acc, const struct key *u, const char *name,
    const char *perms, long long exp)
{
	char *claims, *j;
	if (asprintf(&claims, "{%s,\"subs\":-1,\"data\":-1,\"payload\":-1,"
	    "\"type\":\"user\",\"version\":2}", perms != NULL ? perms :
	    "\"pub\":{},\"sub\":{}") < 0)
		evt_cli_fatal("out of memory");
	j = jwt_exp(acc, u, name, claims, exp);
	free(claims);
	return j;
}

/* DIR/site.creds: a user of acc limited to one site's subjects and its
 * stream's API. */
static void
site_user(const char *dir, const struct key *acc, const char *site,
    const char *stream)
{
	struct key u;
	char *perms, *j;
	key_new(&u, PFX_USER);
	if (asprintf(&perms, "\"pub\":{\"allow\":[\"xprotect.%s.>\","
	    "\"$JS.API.STREAM.INFO.%s\",\"$JS.API.STREAM.CREATE.%s\","
	    "\"$JS.API.STREAM.MSG.GET.%s\"]},\"sub\":{\"allow\":"
	    "[\"_INBOX.>\"]}", site, stream, stream, stream) < 0)
		evt_cli_fatal("out of memory");
	j = user_jwt(acc, &u, site, perms, 0);
	put_creds(dir, "site.creds", j, &u);
	free(perms);
	free(j);
	OPENSSL_cleanse(&u, sizeof u);
}

static void
make(const char *dir, const char *name, const char *site,
    const char *stream)
{
	/* No limits; JetStream enabled by its storage limits (-1: none). */
	static const char js_account[] = "{\"limits\":{\"subs\":-1,"
	    "\"data\":-1,\"payload\":-1,\"imports\":-1,\"exports\":-1,"
	    "\"wildcards\":true,\"conn\":-1,\"leaf\":-1,\"mem_storage\":-1,"
	    "\"disk_storage\":-1,\"streams\":-1,\"consumer\":-1},"
	    "\"type\":\"account\",\"version\":2}";
	static const char plain_account[] = "{\"limits\":{\"subs\":-1,"
	    "\"data\":-1,\"payload\":-1,\"imports\":-1,\"exports\":-1,"
	    "\"wildcards\":true,\"conn\":-1,\"leaf\":-1},"
	    "\"type\":\"account\",\"version\":2}";
	struct key op, sys, acc, usr, other, stranger;
	char *ops, *opj, *sysj, *accj, *usrj, *otherj, *strj;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		evt_cli_fatal("%s: %s", dir, strerror(errno));
	key_new(&op, PFX_OPERATOR);
	key_new(&sys, PFX_ACCOUNT);
	key_new(&acc, PFX_ACCOUNT);
	key_new(&usr, PFX_USER);
	key_new(&other, PFX_ACCOUNT);
	key_new(&stranger, PFX_USER);
	if (asprintf(&ops, "{\"system_account\":\"%s\",\"type\":\"operator\","
	    "\"version\":2}", sys.pub_txt) < 0)
		evt_cli_fatal("out of memory");
	opj = jwt(&op, &op, name, ops);
	sysj = jwt(&op, &sys, "SYS", plain_account);
	accj = jwt(&op, &acc, "EVTAPE", js_account);
	otherj = jwt(&op, &other, "OTHER", js_account);
	usrj = user_jwt(&acc, &usr, "evtape", NULL, 0);
	strj = user_jwt(&other, &stranger, "stranger", NULL, 0);
	if (site != NULL)
		site_user(dir, &acc, site, stream);
	put_file(dir, "operator.jwt", "%s\n", opj);
	put_file(dir, "server.conf", "operator: \"%s/operator.jwt\"\n"
	    "system_account: \"%s\"\nresolver: MEMORY\nresolver_preload: {\n"
	    "  %s: \"%s\"\n  %s: \"%s\"\n}\n", dir, sys.pub_txt, sys.pub_txt,
	    sysj, acc.pub_txt, accj);
	put_creds(dir, "user.creds", usrj, &usr);
	put_file(dir, "user.jwt", "%s\n", usrj);
	put_file(dir, "user.seed", "%s\n", usr.seed_txt);
	put_creds(dir, "stranger.creds", strj, &stranger);
	free(strj);
	strj = user_jwt(&acc, &stranger, "expired", NULL,
	    (long long)time(NULL) - 3600);
	put_creds(dir, "expired.creds", strj, &stranger);
	put_file(dir, "account.pub", "%s\n", acc.pub_txt);
	free(ops);
	free(opj);
	free(sysj);
	free(accj);
	free(otherj);
	free(usrj);
	free(strj);
	OPENSSL_cleanse(&usr, sizeof usr);
	OPENSSL_cleanse(&stranger, sizeof stranger);
}

int
main(int argc, char **argv)
{
	const char *name = "evtape-test", *site = NULL, *stream = NULL;

	evt_cli_init("nkeys");
	if (argc < 3 || argc % 2 == 0 || strcmp(argv[1], "make") != 0)
		evt_cli_usage_err("usage: nkeys make DIR [--name NAME] "
		    "[--site SITE --stream STREAM]");
	for (int i = 3; i + 1 < argc; i += 2) {
		const char **v = strcmp(argv[i], "--name") == 0 ? &name :
		    strcmp(argv[i], "--site") == 0 ? &site :
		    strcmp(argv[i], "--stream") == 0 ? &stream : NULL;
		if (v == NULL)
			evt_cli_usage_err("unknown option %s", argv[i]);
		*v = argv[i + 1];
		/* The values go into JSON and subjects as they are. */
		for (const char *p = *v; *p; p++)
			if (*p == '"' || *p == '\\' || *p == '.' ||
			    (unsigned char)*p <= ' ')
				evt_cli_usage_err("%s: no quote, backslash, "
				    "dot or blank", argv[i]);
	}
	if ((site == NULL) != (stream == NULL))
		evt_cli_usage_err("--site and --stream go together");
	make(argv[2], name, site, stream);
	return EVT_EXIT_OK;
}
