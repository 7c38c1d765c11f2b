#!/usr/bin/env bats
# 45-crash.bats - the randomized crash test (docs/filesystem.md, docs/replication.md, docs/storage.md; issue 4,
# item 2). One daemon serves three local clusters a, b, c with the streams
# a/s <-> b/s (multi-master) and b/s -> c/s (a chain), four topics each.
# Every round: 3-4 writers append tagged messages ("w<id>-<round>-<seq>
# <stream> <topic> <pad>", batches of 1-8 lines, one write() per batch) to
# random topics of a/s, b/s and c/s and log each write they send and each
# one acknowledged; after a random 0.1-0.5 s the daemon is killed with
# kill -9, the writers stop on their errors, the daemon restarts (with the
# round's fsync mode and replication batch size and the epoch's segment
# size; in some rounds it is killed once more during the catch-up),
# replication converges, and tests/crash/check.py gives its verdict over
# everything written in the epoch so far: every acknowledged message
# exactly once on its origin and on every replica, no duplicate anywhere,
# per-writer order intact, the write in flight at the kill present at most
# once. At the end, after a clean restart, the same over every epoch.
#
#   SEED=N          the seed (default below; printed; any string works)
#   CRASH_ROUNDS=N  rounds (default 20; docs/testing.md "crash-long" runs 200)
#   CRASH_EPOCH=N   rounds per epoch (default 10): each epoch writes to new
#                   topics (e<k>t0..e<k>t3), with a segment_bytes of its
#                   own (4K, 16K or 64M: rolls happen under the kills), so
#                   that the per-round check, which reads every message of
#                   the epoch, stays fast in long runs; the final check, after
#                   a clean restart, covers every epoch
#   CONVERGE_TIMEOUT=S  seconds replication may take to converge (default 20)
#
# Timing differs from run to run, so a seed fixes the parameters (writers,
# their messages and topics, how long before the kill, fsync mode, batch
# size, second kills), not the exact moment inside the daemon that the kill
# hits. A failure prints the seed and the round, and keeps $TMP (the data
# directories, the writers' logs, the daemon log) for inspection.

load helpers
load replication_helpers

CHECK=$BATS_TEST_DIRNAME/../crash/check.py
: "${SEED:=4521}"
: "${CRASH_ROUNDS:=20}"
# A loaded machine runs fewer rounds rather than running out of time: no
# round starts after CRASH_BUDGET seconds (default 60; 0 = no limit) once
# CRASH_MIN_ROUNDS (default 6) are done. The seed and rounds run are said.
: "${CRASH_BUDGET:=60}"
: "${CRASH_MIN_ROUNDS:=6}"
: "${CRASH_EPOCH:=10}"

STREAMS=a/s,b/s,c/s
# origin = every stream that must end up holding its messages
TOPOLOGY='a/s=a/s,b/s,c/s;b/s=b/s,a/s,c/s;c/s=c/s'
CONVERGE_TIMEOUT=${CONVERGE_TIMEOUT:-20}

teardown() {
	repl_teardown
}

# say TEXT: a line in the TAP output (shown also when the test passes).
say() {
	local line
	while IFS= read -r line; do
		echo "# $line"
	done <<<"$*" >&3
}

# crash_fail ROUND TEXT...: report a failure with the seed and round (keeps
# $TMP) and fail.
crash_fail() {
	local r=$1
	shift
	SFS_KEEP=1
	local msg="crash test FAILED: seed $SEED round $r: $*"
	say "$msg"
	say "reproduce: SEED=$SEED CRASH_ROUNDS=$CRASH_ROUNDS bats tests/e2e/45-crash.bats (data kept in $TMP)"
	echo "$msg" >&2
	return 1
}

# crash_conf FSYNC BATCH: write mount.conf for clusters a b c.
crash_conf() {
	SFS_MOUNT_EXTRA="segment_bytes = $SEGMENT\nfsync = $1\nfsync_interval_ms = 50"
	SFS_CONF_EXTRA="[replication]\nbatch_messages = $2"
	sfs_write_conf a b c
}

# epoch_topics EPOCH: the topics of that epoch, comma-separated.
epoch_topics() {
	echo "e$1t0,e$1t1,e$1t2,e$1t3"
}

# new_epoch EPOCH: create its topics on every stream and its log directory;
# sets TOPICS and LOGS.
new_epoch() {
	local s t
	TOPICS=$(epoch_topics "$1")
	LOGS=$TMP/crash/e$1
	mkdir -p "$LOGS"
	for s in a b c; do
		for t in ${TOPICS//,/ }; do
			touch "$M/$s/s/$t"
		done
	done
}

# check ROUND [ARGS...]: run the checker on the current epoch; its output
# goes to the TAP output.
check() {
	local r=$1 out rc=0
	shift
	out=$(python3 "$CHECK" check --mount "$M" --logs "$LOGS" \
		--topology "$TOPOLOGY" --topics "$TOPICS" --seed "$SEED" \
		--round "$r" "$@" 2>&1) || rc=$?
	say "$out"
	((rc == 0)) || echo "$out" >&2
	return "$rc"
}

# converge ROUND: wait (bounded) until the replicas hold what their
# sources hold; on a timeout show the checker's view and fail.
converge() {
	local r=$1 out
	if ! out=$(python3 "$CHECK" wait --mount "$M" --topology "$TOPOLOGY" \
		--topics "$TOPICS" --timeout "$CONVERGE_TIMEOUT" 2>&1); then
		echo "$out" >&2
		say "$out"
		check "$r" || true
		crash_fail "$r" "replication did not converge within ${CONVERGE_TIMEOUT}s"
	fi
}

# daemon_ok ROUND WHEN: the daemon log has no error line nor sanitizer report.
daemon_ok() {
	local errs
	if ! errs=$(sfs_log_errors); then
		echo "$errs" >&2
		sfs_log_tail
		crash_fail "$1" "daemon log has errors ($2): $(head -n 3 <<<"$errs")"
	fi
}

# ms: milliseconds since the epoch.
ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# kill_daemon ROUND: kill -9 the daemon, which must still be running.
kill_daemon() {
	if [[ -z $SFS_PID ]] || ! _sfs_alive "$SFS_PID"; then
		sfs_log_tail
		crash_fail "$1" "the daemon died by itself before the kill" \
			"(status ${SFS_STATUS:-?})"
	fi
	sfs_kill9 || crash_fail "$1" "kill -9 / unmount did not complete"
	if [[ $SFS_STATUS -ne 137 ]]; then
		sfs_log_tail
		crash_fail "$1" "the daemon exited with status $SFS_STATUS, not by the kill"
	fi
}

@test "crash: kill -9 during concurrent writes and multi-master replication loses and duplicates nothing (seeded)" {
	say "crash test: seed $SEED, $CRASH_ROUNDS rounds"
	SEGMENT=64M
	sfs_mktemp
	crash_conf os 4096
	sfs_start
	mkdir "$M/a/s" "$M/b/s" "$M/c/s"
	replicate a/s b/s
	replicate b/s a/s
	replicate b/s c/s

	local r i run_ms fsync batch kill2 nw seg pids rc t0 t1 t2 t3 t4 t5
	local started=$SECONDS epoch=0 last=0
	for ((r = 1; r <= CRASH_ROUNDS; r++)); do
		if ((CRASH_BUDGET > 0 && r > CRASH_MIN_ROUNDS && SECONDS - started > CRASH_BUDGET)); then
			say "crash test: ${CRASH_BUDGET} s budget (CRASH_BUDGET) spent: $((r - 1)) of $CRASH_ROUNDS rounds run"
			break
		fi
		last=$r
		read -r run_ms fsync batch kill2 nw seg < <(python3 "$CHECK" params \
			--seed "$SEED" --round "$r")
		if (((r - 1) % CRASH_EPOCH == 0)); then
			epoch=$((epoch + 1))
			new_epoch "$epoch"
			SEGMENT=$seg	# from the next restart on
			say "epoch $epoch: topics $TOPICS, segment_bytes $SEGMENT"
		fi
		t0=$(ms)

		# writers
		pids=()
		for ((i = 1; i <= nw; i++)); do
			bg_start python3 "$CHECK" writer --mount "$M" \
				--log "$LOGS/w$i.log" --id "$i" --round "$r" \
				--seed "$SEED" --streams "$STREAMS" --topics "$TOPICS" \
				--deadline 60
			pids+=("$BG_PID")
		done
		# each has had a write acknowledged (or failed: caught below)
		for ((i = 1; i <= nw; i++)); do
			wait_for -t 10 eval "grep -qs '^A $r ' '$LOGS/w$i.log' ||" \
				"gone ${pids[i - 1]}" ||
				crash_fail "$r" "writer $i acknowledged nothing in 10 s"
		done
		t1=$(ms)
		sleep "$(printf '0.%03d' "$run_ms")"

		kill_daemon "$r"
		t2=$(ms)

		# the writers stop on their own (EIO/ENOTCONN/ENOENT)
		for ((i = 1; i <= nw; i++)); do
			if ! wait_for -t 10 gone "${pids[i - 1]}"; then
				crash_fail "$r" "writer $i (pid ${pids[i - 1]}) did not stop" \
					"after the daemon died"
			fi
			rc=0
			wait "${pids[i - 1]}" || rc=$?
			if ((rc != 0)); then
				tail -n 3 "$LOGS/w$i.log" >&2
				crash_fail "$r" "writer $i exited with status $rc" \
					"(3: short write)"
			fi
		done
		REPL_BG=()

		crash_conf "$fsync" "$batch"
		sfs_start || crash_fail "$r" "restart after the kill failed"
		if ((kill2 >= 0)); then
			# once more, while replication catches up
			sleep "$(printf '0.%03d' "$kill2")"
			kill_daemon "$r"
			sfs_start || crash_fail "$r" "restart after the second kill failed"
		fi
		daemon_ok "$r" "after the restart"
		t3=$(ms)
		converge "$r"
		daemon_ok "$r" "after convergence"
		t4=$(ms)
		check "$r" || crash_fail "$r" "the checker found violations (above)"
		t5=$(ms)
		local k2=
		((kill2 < 0)) || k2=", second kill after $kill2 ms"
		say "  (round $r: $nw writers, kill after $run_ms ms$k2," \
			"then fsync=$fsync batch_messages=$batch;" \
			"$((t5 - t0)) ms: start $((t1 - t0)), kill $((t2 - t1))," \
			"restart $((t3 - t2)), converge $((t4 - t3)), check $((t5 - t4)))"
	done

	# a clean restart at the end changes nothing
	sfs_restart || crash_fail "$last" "clean restart at the end failed"
	converge "$last"
	daemon_ok "$last" "at the end"
	# every epoch at once
	local e
	TOPICS= LOGS=
	for ((e = 1; e <= epoch; e++)); do
		TOPICS+=${TOPICS:+,}$(epoch_topics "$e")
		LOGS+=${LOGS:+,}$TMP/crash/e$e
	done
	converge "$last"
	check "$last" --summary "$last" ||
		crash_fail "$last" "after the final clean restart"
	say "crash test took $((SECONDS - started)) s"
}
