#!/usr/bin/env bash
# The conformance suite (tests/conformance/) against the SFTP connector on
# the test sshd (tools/lib/sshd.sh); host keys, authentication and lost
# connections are SFTP's own: sftp_connector.sh.
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/sshd.sh"
. "$MG_SRCDIR/tests/conformance/lib.sh"

t_need_sshd
chmod 755 "$MG_TMP"	# the session user may not be us
mkdir -p "$MG_TMP/outside" "$MG_TMP/src"
printf 'keep\n' >"$MG_TMP/outside/keep"
cf_plan "$MG_TMP/sftp.yaml" "\"$MG_TMP/src\"" "
  url: \"sftp://$MG_SSH_USER@$MG_SSH_HOST:$MG_SSH_PORT$MG_TMP/outside/root\"
  identity_file: \"$MG_SSH_KEY\"
  known_hosts: \"$MG_SSH_KNOWN_HOSTS\""
cf_run sftp --plan "$MG_TMP/sftp.yaml" --outside "$MG_TMP/outside"
t_done
