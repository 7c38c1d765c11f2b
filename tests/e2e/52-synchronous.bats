#!/usr/bin/env bats
# 52-synchronous.bats - synchronous replication between local clusters
# (DESIGN §5.9): with synchronous=true a write returns only after the
# replica applied it; a replica that cannot keep up within the timeout is
# marked degraded, the writer goes on, and it turns synchronous again once
# caught up.

load helpers

setup() {
	SFS_CONF_EXTRA='[replication]\nsync_timeout_ms = 1500'
	sfs_setup
	S=$M/sanfrancisco/activity
	R=$M/newyork/activity
	mkdir "$S" "$R"
}

teardown() {
	sfs_teardown
}

@test "synchronous=true: each write returns only after the replica applied it" {
	echo /mapr/sanfrancisco/activity >>"$R/.upstreams"
	echo /mapr/newyork/activity synchronous=true >>"$S/.replicas"
	local i
	for ((i = 1; i <= 200; i++)); do
		echo "m$i" >>"$S/t"
		# No waiting: the message must already be on the replica.
		[ "$(tail -n 1 "$R/t")" = "m$i" ] || { echo "message m$i not on the replica when write returned"; false; }
	done
	[ "$(wc -l <"$R/t")" -eq 200 ]
	run cat "$S/.replicas"
	[[ "$output" == "/mapr/newyork/activity synchronous=true paused=false # state=REPLICATING pending=0 uptodate=true"* ]]
	[[ "$output" != *degraded* ]]
}

@test "synchronous replica that cannot apply: the write returns after the timeout, degraded, then synchronous again" {
	# The replica refuses (no upstream): nothing can be applied.
	echo /mapr/newyork/activity synchronous=true >>"$S/.replicas"
	local t0 t1
	t0=$(date +%s%N)
	echo first >>"$S/t"
	t1=$(date +%s%N)
	# Returned after the timeout (1500 ms), not before, not forever.
	[ $(((t1 - t0) / 1000000)) -ge 1450 ]
	[ $(((t1 - t0) / 1000000)) -lt 8000 ]
	grep -q 'degraded=true' "$S/.replicas"
	jq -e '.replicas[0].degraded == true and .replicas[0].synchronous == true' "$S/.info"
	# While degraded, writes do not wait.
	t0=$(date +%s%N)
	echo second >>"$S/t"
	t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000000)) -lt 1400 ]
	# Let the replica accept: it catches up and is synchronous again.
	echo /mapr/sanfrancisco/activity >>"$R/.upstreams"
	wait_for -t 5 grep -q 'pending=0 uptodate=true' "$S/.replicas"
	wait_for -t 5 bash -c "! grep -q degraded=true '$S/.replicas'"
	[ "$(cat "$R/t")" = $'first\nsecond' ]
	echo third >>"$S/t"
	[ "$(tail -n 1 "$R/t")" = third ]
}

@test "a signal ends a write that waits for a synchronous replica: EINTR at once, the message appended, replicated later" {
	# A 30 s timeout, so only the signal can end the wait early.
	sfs_stop
	SFS_CONF_EXTRA='[replication]\nsync_timeout_ms = 30000'
	sfs_write_conf sanfrancisco newyork
	sfs_start
	# The replica refuses (no upstream): nothing can be applied.
	echo /mapr/newyork/activity synchronous=true >>"$S/.replicas"
	python3 - "$S/t" >"$TMP/writer.out" 2>&1 3>&- <<'PY' &
import os, signal, sys, time
class Stop(Exception):
    pass
def stop(signum, frame):
    raise Stop()
signal.signal(signal.SIGINT, stop)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
t0 = time.monotonic()
try:
    os.write(fd, b"waiting\n")
    print("returned")
except Stop:
    print("interrupted after %.0f ms" % ((time.monotonic() - t0) * 1000))
PY
	local pid=$!
	# appended at once; the writer then waits for the replica
	wait_for grep -qx waiting "$S/t"
	sleep 0.3
	local t0=$SECONDS
	kill -INT "$pid"
	wait_for -t 3 bash -c "! kill -0 $pid 2>/dev/null"
	wait "$pid" || true
	cat "$TMP/writer.out"
	grep -q '^interrupted after' "$TMP/writer.out"
	[ $((SECONDS - t0)) -le 2 ]
	grep -q 'interrupted while waiting for a synchronous replica' "$TMP/streamfs.log"
	# appended once, not degraded (it was not the timeout), replicated later
	[ "$(cat "$S/t")" = waiting ]
	! grep -q 'degraded=true' "$S/.replicas" || false
	echo /mapr/sanfrancisco/activity >>"$R/.upstreams"
	wait_for -t 10 test -e "$R/t"
	wait_for -t 10 grep -qx waiting "$R/t"
	[ "$(wc -l <"$R/t")" -eq 1 ]
}
