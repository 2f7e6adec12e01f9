# tools/lib/s3curl.sh - quick S3 calls with curl's own SigV4 (--aws-sigv4) for
# the tests and tools/torture, where the AWS CLI would take seconds per
# call on a loaded machine (a python start each time).  The AWS CLI stays
# the independent reader: objects are read back with it, not with these.
#
#   s3curl METHOD PATH[?QUERY]   one signed request to $MG_S3_ENDPOINT, the
#                                body on stdout; fails on an HTTP error
#   s3curl_mb BUCKET             create a bucket
#   s3curl_open_uploads BUCKET   "KEY<TAB>UPLOAD-ID" per open multipart
#                                upload (ListMultipartUploads, first 1000)
#
# Uses MG_S3_ENDPOINT, MG_S3_ACCESS_KEY, MG_S3_SECRET_KEY, MG_S3_REGION.

s3curl() {
	curl -sS --fail-with-body --max-time 60 -X "$1" \
		--aws-sigv4 "aws:amz:${MG_S3_REGION:-us-east-1}:s3" \
		--user "$MG_S3_ACCESS_KEY:$MG_S3_SECRET_KEY" \
		-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$MG_S3_ENDPOINT/$2"
}

s3curl_mb() {
	s3curl PUT "$1" >/dev/null
}

# "uploads=", not "uploads": curl signs a bare "?uploads" in a way RGW
# refuses.  sed, not python: see above.  Key and UploadId come in either
# order (RGW: Key first; moto: UploadId first).
s3curl_open_uploads() {
	local xml line key id
	xml=$(s3curl GET "$1?uploads=") || return 1
	printf '%s' "$xml" | tr -d '\n' | sed 's/<Upload>/\n/g; s/<\/Upload>/\n/g' |
	while IFS= read -r line; do
		case $line in *"<UploadId>"*"<Key>"*|*"<Key>"*"<UploadId>"*) ;; *) continue ;; esac
		key=$(printf '%s' "$line" | sed 's:.*<Key>\([^<]*\)</Key>.*:\1:')
		id=$(printf '%s' "$line" | sed 's:.*<UploadId>\([^<]*\)</UploadId>.*:\1:')
		printf '%s\t%s\n' "$key" "$id"
	done | sed 's/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&apos;/'"'"'/g; s/&#x0*D;/\r/g; s/&amp;/\&/g'
}
