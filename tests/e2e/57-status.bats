#!/usr/bin/env bats
# 57-status.bats - MapR's status fields against known states (issue 5 item
# 4): replicaState, paused, isUptodate, putsPending, bytesPending,
# oldestPendingTime, lastError and its time, in .info and .replicas; the
# upstream's UUID in .upstreams.

load helpers

setup() {
	sfs_setup
	S=$M/sanfrancisco/s
	R=$M/newyork/r
	mkdir "$S" "$R"
}

teardown() {
	sfs_teardown
}

rep() {	# rep FIELD: the first replica's FIELD from S/.info
	jq -r ".replicas[0].$1" "$S/.info"
}

@test "paused with 10 pending: state, counts, bytes and the oldest pending time" {
	echo /mapr/sanfrancisco/s >>"$R/.upstreams"
	echo "/mapr/newyork/r paused=true" >>"$S/.replicas"
	local before i
	before=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	for i in $(seq 1 10); do echo "message-$i"; done >>"$S/t"	# 9 or 10 bytes + \n
	wait_for -t 5 bash -c "[ \$(jq -r '.replicas[0].putsPending' '$S/.info') -eq 10 ]"
	[ "$(rep replicaState)" = REPLICA_STATE_PAUSED ]
	[ "$(rep paused)" = true ]
	[ "$(rep isUptodate)" = false ]
	[ "$(rep putsPending)" -eq 10 ]
	[ "$(rep bytesPending)" -eq $((9 * 10 + 1 + 10)) ]	# message-1..9: 10 bytes each with \n, message-10: 11
	wait_for -t 5 bash -c "[ \"\$(jq -r '.replicas[0].oldestPendingTime' '$S/.info')\" != none ]"
	[[ "$(rep oldestPendingTime)" > "$before" || "$(rep oldestPendingTime)" == "$before" ]]
	grep -q '^/mapr/newyork/r synchronous=false paused=true # state=PAUSED pending=10 uptodate=false bytes=101' "$S/.replicas"
	echo "/mapr/newyork/r paused=false" >>"$S/.replicas"
	wait_for -t 5 bash -c "[ \"\$(jq -r '.replicas[0].isUptodate' '$S/.info')\" = true ]"
	[ "$(rep replicaState)" = REPLICA_STATE_REPLICATING ]
	[ "$(rep putsPending)" -eq 0 ]
	[ "$(rep bytesPending)" -eq 0 ]
	[ "$(rep oldestPendingTime)" = none ]
}

@test "a refusing replica: error state, last error and its time, growing pending; the upstream's UUID in .upstreams" {
	echo /mapr/newyork/r >>"$S/.replicas"
	echo one >>"$S/t"
	wait_for -t 5 bash -c "[ \"\$(jq -r '.replicas[0].replicaState' '$S/.info')\" = REPLICA_STATE_UNEXPECTED ]"
	[[ "$(rep lastError)" == *".upstreams"* ]]
	[ "$(rep lastErrorTime)" != none ]
	[ "$(rep isUptodate)" = false ]
	[ "$(rep putsPending)" -eq 1 ]
	echo two >>"$S/t"
	wait_for -t 5 bash -c "[ \$(jq -r '.replicas[0].putsPending' '$S/.info') -eq 2 ]"
	grep -q 'state=UNEXPECTED pending=2 uptodate=false' "$S/.replicas"
	# The upstream line names the upstream's stream UUID.
	echo /mapr/sanfrancisco/s >>"$R/.upstreams"
	local uuid
	uuid=$(jq -r .uuid "$S/.info")
	grep -qx "/mapr/sanfrancisco/s # uuid=$uuid" "$R/.upstreams"
	jq -e --arg u "$uuid" '.upstreams[0].uuid == $u' "$R/.info"
	wait_for -t 5 bash -c "[ \"\$(jq -r '.replicas[0].replicaState' '$S/.info')\" = REPLICA_STATE_REPLICATING ]"
	[ "$(cat "$R/t")" = $'one\ntwo' ]
	# healthy again: the error and its time are cleared
	[ "$(rep lastError)" = "" ]
	[ "$(rep lastErrorTime)" = none ]
}

@test "a missing replica stream: error state, pending grows, never up to date" {
	mkdir "$M/newyork/gone"
	echo /mapr/sanfrancisco/s >>"$M/newyork/gone/.upstreams"
	echo /mapr/newyork/gone >>"$S/.replicas"
	echo a >>"$S/t"
	wait_for -t 5 test -e "$M/newyork/gone/t"
	wait_for -t 5 bash -c "[ \"\$(jq -r '.replicas[0].isUptodate' '$S/.info')\" = true ]"
	rm "$M/newyork/gone/t"
	: >"$M/newyork/gone/.upstreams"
	rmdir "$M/newyork/gone"
	echo b >>"$S/t"
	echo c >>"$S/t"
	wait_for -t 5 bash -c "[ \"\$(jq -r '.replicas[0].replicaState' '$S/.info')\" = REPLICA_STATE_UNEXPECTED ]"
	[[ "$(rep lastError)" == *"does not exist"* ]]
	[ "$(rep isUptodate)" = false ]
	[ "$(rep putsPending)" -eq 2 ]
	grep -q 'state=UNEXPECTED pending=2 uptodate=false' "$S/.replicas"
}

@test "an empty replica stream deleted: UNEXPECTED with the reason within the retry interval, no append needed" {
	mkdir "$M/newyork/gone"
	echo /mapr/sanfrancisco/s >>"$M/newyork/gone/.upstreams"
	echo /mapr/newyork/gone >>"$S/.replicas"
	wait_for -t 5 grep -q 'state=REPLICATING pending=0 uptodate=true' "$S/.replicas"
	rmdir "$M/newyork/gone"
	wait_for -t 2 grep -q 'state=UNEXPECTED' "$S/.replicas"
	[[ "$(rep lastError)" == *"does not exist"* ]]
	[ "$(rep isUptodate)" = false ]
}

@test "a replica stream deleted while nothing is appended: UNEXPECTED with the reason within the retry interval" {
	mkdir "$M/newyork/gone"
	echo /mapr/sanfrancisco/s >>"$M/newyork/gone/.upstreams"
	echo /mapr/newyork/gone >>"$S/.replicas"
	echo a >>"$S/t"
	wait_for -t 5 test -e "$M/newyork/gone/t"
	wait_for -t 5 bash -c "[ \"\$(jq -r '.replicas[0].isUptodate' '$S/.info')\" = true ]"
	grep -q 'state=REPLICATING pending=0 uptodate=true' "$S/.replicas"
	rm "$M/newyork/gone/t"
	rmdir "$M/newyork/gone"
	# no append on the source: within the retry interval (1 s), with slack
	wait_for -t 3 bash -c "[ \"\$(jq -r '.replicas[0].replicaState' '$S/.info')\" = REPLICA_STATE_UNEXPECTED ]"
	[[ "$(rep lastError)" == *"does not exist"* ]]
	[ "$(rep isUptodate)" = false ]
	grep -q 'state=UNEXPECTED' "$S/.replicas"
	! grep -q 'uptodate=true' "$S/.replicas" || false
	# made again: nothing goes to it until .replicas names it again, and
	# the status says why; then everything is copied into it
	mkdir "$M/newyork/gone"
	echo /mapr/sanfrancisco/s >>"$M/newyork/gone/.upstreams"
	wait_for -t 5 eval "[[ \$(rep lastError) == *'not the stream this replica was set up with'* ]]"
	[ ! -e "$M/newyork/gone/t" ]
	echo /mapr/newyork/gone >>"$S/.replicas"
	wait_for -t 5 bash -c "[ \"\$(cat '$M/newyork/gone/t' 2>/dev/null)\" = a ]"
	wait_for -t 5 grep -q 'state=REPLICATING pending=0 uptodate=true' "$S/.replicas"
}

@test "a damaged message is not shipped: the replica gets the messages before it, the source shows the error" {
	sfs_local_only "damages a record in a segment file of the local log"
	local i
	for ((i = 0; i < 20; i++)); do printf 'msg-%05d\n' "$i"; done >>"$S/t"
	sfs_stop
	local seg
	seg=$(ls "$TMP/data/sanfrancisco/s/t/"*.seg | head -n 1)
	printf 'X' | dd of="$seg" bs=1 seek=$((32 + 10 * 10 + 2)) conv=notrunc status=none
	sfs_start
	echo /mapr/sanfrancisco/s >>"$R/.upstreams"
	echo /mapr/newyork/r >>"$S/.replicas"
	wait_for -t 5 bash -c "[ \"\$(jq -r '.replicas[0].replicaState' '$S/.info')\" = REPLICA_STATE_UNEXPECTED ]"
	[[ "$(rep lastError)" == *"offset 10"* ]]
	[ "$(wc -l <"$R/t")" -eq 10 ]
	[ "$(tail -n 1 "$R/t")" = msg-00009 ]
	! grep -q X "$R/t"
	jq -e '.topics[] | select(.name == "t") | .damagedOffset == 10' "$S/.info"
}
