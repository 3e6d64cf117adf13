#!/bin/sh
# bench/gateway.sh: the gateway side's ceiling (part of `make bench`):
# events/s from evsim --rate 0 (top speed, back-pressure from the client)
# to one WebSocket client that only counts, against the goal of >= 300,000
# events/s.  Clients: wscount (C: evt_wsclient + one JSON parse per
# message) and, as the baseline in the same run, a Python websockets client
# that only json.loads() each message.  Besides wall-clock events/s the
# script prints evsim's own CPU time (user+sys from /proc/PID/stat) per
# event: on a shared machine that is the steadier figure, and the ceiling
# of the gateway side alone is events / evsim CPU seconds.  Never fails on
# a figure.
#   GW_EVENTS   events per run (default 1,000,000; Python: a fifth)
set -eu
BUILD=${BUILD:-build}
N=${GW_EVENTS:-1000000}
NPY=$((N / 5))
EVSIM=$BUILD/evsim
WSCOUNT=$BUILD/bench/wscount
PYTHON=${PYTHON:-/usr/bin/python3}
W=$(mktemp -d "${TMPDIR:-/tmp}/evtape-gwbench.XXXXXX")
. "$(dirname "$0")/serve.inc"
# report NAME EVENTS SECONDS SIMCPU
report() {
	awk -v name="$1" -v n="$2" -v s="$3" -v c="$4" 'BEGIN {
	    printf "%-22s %9.0f events/s wall (%d events, %.2f s)   evsim CPU %.2f s = %.0f events per CPU-second (%.2f us/event)\n",
	        name, (s > 0 ? n / s : 0), n, s, c, (c > 0 ? n / c : 0),
	        (n > 0 ? c * 1e6 / n : 0) }'
}

echo "== gateway benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, goal >= 300000 events/s to one client)"

serve "$EVSIM" --quiet --rate 0 --history-bytes 16777216
c0=$(cpu_s "$SRVPID")
set -- $("$WSCOUNT" "$PORT" "$W/tok" "$N")
c1=$(cpu_s "$SRVPID")
unserve
report "C client (wscount):" "$1" "$2" "$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')"

serve "$EVSIM" --quiet --rate 0 --history-bytes 16777216
c0=$(cpu_s "$SRVPID")
set -- $("$PYTHON" - "$PORT" "$W/tok" "$NPY" <<'PY'
import asyncio, json, sys, time
import websockets

async def main(port, tok, want):
    async with websockets.connect(
            "ws://127.0.0.1:%s/api/ws/events/v1" % port, max_size=None,
            extra_headers={"Authorization": "Bearer " + tok}) as ws:
        await ws.send(json.dumps({"command": "startSession", "commandId": 1}))
        await ws.send(json.dumps({"command": "addSubscription",
            "commandId": 2, "filters": [{"modifier": "include",
            "resourceTypes": ["*"], "sourceIds": ["*"],
            "eventTypes": ["*"]}]}))
        got, t0 = 0, None
        while got < want:
            m = json.loads(await ws.recv())
            if "events" in m:
                if t0 is None:
                    t0 = time.monotonic()
                got += len(m["events"])
        print(got, time.monotonic() - t0)

asyncio.run(main(sys.argv[1], open(sys.argv[2]).read().strip(),
                 int(sys.argv[3])))
PY
)
c1=$(cpu_s "$SRVPID")
unserve
report "baseline: Python client:" "$1" "$2" "$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')"
