#!/usr/bin/env bash
# distcheck-tap.sh BUILD-DIR: `make distcheck` in BUILD-DIR as one TAP test
# (the release tarball must build and pass `make check` on its own).
out=$(cd "$1" && make -s distcheck 2>&1)
if [ $? -eq 0 ]; then
	echo "ok 1 - make distcheck"
else
	printf '%s\n' "$out" | tail -40 | sed 's/^/# /'
	echo "not ok 1 - make distcheck"
fi
echo "1..1"
