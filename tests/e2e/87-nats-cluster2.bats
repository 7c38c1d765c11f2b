#!/usr/bin/env bats
# 87-nats-cluster2.bats - a cluster kept in a NATS cluster of three
# servers (docs/nats.md, "A cluster of three NATS servers", "When NATS is
# away" and "Signals"), the namespace's side: the bucket's leader and a
# data stream's leader killed in turn while two daemons make topics and
# append; the bucket's leader and JetStream's metadata leader killed just
# before chmod, rm, rmdir, mkdir and new topics, which wait for the new
# leader; without a quorum, changes fail with EIO within nats_timeout_ms
# and a signal ends a mkdir or a topic's creation. The cases of servers
# lost under appends and replication are in 87-nats-cluster.bats; the
# helpers they share in nats3_helpers.bash.

SFS_HOME=nats
load helpers
load replication_helpers
load nats_helpers
load nats3_helpers

export LC_ALL=C

@test "the bucket's leader and the data stream's leader killed in turn while two daemons make topics and append: no write fails, nothing lost, no stream read again" {
	# A server killed and started again may take a new consumer of the
	# bucket (the watcher made anew) before it has caught up, and deliver
	# an entry the leader holds another one for at that revision (seen
	# about once in ten loaded runs, nats-server 2.9.10): the daemon then
	# reads the bucket again whole, rightly, with its error line. The
	# false answers of a leader just elected are tested one by one in
	# 85-nats-crash.bats ("one false answer").
	SFS_LOG_ALLOW='the bucket SFS_tokyo no longer holds the changes'
	sfs_mktemp
	nats3_start
	sfs_write_conf tokyo
	sfs_start
	start_second
	mkdir "$M/tokyo/s"
	echo a >>"$M/tokyo/s/t"
	local js round name leader i live pids=() p st=0 before
	js=$(data_stream tokyo/s)
	bg_start make_topics "$M/tokyo/s" one
	pids+=("$BG_PID")
	bg_start make_topics "$M2/tokyo/s" two
	pids+=("$BG_PID")
	for round in 1 2; do
		name=KV_SFS_tokyo
		((round % 2)) || name=$js
		live=$(live_server)
		leader=$(nats3_leader "$live" "$name")
		i=$(nats3_index "$leader")
		before=$(ls "$M/tokyo/s" | wc -l)
		echo "round $round: killing $leader, the leader of $name, at $before topics" >&2
		nats3_kill "$i"
		# topics made and lines appended under the new leader
		wait_for -t 30 eval '(( $(ls "$M/tokyo/s" | wc -l) >= before + 6 ))'
		nats3_start_one "$i"
		wait_for -t 30 all_current "$i" KV_SFS_tokyo
		wait_for -t 30 all_current "$i" "$js"
	done
	touch "$TMP/stop"
	for p in "${pids[@]}"; do
		wait "$p" || st=1
	done
	REPL_BG=()
	[ "$st" -eq 0 ]
	# every topic on both daemons, each with its two lines once
	local n1 n2
	n1=$(cat "$TMP/made-one")
	n2=$(cat "$TMP/made-two")
	echo "topics made: $n1 and $n2" >&2
	wait_for -t 30 eval '(( $(ls "$M/tokyo/s" | wc -l) == n1 + n2 + 1 ))'
	wait_for -t 30 eval '(( $(ls "$M2/tokyo/s" | wc -l) == n1 + n2 + 1 ))'
	python3 - "$M/tokyo/s" "$M2/tokyo/s" "$n1" "$n2" <<'PY'
import sys
bad = []
for d in sys.argv[1:3]:
	for p, n in (("one", int(sys.argv[3])), ("two", int(sys.argv[4]))):
		for i in range(1, n + 1):
			want = "%s-%d\n%s-%d+\n" % (p, i, p, i)
			got = open("%s/%s-%d" % (d, p, i)).read()
			if got != want:
				bad.append("%s/%s-%d: %r" % (d, p, i, got))
print("\n".join(bad[:10]), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
	# no stream's check took a leader catching up for a crash's loss
	# (the teardown fails on any other error line of either daemon's log)
	! grep -E "JetStream no longer holds" "$TMP/streamfs.log" "$TMP/streamfs2.log" || false
}

@test "every NATS server stopped, one back without a quorum near the end of nats_timeout_ms: a new topic and a chmod fail with EIO within nats_timeout_ms and a slice, not after the wait for the connection and nats_timeout_ms again" {
	SFS_NATS_EXTRA="nats_timeout_ms = 4000"
	cluster_setup
	mkdir "$M/tokyo/s"
	echo a >>"$M/tokyo/s/t"
	local op pid ms
	for op in "eval echo x >>$M/tokyo/s/new" "chmod 600 $M/tokyo/s/t"; do
		nats3_kill 0 TERM
		nats3_kill 1 TERM
		nats3_kill 2 TERM
		# shellcheck disable=SC2086
		bg_start timed_change $op
		pid=$BG_PID
		sleep 3
		nats3_start_one 0 # reconnected, but no quorum
		wait "$pid"
		ms=$(cat "$TMP/ms")
		echo "$op: EIO after $ms ms" >&2
		# (it waited up to 4 s for the connection, then 4 s again: 7.6 s)
		((ms <= 4000 + 1000))
		nats3_start_one 1
		nats3_start_one 2
		wait_for -t 30 js_leader 0 KV_SFS_tokyo
	done
	grep "NATS did not take the change" "$TMP/streamfs.log" >&2
	[ "$(grep -c "NATS did not take the change within nats_timeout_ms (4000 ms)" "$TMP/streamfs.log")" -ge 2 ]
	# nothing changed; all works again
	wait_for -t 30 eval 'echo b >>"$M/tokyo/s/t"'
	[ "$(stat -c %a "$M/tokyo/s/t")" = 644 ]
	[ "$(head -n 1 "$M/tokyo/s/t")" = a ]
}

@test "a signal ends a mkdir and a topic's creation waiting on NATS without a quorum; nothing of them is made, and both work once the servers are back" {
	SFS_NATS_EXTRA="nats_timeout_ms = 10000"
	cluster_setup
	mkdir "$M/tokyo/s"
	echo a >>"$M/tokyo/s/t"
	nats3_kill 1 TERM
	nats3_kill 2 TERM
	local op path call pid t0
	for op in mkdir topic; do
		path=$M/tokyo/new
		call=mkdir
		[[ $op == topic ]] && path=$M/tokyo/s/new call=openat
		bg_start namer "$op" "$path"
		pid=$BG_PID
		# it waits (up to nats_timeout_ms, 10 s) in the kernel...
		wait_for -t 10 sigint_in_fuse_call "$pid" "$call"
		sleep 1
		# ...until Ctrl-C: it ends within a slice or two (a mkdir
		# waited its whole nats_timeout_ms for JetStream to make its
		# data stream: 9 s here)
		t0=$SECONDS
		kill -INT "$pid"
		wait_for -t 10 gone "$pid"
		echo "$op: ended $((SECONDS - t0)) s after SIGINT" >&2
		((SECONDS - t0 <= 3))
	done
	grep "mkdir interrupted" "$TMP/streamfs.log" >&2
	nats3_start_one 1
	nats3_start_one 2
	# no stream made; the topic's create, published before the signal,
	# may be taken once the servers are back (as an interrupted append,
	# docs/nats.md "Signals"): then it is there, empty. Once JetStream
	# has its leaders again (seconds), both are made
	[ ! -e "$M/tokyo/new" ]
	[[ ! -e $M/tokyo/s/new || ! -s $M/tokyo/s/new ]]
	wait_for -t 30 mkdir "$M/tokyo/new"
	wait_for -t 30 eval 'echo b >>"$M/tokyo/s/new"'
	echo c >>"$M/tokyo/new/t"
	[ "$(cat "$M/tokyo/s/new")" = b ]
	[ "$(cat "$M/tokyo/new/t")" = c ]
	[ "$(ls "$M/tokyo")" = "$(printf 'new\ns')" ]
}

@test "the bucket's leader killed: chmod of the cluster, of a stream and of a topic, rm, rmdir and a new topic right after wait for the new leader and succeed; a second daemon sees each" {
	sfs_mktemp
	nats3_start
	sfs_write_conf tokyo
	sfs_start
	start_second
	mkdir "$M/tokyo/s" "$M/tokyo/e"
	echo a >>"$M/tokyo/s/t"
	echo a >>"$M/tokyo/s/old"
	wait_for -t 10 test -e "$M2/tokyo/s/old"
	local bl t0
	bl=$(nats3_leader 0 KV_SFS_tokyo)
	echo "killing $bl, the leader of KV_SFS_tokyo" >&2
	nats3_kill "$(nats3_index "$bl")"
	t0=$SECONDS
	# (the cluster's own chmod was one put, failed at once with EIO,
	# unlogged)
	chmod 750 "$M/tokyo"
	chmod 700 "$M/tokyo/s"
	chmod 600 "$M/tokyo/s/t"
	rm "$M/tokyo/s/old"
	rmdir "$M/tokyo/e"
	echo n >>"$M/tokyo/s/new"
	echo "done $((SECONDS - t0)) s after the kill" >&2
	((SECONDS - t0 <= 30))
	stat -c "%n %a" "$M/tokyo" "$M/tokyo/s" "$M/tokyo/s/t" >&2
	wait_for -t 20 eval '[ "$(stat -c %a "$M/tokyo" "$M/tokyo/s" "$M/tokyo/s/t" | tr "\n" " ")" = "750 700 600 " ]'
	wait_for -t 20 eval '[ "$(stat -c %a "$M2/tokyo" "$M2/tokyo/s" "$M2/tokyo/s/t" | tr "\n" " ")" = "750 700 600 " ]'
	wait_for -t 20 eval '[ "$(ls "$M2/tokyo/s")" = "$(printf "new\nt")" ]'
	wait_for -t 20 eval '[ "$(ls "$M2/tokyo")" = s ]'
	[ "$(ls "$M/tokyo/s")" = "$(printf 'new\nt')" ]
	# the topic's key and its line come by two ways (the bucket, the
	# data stream's consumer, made anew if its server was the one killed)
	wait_for -t 20 eval '[ "$(cat "$M2/tokyo/s/new")" = n ]'
}

@test "JetStream's metadata leader killed: an rmdir and a mkdir right after wait for the new one and succeed within nats_timeout_ms, no data stream left behind" {
	cluster_setup
	mkdir "$M/tokyo/s" "$M/tokyo/a"
	echo a >>"$M/tokyo/s/t"
	local ml live t0 js
	ml=$(meta_leader)
	[[ $ml == [012] ]]
	live=$(((ml + 1) % 3))
	echo "killing n$ml, JetStream's metadata leader" >&2
	nats3_kill "$ml"
	# (rmdir's look for topics was one request that the lost leader
	# never answered: ENOTEMPTY after nats_timeout_ms, 15 s; then
	# the data stream's removal, the same: left behind)
	t0=$SECONDS
	run rmdir "$M/tokyo/a"
	echo "rmdir: status $status after $((SECONDS - t0)) s: $output" >&2
	[ "$status" -eq 0 ]
	((SECONDS - t0 <= 15))
	t0=$SECONDS
	run mkdir "$M/tokyo/b"
	echo "mkdir: status $status after $((SECONDS - t0)) s: $output" >&2
	[ "$status" -eq 0 ]
	((SECONDS - t0 <= 15))
	echo b >>"$M/tokyo/b/t"
	[ "$(cat "$M/tokyo/b/t")" = b ]
	[ "$(ls "$M/tokyo")" = "$(printf 'b\ns')" ]
	# JetStream holds the bucket and the data streams of s and b only
	js=$(nats3_req "$live" '$JS.API.STREAM.NAMES' | jq -r '.streams[]' | sort)
	[ "$js" = "$(printf '%s\n' KV_SFS_paris KV_SFS_tokyo "$(data_stream tokyo/s)" "$(data_stream tokyo/b)" | sort)" ]
	! grep "is left" "$TMP/streamfs.log" || false
}
