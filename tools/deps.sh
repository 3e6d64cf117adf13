#!/bin/sh
# deps.sh: make sure the Debian 12 packages one make target needs are
# installed.  As root it installs what is missing with apt-get; otherwise
# it prints the exact command to run and fails.  Called by the Makefile:
#
#   deps.sh build   compiler, pkg-config and the libraries' -dev packages
#                   (`make`: the library and the programs)
#   deps.sh test    what the tests run besides our programs: python3 and
#                   its websockets/zstandard modules, the openssl CLI (test
#                   certificates), chromium (the CORS test), nats-server
#                   (the NATS tests) (`make test`, `make asan`)
#   deps.sh bench   the test set plus zstd, GNU time and hyperfine
#                   (`make bench`)
#   deps.sh fuzz    clang and its libFuzzer runtime (`make fuzz`)
#
# Several sets may be named at once; `build` is implied by the others only
# through the Makefile, which asks for it first.
set -u
pkgs_build="build-essential pkg-config libevent-dev libssl-dev libwslay-dev
libmsgpack-dev libzstd-dev libhttp-parser-dev libinih-dev libnats-dev"
pkgs_test="python3 python3-websockets python3-zstandard openssl chromium
nats-server"
pkgs_bench="$pkgs_test zstd time hyperfine"
pkgs_fuzz="clang libclang-rt-14-dev"

pkgs=""
[ $# -gt 0 ] || set -- build
for s in "$@"; do
	case $s in
	build) pkgs="$pkgs $pkgs_build" ;;
	test) pkgs="$pkgs $pkgs_test" ;;
	bench) pkgs="$pkgs $pkgs_bench" ;;
	fuzz) pkgs="$pkgs $pkgs_fuzz" ;;
	*)
		echo "deps.sh: unknown set '$s' (build, test, bench, fuzz)" >&2
		exit 2
		;;
	esac
done
missing=""
for p in $pkgs; do
	case " $missing " in *" $p "*) continue ;; esac
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
echo "deps.sh: missing packages ($*); run as root:" >&2
echo "  apt-get install -y$missing" >&2
exit 1
