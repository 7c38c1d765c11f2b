#!/usr/bin/env bats
# 54-faults.bats - no loss and no duplicate when the daemon dies at the
# worst moments (issue 5 item 7, docs/replication.md): between applying a
# batch on the replica and acknowledging it, between acknowledging and
# saving the position, right after saving, and between writing a record
# and raising its high-water mark. The test-only fault points of
# fs/fault.h (compiled into the sanitizer build only) kill the daemon with
# SIGKILL there; it is restarted without the fault and must converge.

load helpers

setup() {
	sfs_setup
	A=$M/sanfrancisco/a
	B=$M/newyork/b
	mkdir "$A" "$B"
	echo /mapr/newyork/b >>"$A/.upstreams"
	echo /mapr/sanfrancisco/a >>"$B/.upstreams"
	echo /mapr/newyork/b >>"$A/.replicas"
	echo /mapr/sanfrancisco/a >>"$B/.replicas"
	ACK=$TMP/acked
	: >"$ACK"
}

teardown() {
	sfs_teardown
}

# gone PID: true once PID has exited.
gone() {
	! _sfs_alive "$1"
}

# writer DIR TAG: append TAG-1..TAG-300 to DIR/t, one open each, recording
# every acknowledged message; stop at the first failure (daemon gone).
writer() {
	local i
	for ((i = 1; i <= 300; i++)); do
		echo "$2-$i" >>"$1/t" 2>/dev/null || return 0
		echo "$2-$i" >>"$ACK"
	done
}

# crash_at POINT: restart the daemon armed with POINT, write on both sides
# until it dies, restart it clean and check the result.
crash_at() {
	sfs_stop
	STREAMFS_FAULT=$1 sfs_start
	writer "$A" a 3>&- &
	local wa=$!
	writer "$B" b 3>&- &
	local wb=$!
	wait_for -t 30 gone "$SFS_PID" || { kill "$wa" "$wb"; false; }
	wait "$wa" "$wb"
	grep -q "fault point ${1%%:*} reached" "$TMP/streamfs.log"
	sfs_kill9
	sfs_start
	# Both sides converge to the same messages.
	wait_for -t 20 bash -c "[ \"\$(sort '$A/t' | md5sum)\" = \"\$(sort '$B/t' | md5sum)\" ]"
	wait_for -t 10 bash -c "! grep -q 'uptodate=false' '$A/.replicas' '$B/.replicas'"
	local side n
	for side in "$A/t" "$B/t"; do
		# no duplicate
		[ -z "$(sort "$side" | uniq -d)" ] || { echo "duplicates in $side:"; sort "$side" | uniq -d | head; false; }
		# every acknowledged message is there
		n=$(grep -cvxFf "$side" "$ACK" || true)
		[ "$n" -eq 0 ] || { echo "$n acknowledged messages missing from $side"; false; }
	done
	# each origin's order kept on both sides
	for side in "$A/t" "$B/t"; do
		grep '^a-' "$side" | cut -d- -f2 | sort -nc
		grep '^b-' "$side" | cut -d- -f2 | sort -nc
	done
	echo "$(wc -l <"$ACK") acknowledged, $(wc -l <"$A/t") stored on each side"
}

@test "killed after the replica applied a batch, before the source acknowledged it" {
	crash_at repl-after-apply:20
}

@test "killed after the source acknowledged a batch, before it saved the position" {
	crash_at repl-after-ack:20
}

@test "killed right after the positions were saved" {
	# the second save: each stream saves at most once a second while its
	# positions move (positions_interval_ms), so there are few of them
	crash_at repl-after-save:2
}

@test "killed after a record was written, before its mark was raised and the write acknowledged" {
	crash_at append-after-write:150
}
