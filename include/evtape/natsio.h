/*
 * natsio.h: what every evtape program that talks to NATS JetStream shares
 * (evrec --publish, evplay --publish, evrec --from-nats), so that they take
 * the same options and name, head and route every message one way
 * (formats/nats.md is the definition; this code follows it):
 *
 *   - the options (struct evt_nats_opts): one getopt table fragment
 *     (EVT_NATS_LONG_OPTIONS), one setter (evt_nats_opt), one check
 *     (evt_nats_opts_finish) and one usage text (EVT_NATS_USAGE);
 *   - tokens, subjects and headers of events, markers and other frames
 *     (pure functions, unit-tested: tests/unit/test_natsio.c);
 *   - a connection to a server list with reconnect and a JetStream
 *     context (evt_nats_connect), and the stream (evt_nats_ensure_stream).
 *
 * libnats starts threads of its own; a program calls evt_nats_shutdown()
 * (nats_CloseAndWait) before it exits so that leak checks stay clean.  Library
 * code here does not log: what happens on a connection goes to the note
 * callback the program gives (struct evt_nats_cbs).  No secret ever goes
 * into a note, an error text or argv: the password comes from a file.
 */
#ifndef EVTAPE_NATSIO_H
#define EVTAPE_NATSIO_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "evtape/buf.h"

/* ------------------------------------------------------------ options */

/* getopt_long values of the shared options (above any program's own). */
enum {
	EVT_NATS_OP_PUBLISH = 0x4e00,	/* --publish URLS (the server list) */
	EVT_NATS_OP_USER,		/* --nats-user U */
	EVT_NATS_OP_PASSWORD_FILE,	/* --nats-password-file F */
	EVT_NATS_OP_CREDS,		/* --nats-creds FILE */
	EVT_NATS_OP_CACERT,		/* --nats-cacert FILE */
	EVT_NATS_OP_INSECURE,		/* --nats-insecure */
	EVT_NATS_OP_SITE,		/* --site NAME */
	EVT_NATS_OP_PREFIX,		/* --subject-prefix P */
	EVT_NATS_OP_STREAM,		/* --stream NAME */
	EVT_NATS_OP_REPLICAS,		/* --replicas N */
	EVT_NATS_OP_MAX_MSGS,		/* --stream-max-msgs N */
	EVT_NATS_OP_MAX_BYTES,		/* --stream-max-bytes SIZE */
	EVT_NATS_OP_MAX_AGE,		/* --stream-max-age DUR */
	EVT_NATS_OP_DISCARD,		/* --stream-discard old|new */
	EVT_NATS_OP_DUPLICATES,		/* --duplicate-window DUR */
	EVT_NATS_OP_WINDOW,		/* --nats-window N */
	EVT_NATS_OP_LAST
};

/*
 * The entries of the shared options, to put into a program's
 * struct option table (before its {NULL, 0, NULL, 0}).  A program that
 * takes its server list under another name (evrec --from-nats) gives that
 * option its own value and passes the URL list to evt_nats_opt as
 * EVT_NATS_OP_PUBLISH.
 */
#define EVT_NATS_LONG_OPTIONS                                                \
	{"publish", required_argument, NULL, EVT_NATS_OP_PUBLISH},           \
	{"nats-user", required_argument, NULL, EVT_NATS_OP_USER},            \
	{"nats-password-file", required_argument, NULL,                      \
	    EVT_NATS_OP_PASSWORD_FILE},                                      \
	{"nats-creds", required_argument, NULL, EVT_NATS_OP_CREDS},          \
	{"nats-cacert", required_argument, NULL, EVT_NATS_OP_CACERT},        \
	{"nats-insecure", no_argument, NULL, EVT_NATS_OP_INSECURE},          \
	{"site", required_argument, NULL, EVT_NATS_OP_SITE},                 \
	{"subject-prefix", required_argument, NULL, EVT_NATS_OP_PREFIX},     \
	{"stream", required_argument, NULL, EVT_NATS_OP_STREAM},             \
	{"replicas", required_argument, NULL, EVT_NATS_OP_REPLICAS},         \
	{"stream-max-msgs", required_argument, NULL, EVT_NATS_OP_MAX_MSGS},  \
	{"stream-max-bytes", required_argument, NULL, EVT_NATS_OP_MAX_BYTES},\
	{"stream-max-age", required_argument, NULL, EVT_NATS_OP_MAX_AGE},    \
	{"stream-discard", required_argument, NULL, EVT_NATS_OP_DISCARD},    \
	{"duplicate-window", required_argument, NULL, EVT_NATS_OP_DUPLICATES},\
	{"nats-window", required_argument, NULL, EVT_NATS_OP_WINDOW}

/* The usage lines of the shared options (80 columns, evrec's layout). */
#define EVT_NATS_USAGE                                                       \
"  --publish nats://H:P[,H:P...]  publish to NATS JetStream (tls://: TLS)\n" \
"  --nats-user U           NATS user; password from --nats-password-file F\n"\
"  --nats-password-file F\n"                                                 \
"  --nats-creds FILE       NATS credentials file (JWT + NKey seed)\n"        \
"  --nats-cacert FILE      trust these CAs for NATS TLS (implies TLS)\n"     \
"  --nats-insecure         do not verify the NATS server's certificate\n"    \
"  --site NAME             site name [the gateway's host]\n"                 \
"  --subject-prefix P      subject prefix [xprotect.<site as a token>]\n"    \
"  --stream NAME           JetStream stream [XPROTECT]; created if missing\n"\
"  --replicas N            its replicas when created [1]\n"                  \
"  --stream-max-msgs N, --stream-max-bytes SIZE, --stream-max-age DUR\n"     \
"                          its limits when created [none]\n"                 \
"  --stream-discard old|new  what a full stream discards [old]\n"            \
"  --duplicate-window DUR  its duplicate window when created [2m]\n"         \
"  --nats-window N         unacknowledged publishes at most [4096]\n"

/* Defaults. */
#define EVT_NATS_DEFAULT_STREAM "XPROTECT"
#define EVT_NATS_DEFAULT_DUP_US (INT64_C(120) * 1000000)
#define EVT_NATS_DEFAULT_WINDOW 4096
#define EVT_NATS_MAX_WINDOW 1000000

/* The shared options.  Strings are malloc'd (evt_nats_opts_free). */
struct evt_nats_opts {
	char *servers;		/* --publish: "nats://h:p,tls://h:p"; NULL:
				   NATS is not used */
	char *user, *password_file, *creds, *cacert;
	int insecure;
	char *site;		/* as given (or the gateway host) */
	char *prefix;		/* the subject prefix, checked */
	char *stream;
	int replicas;		/* 1..5 */
	int64_t max_msgs, max_bytes, max_age_us; /* 0: unlimited */
	int discard_new;
	int64_t dup_window_us;
	uint32_t window;	/* publishes in flight at most */
	char *password;		/* read from password_file by
				   evt_nats_opts_finish; wiped at free */
};

/* Sets the defaults (everything else zero). */
void evt_nats_opts_init(struct evt_nats_opts *o);

/* Frees the strings (the password wiped). */
void evt_nats_opts_free(struct evt_nats_opts *o);

/*
 * Applies option id (an EVT_NATS_OP_* value) with value v (NULL: a flag on
 * the command line; a config-file flag's text is read as a boolean: 1,
 * yes, true, on); where names it in messages ("--replicas",
 * "FILE:LINE: replicas").  Returns 1, or 0 when id is not a NATS option.
 * A bad value exits EVT_EXIT_USAGE with the message of the cli layer.
 */
int evt_nats_opt(struct evt_nats_opts *o, int id, const char *v,
    const char *where);

/*
 * Checks the options against each other once all are set, when servers is
 * set (else it does nothing): --nats-password-file needs --nats-user and
 * the reverse, --nats-creds excludes them; each server of the list is
 * nats://, tls:// (or bare) HOST:PORT.  The site defaults to
 * default_site (the gateway's host without port; NULL: "local"), the
 * prefix to "xprotect.<site as a token>".  Reads the password file.
 * Exits EVT_EXIT_USAGE naming the option on any problem.
 */
void evt_nats_opts_finish(struct evt_nats_opts *o, const char *default_site);

/* Whether p is a usable subject prefix: 1..200 bytes of tokens separated
 * by single dots, no wildcard, blank or control byte. */
int evt_nats_prefix_ok(const char *p);

/* ------------------------------------------- subjects and headers */

/*
 * Appends the token made of text s[0..len) (formats/nats.md): every byte
 * outside [A-Za-z0-9_-] becomes '_', an empty text "_".  Returns 0 or
 * EVT_ERR_NOMEM.
 */
int evt_nats_token(struct evt_buf *b, const char *s, size_t len);

/* What a message carries (the Evtape-Kind header). */
enum evt_nats_kind {
	EVT_NATS_EVENT = 0, EVT_NATS_SESSION, EVT_NATS_GAP, EVT_NATS_CONFIG,
	EVT_NATS_STATES, EVT_NATS_JSON, EVT_NATS_RAW,
};

/* The Evtape-Kind word of k ("event", "session", ...). */
const char *evt_nats_kind_name(int k);

/* The kind of a frame of record kind rec_kind (record.h EVT_K_STATES,
 * ... SESSION; EVT_K_MSG: EVT_NATS_EVENT for its events), or -1. */
int evt_nats_kind_of(int rec_kind);

/* The top-level strings of an event a message needs, decoded (escapes
 * resolved; truncated at their buffers' sizes, which no real value
 * reaches). */
#define EVT_NATS_ID_MAX 256
struct evt_nats_event {
	int is_object;		/* the text is a JSON object */
	char id[EVT_NATS_ID_MAX + 1];	/* "" when absent, not a string, or
					   unusable as a header value */
	char rt[128], type[128];	/* subject tokens */
};

/* Reads event text ev[0..len) into *e.  Never fails: what it cannot read
 * gives "_" tokens and no id. */
void evt_nats_event_read(const char *ev, size_t len, struct evt_nats_event *e);

/*
 * The subject of an event (e NULL: an item that is not an object,
 * "P.ev._._") or of a frame of kind k (a marker or other frame) into
 * b (emptied first), NUL-terminated.  Returns 0 or EVT_ERR_NOMEM.
 */
int evt_nats_subject(struct evt_buf *b, const char *prefix, int k,
    const struct evt_nats_event *e);

/* Where a message comes from in an archive: the frame (and the item of an
 * event) that Evtape-Frame, Evtape-Item and a positional Nats-Msg-Id
 * name (formats/nats.md, "Frame references"). */
struct evt_nats_ref {
	uint8_t uuid[16];	/* the segment header's archive UUID */
	uint64_t seg;		/* segment sequence number */
	uint64_t ord;		/* the frame's ordinal in its segment, from 0 */
	int64_t item;		/* index in the frame's items; -1: a frame */
	uint64_t nitems;	/* items of the frame (events only) */
};

/* The header values of one message (NUL-terminated texts). */
struct evt_nats_hdrs {
	char msg_id[EVT_NATS_ID_MAX + 80];
	char rx[24];
	char frame[80];
	char item[48];		/* "" for frames */
	const char *kind;
};

/*
 * Fills the headers of a message: ref names its frame (and item), rx_us
 * its receive time, e its event (NULL for other kinds; its id, when not
 * empty, is the Nats-Msg-Id).
 */
void evt_nats_headers(struct evt_nats_hdrs *h, int k, int64_t rx_us,
    const struct evt_nats_ref *ref, const struct evt_nats_event *e);

/*
 * Reads an Evtape-Frame value "<uuid>/<seq>/<ord>" and an Evtape-Item
 * value "<i>/<n>" (NULL or "": a frame) back into *ref.  Returns 0, or -1
 * if either is not of that form.
 */
int evt_nats_ref_parse(const char *frame, const char *item,
    struct evt_nats_ref *ref);

/* Compares two references in archive order (uuid not compared): <0, 0,
 * >0.  A frame (item -1) comes before its items. */
int evt_nats_ref_cmp(const struct evt_nats_ref *a, const struct evt_nats_ref *b);

/*
 * Makes a message (natsMsg_Create + the headers): subject subj, payload
 * data[0..len), headers h and Evtape-Site site.  Returns NATS_OK and
 * *out, or the libnats status.  libnats must be open (a connection
 * opens it; else nats_Open(-1)).
 */
natsStatus evt_nats_msg(natsMsg **out, const char *subj, const void *data,
    size_t len, const struct evt_nats_hdrs *h, const char *site);

/*
 * Appends the NATS header block of a message with headers h and
 * Evtape-Site site, as the protocol carries it ("NATS/1.0\r\n", one
 * "Name: value\r\n" per header in evt_nats_msg's order, "\r\n"): for a
 * client that writes HPUB itself.  Returns 0 or EVT_ERR_NOMEM.
 */
int evt_nats_header_block(struct evt_buf *b, const struct evt_nats_hdrs *h,
    const char *site);

/* ------------------------------------------- parts of a large frame */

/*
 * A JSON frame too large for one message (a getState answer of a big site
 * over the server's max_payload) goes as parts (formats/nats.md, "Parts"):
 * its text is T = P + A + S, where A is what its largest top-level array
 * holds between its brackets (P ends with the '[', S starts with the ']').
 * A is cut at the commas between elements into slices A1..An, so that
 * A = A1 + "," + A2 + ... + "," + An; part k's payload is P + Ak + S, a
 * JSON document of the frame's shape with some of the array's elements,
 * in order.  Joining the parts' slices gives T back byte for byte.
 */
struct evt_nats_split {
	size_t pre;		/* bytes of P */
	size_t post;		/* offset of S in the text */
	size_t n;		/* parts */
	size_t *cut;		/* n + 1 offsets into the text: slice k is
				   [cut[k] + (k > 0), cut[k + 1]) */
};

/*
 * Splits text[0..len) (a JSON object with an array member of at least 2
 * elements) into parts whose payloads are at most max bytes each.
 * Returns 0 and *sp (evt_nats_split_free), EVT_ERR_JSON when the text is
 * not such an object, EVT_ERR_TOOBIG when one element with P and S does
 * not fit in max, or EVT_ERR_NOMEM.
 */
int evt_nats_split(struct evt_nats_split *sp, const char *text, size_t len,
    size_t max);

void evt_nats_split_free(struct evt_nats_split *sp);

/* The payload of part k (from 0) of text into out (emptied first); its
 * slice's offset and length in that payload in *off and *slen.  Returns 0
 * or EVT_ERR_NOMEM. */
int evt_nats_part(struct evt_buf *out, const struct evt_nats_split *sp,
    const char *text, size_t len, size_t k, size_t *off, size_t *slen);

/*
 * Makes the message of part k (from 0) of n: as evt_nats_msg with h, plus
 * the headers Evtape-Part "<k+1>/<n>" and Evtape-Part-Slice
 * "<off>/<slen>", and the Nats-Msg-Id h->msg_id + ":part<k+1>".
 */
natsStatus evt_nats_part_msg(natsMsg **out, const char *subj,
    const void *data, size_t len, const struct evt_nats_hdrs *h,
    const char *site, size_t k, size_t n, size_t off, size_t slen);

/*
 * Reads the headers of a part: Evtape-Part "<k>/<n>" (1 <= k <= n, n >= 2)
 * and Evtape-Part-Slice "<off>/<slen>" within a payload of len bytes
 * into *k (from 0), *n, *off, *slen.  Returns 0, or -1 if either is
 * missing or not of that form.
 */
int evt_nats_part_parse(const char *part, const char *slice, size_t len,
    size_t *k, size_t *n, size_t *off, size_t *slen);

/*
 * Appends part k (from 0) of n to the frame text being joined in out:
 * part 0 up to the end of its slice, a later part "," and its slice, and
 * the last part also what follows its slice.  Returns 0 or EVT_ERR_NOMEM.
 */
int evt_nats_join(struct evt_buf *out, const void *data, size_t len,
    size_t k, size_t n, size_t off, size_t slen);

/* ---------------------------------------------- connection, stream */

/* What the connection tells its program (called from libnats' threads;
 * texts are borrowed for the call).  level: EVT_LOG_* of log.h. */
struct evt_nats_cbs {
	void (*note)(void *arg, int level, const char *msg);
	void *arg;
};

/* Formats a note (at most 1 KiB) and hands it to cbs->note, if any. */
void evt_nats_note(const struct evt_nats_cbs *cbs, int level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

struct evt_nats;

/*
 * Connects to o->servers (one of them, reconnecting among them forever
 * once connected; TLS per URL scheme, --nats-cacert or --nats-insecure;
 * user/password or credentials file) under the client name name, and
 * makes a JetStream context with jso (NULL: defaults; copied).  Returns 0
 * and *out, or -1 with err (errlen bytes) saying what failed and where
 * ("nats://127.0.0.1:4222: Authorization Violation"); the caller retries
 * when it wants.
 */
int evt_nats_connect(const struct evt_nats_opts *o, const char *name,
    const jsOptions *jso, const struct evt_nats_cbs *cbs,
    struct evt_nats **out, char *err, size_t errlen);

/* Closes the connection (NULL is fine). */
void evt_nats_close(struct evt_nats *n);

/* The connection and JetStream context (borrowed). */
natsConnection *evt_nats_conn(const struct evt_nats *n);
jsCtx *evt_nats_js(const struct evt_nats *n);

/* The URL connected to now, or the list ("(not connected)" form) into
 * buf. */
const char *evt_nats_url(const struct evt_nats *n, char *buf, size_t len);

/*
 * Makes sure stream o->stream exists: if missing, creates it with
 * subjects "<prefix>.>", o's replicas, limits, discard policy and
 * duplicate window, file storage; an existing stream is used as its
 * operator configured it (*created 0).  Returns 0, or -1 with err.
 */
int evt_nats_ensure_stream(struct evt_nats *n, const struct evt_nats_opts *o,
    int *created, char *err, size_t errlen);

/*
 * The last message of the stream whose subject is under the prefix
 * ("<prefix>.>"), as its frame reference: 1 and *ref, its Nats-Msg-Id in
 * id (idlen bytes; "" if none) and its Evtape-Rx in *rx_us (0 if none);
 * 0 when there is none (or it carries no Evtape-Frame); -1 with err.
 * Needs a server that takes a wildcard subject in a last-by-subject get
 * (nats-server 2.9 does).
 */
int evt_nats_last_ref(struct evt_nats *n, const struct evt_nats_opts *o,
    struct evt_nats_ref *ref, char *id, size_t idlen, int64_t *rx_us,
    char *err, size_t errlen);

/*
 * Whether the stream's last message under the prefix is a part of a frame
 * (formats/nats.md, "Parts"): 1 with *k (from 0) and *n, 0 when it is not
 * (or there is none), -1 with err.
 */
int evt_nats_last_part(struct evt_nats *n, const struct evt_nats_opts *o,
    size_t *k, size_t *np, char *err, size_t errlen);

/* Formats a libnats failure (status + its last error text) into err. */
void evt_nats_errtext(natsStatus s, char *err, size_t errlen);

/*
 * Checks a NATS credentials file (--nats-creds) as libnats will read it:
 * readable, a regular file of at most 64 KiB, a user JWT block then a user
 * NKey seed block (a JWT of three base64url parts, not past its "exp"
 * claim; a seed of 58 characters SU... whose checksum holds).  Sets *loose when others than the owner and
 * the group have any access to it.  Returns 0, or -1 with err (errlen
 * bytes) saying what is wrong ("cannot read it: No such file or
 * directory"), never a part of the file.  The text read is wiped.
 * evt_nats_connect calls it before connecting (its error then names the
 * option and the file), and the connection reads the file the same way at
 * every connect and reconnect (a replaced file is taken; a reconnect the
 * file fails is noted, EVT_LOG_ERR).
 */
int evt_nats_creds_check(const char *path, char *err, size_t errlen,
    int *loose);

/* Tears libnats down after every connection is closed, before exit
 * (nats_CloseAndWait: its threads have ended when it returns, 5 s at
 * most). */
void evt_nats_shutdown(void);

/*
 * The first call of a program that may use NATS (before any other use of
 * OpenSSL): turns off OpenSSL's exit-time cleanup.  libnats 3.4.1 frees
 * OpenSSL's compression-method stack when its last connection is gone
 * (sk_SSL_COMP_free in its final cleanup) and leaves OpenSSL's pointer
 * to it, so OPENSSL_cleanup at exit freed it again (nats.c issue #904):
 * a program exiting after a TLS connection to NATS crashed now and then.
 */
void evt_nats_init(void);

#endif
