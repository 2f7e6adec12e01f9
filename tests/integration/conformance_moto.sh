#!/usr/bin/env bash
# The conformance suite (tests/conformance/) against the S3 connector on
# moto, the second S3 implementation (tools/lib/moto.sh); skipped with
# the reason where this Python has no moto.
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/moto.sh"
. "$MG_SRCDIR/tests/conformance/lib.sh"

t_need_moto
moto_env
cf_run_s3 moto
t_done
