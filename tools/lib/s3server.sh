# tools/lib/s3server.sh - a throw-away Ceph RADOS Gateway on 127.0.0.1.
#
# Source this file, then:
#   s3server_start DIR   start (or find running) mon + osd + rgw under DIR and
#                        export MG_S3_ENDPOINT, MG_S3_ACCESS_KEY,
#                        MG_S3_SECRET_KEY, MG_S3_REGION
#   s3server_stop DIR    stop rgw, osd, mon by PID (that order: an OSD whose
#                        mon is gone takes seconds to give up) and remove DIR
#
# RGW is the strict server: it checks SigV4, Content-MD5 and every multipart
# call (see TEST-SERVERS.md).  One mon, one memstore OSD (data in RAM, a 4 GiB
# device unless MG_S3_MEMSTORE_BYTES says otherwise), no mgr, auth none; free ports are picked at start.  Starting it
# again on a DIR whose daemons still run only re-exports the variables, so
# a caller may start it per test script and stop it once.
#
# The Debian packages are installed with apt-get when radosgw is missing;
# s3server_clients does the same for the interop peers (awscli, rclone,
# s3cmd).

_s3server_log() { echo "s3server: $*" >&2; }

# _s3server_phase T0 WHAT: log how long start-up took so far
_s3server_phase() {
	_s3server_log "$(awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s: $2"
}

_s3server_port() {
	python3 -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

_s3server_alive() {	# _s3server_alive PIDFILE
	[ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# _s3server_wait SECONDS CMD...: poll CMD every 0.1 s until it succeeds
_s3server_wait() {
	local deadline=$(( $(date +%s) + $1 )); shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

_s3server_install() {
	command -v radosgw >/dev/null && command -v ceph-osd >/dev/null &&
		command -v ceph-mon >/dev/null && command -v ceph >/dev/null && return 0
	_s3server_log "installing ceph-mon ceph-osd radosgw ceph-common (apt-get)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		ceph-mon ceph-osd radosgw ceph-common >/dev/null 2>&1 || {
		DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			ceph-mon ceph-osd radosgw ceph-common >/dev/null 2>&1
	} || { _s3server_log "cannot install radosgw: run apt-get install radosgw"; return 1; }
}

_s3server_listens() {	# _s3server_listens PORT
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_s3server_osd_up() {	# not a pipe into grep -q: callers may set pipefail
	local dump
	dump=$(ceph -c "$1" osd dump 2>/dev/null) && grep -q '^osd\.[0-9]* up' <<<"$dump"
}

s3server_start() {
	local D=${1:?usage: s3server_start DIR}
	local t0 conf fsid osd_uuid mon_port rgw_port id ak sk umask_old

	mkdir -p "$D"
	D=$(cd "$D" && pwd)
	if [ -s "$D/env" ] && _s3server_alive "$D/rgw.pid" &&
	   _s3server_alive "$D/osd.pid" && _s3server_alive "$D/mon.pid"; then
		. "$D/env"
		return 0
	fi
	# a half-started or dead cluster: clear it and start over
	s3server_stop "$D"
	mkdir -p "$D"
	_s3server_install || return 1
	t0=$(date +%s.%N)
	conf=$D/ceph.conf
	fsid=$(cat /proc/sys/kernel/random/uuid)
	osd_uuid=$(cat /proc/sys/kernel/random/uuid)
	mon_port=$(_s3server_port)
	rgw_port=$(_s3server_port)
	mkdir -p "$D/run" "$D/log" "$D/mon" "$D/osd" "$D/rgw"
	cat >"$conf" <<CONF
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$mon_port
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv6 = false
ms_bind_msgr1 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc
run_dir = $D/run
admin_socket = $D/run/\$cluster-\$name.asok
log_file = $D/log/\$cluster-\$name.log
keyring = $D/keyring
mon_data = $D/mon/\$cluster-\$id
osd_data = $D/osd/\$cluster-\$id
osd_objectstore = memstore
memstore_device_bytes = ${MG_S3_MEMSTORE_BYTES:-4294967296}
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_warn_on_pool_no_redundancy = false
mon_warn_on_insecure_global_id_reclaim_allowed = false
mon_data_avail_warn = 2
mon_data_avail_crit = 1
paxos_propose_interval = 0.05
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$rgw_port
rgw_data = $D/rgw
rgw_dns_name = localhost
# SSE-C over plain http on loopback (RGW wants TLS for it by default)
rgw_crypt_require_ssl = false
CONF
	monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" \
		"$D/monmap" >"$D/log/setup.log" 2>&1 &&
	ceph-mon -c "$conf" --mkfs -i a --monmap "$D/monmap" >>"$D/log/setup.log" 2>&1 || {
		_s3server_log "ceph-mon --mkfs failed: see $D/log/setup.log"; return 1; }
	_s3server_phase "$t0" "mon made"
	ceph-mon -c "$conf" -i a -f >"$D/log/mon.out" 2>&1 &
	echo $! >"$D/mon.pid"
	# the port first: each ceph command is a python start (about 0.5 s)
	_s3server_wait 30 _s3server_listens "$mon_port" &&
	_s3server_wait 30 ceph -c "$conf" mon stat || {
		_s3server_log "the mon did not come up: see $D/log"; return 1; }
	_s3server_phase "$t0" "mon up"
	id=$(ceph -c "$conf" osd new "$osd_uuid" 2>>"$D/log/setup.log") &&
	mkdir -p "$D/osd/ceph-$id" &&
	ceph-osd -c "$conf" -i "$id" --mkfs --osd-uuid "$osd_uuid" >>"$D/log/setup.log" 2>&1 || {
		_s3server_log "ceph-osd --mkfs failed: see $D/log/setup.log"; return 1; }
	ceph-osd -c "$conf" -i "$id" -f >"$D/log/osd.out" 2>&1 &
	echo $! >"$D/osd.pid"
	_s3server_wait 60 _s3server_osd_up "$conf" || {
		_s3server_log "the osd did not come up: see $D/log"; return 1; }
	_s3server_phase "$t0" "osd up"
	radosgw -c "$conf" -n client.rgw.a -f >"$D/log/rgw.out" 2>&1 &
	echo $! >"$D/rgw.pid"
	_s3server_wait 60 curl -sf -o /dev/null "http://127.0.0.1:$rgw_port/" || {
		_s3server_log "radosgw did not answer on port $rgw_port: see $D/log"; return 1; }
	_s3server_phase "$t0" "rgw answers"
	ak=$(head -c 1000 /dev/urandom | tr -dc 'A-Z0-9' | head -c 20)
	sk=$(head -c 1000 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 40)
	radosgw-admin -c "$conf" user create --uid test --display-name test \
		--access-key "$ak" --secret-key "$sk" >>"$D/log/setup.log" 2>&1 || {
		_s3server_log "radosgw-admin user create failed: see $D/log/setup.log"; return 1; }
	umask_old=$(umask); umask 077
	cat >"$D/env" <<ENV
export MG_S3_ENDPOINT=http://127.0.0.1:$rgw_port
export MG_S3_ACCESS_KEY=$ak
export MG_S3_SECRET_KEY=$sk
export MG_S3_REGION=us-east-1
ENV
	umask "$umask_old"
	. "$D/env"
	echo "$t0 $(date +%s.%N)" | awk '{printf "%.1f\n", $2 - $1}' >"$D/start-seconds"
	_s3server_phase "$t0" "user created, $MG_S3_ENDPOINT ready"
	return 0
}

s3server_clients() {
	local missing=
	[ -x /usr/bin/aws ] || missing="$missing awscli"
	command -v rclone >/dev/null || missing="$missing rclone"
	command -v s3cmd >/dev/null || missing="$missing s3cmd"
	[ -z "$missing" ] && return 0
	_s3server_log "installing$missing (apt-get)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing \
		>/dev/null 2>&1
}

s3server_stop() {
	local D=${1:?usage: s3server_stop DIR} p pid n
	[ -d "$D" ] || return 0
	for p in rgw osd mon; do
		[ -s "$D/$p.pid" ] || continue
		pid=$(cat "$D/$p.pid")
		kill "$pid" 2>/dev/null || continue
		n=0
		while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do
			sleep 0.1; n=$((n + 1))
		done
		kill -9 "$pid" 2>/dev/null || true
	done
	rm -rf "$D"
}
