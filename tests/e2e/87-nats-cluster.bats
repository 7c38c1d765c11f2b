#!/usr/bin/env bats
# 87-nats-cluster.bats - a cluster kept in a NATS cluster of three servers
# with JetStream (docs/nats.md, "A cluster of three NATS servers" and
# "Signals"), started, killed and stopped by the
# test on loopback ports: nats_replicas defaults to 3; one server killed
# (the data stream's leader) while writers on two daemons append and
# replication into and out of NATS runs changes nothing a user sees;
# two servers stopped: appends fail with EIO within nats_timeout_ms,
# what is known stays listed, nothing acknowledged is lost, and all works
# again when they return; a signal ends a write waiting on NATS; a topic
# removed leaves a consumer that is behind everything it had to deliver
# (a clustered purge, docs/nats.md, "Creation, removal and races").

SFS_HOME=nats
load helpers
load replication_helpers
load nats_helpers
load nats3_helpers

export LC_ALL=C

@test "three NATS servers: the bucket and the data streams have 3 replicas by default" {
	cluster_setup
	mkdir "$M/tokyo/s"
	echo a >>"$M/tokyo/s/t"
	[ "$(replicas_of 0 KV_SFS_tokyo)" = 3 ]
	[ "$(replicas_of 1 "$(data_stream tokyo/s)")" = 3 ]
	grep -q "cluster tokyo: NATS JetStream at .*, 3 replica(s)" "$TMP/streamfs.log"
}

@test "one NATS server of three killed (the data stream's leader) while two daemons append and replication runs: nothing a user sees changes" {
	cluster_setup
	# the second daemon serves the NATS clusters only (the local one
	# is this daemon's)
	mv "$TMP/mount.conf" "$TMP/mount1.conf"
	sfs_write_conf tokyo paris
	start_second
	mv "$TMP/mount1.conf" "$TMP/mount.conf"
	mkdir "$M/tokyo/s" "$M/paris/copy" "$M/sanfrancisco/src" "$M/tokyo/r"
	# replication out of NATS (run by the daemon holding the lease,
	# which may move when renewals fail during the election) and into
	# NATS (this daemon's local stream)
	replicate tokyo/s paris/copy
	replicate sanfrancisco/src tokyo/r
	js=$(data_stream tokyo/s)
	leader=$(nats3_leader 0 "$js")
	local n=250 d w pids=()
	for d in 1 2; do
		for w in 1 2; do
			mnt=$M
			[[ $d == 2 ]] && mnt=$M2
			bg_start append_each "$mnt/tokyo/s/t" "w$d$w" "$n"
			pids+=("$BG_PID")
		done
	done
	bg_start append_each "$M/sanfrancisco/src/t" src "$n"
	pids+=("$BG_PID")
	wait_for -t 20 eval '(( $(nmsg "$M/tokyo/s/t") >= 150 ))'
	echo "killing $leader, the leader of $js, at $(nmsg "$M/tokyo/s/t") lines" >&2
	nats3_kill "$(nats3_index "$leader")"
	local p st=0 t0=$SECONDS
	for p in "${pids[@]}"; do
		wait "$p" || st=1
	done
	echo "writers done $((SECONDS - t0)) s after the kill" >&2
	REPL_BG=()
	[ "$st" -eq 0 ]
	# every line once, each writer's in order, both daemons alike
	wait_count "$M/tokyo/s/t" $((4 * n)) 20
	wait_count "$M2/tokyo/s/t" $((4 * n)) 20
	cat "$M/tokyo/s/t" >"$TMP/r1"
	cat "$M2/tokyo/s/t" >"$TMP/r2"
	same_content "$TMP/r1" "$TMP/r2"
	no_dups "$TMP/r1"
	for d in 1 2; do
		for w in 1 2; do
			in_order "$TMP/r1" "w$d$w" "$n"
		done
	done
	[ "$(jq -r '.topics[0].messages' "$M/tokyo/s/.info")" = $((4 * n)) ]
	[ "$(jq -r '.topics[0].messages' "$M2/tokyo/s/.info")" = $((4 * n)) ]
	# each daemon still follows the other's changes to the namespace
	# (its watcher made anew if its server was the one lost: once it
	# has delivered nothing for 6 s; a new stream's consumer made in
	# tries of 2 s while the elections settle, up to nats_timeout_ms,
	# 15 s: docs/nats.md)
	mkdir "$M2/tokyo/after"
	wait_for -t 30 test -d "$M/tokyo/after"
	echo after >>"$M/tokyo/after/t"
	wait_for -t 30 test -s "$M2/tokyo/after/t"
	echo "checked at $((SECONDS - t0)) s" >&2
	# replication: out of NATS and into it, exactly once
	wait_count "$M/paris/copy/t" $((4 * n)) 30
	same_content "$TMP/r1" "$M/paris/copy/t"
	wait_count "$M/tokyo/r/t" "$n" 30
	in_order "$M/tokyo/r/t" src "$n"
	same_content "$M/tokyo/r/t" "$M2/tokyo/r/t"
	echo "replication checked at $((SECONDS - t0)) s" >&2
}

@test "two NATS servers of three stopped: appends fail with EIO within nats_timeout_ms, what is known stays listed; back: nothing acknowledged lost, appends work again" {
	SFS_NATS_EXTRA="nats_timeout_ms = 2000"
	cluster_setup
	T=$M/tokyo/s/t
	mkdir "$M/tokyo/s"
	append_each "$T" a 20
	[ "$(cat "$T")" = "$(gen a 20)" ]
	js=$(data_stream tokyo/s)
	size=$(stat -c %s "$T")
	# two servers stopped: no quorum left for any stream
	nats3_kill 1 TERM
	nats3_kill 2 TERM
	local t0=$SECONDS
	run bash -c "echo b >>'$T'"
	echo "append failed after $((SECONDS - t0)) s: $output" >&2
	[ "$status" -ne 0 ]
	[[ $output == *"Input/output error"* ]]
	((SECONDS - t0 <= 2 + 4))
	# what this daemon knows stays listed, with its size
	[ "$(ls "$M/tokyo/s")" = t ]
	[ "$(stat -c %s "$T")" -eq "$size" ]
	t0=$SECONDS
	# a read gives what was acknowledged, or fails (EIO: no server
	# answers for the stream), within nats_timeout_ms; never other bytes
	run cat "$T"
	echo "cat: status $status after $((SECONDS - t0)) s" >&2
	((SECONDS - t0 <= 2 + 4))
	[[ $status -eq 0 && $output == "$(gen a 20)" ]] || [[ $output == *"Input/output error"* ]]
	# the two servers back, on their stores: everything acknowledged is
	# there, and appends work again
	nats3_start_one 1
	nats3_start_one 2
	wait_for -t 30 js_leader 0 "$js"
	# (the first appends may still fail while the servers settle)
	wait_for -t 30 append_try "$T" c
	cat "$T" >"$TMP/after"
	# every acknowledged line once, in order; a failed append may be
	# stored all the same (docs/nats.md): b and c-N tries at most once
	no_dups "$TMP/after"
	diff <(grep '^a-' "$TMP/after") <(gen a 20)
	grep -qx "$APPENDED" "$TMP/after"
	[ -z "$(grep -vE '^(a-[0-9]+|b|c-[0-9]+)$' "$TMP/after")" ]
}

@test "a signal ends a write waiting on NATS: without a quorum, and without any server" {
	SFS_NATS_EXTRA="nats_timeout_ms = 10000"
	cluster_setup
	T=$M/tokyo/s/t
	mkdir "$M/tokyo/s"
	echo a >>"$T"
	local round pid i
	for round in quorum servers; do
		# no quorum (two servers stopped), then no server at all
		nats3_kill 1 TERM
		nats3_kill 2 TERM
		[[ $round == servers ]] && nats3_kill 0 TERM
		bg_start writer "$T" "w-$round"
		pid=$BG_PID
		# it waits (up to nats_timeout_ms, 10 s) in its write, SIGINT
		# no longer ignored (a python3 on a loaded machine once took
		# more than a second to get there: a SIGINT sent before is lost)...
		wait_for -t 10 sigint_in_fuse_wait "$pid"
		# ...until Ctrl-C: it ends long before (5 s: a loaded machine)
		kill -INT "$pid"
		wait_for -t 5 gone "$pid"
		# the servers back: appends work again
		for i in 0 1 2; do
			[[ -n ${NATS3_PID[i]} ]] || nats3_start_one "$i"
		done
		wait_for -t 30 append_try "$T" b
	done
	grep "append interrupted\|append failed" "$TMP/streamfs.log" >&2
	# the interrupted appends may be stored all the same: each at most once
	no_dups "$T"
	[ "$(head -n 1 "$T")" = a ]
	grep -qx "$APPENDED" "$T"
}

@test "three NATS servers: a topic removed leaves a consumer of the data stream that had delivered nothing yet every other topic's chunk to deliver (a clustered purge)" {
	cluster_setup
	mkdir "$M/tokyo/s"
	local i js
	for i in 1 2 3; do echo "v$i" >>"$M/tokyo/s/v"; done
	echo t1 >>"$M/tokyo/s/t"
	js=$(data_stream tokyo/s)
	local su=${js#SFS-}
	nats3_req 0 "\$JS.API.CONSUMER.DURABLE.CREATE.$js.lag" \
		"{\"stream_name\":\"$js\",\"config\":{\"durable_name\":\"lag\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"filter_subject\":\"sfs.$su.>\"}}" |
		jq -e '.config.durable_name == "lag"' >/dev/null
	wait_for [ "$(nats3_req 1 "\$JS.API.CONSUMER.INFO.$js.lag" | jq -r .num_pending)" = 4 ]
	rm "$M/tokyo/s/t"
	# t's chunk purged on every replica; v's three still to be delivered
	# (0 with a purge whose subject the consumer's filter covers)
	wait_for [ "$(nats3_req 2 "\$JS.API.STREAM.INFO.$js" | jq -r .state.messages)" = 3 ]
	[ "$(nats3_req 1 "\$JS.API.CONSUMER.INFO.$js.lag" | jq -r .num_pending)" = 3 ]
	[ "$(cat "$M/tokyo/s/v")" = "$(printf 'v1\nv2\nv3')" ]
}

@test "three NATS servers: a topic removed, then the data stream's leader killed (kill -9) and started again: once it leads, the stream still holds every line of the other topics (no purge for its raft log to replay as a removal of all before it)" {
	cluster_setup
	mkdir "$M/tokyo/s"
	local i js leader li
	for i in 1 2 3 4; do echo "v$i" >>"$M/tokyo/s/v"; done
	echo t1 >>"$M/tokyo/s/t"
	rm "$M/tokyo/s/t"
	echo v5 >>"$M/tokyo/s/v"
	js=$(data_stream tokyo/s)
	leader=$(nats3_leader 0 "$js")
	li=$(nats3_index "$leader")
	nats3_kill "$li" KILL
	nats3_start_one "$li"
	# the restarted server leads (the others step down until it does)
	wait_for -t 60 leads "$li" "$js"
	wait_for -t 10 eval '[ "$(nats3_stream_info "$li" "$js" | jq -r .state.messages)" = 5 ]'
	[ "$(nats3_stream_info "$li" "$js" | jq -r .state.first_seq)" = 1 ]
	[ "$(cat "$M/tokyo/s/v")" = "$(printf 'v1\nv2\nv3\nv4\nv5')" ]
}

@test "three NATS servers: a nats_timeout_ms shorter than a leader election is warned about at start-up" {
	SFS_NATS_EXTRA='nats_timeout_ms = 2000'
	cluster_setup
	grep -q "cluster tokyo: nats_timeout_ms 2000 is shorter than a leader election (4 to 9 s): appends and reads fail with EIO during one" \
		"$TMP/streamfs.log"
	mkdir "$M/tokyo/s"
	echo a >>"$M/tokyo/s/t"
	[ "$(cat "$M/tokyo/s/t")" = a ]
}
