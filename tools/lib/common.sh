# tools/lib/common.sh - shared by tools/quickstart, tools/test and tools/bench.
#
# mg_need_packages PKG...   apt-get install what is missing (Debian 12, root)
# mg_build DIR [CONFIGURE-ARGS...]
#                           autoreconf when needed, configure out of tree in
#                           DIR when needed, make -j(nproc)
# Everything is idempotent and quick when there is nothing to do.

MG_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

mg_log() { printf '%s\n' "migrate: $*" >&2; }

# The packages to build migrate and run its unit tests.
MG_BUILD_PACKAGES="gcc make autoconf automake libtool pkg-config \
libcurl4-openssl-dev libssl-dev libarchive-dev libleveldb-dev libssh2-1-dev \
libyaml-dev libexpat1-dev libjansson-dev libcmocka-dev"

_mg_apt_updated=
mg_need_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		mg_log "missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}"
		return 1
	fi
	mg_log "installing ${missing[*]}"
	if [ -z "$_mg_apt_updated" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || return 1
		_mg_apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null || {
		mg_log "apt-get install ${missing[*]} failed"
		return 1
	}
}

mg_build() {
	local dir=$1; shift
	local jobs
	jobs=$(nproc 2>/dev/null || echo 2)
	(
		cd "$MG_TOP" || exit 1
		if [ ! -x configure ] || [ configure.ac -nt configure ] ||
		   [ ! -f Makefile.in ] || [ Makefile.am -nt Makefile.in ]; then
			mg_log "autoreconf"
			mkdir -p m4
			autoreconf -fi >/dev/null 2>"$MG_TOP/.autoreconf.log" || {
				cat "$MG_TOP/.autoreconf.log" >&2; exit 1; }
			rm -f "$MG_TOP/.autoreconf.log"
		fi
		mkdir -p "$dir" && cd "$dir" || exit 1
		local want="$*"
		if [ ! -f Makefile ] || [ "$MG_TOP/configure" -nt Makefile ] ||
		   [ "$(cat .mg-configure-args 2>/dev/null)" != "$want" ]; then
			mg_log "configure in $dir"
			"$MG_TOP/configure" -q "$@" >/dev/null || exit 1
			printf '%s' "$want" > .mg-configure-args
		fi
		# `check TESTS=` builds the test programs without running them
		make -s -j"$jobs" all >/dev/null 2>make.log &&
			make -s -j"$jobs" check TESTS= >/dev/null 2>>make.log ||
			{ cat make.log >&2; exit 1; }
		# warnings are errors for us: a clean -Wall -Wextra build is a rule
		if grep -q 'warning:' make.log; then cat make.log >&2; exit 1; fi
	)
}
