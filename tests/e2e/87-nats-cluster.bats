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

# cluster_setup: three nats-servers, then one daemon with the NATS
# clusters tokyo and paris (and the local cluster sanfrancisco).
cluster_setup() {
	sfs_mktemp
	nats3_start || return 1
	sfs_write_conf tokyo paris
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

# js_leader I NAME: stream NAME has a leader (asked through server I).
js_leader() {
	nats3_leader "$1" "$2" >/dev/null 2>&1
}

# live_server: the index of a server of the three that runs.
live_server() {
	local i
	for i in 0 1 2; do
		[[ -n ${NATS3_PID[i]:-} ]] && { echo "$i"; return 0; }
	done
	return 1
}

# make_topics DIR PREFIX: topics PREFIX-1, PREFIX-2 ... made in DIR by
# their first line (each a put to the bucket), then one more line each,
# until $TMP/stop exists (5000 at most); how many in $TMP/made-PREFIX.
make_topics() {
	local i
	for ((i = 1; i <= 5000; i++)); do
		[[ -e $TMP/stop ]] && break
		echo "$2-$i" >>"$1/$2-$i" || return 1
		echo "$2-$i+" >>"$1/$2-$i" || return 1
		echo "$i" >"$TMP/made-$2"
	done
}

# all_current I NAME: every replica of stream NAME (asked through server
# I) is current: a server started again has caught up.
all_current() {
	nats3_stream_info "$1" "$2" |
		jq -e '(.cluster.replicas | length) == 2 and all(.cluster.replicas[]; .current)' \
			>/dev/null 2>&1
}

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

# ms_since T0: milliseconds since T0 (an $EPOCHREALTIME).
ms_since() {
	echo $(((${EPOCHREALTIME/./} - ${1/./}) / 1000))
}

# timed_change CMD...: CMD (a change that fails), its time in ms into $TMP/ms.
timed_change() {
	local t0=$EPOCHREALTIME
	"$@" 2>/dev/null && return 1
	ms_since "$t0" >"$TMP/ms"
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

# append_try FILE PREFIX: append a line PREFIX-N (N new for each try) to
# FILE; APPENDED names the line once one succeeded.
APPEND_TRIES=0
append_try() {
	APPEND_TRIES=$((APPEND_TRIES + 1))
	echo "$2-$APPEND_TRIES" >>"$1" 2>/dev/null && APPENDED=$2-$APPEND_TRIES
}

# writer FILE LINE: append LINE to FILE, dying at SIGINT as a terminal's
# process does (a background job of a shell without job control starts
# with SIGINT ignored); exec: its PID is the python's.
writer() {
	exec python3 -c 'import signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
with open(sys.argv[1], "a") as f:
	f.write(sys.argv[2] + "\n")' "$1" "$2" >/dev/null 2>&1
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

# namer OP PATH: mkdir PATH (OP mkdir) or make topic PATH by its first
# line (OP topic), dying at SIGINT as writer does; exec: its PID is the
# python's.
namer() {
	exec python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
if sys.argv[1] == "mkdir":
	os.mkdir(sys.argv[2])
else:
	with open(sys.argv[2], "a") as f:
		f.write("x\n")' "$1" "$2" >/dev/null 2>&1
}

# sigint_in_fuse_call PID CALL: as sigint_in_fuse_wait, PID waiting in
# system call CALL (mkdir, openat) for a FUSE answer.
sigint_in_fuse_call() {
	local ign sc want
	ign=$(sed -n 's/^SigIgn:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null) || return 1
	[[ -n $ign ]] && ((!(16#$ign & 2))) || return 1
	[[ $(cat "/proc/$1/wchan" 2>/dev/null) == *request_wait_answer* ]] || return 1
	read -r sc _ <"/proc/$1/syscall" 2>/dev/null || return 1
	case $2-$(uname -m) in
	mkdir-x86_64) want=83 ;; openat-x86_64) want=257 ;;
	mkdir-aarch64) want=34 ;; openat-aarch64) want=56 ;;
	esac
	[[ $sc == "$want" ]]
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
	# nothing of them made; once JetStream has its leaders again
	# (seconds), both are made anew
	[ ! -e "$M/tokyo/new" ]
	[ ! -e "$M/tokyo/s/new" ]
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
	[ "$(cat "$M2/tokyo/s/new")" = n ]
}

# meta_leader: the index of the server leading JetStream's metadata, as
# the servers' logs said last ("Self is new ... metadata leader" in its
# own, "new metadata leader: nI/sfs" in the others').
meta_leader() {
	local i
	for i in 0 1 2; do
		sed -n -e "s/^\[[0-9]*\] \([0-9/]* [0-9:.]*\) .*Self is new JetStream cluster metadata leader.*/\1 $i/p" \
			-e 's/^\[[0-9]*\] \([0-9/]* [0-9:.]*\) .*JetStream cluster new metadata leader: n\([0-9]\)\/.*/\1 \2/p' \
			"$TMP/nats3/n$i/nats.log"
	done | sort | tail -n 1 | awk '{ print $3 }'
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

# reachable_is CLUSTER true|false: /.info says whether the cluster is reachable.
reachable_is() {
	[[ $(jq -r --arg c "$1" '.clusters[] | select(.name == $c) | .reachable' "$M/.info" 2>/dev/null) == "$2" ]]
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

# leads I JS: server I says it leads stream JS (asking it to step down
# otherwise: JetStream elects another, bounded by the caller's wait_for).
leads() {
	local l
	l=$(nats3_leader "$1" "$2" 2>/dev/null) || return 1
	[[ $l == "n$1" ]] && return 0
	nats3_req "$1" "\$JS.API.STREAM.LEADER.STEPDOWN.$2" >/dev/null 2>&1 || true
	return 1
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
