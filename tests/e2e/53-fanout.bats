#!/usr/bin/env bats
# 53-fanout.bats - the limit of 64 replicas is a working limit (docs/replication.md,
# "Limits"): a stream with 64 replicas delivers every message to each of them,
# the initial copy included, exactly once; the 65th is refused.

load helpers

setup() {
	sfs_setup
}

teardown() {
	sfs_teardown
}

@test "64 replicas of one stream: every one receives every message exactly once; the 65th is refused" {
	local A=$M/sanfrancisco/src i list=
	mkdir "$A"
	for i in $(seq 1 20); do echo "before-$i"; done >>"$A/t"
	for i in $(seq 1 65); do
		mkdir "$M/newyork/r$i"
		echo /mapr/sanfrancisco/src >>"$M/newyork/r$i/.upstreams"
	done
	for i in $(seq 1 64); do list+="/mapr/newyork/r$i"$'\n'; done
	printf '%s' "$list" >>"$A/.replicas"
	run bash -c 'echo /mapr/newyork/r65 >>"$1"' _ "$A/.replicas"
	[ "$status" -ne 0 ]
	[[ $output == *"No space left on device"* ]]
	for i in $(seq 1 30); do echo "after-$i"; done >>"$A/t"
	wait_for -t 20 bash -c "! grep -q 'uptodate=false' '$A/.replicas'"
	for i in $(seq 1 64); do
		[ "$(wc -l <"$M/newyork/r$i/t")" -eq 50 ] || { echo "r$i holds $(wc -l <"$M/newyork/r$i/t")"; false; }
		cmp -s "$A/t" "$M/newyork/r$i/t" || { echo "r$i differs"; false; }
	done
	[ ! -e "$M/newyork/r65/t" ]
}
