#!/bin/sh
# deps.sh: make sure the Debian 12 packages evtape builds and tests with are
# installed.  As root it installs what is missing with apt-get; otherwise it
# prints the exact command to run and fails.  Called by `make` (target deps).
set -u
pkgs="build-essential pkg-config libevent-dev libssl-dev libwslay-dev
libmsgpack-dev libzstd-dev zstd libhttp-parser-dev libinih-dev
python3 python3-websockets python3-zstandard openssl clang libclang-rt-14-dev time hyperfine chromium"
missing=""
for p in $pkgs; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
	echo "deps.sh: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || true
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing >&2 && exit 0
	echo "deps.sh: apt-get install failed" >&2
	exit 1
fi
echo "deps.sh: missing packages; run as root:" >&2
echo "  apt-get install -y$missing" >&2
exit 1
