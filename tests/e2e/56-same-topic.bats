#!/usr/bin/env bats
# 56-same-topic.bats - same-topic multi-master at full speed (issue 5 item
# 1, docs/replication.md): producers on both masters of an A<->B pair append to the
# same topic at the same time, 10,000 messages each, one write() per
# message; both sides end with all 20,000, each exactly once, each origin's
# messages in their original order. (MapR forbids this case; it loses
# messages there.)

load helpers
load replication_helpers

setup() {
	sfs_setup
	A=$M/sanfrancisco/orders
	B=$M/newyork/orders
	mkdir "$A" "$B"
	echo /mapr/newyork/orders >>"$A/.upstreams"
	echo /mapr/sanfrancisco/orders >>"$B/.upstreams"
	echo /mapr/newyork/orders >>"$A/.replicas"
	echo /mapr/sanfrancisco/orders >>"$B/.replicas"
}

teardown() {
	sfs_teardown
}

producer() {
	python3 - "$1" "$2" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
for i in range(1, 10001):
    line = ("%s-%05d\n" % (sys.argv[2], i)).encode()
    assert os.write(fd, line) == len(line)
os.close(fd)
PY
}

@test "10,000 appends on each master to the same topic at once: 20,000 on both, exactly once, in order per origin" {
	producer "$A/t" a 3>&- &
	local pa=$!
	producer "$B/t" b 3>&- &
	local pb=$!
	wait "$pa"
	wait "$pb"
	wait_for -t 60 bash -c "[ \$(wc -l <'$A/t') -ge 20000 ] && [ \$(wc -l <'$B/t') -ge 20000 ]"
	repl_quiet sanfrancisco/orders newyork/orders	# an echo or a duplicate would show up now
	local side
	for side in "$A/t" "$B/t"; do
		[ "$(wc -l <"$side")" -eq 20000 ]
		[ -z "$(sort "$side" | uniq -d)" ]
		[ "$(grep -c '^a-' "$side")" -eq 10000 ]
		[ "$(grep -c '^b-' "$side")" -eq 10000 ]
		grep '^a-' "$side" | cut -d- -f2 | sort -c
		grep '^b-' "$side" | cut -d- -f2 | sort -c
	done
	# Offsets are local: each side has its own interleaving, same set.
	[ "$(sort "$A/t" | md5sum)" = "$(sort "$B/t" | md5sum)" ]
}
