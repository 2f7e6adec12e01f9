#!/usr/bin/env bash
# distcheck-tap.sh BUILD-DIR: `make distcheck` in BUILD-DIR as one TAP test:
# the release tarball configures, builds (the test programs too), installs
# and uninstalls from a clean tree, and `make dist` leaves nothing behind.
# TESTS= (passed down to the sub-makes) keeps `make check` from running
# the tests again: tools/test ran every one of them before this.
out=$(cd "$1" && make -s -j"$(nproc 2>/dev/null || echo 2)" distcheck TESTS= 2>&1)
if [ $? -eq 0 ]; then
	echo "ok 1 - make distcheck"
else
	printf '%s\n' "$out" | tail -40 | sed 's/^/# /'
	echo "not ok 1 - make distcheck"
fi
echo "1..1"
