#!/usr/bin/env bash
# The conformance suite (tests/conformance/) against the S3 connector on
# Ceph RGW (tools/lib/s3server.sh); retries, faults, TLS and interop with
# other clients are S3's own: s3_connector.sh and the s3_*.sh scripts.
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tests/conformance/lib.sh"

[ -n "${MG_S3_ENDPOINT:-}" ] || t_skip_all "MG_S3_ENDPOINT is not set (tools/lib/s3server.sh starts a server)"
cf_run_s3 rgw
t_done
