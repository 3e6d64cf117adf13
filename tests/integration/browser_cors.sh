#!/bin/sh
# browser_cors.sh: the official JavaScript sample's login flow in headless
# Chromium (Debian package chromium) from a page of another origin (a
# second loopback port, cors_origin.py serving cors_page.html): fetch()
# of the IDP token, the WebSocket with the authenticate command,
# startSession, addSubscription, getState, events, then a Config REST GET
# with an Authorization header (a CORS preflight).  Against evsim and
# evplay --listen: with --cors ORIGIN the page gets events and rest=200;
# without --cors the browser blocks the login (no Access-Control-Allow-
# Origin), and a preflight still gets 204 without CORS headers.  Also
# --cors * and a wrong origin, checked at the HTTP level.
. "$(dirname "$0")/lib.sh"
. "$HERE/evrec.inc"
EVPLAY=$BUILD/evplay
CHROMIUM=${CHROMIUM:-chromium}
echo secret >"$T/pw"
AUTH="--user alice --password-file $T/pw"

if ! command -v "$CHROMIUM" >/dev/null 2>&1; then
	check 1 "chromium is installed (Debian package chromium, installed by tools/deps.sh as root): '$CHROMIUM' not found"
	done_testing
	exit 1
fi

# The page's origin: a web server on another free loopback port.
$PYTHON "$HERE/cors_origin.py" "$T/web.port" "$T/web.log" 2>"$T/web.err" &
PIDS="$PIDS $!"
waitfor 1000 test -s "$T/web.port"
check $? "the page's web server started" || { done_testing; exit 1; }
WEB=$(cat "$T/web.port")
ORIGIN=http://127.0.0.1:$WEB

# page NAME GWPORT: loads the page in headless Chromium against the
# gateway on GWPORT; the result line the page wrote into its DOM goes to
# $T/NAME.result ("ok ..." or "fail <stage>: <why>").
page() {
	timeout 120 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu \
	    --no-first-run --user-data-dir="$T/chrome" --dump-dom \
	    "$ORIGIN/cors_page.html?gw=$2&n=30" >"$T/$1.dom" 2>"$T/$1.chr"
	sed -n 's/.*<pre id="result">\([^<]*\)<.*/\1/p' "$T/$1.dom" \
	    >"$T/$1.result"
	echo "# $1: $(cat "$T/$1.result")"
}
# expect_ok NAME REST: the page logged in, got events, states and the
# REST answer (HTTP status REST) through the preflight.
expect_ok() {
	grep -Eq "^ok events=[0-9]+ states=[0-9]+ first=[0-9a-f-]{36} rest=$2\$" \
	    "$T/$1.result"
}
# blocked NAME: the login fetch was refused by the browser (CORS).
blocked() {
	grep -q '^fail login: TypeError' "$T/$1.result"
}
# hdrs PORT METHOD PATH ORIGIN: status and headers of one request, one
# "name: value" a line after the status (lower-case names).
hdrs() {
	$PYTHON - "$@" <<'PYEOF'
import http.client, sys
port, method, path, origin = sys.argv[1:5]
c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
h = {"Access-Control-Request-Method": "POST",
     "Access-Control-Request-Headers": "authorization"} \
    if method == "OPTIONS" else {}
if origin:
    h["Origin"] = origin
c.request(method, path, headers=h)
r = c.getresponse()
print(r.status)
for k, v in r.getheaders():
    print("%s: %s" % (k.lower(), v))
PYEOF
}

# run_gw KIND PROG ARGS...: the browser checks against one gateway kind.
run_gw() {
	_k=$1
	_prog=$2
	shift 2
	start_srv "$_prog" "$_k-cors" $AUTH --cors "$ORIGIN" "$@"
	check $? "$_k --cors $ORIGIN started" || return
	page "$_k-cors" "$SRV_PORT"
	check $(expect_ok "$_k-cors" "$REST"; echo $?) \
	    "$_k --cors: the page of another origin logs in, gets events, getState and REST (preflight)"
	hdrs "$SRV_PORT" OPTIONS /API/IDP/connect/token "$ORIGIN" >"$T/$_k.pre"
	check $(grep -qx 204 "$T/$_k.pre" &&
	    grep -qx "access-control-allow-origin: $ORIGIN" "$T/$_k.pre" &&
	    grep -qix "vary: origin" "$T/$_k.pre" &&
	    grep -q "^access-control-allow-methods: .*POST" "$T/$_k.pre" &&
	    grep -qx "access-control-allow-headers: authorization" \
	    "$T/$_k.pre" &&
	    grep -q "^access-control-max-age: [1-9]" "$T/$_k.pre"; echo $?) \
	    "$_k --cors: preflight 204 with Allow-Origin, Vary, -Methods, -Headers, -Max-Age"
	hdrs "$SRV_PORT" OPTIONS /API/IDP/connect/token http://127.0.0.2:1 \
	    >"$T/$_k.other"
	check $(grep -qx 204 "$T/$_k.other" &&
	    ! grep -q "^access-control" "$T/$_k.other"; echo $?) \
	    "$_k --cors: another origin's preflight gets no CORS headers"
	stop_pid "$SRV_PID"

	start_srv "$_prog" "$_k-none" $AUTH "$@"
	check $? "$_k without --cors started" || return
	page "$_k-none" "$SRV_PORT"
	check $(blocked "$_k-none"; echo $?) \
	    "$_k without --cors: the browser blocks the login (no CORS headers)"
	hdrs "$SRV_PORT" OPTIONS /API/IDP/connect/token "$ORIGIN" >"$T/$_k.no"
	check $(grep -qx 204 "$T/$_k.no" &&
	    grep -q "^allow: .*OPTIONS" "$T/$_k.no" &&
	    ! grep -q "^access-control" "$T/$_k.no"; echo $?) \
	    "$_k without --cors: OPTIONS is 204 with Allow, no CORS headers"
	hdrs "$SRV_PORT" GET /api/.well-known/uris "$ORIGIN" >"$T/$_k.get"
	check $(grep -qx 200 "$T/$_k.get" &&
	    ! grep -q "^access-control" "$T/$_k.get"; echo $?) \
	    "$_k without --cors: a GET with an Origin gets no CORS headers"
	stop_pid "$SRV_PID"
}

REST=200 run_gw evsim "$EVSIM" --rate 500
make_archive "$T/a" 7 3000 300 50 2>/dev/null
REST=404 run_gw evplay "$EVPLAY" --speed 5 "$T/a"

# --cors '*': any origin, answered with *.
start_srv "$EVSIM" star $AUTH --cors '*' --rate 100
hdrs "$SRV_PORT" GET /api/.well-known/uris http://example.test:8080 \
    >"$T/star"
check $(grep -qx "access-control-allow-origin: \*" "$T/star"; echo $?) \
    "--cors '*': any origin gets Access-Control-Allow-Origin: *"
stop_pid "$SRV_PID"

# Bad values are usage errors (exit 2), in both programs.
for bad in 'http://x/path' 'ftp//x' '' 'http://a b'; do
	$EVSIM --cors "$bad" >/dev/null 2>"$T/bad"
	_e1=$?
	$EVPLAY --listen 0 --any-user --cors "$bad" "$T/a" >/dev/null 2>&1
	_e2=$?
	check $([ $_e1 -eq 2 ] && [ $_e2 -eq 2 ] && grep -q -- --cors "$T/bad";
	    echo $?) "--cors '$bad' is a usage error (exit 2) in evsim and evplay"
done
# Under `make asan` a leak or memory error makes a program print a report.
check $(cat "$T"/*.out "$T"/*.log 2>/dev/null | grep -q "Sanitizer\|runtime error"
    [ $? -ne 0 ]; echo $?) "no sanitizer report from any server or recorder"
done_testing
