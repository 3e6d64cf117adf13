/*
 * natsdump: the tests' window on a NATS JetStream stream, written directly
 * on the C client (libnats) so that it shares no code with what it checks
 * (src/natsio.c).  Not installed.
 *
 *   natsdump [OPTS] URL STREAM [--subject FILTER]
 *       every message of STREAM as one JSON line, in stream order:
 *       {"seq":N,"subject":S,"headers":{"K":"V",...},"data":"..."}
 *       ("data_base64" instead of "data" when the payload is not UTF-8;
 *       a header given more than once has an array of its values).  Ends
 *       at the stream's last sequence when it started; FILTER (NATS
 *       wildcards * and >) keeps the messages whose subject matches.
 *   natsdump [OPTS] --info URL STREAM
 *       one JSON line: messages, bytes, distinct subjects, first and last
 *       sequence, the configured replicas and subjects, the leader and the
 *       other peers (name, current, offline).
 *   natsdump [OPTS] --mkstream URL STREAM --subjects S[,S...]
 *           [--max-msgs N] [--max-bytes N] [--replicas N] [--discard-new]
 *       creates a file-storage stream (limits, for a stream that refuses
 *       writes: --max-msgs N --discard-new).
 *   natsdump [OPTS] --pub URL SUBJECT [--msg-id-prefix P] [--header K:V]...
 *       publishes each line of stdin (without its newline) and waits for
 *       its acknowledgement; with P, message i (from 1) carries the header
 *       Nats-Msg-Id: P<i>; every message carries each header K: V given
 *       (up to 16).  Prints {"seq":N,"duplicate":B} per line.
 * OPTS: --user U --password-file F, or --creds F (a NATS user credentials
 * file: JWT and NKey seed), --cacert F (TLS verified against it),
 * --timeout MS (connect and each request, default 5000).
 * Exit status: 0 done, 1 a message could not be read, 2 usage, 3 failed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "evtape/buf.h"
#include "evtape/cli.h"
#include "evtape/json.h"

enum { M_DUMP, M_INFO, M_MKSTREAM, M_PUB };

static struct {
	int mode;
	const char *url, *stream, *subject, *user, *pwfile, *creds, *cacert;
	const char *subjects, *idprefix, *hdr[16];
	int64_t timeout, max_msgs, max_bytes, replicas;
	int discard_new, nhdr;
} O = { .timeout = 5000, .max_msgs = -1, .max_bytes = -1, .replicas = 1 };

static void
usage(void)
{
	fputs("usage: natsdump [OPTS] URL STREAM [--subject FILTER]\n"
	    "       natsdump [OPTS] --info URL STREAM\n"
	    "       natsdump [OPTS] --mkstream URL STREAM --subjects S[,S..]"
	    " [--max-msgs N]\n"
	    "                [--max-bytes N] [--replicas N] [--discard-new]\n"
	    "       natsdump [OPTS] --pub URL SUBJECT [--msg-id-prefix P]"
	    " [--header K:V]... <lines\n"
	    "OPTS: --user U --password-file F | --creds F  --cacert F"
	    "  --timeout MS\n",
	    stdout);
}

/* Fails the program: what, and the client's reason (its last error text,
 * which names e.g. "maximum messages exceeded"; the JetStream error code
 * when there is one). */
static void __attribute__((noreturn))
fail(const char *what, natsStatus s, jsErrCode jerr)
{
	const char *why = nats_GetLastError(NULL);

	if (why == NULL || *why == '\0')
		why = natsStatus_GetText(s);
	if (jerr != 0)
		evt_cli_fatal("%s: %s: %s (JetStream error %d)", O.url, what,
		    why, (int)jerr);
	evt_cli_fatal("%s: %s: %s", O.url, what, why);
}

/* Splits a comma-separated list into at most max items of *copy (a
 * malloc'd copy the caller frees); returns the count. */
static int
split(const char *text, char **copy, const char **item, int max)
{
	char *tok, *save = NULL;
	int n = 0;

	if ((*copy = strdup(text)) == NULL)
		evt_cli_fatal("out of memory");
	for (tok = strtok_r(*copy, ",", &save); tok != NULL && n < max;
	    tok = strtok_r(NULL, ",", &save))
		item[n++] = tok;
	return n;
}

/* natsOptions_SetURL takes one URL: a comma-separated list becomes the
 * server list. */
static natsStatus
set_servers(natsOptions *no, const char *urls)
{
	const char *list[16];
	char *copy;
	int n = split(urls, &copy, list, 16);
	natsStatus s;

	s = natsOptions_SetServers(no, list, n);
	free(copy);
	return s;
}

static natsConnection *
connect_to(void)
{
	natsOptions *no = NULL;
	natsConnection *nc = NULL;
	char *pw = NULL;
	natsStatus s;

	if (natsOptions_Create(&no) != NATS_OK)
		evt_cli_fatal("out of memory");
	s = set_servers(no, O.url);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(no, O.timeout);
	if (s == NATS_OK && O.user != NULL) {
		pw = evt_cli_secret_arg("natsdump", "--password-file",
		    O.pwfile);
		s = natsOptions_SetUserInfo(no, O.user, pw);
		evt_cli_free_secret(pw);
	}
	if (s == NATS_OK && O.creds != NULL)
		s = natsOptions_SetUserCredentialsFromFiles(no, O.creds, NULL);
	if (s == NATS_OK && O.cacert != NULL) {
		s = natsOptions_SetSecure(no, true);
		if (s == NATS_OK)
			s = natsOptions_LoadCATrustedCertificates(no,
			    O.cacert);
	}
	if (s != NATS_OK)
		fail("client options", s, 0);
	s = natsConnection_Connect(&nc, no);
	natsOptions_Destroy(no);
	if (s != NATS_OK)
		fail("connect", s, 0);
	return nc;
}

/* Tells whether subject matches filter (tokens split at '.'; '*' is one
 * token, a last '>' one or more). */
static int
subject_match(const char *subj, const char *filt)
{
	for (;;) {
		const char *fe = strchr(filt, '.'), *se = strchr(subj, '.');
		size_t fl = fe ? (size_t)(fe - filt) : strlen(filt);
		size_t sl = se ? (size_t)(se - subj) : strlen(subj);

		if (fl == 1 && filt[0] == '>' && fe == NULL)
			return sl > 0;
		if (!(fl == 1 && filt[0] == '*') &&
		    (fl != sl || memcmp(filt, subj, fl) != 0))
			return 0;
		if (fe == NULL || se == NULL)
			return fe == NULL && se == NULL;
		filt = fe + 1;
		subj = se + 1;
	}
}

static void
put_str(struct evt_buf *b, const char *s, size_t n)
{
	if (evt_json_put_string(b, s, n) != 0)
		evt_cli_fatal("out of memory");
}

static void
put_text(struct evt_buf *b, const char *s)
{
	if (evt_buf_put(b, s, strlen(s)) != 0)
		evt_cli_fatal("out of memory");
}

static void
put_u64(struct evt_buf *b, uint64_t v)
{
	if (evt_json_put_int(b, 0, v) != 0)
		evt_cli_fatal("out of memory");
}

/* The payload as "data" (UTF-8 text) or "data_base64". */
static void
put_data(struct evt_buf *b, const char *d, size_t n)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *u = (const unsigned char *)d;
	size_t i;

	if (evt_json_utf8_valid(d, n)) {
		put_text(b, "\"data\":");
		put_str(b, d, n);
		return;
	}
	put_text(b, "\"data_base64\":\"");
	for (i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)u[i] << 16 |
		    (i + 1 < n ? (uint32_t)u[i + 1] << 8 : 0) |
		    (i + 2 < n ? u[i + 2] : 0);
		char q[4] = { b64[v >> 18], b64[(v >> 12) & 63],
		    i + 1 < n ? b64[(v >> 6) & 63] : '=',
		    i + 2 < n ? b64[v & 63] : '=' };
		if (evt_buf_put(b, q, 4) != 0)
			evt_cli_fatal("out of memory");
	}
	put_text(b, "\"");
}

static void
put_headers(struct evt_buf *b, natsMsg *m)
{
	const char **keys = NULL, **vals;
	int nk = 0, nv, i, j;

	put_text(b, "\"headers\":{");
	if (natsMsgHeader_Keys(m, &keys, &nk) != NATS_OK)
		nk = 0;
	for (i = 0; i < nk; i++) {
		if (i > 0)
			put_text(b, ",");
		put_str(b, keys[i], strlen(keys[i]));
		put_text(b, ":");
		if (natsMsgHeader_Values(m, keys[i], &vals, &nv) != NATS_OK)
			nv = 0;
		if (nv == 1) {
			put_str(b, vals[0], strlen(vals[0]));
		} else {
			put_text(b, "[");
			for (j = 0; j < nv; j++) {
				if (j > 0)
					put_text(b, ",");
				put_str(b, vals[j], strlen(vals[j]));
			}
			put_text(b, "]");
		}
		free((void *)vals);
	}
	free((void *)keys);
	put_text(b, "}");
}

static void
line_out(struct evt_buf *b)
{
	put_text(b, "\n");
	if (evt_cli_out(b->p, b->len) != 0)
		exit(EVT_EXIT_FAIL);
	b->len = 0;
}

/* Reads sequence by sequence (the stream's stored messages, headers and
 * all, exactly; a deleted sequence is skipped): slower than a consumer but
 * with nothing to set up or clean up on the server (about 6,000 messages/s
 * on the development machine: for test sizes). */
static int
dump(jsCtx *js, jsOptions *jo)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	struct evt_buf b = { 0 };
	uint64_t seq, last;
	natsStatus s;
	int rc = EVT_EXIT_OK;

	s = js_GetStreamInfo(&si, js, O.stream, jo, &jerr);
	if (s != NATS_OK)
		fail(O.stream, s, jerr);
	seq = si->State.FirstSeq;
	last = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	for (; seq != 0 && seq <= last; seq++) {
		natsMsg *m = NULL;
		const char *subj;

		jerr = 0;
		s = js_GetMsg(&m, js, O.stream, seq, jo, &jerr);
		if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr)
			continue;
		if (s != NATS_OK) {
			evt_cli_err("%s: %s: sequence %llu: %s (%d)", O.url,
			    O.stream, (unsigned long long)seq,
			    natsStatus_GetText(s), (int)jerr);
			rc = EVT_EXIT_PARTIAL;
			continue;
		}
		subj = natsMsg_GetSubject(m);
		if (O.subject == NULL || subject_match(subj, O.subject)) {
			put_text(&b, "{\"seq\":");
			put_u64(&b, seq);
			put_text(&b, ",\"subject\":");
			put_str(&b, subj, strlen(subj));
			put_text(&b, ",");
			put_headers(&b, m);
			put_text(&b, ",");
			put_data(&b, natsMsg_GetData(m),
			    (size_t)natsMsg_GetDataLength(m));
			put_text(&b, "}");
			line_out(&b);
		}
		natsMsg_Destroy(m);
	}
	evt_buf_free(&b);
	return rc;
}

static int
info(jsCtx *js, jsOptions *jo)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	struct evt_buf b = { 0 };
	natsStatus s;
	int i;

	s = js_GetStreamInfo(&si, js, O.stream, jo, &jerr);
	if (s != NATS_OK)
		fail(O.stream, s, jerr);
	put_text(&b, "{\"stream\":");
	put_str(&b, O.stream, strlen(O.stream));
	put_text(&b, ",\"messages\":");
	put_u64(&b, si->State.Msgs);
	put_text(&b, ",\"bytes\":");
	put_u64(&b, si->State.Bytes);
	put_text(&b, ",\"num_subjects\":");
	put_u64(&b, (uint64_t)si->State.NumSubjects);
	put_text(&b, ",\"first_seq\":");
	put_u64(&b, si->State.FirstSeq);
	put_text(&b, ",\"last_seq\":");
	put_u64(&b, si->State.LastSeq);
	put_text(&b, ",\"replicas\":");
	put_u64(&b, (uint64_t)si->Config->Replicas);
	put_text(&b, ",\"subjects\":[");
	for (i = 0; i < si->Config->SubjectsLen; i++) {
		if (i > 0)
			put_text(&b, ",");
		put_str(&b, si->Config->Subjects[i],
		    strlen(si->Config->Subjects[i]));
	}
	put_text(&b, "],\"leader\":");
	if (si->Cluster != NULL && si->Cluster->Leader != NULL)
		put_str(&b, si->Cluster->Leader, strlen(si->Cluster->Leader));
	else
		put_text(&b, "null");
	put_text(&b, ",\"peers\":[");
	for (i = 0; si->Cluster != NULL && i < si->Cluster->ReplicasLen; i++) {
		jsPeerInfo *p = si->Cluster->Replicas[i];

		if (i > 0)
			put_text(&b, ",");
		put_text(&b, "{\"name\":");
		put_str(&b, p->Name, strlen(p->Name));
		put_text(&b, p->Current ? ",\"current\":true" :
		    ",\"current\":false");
		put_text(&b, p->Offline ? ",\"offline\":true}" :
		    ",\"offline\":false}");
	}
	put_text(&b, "]}");
	line_out(&b);
	evt_buf_free(&b);
	jsStreamInfo_Destroy(si);
	return EVT_EXIT_OK;
}

static int
mkstream(jsCtx *js, jsOptions *jo)
{
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	const char *subj[16];
	char *list;
	int n = split(O.subjects, &list, subj, 16);
	natsStatus s;

	jsStreamConfig_Init(&sc);
	sc.Name = O.stream;
	sc.Subjects = subj;
	sc.SubjectsLen = n;
	sc.Storage = js_FileStorage;
	sc.Replicas = O.replicas;
	sc.MaxMsgs = O.max_msgs;
	sc.MaxBytes = O.max_bytes;
	sc.Discard = O.discard_new ? js_DiscardNew : js_DiscardOld;
	s = js_AddStream(&si, js, &sc, jo, &jerr);
	free(list);
	if (s != NATS_OK)
		fail(O.stream, s, jerr);
	jsStreamInfo_Destroy(si);
	return EVT_EXIT_OK;
}

static int
pub(jsCtx *js, jsOptions *jo)
{
	struct evt_buf b = { 0 };
	char *line = NULL, id[512];
	size_t cap = 0;
	ssize_t n;
	uint64_t i = 0;

	while ((n = getline(&line, &cap, stdin)) >= 0) {
		jsPubOptions po;
		jsPubAck *pa = NULL;
		jsErrCode jerr = 0;
		natsMsg *m = NULL;
		natsStatus s;
		int h;

		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		i++;
		jsPubOptions_Init(&po);
		if (O.idprefix != NULL) {
			snprintf(id, sizeof id, "%s%llu", O.idprefix,
			    (unsigned long long)i);
			po.MsgId = id;
		}
		s = natsMsg_Create(&m, O.stream, NULL, line, (int)n);
		for (h = 0; s == NATS_OK && h < O.nhdr; h++) {
			const char *c = strchr(O.hdr[h], ':');
			char key[256];

			snprintf(key, sizeof key, "%.*s",
			    (int)(c - O.hdr[h]), O.hdr[h]);
			s = natsMsgHeader_Add(m, key, c + 1);
		}
		if (s == NATS_OK)
			s = js_PublishMsg(&pa, js, m, &po, &jerr);
		natsMsg_Destroy(m);
		if (s != NATS_OK)
			fail("publish", s, jerr);
		put_text(&b, "{\"seq\":");
		put_u64(&b, pa->Sequence);
		put_text(&b, pa->Duplicate ? ",\"duplicate\":true}" :
		    ",\"duplicate\":false}");
		line_out(&b);
		jsPubAck_Destroy(pa);
	}
	free(line);
	evt_buf_free(&b);
	(void)jo;
	return EVT_EXIT_OK;
}

static int64_t
num_arg(const char *opt, const char *s)
{
	return (int64_t)evt_cli_count_arg(opt, s);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"info", no_argument, NULL, 'I'},
		{"mkstream", no_argument, NULL, 'M'},
		{"pub", no_argument, NULL, 'P'},
		{"subject", required_argument, NULL, 's'},
		{"subjects", required_argument, NULL, 'S'},
		{"user", required_argument, NULL, 'u'},
		{"password-file", required_argument, NULL, 'p'},
		{"creds", required_argument, NULL, 'C'},
		{"cacert", required_argument, NULL, 'c'},
		{"timeout", required_argument, NULL, 't'},
		{"max-msgs", required_argument, NULL, 'm'},
		{"max-bytes", required_argument, NULL, 'b'},
		{"replicas", required_argument, NULL, 'r'},
		{"discard-new", no_argument, NULL, 'd'},
		{"msg-id-prefix", required_argument, NULL, 'i'},
		{"header", required_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	natsConnection *nc;
	jsCtx *js = NULL;
	jsOptions jo;
	int ch, rc;

	evt_cli_init("natsdump");
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (ch) {
		case 'I': O.mode = M_INFO; break;
		case 'M': O.mode = M_MKSTREAM; break;
		case 'P': O.mode = M_PUB; break;
		case 's': O.subject = optarg; break;
		case 'S': O.subjects = optarg; break;
		case 'u': O.user = optarg; break;
		case 'p': O.pwfile = optarg; break;
		case 'C': O.creds = optarg; break;
		case 'c': O.cacert = optarg; break;
		case 't': O.timeout = num_arg("--timeout", optarg); break;
		case 'm': O.max_msgs = num_arg("--max-msgs", optarg); break;
		case 'b': O.max_bytes = num_arg("--max-bytes", optarg); break;
		case 'r': O.replicas = num_arg("--replicas", optarg); break;
		case 'd': O.discard_new = 1; break;
		case 'i': O.idprefix = optarg; break;
		case 'H':
			if (strchr(optarg, ':') == NULL || optarg[0] == ':' ||
			    O.nhdr == 16)
				evt_cli_usage_err("--header K:V (at most 16)");
			O.hdr[O.nhdr++] = optarg;
			break;
		case 'h': usage(); return EVT_EXIT_OK;
		default: evt_cli_getopt_err(ch, argv);
		}
	}
	if (argc - optind != 2)
		evt_cli_usage_err("needs URL and %s",
		    O.mode == M_PUB ? "SUBJECT" : "STREAM");
	O.url = argv[optind];
	O.stream = argv[optind + 1];
	if ((O.user == NULL) != (O.pwfile == NULL))
		evt_cli_usage_err("--user and --password-file go together");
	if (O.user != NULL && O.creds != NULL)
		evt_cli_usage_err("--user and --creds exclude each other");
	if (O.mode == M_MKSTREAM && O.subjects == NULL)
		evt_cli_usage_err("--mkstream needs --subjects");
	nc = connect_to();
	jsOptions_Init(&jo);
	jo.Wait = O.timeout;
	if (natsConnection_JetStream(&js, nc, &jo) != NATS_OK)
		evt_cli_fatal("out of memory");
	switch (O.mode) {
	case M_INFO: rc = info(js, &jo); break;
	case M_MKSTREAM: rc = mkstream(js, &jo); break;
	case M_PUB: rc = pub(js, &jo); break;
	default: rc = dump(js, &jo); break;
	}
	if (evt_cli_out_flush() != 0)
		rc = EVT_EXIT_FAIL;
	evt_cli_out_free();
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	nats_CloseAndWait(1000);
	return rc;
}
