# natslib.sh: real nats-server processes (JetStream, file storage) for the
# integration scripts; sourced after lib.sh (it sources evrec.inc itself if
# the script has not).  Not a test itself: tests/run.sh skips it.
#
#   need_nats                 nats-server and build/tests/natsdump are there;
#                             else one skip, the plan, and exit
#   nats_start NAME [--user U --password-file F] [--operator DIR] [--tls]
#           [--conf LINE]...
#                             a single server on 127.0.0.1, free ports; sets
#                             and exports NATS_URL (its nats://127.0.0.1:PORT)
#                             and, with --tls, NATS_CACERT (the test CA: the
#                             server requires TLS, the client verifies it);
#                             --operator: operator (JWT) mode, trusting the
#                             operator of DIR (made by `nkeys make DIR` if
#                             DIR has no server.conf), its accounts in a
#                             MEMORY resolver; sets and exports NATS_CREDS
#                             (DIR/user.creds, a user of its JetStream
#                             account)
#   nats_feed_sites PORT      publishes $T/siteA.in and siteB.in as two sites
#   nats_url NAME             prints the server's URL; nats_mport NAME its
#                             monitoring port; nats_pid NAME its pid
#   nats_kill NAME            kill -9 (the store stays as the crash left it)
#   nats_stop NAME            SIGTERM, waits for the exit (a clean shutdown)
#   nats_restart NAME         starts it again: same ports, store and options
#   nats_cluster_start N [PREFIX]
#                             N servers PREFIX1..PREFIXN (default c1..cN) in
#                             one JetStream cluster; returns once every node
#                             is healthy and they agree on a meta leader;
#                             sets and exports NATS_URL (all nodes' URLs,
#                             comma-separated)
#   nats_stream_leader STREAM prints the server name (= NAME) of the stream's
#                             leader (via natsdump --info on NATS_URL)
#   nats_kill_leader STREAM   kill -9 of that server; sets NATS_KILLED to its NAME
#   nats_wait_leader STREAM [NOT]
#                             waits until the stream has a leader (other than
#                             NOT, e.g. one just killed); prints its name
#   nats_info STREAM [FIELD]  natsdump --info's JSON line, or one number of it
#   nats_wait_msgs STREAM N [TRIES]
#                             waits until the stream holds N messages or more
#                             (TRIES polls of natsdump --info, default 3000)
#   stream_events STREAM PREFIX
#                             how many events (PREFIX.ev.>) STREAM holds
#   wait_stream STREAM PREFIX N
#                             polls (0.1 s, 60 s at most) until STREAM holds
#                             N events of PREFIX
#   same_stream STREAM PREFIX SITE DIR [--limit N]
#                             the stream against the archive DIR
#                             (natspubcheck.py: every event once, in order,
#                             payloads, subjects and headers as formats/
#                             nats.md says); leaves $T/dump.jsonl (the
#                             stream) and $T/cat.jsonl (evtool cat DIR)
#   nats_consumer NAME DURABLE FIELD
#                             a number of a consumer's state from server
#                             NAME's monitoring (/jsz): num_pending (not
#                             delivered yet), num_ack_pending (delivered,
#                             not acknowledged)
#   ndump ARGS...             natsdump with NATS_URL's credentials (NATS_USER
#                             and NATS_PWFILE, or NATS_CREDS; NATS_CACERT
#                             when set)
#
# Every server's files are under $T/nats/NAME (conf, log, store/); every
# server still running at exit is killed (kill -9) by the EXIT trap, which
# also does evrec.inc's and lib.sh's work.  Readiness is awaited by events:
# the server's ports file, then its /healthz (JetStream up; in a cluster,
# contact with the meta leader), each a bounded poll, never a fixed sleep.
command -v make_certs >/dev/null 2>&1 || . "$HERE/evrec.inc"
NATS_SERVER=${NATS_SERVER:-nats-server}
NATSDUMP=$BUILD/tests/natsdump
NKEYS=$BUILD/tests/nkeys

# nats_cleanup: kill -9 every server this script started that still runs.
nats_cleanup() {
	for _f in "$T"/nats/*/pid; do
		[ -f "$_f" ] && kill -9 "$(cat "$_f")" 2>/dev/null
	done
	return 0
}
# _nats_trap: (re)installs the traps, evrec.inc's and lib.sh's work
# included (a script that sources evrec.inc after us would replace them:
# every start installs them again).
_nats_trap() {
	trap 'nats_cleanup; for p in $PIDS; do kill -9 $p 2>/dev/null; done; rm -rf "$T"' EXIT
	trap 'exit 1' INT TERM
}
_nats_trap

need_nats() {
	if ! command -v "$NATS_SERVER" >/dev/null 2>&1; then
		echo "ok $((tn + 1)) # skip nats-server is not installed"
	elif [ ! -x "$NATSDUMP" ]; then
		echo "ok $((tn + 1)) # skip $NATSDUMP is not built (make tests)"
	else
		return 0
	fi
	tn=$((tn + 1))
	done_testing
	exit
}

# _nats_http PORT PATH: the body of http://127.0.0.1:PORT/PATH (fails on
# an error status or no answer).
_nats_http() {
	$PYTHON -c '
import sys, urllib.request
u = "http://127.0.0.1:%s/%s" % (sys.argv[1], sys.argv[2])
sys.stdout.write(urllib.request.urlopen(u, timeout=2).read().decode())' "$1" "$2" 2>/dev/null
}

# _nats_json FIELD: one value of the JSON object on stdin; a dotted path
# ("meta_cluster.leader"); nothing if absent.
_nats_json() {
	$PYTHON -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v.get(k) if isinstance(v, dict) else None
if v is not None:
    print(v if not isinstance(v, bool) else str(v).lower())' "$1" 2>/dev/null
}

# _nats_conf NAME: writes $T/nats/NAME/conf from the node's option files:
# port, mport ("-1" the first time: the server picks, the ports file
# says), cport and routes (cluster), auth, tls, extra.
_nats_conf() {
	_d=$T/nats/$1
	{
		echo "server_name: \"$1\""
		echo "listen: \"127.0.0.1:$(cat "$_d/port")\""
		echo "http: \"127.0.0.1:$(cat "$_d/mport")\""
		echo "ports_file_dir: \"$_d\""
		echo "jetstream { store_dir: \"$_d/store\", max_mem: 64MB }"
		[ -f "$_d/auth" ] && cat "$_d/auth"
		[ -f "$_d/tls" ] && cat "$_d/tls"
		if [ -f "$_d/cport" ]; then
			echo "cluster {"
			echo "  name: \"evtape\""
			echo "  listen: \"127.0.0.1:$(cat "$_d/cport")\""
			echo "  routes: [$(cat "$_d/routes")]"
			echo "}"
		fi
		[ -f "$_d/extra" ] && cat "$_d/extra"
	} >"$_d/conf"
}

# _nats_spawn NAME: writes the config and starts the server of
# $T/nats/NAME in the background (its pid in $T/nats/NAME/pid).
_nats_spawn() {
	_d=$T/nats/$1
	_nats_trap
	_nats_conf "$1"
	rm -f "$_d"/*.ports
	"$NATS_SERVER" -c "$_d/conf" >>"$_d/log" 2>&1 &
	echo $! >"$_d/pid"
}

# _nats_ready NAME: waits until the server's ports file is written (then
# records its ports, so a restart reuses them) and /healthz answers ok.
# Returns 1 (the log shown) if it does not.
_nats_ready() {
	_d=$T/nats/$1
	_p=$(cat "$_d/pid")
	# The ports file, or the server gone (a port taken, a bad config).
	waitfor 2000 sh -c "ls '$_d'/*_$_p.ports || ! kill -0 $_p"
	if ! ls "$_d"/*_"$_p".ports >/dev/null 2>&1; then
		echo "# nats-server $1 did not start:"
		tail -n 15 "$_d/log" | sed 's/^/#   /'
		return 1
	fi
	$PYTHON -c '
import json, sys
p = json.load(open(sys.argv[1]))
print(p["nats"][0].rsplit(":", 1)[1])
print(p["monitoring"][0].rsplit(":", 1)[1])' "$(ls "$_d"/*_"$_p".ports)" >"$_d/ports" ||
	    return 1
	sed -n 1p "$_d/ports" >"$_d/port"
	sed -n 2p "$_d/ports" >"$_d/mport"
	if ! waitfor 3000 _nats_healthy "$(cat "$_d/mport")"; then
		echo "# nats-server $1 not healthy:"
		tail -n 15 "$_d/log" | sed 's/^/#   /'
		return 1
	fi
}

_nats_healthy() {
	_nats_http "$1" healthz | grep -q '"ok"'
}

nats_url() { echo "nats://127.0.0.1:$(cat "$T/nats/$1/port")"; }
nats_mport() { cat "$T/nats/$1/mport"; }
nats_pid() { cat "$T/nats/$1/pid"; }

nats_start() {
	_n=$1
	shift
	_d=$T/nats/$_n
	mkdir -p "$_d/store"
	echo -1 >"$_d/port"
	echo -1 >"$_d/mport"
	rm -f "$_d/auth" "$_d/tls" "$_d/extra"
	_u= _pw=
	while [ $# -gt 0 ]; do
		case $1 in
		--user) _u=$2; shift ;;
		--password-file) _pw=$2; shift ;;
		--operator)
			if [ ! -f "$2/server.conf" ]; then
				"$NKEYS" make "$2" || return 1
			fi
			cat "$2/server.conf" >"$_d/auth"
			NATS_CREDS=$2/user.creds
			export NATS_CREDS
			shift ;;
		--tls)
			[ -f "$T/ca.pem" ] || make_certs || {
				echo "# openssl failed:"
				sed 's/^/#   /' "$T/openssl.out"
				return 1
			}
			printf 'tls {\n  cert_file: "%s"\n  key_file: "%s"\n}\n' \
			    "$T/srv.pem" "$T/srv.key" >"$_d/tls"
			NATS_CACERT=$T/ca.pem
			export NATS_CACERT ;;
		--conf) echo "$2" >>"$_d/extra"; shift ;;
		*) echo "# nats_start: unknown option $1"; return 1 ;;
		esac
		shift
	done
	if [ -n "$_u" ]; then
		# The password from its file into the server's config (mode
		# 600), never onto a command line.
		(umask 077; printf 'authorization {\n  user: "%s"\n  password: "%s"\n}\n' \
		    "$_u" "$(sed 's/[\\"]/\\&/g' "$_pw")" >"$_d/auth")
		NATS_USER=$_u
		NATS_PWFILE=$_pw
		export NATS_USER NATS_PWFILE
	fi
	_nats_spawn "$_n"
	_nats_ready "$_n" || return 1
	NATS_URL=$(nats_url "$_n")
	export NATS_URL
}

nats_kill() {
	_p=$(nats_pid "$1")
	kill -9 "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
	while kill -0 "$_p" 2>/dev/null; do sleep 0.01; done
	return 0
}

nats_stop() {
	_p=$(nats_pid "$1")
	kill -TERM "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
	while kill -0 "$_p" 2>/dev/null; do sleep 0.01; done
	return 0
}

nats_restart() {
	_nats_spawn "$1"
	_nats_ready "$1"
}

nats_cluster_start() {
	# The cluster ports are picked before the servers bind them (each
	# route names the others'): if one was taken meanwhile, again.
	for _try in 1 2 3; do
		_nats_cluster_try "$@" && return 0
		grep -qs 'address already in use' "$T"/nats/"${2:-c}"*/log ||
		    return 1
		for _x in $_all; do
			nats_kill "$_x"
			rm -f "$T/nats/$_x/log"
		done
		echo "# cluster ports taken meanwhile: again"
	done
	return 1
}

_nats_cluster_try() {
	_cn=$1
	_pre=${2:-c}
	_i=1
	_all=
	while [ $_i -le "$_cn" ]; do
		_d=$T/nats/$_pre$_i
		mkdir -p "$_d/store"
		echo -1 >"$_d/port"
		echo -1 >"$_d/mport"
		free_port >"$_d/cport"
		_all="$_all $_pre$_i"
		_i=$((_i + 1))
	done
	for _n in $_all; do
		_r=
		for _o in $_all; do
			[ "$_o" = "$_n" ] && continue
			_r="$_r${_r:+, }\"nats://127.0.0.1:$(cat "$T/nats/$_o/cport")\""
		done
		echo "$_r" >"$T/nats/$_n/routes"
	done
	# Started together: a node's /healthz waits for the meta leader,
	# which needs a quorum of the others.
	for _n in $_all; do
		_nats_spawn "$_n"
	done
	NATS_URL=
	for _n in $_all; do
		_nats_ready "$_n" || return 1
		NATS_URL=$NATS_URL${NATS_URL:+,}$(nats_url "$_n")
	done
	export NATS_URL
	for _n in $_all; do
		waitfor 3000 _nats_meta_ok "$_n" "$_cn" || {
			echo "# nats-server $_n: no meta leader:"
			tail -n 15 "$T/nats/$_n/log" | sed 's/^/#   /'
			return 1
		}
	done
}

# _nats_meta_ok NAME N: the node is healthy and knows a meta leader of a
# cluster of N.
_nats_meta_ok() {
	_mp=$(nats_mport "$1")
	_nats_healthy "$_mp" || return 1
	_j=$(_nats_http "$_mp" jsz) || return 1
	[ -n "$(echo "$_j" | _nats_json meta_cluster.leader)" ] &&
	    [ "$(echo "$_j" | _nats_json meta_cluster.cluster_size)" = "$2" ]
}

# nats_feed_sites PORT: publishes $T/siteA.in and $T/siteB.in (TSV, as
# make_archive leaves them) at once, as sites siteA and siteB under the
# prefixes xprotect.siteA and xprotect.siteB (natsfeed.py, as evrec
# --publish would); status 0 when JetStream acknowledged every message.
nats_feed_sites() {
	$PYTHON "$HERE/natsfeed.py" "$1" tsv siteA xprotect.siteA \
	    aaaaaaaa-0000-4000-8000-00000000000a "$T/siteA.in" \
	    >"$T/feedA.out" 2>&1 &
	_fa=$!
	$PYTHON "$HERE/natsfeed.py" "$1" tsv siteB xprotect.siteB \
	    bbbbbbbb-0000-4000-8000-00000000000b "$T/siteB.in" \
	    >"$T/feedB.out" 2>&1 &
	_fb=$!
	wait $_fa
	_ra=$?
	wait $_fb
	return $((_ra + $?))
}

ndump() {
	set -- ${NATS_CACERT:+--cacert "$NATS_CACERT"} "$@"
	if [ -n "${NATS_USER:-}" ]; then
		"$NATSDUMP" --user "$NATS_USER" --password-file "$NATS_PWFILE" "$@"
	elif [ -n "${NATS_CREDS:-}" ]; then
		"$NATSDUMP" --creds "$NATS_CREDS" "$@"
	else
		"$NATSDUMP" "$@"
	fi
}

nats_info() {
	_j=$(ndump --info "$NATS_URL" "$1") || return 1
	if [ $# -gt 1 ]; then
		echo "$_j" | _nats_json "$2"
	else
		echo "$_j"
	fi
}

nats_stream_leader() {
	_l=$(nats_info "$1" leader) && [ -n "$_l" ] && echo "$_l"
}

nats_kill_leader() {
	NATS_KILLED=$(nats_stream_leader "$1") || return 1
	nats_kill "$NATS_KILLED"
}

# _nats_leader_ok STREAM NOT: the stream has a leader, and it is not NOT
# (its name goes to $T/nats/.leader).
_nats_leader_ok() {
	_j=$(ndump --info "$NATS_URL" "$1" 2>/dev/null) || return 1
	_l=$(echo "$_j" | _nats_json leader)
	[ -n "$_l" ] && [ "$_l" != "$2" ] || return 1
	echo "$_l" >"$T/nats/.leader"
}

nats_wait_leader() {
	waitfor 3000 _nats_leader_ok "$1" "${2:-}" || return 1
	cat "$T/nats/.leader"
}

_nats_msgs_ok() {
	_m=$(nats_info "$1" messages 2>/dev/null) && [ "${_m:-0}" -ge "$2" ]
}

nats_wait_msgs() {
	waitfor "${3:-3000}" _nats_msgs_ok "$1" "$2"
}

stream_events() {
	ndump --subject "$2.ev.>" "$NATS_URL" "$1" 2>/dev/null | wc -l |
	    tr -d ' '
}

wait_stream() {
	_i=0
	while [ $_i -lt 600 ]; do
		[ "$(stream_events "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

same_stream() {
	_s=$1
	_p=$2
	_site=$3
	_d=$4
	shift 4
	ndump "$NATS_URL" "$_s" >"$T/dump.jsonl" || return 1
	"$EVTOOL" cat "$_d" >"$T/cat.jsonl" || return 1
	$PYTHON "$HERE/natspubcheck.py" "$T/dump.jsonl" "$T/cat.jsonl" "$_p" \
	    "$_site" "$@"
}

nats_consumer() {
	_nats_http "$(nats_mport "$1")" "jsz?consumers=true" | $PYTHON -c '
import json, sys
j = json.load(sys.stdin)
for a in j.get("account_details", []):
    for s in a.get("stream_detail", []):
        for c in s.get("consumer_detail") or []:
            if c["name"] == sys.argv[1]:
                print(c[sys.argv[2]])' "$2" "$3"
}
