#!/usr/bin/env bash
# The conformance suite (tests/conformance/) against the local connector,
# directly, and against the in-memory test double.
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tests/conformance/lib.sh"

umask 022
cf_run mem --mem

# the target's root one level below a folder that no key may reach
mkdir -p "$MG_TMP/outside" "$MG_TMP/src"
printf 'keep\n' >"$MG_TMP/outside/keep"
cf_plan "$MG_TMP/local.yaml" "\"$MG_TMP/src\"" "\"$MG_TMP/outside/root\""
cf_run local --plan "$MG_TMP/local.yaml" --outside "$MG_TMP/outside"
t_done
