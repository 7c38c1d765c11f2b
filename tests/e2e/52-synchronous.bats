#!/usr/bin/env bats
# 52-synchronous.bats - synchronous replication between local clusters
# (docs/replication.md): with synchronous=true a write returns only after the
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

@test "a signal ends a write that waits for a synchronous replica at once: appended, replicated later" {
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

@test "a write interrupted while it waits for a synchronous replica returns its count: writers that retry on EINTR store it once" {
	sfs_stop
	SFS_CONF_EXTRA='[replication]\nsync_timeout_ms = 30000'
	sfs_write_conf sanfrancisco newyork
	sfs_start
	echo /mapr/newyork/activity synchronous=true >>"$S/.replicas"
	# A handler that does not raise: Python retries a write that fails with
	# EINTR (PEP 475), which would append the message again.
	python3 - "$S/py" >"$TMP/py.out" 2>&1 3>&- <<'PY' &
import os, signal, sys
signal.signal(signal.SIGINT, lambda s, f: print("signal", flush=True))
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
print("wrote", os.write(fd, b"py1\n"), flush=True)
PY
	local pid=$!
	wait_for grep -qx py1 "$S/py"
	local i
	for i in 1 2 3 4; do
		kill -INT "$pid" 2>/dev/null || break
		sleep 0.2
	done
	wait_for -t 5 bash -c "! kill -0 $pid 2>/dev/null"
	cat "$TMP/py.out"
	grep -qx 'wrote 4' "$TMP/py.out"
	[ "$(cat "$S/py")" = py1 ]
	# dd prints its progress on SIGUSR1 and writes again after EINTR.
	printf 'dd1\n' >"$TMP/in"
	dd if="$TMP/in" of="$S/dd" oflag=append conv=notrunc status=none 2>"$TMP/dd.err" &
	pid=$!
	wait_for grep -qx dd1 "$S/dd"
	kill -USR1 "$pid"
	sleep 0.3
	kill -USR1 "$pid" 2>/dev/null || true
	wait_for -t 5 bash -c "! kill -0 $pid 2>/dev/null"
	wait "$pid"
	[ "$(cat "$S/dd")" = dd1 ]
	grep -c 'interrupted while waiting for a synchronous replica' "$TMP/streamfs.log"
}

@test "others are never held by a synchronous replica: stat, ls, cat of a topic with a writer's unfinished line, and releases, return at once" {
	sfs_stop
	SFS_CONF_EXTRA='[replication]\nsync_timeout_ms = 600000'
	sfs_write_conf sanfrancisco newyork
	sfs_start
	echo /mapr/newyork/activity synchronous=true >>"$S/.replicas"
	# An unfinished line held after a duplicate of the descriptor closed:
	# the next look at the topic stores it, and must not wait for the
	# replica on the writer's behalf.
	exec 7>>"$S/t"
	printf partial >&7
	timeout 5 ls -l "$S/t"
	timeout 5 stat "$S/t" >/dev/null
	[ "$(timeout 5 cat "$S/t")" = partial ]
	[ "$(timeout 5 wc -l <"$S/t")" -eq 1 ]
	exec 7>&-
	# Lines without '\n' stored at the last close: 20 releases, none of
	# which may hold a daemon thread for the timeout.
	for i in $(seq 20); do printf x >>"$S/u$i"; done
	mkdir "$M/sanfrancisco/other"
	echo /mapr/newyork/activity >"$M/sanfrancisco/other/.replicas"
	wait_for -t 5 grep -q '^/mapr/newyork/activity' "$M/sanfrancisco/other/.replicas"
	timeout 5 cat "$S/u20" | grep -qx x
	# The daemon stops at once on unmount, with nothing left waiting.
	local t0=$SECONDS
	sfs_stop
	[ $((SECONDS - t0)) -le 5 ]
	[ "$SFS_STATUS" -eq 0 ]
}
