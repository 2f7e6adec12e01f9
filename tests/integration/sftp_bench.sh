#!/usr/bin/env bash
# sftp_bench.sh - 1 GiB read over loopback SFTP: the sftp connector (one
# session, and two ranges over two sessions) beside OpenSSH's sftp client
# and rclone, same server, same file, same run.
#
# Opt-in (it moves several GiB): MG_BENCH=1 tools/test -k sftp_bench, or
#   MG_BENCH=1 MIGRATE=build/migrate MG_SRCDIR=. bash tests/integration/sftp_bench.sh
# MG_BENCH_SIZE (MiB, default 1024) and MG_BENCH_ROUNDS (default 3) tune it.
# The three clients run interleaved, round after round, so a busy machine
# slows them alike; the medians are printed as TAP comments.
#
# What is asserted: every client read the exact bytes (sha256), and the
# connector is not slower than rclone by more than MG_BENCH_SLACK percent
# (default 25: loopback timings on a shared 2-core machine wobble).
# tools/test: alone (a benchmark)
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/sshd.sh"

[ "${MG_BENCH:-0}" = 1 ] || t_skip_all "benchmark: set MG_BENCH=1 to run it"
. "$MG_SRCDIR/tests/conformance/lib.sh"	# $CF: the conformance program
t_need_sshd
size=${MG_BENCH_SIZE:-1024} rounds=${MG_BENCH_ROUNDS:-3} slack=${MG_BENCH_SLACK:-25}
F=$MG_TMP/bench.bin
head -c "${size}M" /dev/urandom >"$F"
want=$(sha256sum <"$F" | cut -c1-64)
bytes=$((size * 1048576))

# Each client writes the file to $out (page cache); the time is the read
# alone, the sha256 is checked afterwards.  The connector's root is a
# folder, so the file is the key bench.bin under $MG_TMP.
mg_read() {
	"$CF" sftp -i "$MG_SSH_KEY" -k "$MG_SSH_KNOWN_HOSTS" -b 1048576 -o "$out" \
		"sftp://$MG_SSH_USER@$MG_SSH_HOST:$MG_SSH_PORT$MG_TMP" read bench.bin 2>/dev/null
}
# The same, as 2 ranges over 2 sessions (how multipart parts are fed).
mg_read_2() {
	"$CF" sftp -i "$MG_SSH_KEY" -k "$MG_SSH_KNOWN_HOSTS" -b 1048576 -j 2 -o "$out" \
		"sftp://$MG_SSH_USER@$MG_SSH_HOST:$MG_SSH_PORT$MG_TMP" read bench.bin 2>/dev/null
}
openssh_read() {
	sftp -q -i "$MG_SSH_KEY" -o UserKnownHostsFile="$MG_SSH_KNOWN_HOSTS" \
		-o BatchMode=yes -P "$MG_SSH_PORT" "$MG_SSH_USER@$MG_SSH_HOST:$F" "$out" \
		>/dev/null 2>&1
}
rclone_read() {
	env -u AWS_CA_BUNDLE RCLONE_CONFIG_B_TYPE=sftp RCLONE_CONFIG_B_HOST="$MG_SSH_HOST" \
		RCLONE_CONFIG_B_PORT="$MG_SSH_PORT" RCLONE_CONFIG_B_USER="$MG_SSH_USER" \
		RCLONE_CONFIG_B_KEY_FILE="$MG_SSH_KEY" \
		RCLONE_CONFIG_B_KNOWN_HOSTS_FILE="$MG_SSH_KNOWN_HOSTS" \
		rclone cat "B:$F" >"$out" 2>/dev/null
}
out=$MG_TMP/bench.out

# CPU seconds (user + system) of this shell's finished children: the
# client's own cost, which a busy machine does not inflate as it does the
# wall time.
# (`times` runs in this shell, not in a $(...) subshell, to see them.)
_bench_cpu() {
	times >"$MG_TMP/.times"
	cpu=$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, y, /[ms]/)
		print u[1] * 60 + u[2] + y[1] * 60 + y[2] }' "$MG_TMP/.times")
}

clients="mg_read mg_read_2 openssh_read"
command -v rclone >/dev/null && clients="$clients rclone_read"
for c in $clients; do : >"$MG_TMP/$c.times"; : >"$MG_TMP/$c.cpu"; done
for r in $(seq 1 "$rounds"); do
	for c in $clients; do
		rm -f "$out"
		t0=$(date +%s.%N)
		_bench_cpu; c0=$cpu
		$c
		_bench_cpu; c1=$cpu
		t1=$(date +%s.%N)
		echo "$t0 $t1" | awk '{print $2 - $1}' >>"$MG_TMP/$c.times"
		echo "$c0 $c1" | awk '{print $2 - $1}' >>"$MG_TMP/$c.cpu"
		got=$(sha256sum <"$out" | cut -c1-64)
		[ "$got" = "$want" ] || echo "$c" >>"$MG_TMP/bad"
	done
done
[ ! -s "$MG_TMP/bad" ] && t_ok "every client read the exact bytes" ||
	t_fail "every client read the exact bytes" "$(sort -u "$MG_TMP/bad")"

median() { sort -g "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for c in $clients; do
	m=$(median "$MG_TMP/$c.times")
	echo "# $c: median $m s over $rounds rounds = $(awk -v b=$bytes -v s="$m" 'BEGIN {printf "%.1f", b / s / 1e6}') MB/s (all: $(tr '\n' ' ' <"$MG_TMP/$c.times")); client CPU median $(median "$MG_TMP/$c.cpu") s"
	eval "med_$c=$m"
done
echo "# (${size} MiB written to the page cache, load average: $(cut -d' ' -f1-3 /proc/loadavg))"
if [ -n "${med_rclone_read:-}" ]; then
	if awk -v a="$med_mg_read" -v b="$med_rclone_read" -v s="$slack" \
		'BEGIN {exit !(a <= b * (1 + s / 100))}'; then
		t_ok "connector within $slack% of rclone or faster"
	else
		t_fail "connector within $slack% of rclone or faster" "$med_mg_read s vs $med_rclone_read s"
	fi
fi
t_done
