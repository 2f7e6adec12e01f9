#!/usr/bin/env bash
# The short crash loop: tools/torture with 5 rounds of kill -9 of a mixed
# sync run (small and multipart files, local folder -> Ceph RGW) with the
# source changing between rounds (new, changed and deleted files, the file
# of an interrupted multipart upload deleted), then a clean run: exit 0,
# the target byte-identical to the source, no multipart upload open,
# `migrate verify --deep` clean.  Two seeds would double the time; the
# seed is fixed so a failure can be rerun as `tools/torture 5 SEED`.
. "$MG_SRCDIR/tests/lib.sh"

[ -n "${MG_S3_ENDPOINT:-}" ] || t_skip_all "MG_S3_ENDPOINT is not set (tools/lib/s3server.sh starts a server)"
[ -x /usr/bin/aws ] || t_skip_all "/usr/bin/aws is missing: apt-get install awscli"
SEED=${MG_TORTURE_SEED:-14}
echo "# tools/torture 5 $SEED"
TMPDIR=$MG_TMP MIGRATE=$MIGRATE timeout -k 5 300 "$MG_SRCDIR/tools/torture" 5 "$SEED" \
	>"$MG_TMP/torture.out" 2>&1
rc=$?
while IFS= read -r line; do
	case $line in
	"ok "[0-9]*" - "*) t_ok "${line#ok * - }" ;;
	"not ok "[0-9]*" - "*) t_fail "${line#not ok * - }" ;;
	"#"*) echo "$line" ;;
	esac
done <"$MG_TMP/torture.out"
[ "$rc" -eq 0 ] && t_ok "tools/torture exits 0" ||
	t_fail "tools/torture exits 0" "exit $rc: $(grep -v '^\(ok\|#\)' "$MG_TMP/torture.out" | tail -3 | tr '\n' '|')"
grep -q 'interrupted-upload files deleted' "$MG_TMP/torture.out" &&
! grep -q ' 0 interrupted-upload files deleted' "$MG_TMP/torture.out" &&
	t_ok "a file whose multipart upload was interrupted was deleted from the source" ||
	t_fail "a file whose multipart upload was interrupted was deleted from the source" \
		"no kill left an upload open: $(grep 'kills in' "$MG_TMP/torture.out")"
t_done
