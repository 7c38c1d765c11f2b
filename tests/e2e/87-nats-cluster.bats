#!/usr/bin/env bats
# 87-nats-cluster.bats - a cluster kept in a NATS cluster of three servers
# with JetStream (docs/nats.md, "Deploying: a cluster of three NATS
# servers" and "When NATS is away"), started, killed and stopped by the
# test on loopback ports: nats_replicas defaults to 3; one server killed
# (the data stream's leader) while writers on two daemons append and
# replication into and out of NATS runs changes nothing a user sees;
# two servers stopped: appends fail with EIO within nats_timeout_ms,
# what is known stays listed, nothing acknowledged is lost, and all works
# again when they return; a signal ends a write waiting on NATS.

SFS_HOME=nats
load helpers
load replication_helpers
load nats_helpers

export LC_ALL=C

teardown() {
	local fail=0 t0=$SECONDS
	bg_kill_all
	stop_second || fail=1
	if [[ -n ${SFS_PID:-} ]]; then
		sfs_stop || fail=1
	fi
	nats3_stop_all || fail=1
	sfs_teardown || fail=1
	echo "teardown took $((SECONDS - t0)) s" >&2
	return "$fail"
}

# cluster_setup [CONF_EXTRA]: three nats-servers, then one daemon with
# the NATS cluster tokyo (and the local cluster sanfrancisco).
cluster_setup() {
	sfs_mktemp
	nats3_start || return 1
	sfs_write_conf tokyo
	{
		echo "[cluster sanfrancisco]"
		echo "data = $TMP/data/sanfrancisco"
	} >>"$TMP/mount.conf"
	sfs_start
}

# data_stream CLUSTER/STREAM: the JetStream stream holding the stream's
# messages (SFS-<uuid>, docs/nats.md).
data_stream() {
	echo "SFS-$(jq -r .uuid "$M/$1/.info")"
}

# replicas_of I NAME: the JetStream replicas of stream NAME (via server I).
replicas_of() {
	nats3_stream_info "$1" "$2" | jq -r '.config.num_replicas'
}

@test "three NATS servers: the bucket and the data streams have 3 replicas by default" {
	cluster_setup
	mkdir "$M/tokyo/s"
	echo a >>"$M/tokyo/s/t"
	[ "$(replicas_of 0 KV_SFS_tokyo)" = 3 ]
	[ "$(replicas_of 1 "$(data_stream tokyo/s)")" = 3 ]
	grep -q "cluster tokyo: NATS JetStream at .*, 3 replica(s)" "$TMP/streamfs.log"
}

# holds LOG CLUSTER: the daemon logging to LOG has taken CLUSTER's lease.
holds() {
	grep -q "cluster $2: this daemon runs the replication of its streams now" "$1"
}

@test "one NATS server of three killed (the data stream's leader) while two daemons append and replication runs: nothing a user sees changes" {
	cluster_setup
	wait_for -t 10 holds "$TMP/streamfs.log" tokyo
	sfs_write_conf tokyo
	cp "$TMP/mount.conf" "$TMP/tokyo.conf"
	start_second "$TMP/tokyo.conf"
	mkdir "$M/tokyo/s" "$M/sanfrancisco/copy" "$M/sanfrancisco/src" "$M/tokyo/r"
	# replication out of NATS (run by this daemon: it holds the lease)
	# and into NATS
	replicate tokyo/s sanfrancisco/copy
	replicate sanfrancisco/src tokyo/r
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
	js=$(data_stream tokyo/s)
	leader=$(nats3_leader 0 "$js")
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
	echo "checked at $((SECONDS - t0)) s" >&2
	# replication: out of NATS and into it, exactly once
	wait_count "$M/sanfrancisco/copy/t" $((4 * n)) 30
	same_content "$TMP/r1" "$M/sanfrancisco/copy/t"
	wait_count "$M/tokyo/r/t" "$n" 30
	in_order "$M/tokyo/r/t" src "$n"
	same_content "$M/tokyo/r/t" "$M2/tokyo/r/t"
	echo "replication checked at $((SECONDS - t0)) s" >&2
}
