#!/usr/bin/env bash
# The conformance suite (tests/conformance/) against the tar connector,
# read-only: the fixture packed by bsdtar as pax tar, .tar.zst and zip, in
# reverse key order (the connector sorts: its listing must not follow the
# archive), each read back through the suite's source cases.  Hostile
# names, links, bombs and bsdtar comparisons are the archive's own:
# tar_connector.sh.
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tests/conformance/lib.sh"

command -v bsdtar >/dev/null ||
	t_skip_all "bsdtar is missing: apt-get install libarchive-tools"
"$CF" --write-fixture "$MG_TMP/fixture" || t_skip_all "cannot write the fixture"
(cd "$MG_TMP/fixture" && find . -type f | LC_ALL=C sort -r) >"$MG_TMP/names"
for a in pax.tar:--format=pax pack.tar.zst:--zstd pack.zip:--format=zip; do
	name=${a%%:*}
	if (cd "$MG_TMP/fixture" && LC_ALL=C.UTF-8 bsdtar -cf "$MG_TMP/$name" ${a#*:} -T "$MG_TMP/names") 2>"$MG_TMP/.err"; then
		cf_plan "$MG_TMP/$name.yaml" "\"tar://$MG_TMP/$name\"" "\"$MG_TMP/dst\""
		cf_run "tar ($name)" --plan "$MG_TMP/$name.yaml" --source
	else
		t_fail "bsdtar packs the fixture as $name" "$(cat "$MG_TMP/.err")"
	fi
done
t_done
