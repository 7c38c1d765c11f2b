#!/usr/bin/env bats
# 71-gateway-faults.bats - replication between hosts through the gateway
# when things go wrong (docs/gateway.md, "Failures"): a link cut, a
# receiving daemon killed, a peer frozen (SIGSTOP), synchronous replicas
# frozen or interrupted, a remote replica deleted while idle; and
# compression on the wire. Hosts as in 70-gateway.bats
# (gateway_helpers.bash).

load helpers
load replication_helpers
load netns_helpers
load gateway_helpers

@test "link cut during heavy replication: error shown while cut, then it catches up by itself: nothing lost or duplicated" {
	hosts a b
	xrep "$A/s" "$B/s"
	bg_start send_batches "$A/s/t" m 100 100
	local w=$BG_PID
	wait_for -t 20 bash -c "[ \$(wc -l < '$B/s/t' 2>/dev/null || echo 0) -gt 0 ]"
	nh_link_down a
	# Local writers go on; the source shows the error.
	wait_for -t 15 on a rline_match sanfrancisco/s london/s 'state=UNEXPECTED'
	[[ $(on a rinfo sanfrancisco/s london/s lastError) == *"gateway london"* ]]
	wait "$w"
	has_n "$A/s/t" 10000
	nh_link_up a
	wait_count "$B/s/t" 10000 60
	no_dups "$B/s/t"
	in_order "$B/s/t" m 10000
	wait_for -t 10 on a rline_match sanfrancisco/s london/s 'state=REPLICATING pending=0'
}

@test "kill -9 of the receiving daemon mid-batch, restart: nothing lost or duplicated" {
	hosts a b
	xrep "$A/s" "$B/s"
	bg_start send_batches "$A/s/t" m 100 100
	local w=$BG_PID
	wait_for -t 20 bash -c "[ \$(wc -l < '$B/s/t' 2>/dev/null || echo 0) -gt 0 ]"
	nh_kill9 b
	wait "$w"
	nh_start b
	wait_count "$B/s/t" 10000 60
	no_dups "$B/s/t"
	in_order "$B/s/t" m 10000
}

@test "a remote replica host restored from an older copy of its data (it lost lines it had applied): the source sends the topic again from its start, over the gateway, and every line is there once, in order" {
	hosts a b
	xrep "$A/s" "$B/s"
	append_each "$A/s/t" m 3
	wait_count "$B/s/t" 3 15
	# b's data as it is now: the backup
	nh_stop b
	cp -a "$NH_DIR/b/data" "$NH_DIR/b/data.bak"
	nh_start b
	local i
	for ((i = 4; i <= 6; i++)); do echo "m-$i" >>"$A/s/t"; done
	wait_count "$B/s/t" 6 15
	# b restored from the backup: m-4..m-6, applied and acknowledged, lost
	nh_stop b
	rm -rf "$NH_DIR/b/data"
	mv "$NH_DIR/b/data.bak" "$NH_DIR/b/data"
	nh_start b
	[ "$(cat "$B/s/t")" = "$(gen m 3)" ]
	# the source's next batch starts past what b holds now: b answers
	# the jump as missing messages, the source sends the topic again
	echo m-7 >>"$A/s/t"
	wait_count "$B/s/t" 7 30
	no_dups "$B/s/t"
	in_order "$B/s/t" m 7
	[ "$(wc -l <"$B/s/t")" -eq 7 ]
	# by the re-send, said once on the source's host
	[ "$(grep -c 'replica /london/s lacks the start of topic t, or messages before what was sent' \
		"$NH_DIR/a/streamfs.log")" -eq 1 ]
}

@test "a stalled peer (SIGSTOP) blocks neither local writers nor replication to other replicas" {
	A_CLUSTERS="sanfrancisco paris" hosts a b c
	xrep "$A/s" "$B/s"
	xrep "$A/s" "$C/s"
	xrep "$A/s" "$P/s"
	append_each "$A/s/t" pre 10
	wait_count "$B/s/t" 10 15
	nh_stop_signal b STOP
	# 200 separate writes finish although london's daemon is frozen.
	timeout 60 bash -c "$(declare -f append_each); append_each '$A/s/t' m 200"
	wait_count "$P/s/t" 210 15
	wait_count "$C/s/t" 210 15
	wait_for -t 15 on a rline_match sanfrancisco/s london/s 'state=UNEXPECTED'
	[[ $(on a rinfo sanfrancisco/s london/s lastError) == *"timed out"* ]]
	# (london's mount cannot be looked at while its daemon is frozen.)
	nh_stop_signal b CONT
	wait_count "$B/s/t" 210 30
	no_dups "$B/s/t"
	in_order "$B/s/t" m 200
}

@test "synchronous=true across hosts: a write returns once the remote applied it; a frozen remote degrades after the timeout, then it is synchronous again" {
	NH_CONF_EXTRA[a]="[replication]\nsync_timeout_ms = 800\n"
	hosts a b
	xrep "$A/s" "$B/s" synchronous=true
	wait_for -t 10 on a rline_match sanfrancisco/s london/s 'state=REPLICATING'
	local i
	for ((i = 1; i <= 20; i++)); do
		echo "m-$i" >>"$A/s/t"
		# No waiting: the write returned, so the remote has it.
		still_count "$B/s/t" "$i"
	done
	nh_stop_signal b STOP
	local t0=$SECONDS
	timeout 20 bash -c "echo slow >> '$A/s/t'"
	grep -q 'degraded=true' "$A/s/.replicas"
	jq -e '.replicas[0].degraded == true and .replicas[0].synchronous == true' "$A/s/.info"
	# While degraded, writes do not wait.
	timeout 20 bash -c "$(declare -f append_each); append_each '$A/s/t' d 20"
	[ $((SECONDS - t0)) -lt 15 ]
	nh_stop_signal b CONT
	wait_count "$B/s/t" 41 30
	wait_for -t 15 bash -c "! grep -q degraded=true '$A/s/.replicas'"
	echo again >>"$A/s/t"
	still_count "$B/s/t" 42
	tail -n 1 "$B/s/t" | grep -qx again
}

@test "Ctrl-C ends a write waiting for a frozen synchronous remote at once: appended, replicated once the remote is back" {
	NH_CONF_EXTRA[a]="[replication]\nsync_timeout_ms = 30000\n"
	hosts a b
	xrep "$A/s" "$B/s" synchronous=true
	echo first >>"$A/s/t"
	still_count "$B/s/t" 1
	nh_stop_signal b STOP
	python3 - "$A/s/t" >"$NH_DIR/writer.out" 2>&1 3>&- <<'PY' &
import os, signal, sys, time
class Stop(Exception):
    pass
def stop(signum, frame):
    raise Stop()
signal.signal(signal.SIGINT, stop)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
t0 = time.monotonic()
try:
    os.write(fd, b"during\n")
    print("returned")
except Stop:
    print("interrupted after %.0f ms" % ((time.monotonic() - t0) * 1000))
PY
	local pid=$!
	wait_for grep -qx during "$A/s/t"
	sleep 0.3
	local t0=$SECONDS
	kill -INT "$pid"
	wait_for -t 3 bash -c "! kill -0 $pid 2>/dev/null"
	wait "$pid" || true
	cat "$NH_DIR/writer.out"
	grep -q '^interrupted after' "$NH_DIR/writer.out"
	[ $((SECONDS - t0)) -le 2 ]
	nh_stop_signal b CONT
	wait_count "$B/s/t" 2 30
	[ "$(tail -n 1 "$B/s/t")" = during ]
}

@test "networkcompression lz4 and zstd: fewer bytes on the wire for compressible messages, identical data" {
	hosts a b
	xrep "$A/s" "$B/s"
	# 4,000 messages of 200 bytes of text that compresses well.
	local line
	line=$(printf 'the quick brown fox jumps over the lazy dog %.0s' 1 2 3 4)
	line=${line:0:190}
	wire() { # wire TOPIC: bytes host a sends while TOPIC replicates
		local before after
		before=$(nh_wire_bytes a tx)
		for ((k = 1; k <= 40; k++)); do
			# 100 messages per write(), as a producer batching them.
			for ((j = 1; j <= 100; j++)); do echo "$line $k-$j"; done >"$NH_DIR/batch"
			cat "$NH_DIR/batch" >>"$A/s/$1"
		done
		wait_count "$B/s/$1" 4000 30 >&2
		after=$(nh_wire_bytes a tx)
		echo $((after - before))
	}
	local off lz4 zstd
	off=$(wire plain)
	echo "/mapr/london/s networkcompression=lz4" >>"$A/s/.replicas"
	lz4=$(wire fast)
	echo "/mapr/london/s networkcompression=zstd" >>"$A/s/.replicas"
	zstd=$(wire small)
	echo "bytes on the wire: off=$off lz4=$lz4 zstd=$zstd" >&3
	# 800 KB of payload: uncompressed at least that goes over the wire.
	[ "$off" -gt 800000 ]
	[ $((lz4 * 2)) -lt "$off" ]
	[ $((zstd * 2)) -lt "$off" ]
	same_content "$A/s/plain" "$B/s/plain"
	same_content "$A/s/fast" "$B/s/fast"
	same_content "$A/s/small" "$B/s/small"
	grep -q 'networkcompression=zstd' "$A/s/.replicas"
}

@test "an idle source notices a remote replica deleted; a stream made again under its name gets nothing until .replicas names it again" {
	hosts a b
	xrep "$A/s" "$B/s"
	append_each "$A/s/t" m 10
	wait_count "$B/s/t" 10 15
	wait_for -t 10 on a rline_match sanfrancisco/s london/s 'state=REPLICATING'
	# Nothing is written on A from here on.
	rm "$B/s/t"
	rmdir "$B/s"
	wait_for -t 15 on a rline_match sanfrancisco/s london/s 'state=UNEXPECTED'
	[[ $(on a rinfo sanfrancisco/s london/s lastError) == *"/mapr/london/s does not exist"* ]]
	mkdir "$B/s"
	echo /mapr/sanfrancisco/s >"$B/s/.upstreams"
	# pinned: the source says why, and sends nothing
	wait_for -t 15 eval "[[ \$(on a rinfo sanfrancisco/s london/s lastError) == *'not the stream this replica was set up with'* ]]"
	on a repl_quiet sanfrancisco/s
	[ ! -e "$B/s/t" ]
	# named again: everything is copied into the new stream
	echo /mapr/london/s >>"$A/s/.replicas"
	wait_count "$B/s/t" 10 20
	in_order "$B/s/t" m 10
	wait_for -t 10 on a rline_match sanfrancisco/s london/s 'state=REPLICATING'
}

@test "a line naming a remote replica again takes the stream that has the name then, asked of its gateway: not one made after it" {
	hosts a b
	xrep "$A/s" "$B/s"
	append_each "$A/s/t" m 10
	wait_count "$B/s/t" 10 15
	rm "$B/s/t"
	rmdir "$B/s"
	mkdir "$B/s"
	echo /mapr/sanfrancisco/s >"$B/s/.upstreams"
	wait_for -t 15 eval "[[ \$(on a rinfo sanfrancisco/s london/s lastError) == *'not the stream this replica was set up with'* ]]"
	# that stream goes too: a line naming the replica now has nothing to
	# take, and says so (the gateway is asked as the line is written)
	rmdir "$B/s"
	run bash -c "echo /mapr/london/s >>'$A/s/.replicas'"
	[ "$status" -ne 0 ]
	# (no stream of london names sanfrancisco now: its connection share
	# is a stranger's, one, which the lane holds)
	[[ $(jq -r .lastError "$A/s/.info") == *"cannot be taken as the replica: gateway london: too many connections from this cluster"* ]]
	# another stream of london lists it: the gateway answers
	mkdir "$B/other"
	echo /mapr/sanfrancisco/s >"$B/other/.upstreams"
	run bash -c "echo /mapr/london/s >>'$A/s/.replicas'"
	[ "$status" -ne 0 ]
	[[ $(jq -r .lastError "$A/s/.info") == *"cannot be taken as the replica: refused by the replica: /mapr/london/s does not exist, or"* ]]
	# a stream made after the line gets nothing, however long it waits
	mkdir "$B/s"
	echo /mapr/sanfrancisco/s >"$B/s/.upstreams"
	wait_for -t 15 eval "[[ \$(on a rinfo sanfrancisco/s london/s lastError) == *'not the stream this replica was set up with'* ]]"
	sleep 2
	[ ! -e "$B/s/t" ]
	[[ $(on a rinfo sanfrancisco/s london/s lastError) == *'not the stream this replica was set up with'* ]]
	# named while it exists and accepts the source: taken, copied whole
	echo /mapr/london/s >>"$A/s/.replicas"
	wait_count "$B/s/t" 10 20
	in_order "$B/s/t" m 10
	wait_for -t 10 on a rline_match sanfrancisco/s london/s 'state=REPLICATING'
	# a paused replica is not asked (pausing is what one does on seeing
	# the error), and a line that pauses it takes nothing either
	echo "/mapr/london/s paused=true" >>"$A/s/.replicas"
	echo "/mapr/london/s paused=false" >>"$A/s/.replicas"
}
