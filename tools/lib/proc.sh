# tools/lib/proc.sh - stopping a server started by tools/lib/*.sh by the
# process id it recorded.  Sourced by moto.sh and sshd.sh.

# mg_proc_is PID NAME: PID runs and its command line holds NAME (a pid
# file left from an earlier boot may name another program now)
mg_proc_is() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null && grep -q "$2" "/proc/$1/cmdline" 2>/dev/null
}

# mg_proc_stop PID: SIGTERM, up to 5 s to go, then SIGKILL
mg_proc_stop() {
	local i
	kill "$1" 2>/dev/null
	for i in $(seq 1 50); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null
}
