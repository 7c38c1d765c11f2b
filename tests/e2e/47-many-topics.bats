#!/usr/bin/env bats
# 47-many-topics.bats - an idle topic holds only its current segment's two
# files, so many topics fit in the daemon's file-descriptor limit (a topic
# that could not be loaded would vanish from the namespace).

load helpers

setup() {
	sfs_mktemp
	sfs_write_conf sanfrancisco
	# Both limits, so the daemon cannot raise its own.
	ulimit -n 600
	sfs_start
}

teardown() {
	sfs_teardown
}

@test "250 topics with a descriptor limit of 600: created, kept across a restart, all served" {
	local S=$M/sanfrancisco/s i
	mkdir "$S"
	for ((i = 1; i <= 250; i++)); do
		echo "m$i" >>"$S/t$i"
	done
	[ "$(ls "$S" | wc -l)" -eq 250 ]
	sfs_stop
	sfs_start
	[ "$(ls "$S" | wc -l)" -eq 250 ]
	for ((i = 1; i <= 250; i++)); do
		[ "$(cat "$S/t$i")" = "m$i" ] || { echo "t$i: $(cat "$S/t$i")"; false; }
	done
	echo more >>"$S/t250"
	[ "$(wc -l <"$S/t250")" -eq 2 ]
	! grep -q "cannot be loaded" "$TMP/streamfs.log"
}
