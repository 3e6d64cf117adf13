#!/bin/sh
# bench/nats.sh: NATS JetStream (part of `make bench`; docs/scale-out.md
# quotes it).  One nats-server -js (file storage) on 127.0.0.1 for each
# run, so every run starts on an empty store:
#   baseline   build/bench/natspub: the same events (`evtool cat` of an
#              evgen archive of NATS_EVENTS, default 1,000,000) published
#              asynchronously with libnats directly, every acknowledgement
#              awaited: events/s; and the stream's bytes per message, on
#              disk (the stream's directory) and as the server counts them
#              (natsdump --info), beside the archive's bytes per event;
#              twice: with Nats-Msg-Id only, and with every header of
#              formats/nats.md (what evrec sends);
#   ceiling    build/bench/natsceil: the same events with every header,
#              pipelined on the raw protocol (no client library) into a
#              fresh server: what the server itself takes on this machine,
#              and its CPU (% of one core, and per message);
#   R3         the same (first NATS_R3_EVENTS, default 200,000) into an
#              R3 stream of a 3-server cluster on this machine (NATS_R3=0
#              skips it);
#   streams    one idle server holding NATS_STREAMS (default 1000) R1
#              streams, and a 3-server cluster holding NATS_R3_STREAMS
#              (default 100) R3 streams: CPU and RSS over NATS_IDLE_SECS
#              (default 20) s;
#   catch-up   evrec --publish of that archive (if evrec has --publish):
#              events/s acknowledged, and catch-up/baseline;
#   archiver   evrec --from-nats reading the stream into an archive (if
#              evrec has --from-nats): events/s;
#   live       evsim --rate 200 -> evrec for NATS_LIVE_SECS (default 30) s,
#              without and (if it exists) with --publish: evrec's CPU % of
#              one core from /proc/PID/stat, and its RSS.
# A part whose option is absent prints one "skipped" line.  Never fails on
# a figure.
#   NATS_EVENTS     events (default 1,000,000)
#   NATS_LIVE_SECS  seconds of each live run (default 30)
#   NATS_WINDOW     natspub's MaxPending (default 4096)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
N=${NATS_EVENTS:-1000000}
LIVE=${NATS_LIVE_SECS:-30}
WINDOW=${NATS_WINDOW:-4096}
# (lib.sh's waitfor sets n: the figures use NEV.)
# The test harness's servers (tests/integration/natslib.sh), its temp dir
# $T and EXIT trap; the benchmark measures the recorder as deployed, not
# with the tests' seal check.
. "$(dirname "$0")/../integration/lib.sh"
HERE=$(cd "$(dirname "$0")/../integration" && pwd)
. "$HERE/natslib.sh"
unset EVTAPE_SEAL_CHECK
EVREC=$BUILD/evrec
EVSIM=$BUILD/evsim
hz=$(getconf CLK_TCK)
now_ns() { date +%s%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
has_opt() { "$EVREC" --help 2>&1 | grep -q -- "$1"; }

echo "== NATS JetStream (bench/nats.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $($NATS_SERVER --version))"
if ! command -v "$NATS_SERVER" >/dev/null 2>&1 || [ ! -x "$BUILD/bench/natspub" ] ||
    [ ! -x "$NATSDUMP" ]; then
	echo "skipped: nats-server, $BUILD/bench/natspub or $NATSDUMP missing (make tests)"
	exit 0
fi

$EVGEN --seed 42 --events "$N" >"$T/in.tsv"
$EVTOOL import "$T/a" "$T/in.tsv" 2>/dev/null
rm -f "$T/in.tsv"
$EVTOOL cat "$T/a" >"$T/ev.jsonl"
NEV=$(wc -l <"$T/ev.jsonl")
abytes=$(cat "$T"/a/* | wc -c)
echo "input: $NEV events, archive $(ratio "$abytes" "$NEV") bytes/event, JSON lines $(ratio "$(wc -c <"$T/ev.jsonl")" "$NEV") bytes/event"

# fresh NAME: a new server NAME with an empty store and the stream EV
# (subjects xprotect.>, file storage, R1); sets URL.
fresh() {
	nats_start "$1" >/dev/null
	URL=$NATS_URL
	"$NATSDUMP" --mkstream "$URL" EV --subjects 'xprotect.>'
}
# stream_disk NAME: bytes of the stream EV's directory on disk.
stream_disk() {
	du -sb "$T/nats/$1/store/jetstream/\$G/streams/EV" | cut -f1
}

# baseline NAME WHAT [NATSPUB OPTIONS...]: natspub into a fresh server;
# prints its figures; sets base_rate and base_disk (bytes/message).
baseline() {
	_n=$1
	_w=$2
	shift 2
	fresh "$_n"
	set -- $("$BUILD/bench/natspub" "$URL" "$T/ev.jsonl" --window "$WINDOW" "$@")
	base_rate=$8
	_m=$(nats_info EV messages)
	_b=$(nats_info EV bytes)
	base_disk=$(ratio "$(stream_disk "$_n")" "$_m")
	echo "baseline:    natspub, $_w (libnats js_PublishMsgAsync, window $WINDOW): $base_rate events/s acknowledged ($2 acked, $4 failed, $6 s)"
	echo "             stream: $_m messages, $(ratio "$_b" "$_m") bytes/message counted by the server, $base_disk bytes/message on disk (file store; the archive: $(ratio "$abytes" "$NEV"))"
}
# archiver WHAT: evrec --from-nats reads the stream EV of URL (WHAT names
# it) into a new archive until it holds NEV events: events/s.
archiver() {
	if ! has_opt --from-nats; then
		echo "archiver:    skipped: evrec has no --from-nats"
		return
	fi
	rm -rf "$T/central"
	_t0=$(now_ns)
	"$EVREC" --archive "$T/central" --from-nats "$URL" --stream EV \
	    --durable bench --summary-interval 0 -q >"$T/arc.log" 2>&1 &
	_arc=$!
	PIDS="$PIDS $_arc"
	while ! at_least "$T/central" "$NEV"; do
		kill -0 $_arc 2>/dev/null || break
		sleep 0.2
	done
	_t1=$(now_ns)
	_cpu=$(ticks $_arc 2>/dev/null || echo 0)
	kill -TERM $_arc 2>/dev/null || true
	wait $_arc 2>/dev/null || true
	_s=$(awk -v a="$_t0" -v b="$_t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	_got=$(events_in "$T/central")
	echo "archiver:    evrec --from-nats of $1: $(rate "$_got" "$_s") events/s into a central archive ($_got events, $_s s, CPU $(awk -v t="$_cpu" -v hz="$hz" -v s="$_s" 'BEGIN { printf "%.0f", 100 * t / hz / s }') %, $(ratio "$(cat "$T"/central/* | wc -c)" "$_got") bytes/event)"
	[ "$_got" -ge "$NEV" ] || sed 's/^/#   /' "$T/arc.log" | tail -n 5
}
baseline base0 "Nats-Msg-Id only"
nats_stop base0
baseline base "every header of formats/nats.md" --all-headers bench
full_rate=$base_rate
# Without evrec --publish the archiver reads natspub's stream (one event
# per Evtape-Frame: evrec groups 2.9 on average).
has_opt --publish || archiver "natspub's stream (one event a frame)"
nats_stop base

# --- ceiling: the server's own rate, measured by a client that costs
# next to nothing (natsceil: raw protocol, no library).
fresh ceil
set -- $("$BUILD/bench/natsceil" "$URL" "$T/ev.jsonl" --window "$WINDOW" --site bench --server-pid "$(nats_pid ceil)")
ceil_rate=$8
echo "ceiling:     natsceil, every header (raw NATS protocol, no client library, window $WINDOW): $ceil_rate events/s acknowledged ($2 acked, $4 failed, $6 s), nats-server ${10} % of one core, $(awk -v c="${10}" -v r="$8" 'BEGIN { printf "%.1f", (r > 0 ? 1e4 * c / r : 0) }') us CPU per message   baseline/ceiling = $(ratio "$full_rate" "$ceil_rate")"
nats_stop ceil

# --- R3: the same into a 3-node cluster on this machine (the three
# servers share its cores: a floor, not a cluster's rate).
if [ "${NATS_R3:-1}" = 1 ]; then
	head -n "${NATS_R3_EVENTS:-200000}" "$T/ev.jsonl" >"$T/ev3.jsonl"
	nats_cluster_start 3 r >/dev/null
	"$NATSDUMP" --mkstream --replicas 3 "$NATS_URL" EV --subjects 'xprotect.>'
	set -- $("$BUILD/bench/natspub" "${NATS_URL%%,*}" "$T/ev3.jsonl" --window "$WINDOW" --all-headers bench)
	echo "R3:          natspub, every header, into an R3 stream of 3 servers on these $(nproc) cores: $8 events/s acknowledged ($2 acked, $4 failed, $6 s)   R3/R1 = $(ratio "$8" "$full_rate")"
	for _x in r1 r2 r3; do nats_stop $_x; done
	rm -f "$T/ev3.jsonl"
fi

# --- many streams: idle servers holding NATS_STREAMS R1 streams (one
# per site; default 1000) on one server, and NATS_R3_STREAMS R3 streams
# (default 100) on a 3-server cluster, one message each: CPU and RSS.
# many COUNT REPLICAS NODES...: makes the streams on NATS_URL, then the
# nodes' CPU (sum) and RSS (sum) over NATS_IDLE_SECS (default 20) s.
many() {
	_c=$1
	_r=$2
	shift 2
	_i=1
	_t0=$(now_ns)
	while [ $_i -le "$_c" ]; do
		"$NATSDUMP" --mkstream --replicas "$_r" "$NATS_URL" "S$_i" \
		    --subjects "xprotect.s$_i.>"
		head -n 1 "$T/ev.jsonl" | "$NATSDUMP" --pub "$NATS_URL" "xprotect.s$_i.ev.x.y" >/dev/null
		_i=$((_i + 1))
	done
	_mk=$(awk -v a="$_t0" -v b="$(now_ns)" -v c="$_c" 'BEGIN { printf "%.1f", (b - a) / 1e6 / c }')
	_c0=0
	for _x in "$@"; do _c0=$((_c0 + $(ticks "$(nats_pid $_x)"))); done
	sleep "${NATS_IDLE_SECS:-20}"
	_c1=0
	_rss=0
	for _x in "$@"; do
		_c1=$((_c1 + $(ticks "$(nats_pid $_x)")))
		_rss=$((_rss + $(rss_kb "$(nats_pid $_x)")))
	done
	_st=0
	for _x in "$@"; do _st=$((_st + $(du -sb "$T/nats/$_x/store" | cut -f1))); done
	echo "streams:     $_c R$_r file streams on $# idle server(s): CPU $(awk -v t="$((_c1 - _c0))" -v hz="$hz" -v s="${NATS_IDLE_SECS:-20}" 'BEGIN { printf "%.2f", 100 * t / hz / s }') % of one core, RSS $((_rss / 1024)) MiB, store $(ratio "$_st" "$_c") bytes/stream (all servers; one message each); $_mk ms per stream created (natsdump --mkstream + --pub processes)"
}
if [ "${NATS_STREAMS:-1000}" -gt 0 ]; then
	nats_start many >/dev/null
	many "${NATS_STREAMS:-1000}" 1 many
	nats_stop many
fi
if [ "${NATS_R3_STREAMS:-100}" -gt 0 ]; then
	nats_cluster_start 3 m >/dev/null
	many "${NATS_R3_STREAMS:-100}" 3 m1 m2 m3
	for _x in m1 m2 m3; do nats_stop $_x; done
fi

umask 077
echo "pw-$$" >"$T/pw"
umask 022

# --- catch-up: evrec --publish of the existing archive: evrec on the
# archive, recording an evsim at 1 event/s (evrec needs a gateway), with
# the stream empty: the publisher starts at the archive's beginning.
if has_opt --publish; then
	fresh pub
	start_sim simpub --user bench --password-file "$T/pw" --rate 1
	srv0=$(ticks "$(nats_pid pub)")
	t0=$(now_ns)
	"$EVREC" --archive "$T/a" --user bench --password-file "$T/pw" \
	    --publish "$URL" --stream EV --site bench --summary-interval 0 \
	    -q "http://127.0.0.1:$SIM_PORT" >"$T/pub.log" 2>&1 &
	rec=$!
	PIDS="$PIDS $rec"
	# Done when the stream holds every event (markers come on top).
	while [ "$(nats_info EV messages 2>/dev/null || echo 0)" -lt "$NEV" ]; do
		kill -0 $rec 2>/dev/null || break
		sleep 0.2
	done
	t1=$(now_ns)
	cpu=$(ticks $rec 2>/dev/null || echo 0)
	srv=$(($(ticks "$(nats_pid pub)") - srv0))
	kill -TERM $rec 2>/dev/null || true
	wait $rec 2>/dev/null || true
	kill -TERM $SIM_PID
	wait $SIM_PID 2>/dev/null || true
	[ "$(nats_info EV messages)" -ge "$NEV" ] || sed 's/^/#   /' "$T/pub.log" | tail -n 5
	s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	got=$(nats_info EV messages)
	echo "catch-up:    evrec --publish of the archive: $(rate "$got" "$s") messages/s acknowledged ($got messages, $s s, evrec CPU $(awk -v t="$cpu" -v hz="$hz" -v s="$s" 'BEGIN { printf "%.0f", 100 * t / hz / s }') %, nats-server $(awk -v t="$srv" -v hz="$hz" -v s="$s" 'BEGIN { printf "%.0f", 100 * t / hz / s }') %)   catch-up/baseline = $(ratio "$(rate "$got" "$s")" "$full_rate"), catch-up/ceiling = $(ratio "$(rate "$got" "$s")" "$ceil_rate")"
	echo "             stream: $(ratio "$(stream_disk pub)" "$got") bytes/message on disk"
	archiver "evrec --publish's stream"
	nats_stop pub
else
	echo "catch-up:    skipped: evrec has no --publish"
fi
rm -f "$T/ev.jsonl"

# --- live: evsim at 200 events/s -> evrec, without and with --publish.
# live NAME [EVREC OPTIONS...]: one run; prints "cpu% rss_kb events".
live() {
	_n=$1
	shift
	start_sim "sim$_n" --user bench --password-file "$T/pw" --rate 200
	start_rec "$_n" --archive "$T/live$_n" --user bench \
	    --password-file "$T/pw" "$@" "http://127.0.0.1:$SIM_PORT"
	wait_events "$T/live$_n" 1 30 || true
	_c0=$(ticks $REC_PID)
	_e0=$(events_in "$T/live$_n")
	sleep "$LIVE"
	_c1=$(ticks $REC_PID)
	_rss=$(rss_kb $REC_PID)
	stop_pid $REC_PID
	kill -TERM $SIM_PID
	wait $SIM_PID 2>/dev/null || true
	echo "$(awk -v t="$((_c1 - _c0))" -v hz="$hz" -v s="$LIVE" 'BEGIN { printf "%.2f", 100 * t / hz / s }') $_rss $(($(events_in "$T/live$_n") - _e0))"
}
set -- $(live plain)
echo "live:        evrec at 200 events/s, $LIVE s: CPU $1 % of one core, RSS $(($2 / 1024)) MiB ($3 events)"
plain_cpu=$1
if has_opt --publish; then
	fresh live
	set -- $(live pub --publish "$URL" --stream EV --site live)
	echo "             with --publish: CPU $1 % of one core, RSS $(($2 / 1024)) MiB ($3 events; stream $(nats_info EV messages) messages)   with/without = $(ratio "$1" "$plain_cpu")"
	nats_stop live
else
	echo "             with --publish: skipped: evrec has no --publish"
fi
exit 0
