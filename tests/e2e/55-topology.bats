#!/usr/bin/env bats
# 55-topology.bats - the randomized replication topology test (issue 5,
# item 2; docs/control-files.md, docs/replication.md; docs/testing.md, "The topology test").
#
# A seed makes a random replication graph of 3-6 streams over 2-3 local
# clusters (pair, chain, ring, full mesh, many-to-one, one-to-many, or a
# mix), wired through .replicas and .upstreams. Then TOPO_ROUNDS rounds:
# concurrent producers append tagged messages ("s<stream>-<producer>-<seq>")
# to several streams while, at random moments, edges are paused, resumed,
# added, removed, removed and added again, switched to synchronous and
# back, refused for a while (the source taken out of .upstreams), and
# .replicas rewritten or replaced with `>`; each round ends with nothing, a
# clean restart, a kill -9, or a restart armed with a fault point
# (STREAMFS_FAULT, fs/fault.h: the sanitizer daemon SIGKILLs itself there
# later on). At the end every edge is resumed, replication must go quiet
# (bounded), and tests/topology/topo.py checks every stream against the
# model: exactly the messages of the streams that reach it through the
# final edges, nothing from a stream that never had a path, each message
# once, each origin's messages in their original order. Then a clean
# restart must change nothing. The verdict and the seed are printed.
#
#   SEED=S          run only seed S (in the first case; the others skip)
#   TOPO_ROUNDS=N   rounds per seed (default 8; docs/testing.md: long run)
#   TOPO_SETTLE=S   seconds replication may take to go quiet (default 30)
#
# A seed fixes the graph, the producers, the changes and the restarts, not
# their exact timing against the daemon's threads. A failure prints the
# seed and keeps $TMP (data, producer logs and events.log under topo/,
# streamfs.log). A seed that found a bug gets a case of its own below once
# the bug is fixed.

load helpers
load replication_helpers

TOPO=$BATS_TEST_DIRNAME/../topology/topo.py
: "${TOPO_ROUNDS:=8}"
: "${TOPO_SETTLE:=30}"

teardown() {
	repl_teardown
}

# say TEXT: lines in the TAP output (shown also when the test passes).
say() {
	local line
	while IFS= read -r line; do
		echo "# $line"
	done <<<"$*" >&3
}

# topo_fail TEXT...: report a failure with the seed (keeps $TMP) and fail.
topo_fail() {
	SFS_KEEP=1
	local msg="topology test FAILED: seed $TOPO_SEED: $*"
	say "$msg"
	say "reproduce: SEED=$TOPO_SEED TOPO_ROUNDS=$TOPO_ROUNDS bats tests/e2e/55-topology.bats (data kept in $TMP)"
	if [[ -s $D/events.log ]]; then
		echo "---- $D/events.log (last 40 lines) ----" >&2
		tail -n 40 "$D/events.log" >&2
	fi
	echo "$msg" >&2
	return 1
}

# faults_reached: how many times the log says a fault point was reached.
faults_reached() {
	grep -c 'fault point .* reached' "$TMP/streamfs.log" || true
}

# alive: the daemon runs.
alive() {
	[[ -n $SFS_PID ]] && _sfs_alive "$SFS_PID"
}

# fault_fired: the armed fault point has killed the daemon since it was armed.
fault_fired() {
	[[ -n $ARMED ]] && (($(faults_reached) > ARMED_SEEN))
}

# topo_start [FAULT]: start the daemon (armed with FAULT, NAME:N, if given).
# An armed daemon that dies by its fault before it has mounted is
# started again without it. (faults: topo_run's counter.)
topo_start() {
	if [[ -n ${1:-} ]]; then
		ARMED=$1 ARMED_SEEN=$(faults_reached)
		if STREAMFS_FAULT=$1 sfs_start 2>/dev/null; then
			return 0
		fi
		fault_fired || topo_fail "armed start ($1) failed"
		say "  fault point $1 reached while starting"
		faults=$((faults + 1))
		sfs_kill9
	fi
	ARMED=
	sfs_start || topo_fail "start failed"
}

# topo_stop: clean stop; an armed daemon may die by its fault meanwhile.
topo_stop() {
	if sfs_stop 2>"$TMP/stop.err"; then
		return 0
	fi
	if fault_fired; then
		say "  fault point $ARMED reached during the clean stop"
		faults=$((faults + 1))
		sfs_kill9
		return 0
	fi
	cat "$TMP/stop.err" >&2
	topo_fail "clean stop failed"
}

# topo_run SEED: the whole test for one seed.
topo_run() {
	TOPO_SEED=$1 ARMED='' ARMED_SEEN=0
	local started=$SECONDS
	sfs_mktemp
	D=$TMP/topo
	mkdir -p "$D"
	eval "$(python3 "$TOPO" plan --seed "$TOPO_SEED" --state "$D")"
	say "topology test: seed $TOPO_SEED, $TOPO_ROUNDS rounds: $TOPO_DESC"
	SFS_MOUNT_EXTRA="segment_bytes = $TOPO_SEGMENT"
	SFS_CONF_EXTRA="[replication]\nbatch_messages = $TOPO_BATCH"
	# shellcheck disable=SC2086
	sfs_write_conf $TOPO_CLUSTERS
	topo_start
	python3 "$TOPO" setup --mount "$M" --state "$D" ||
		topo_fail "setting up the streams and edges failed"

	local r end kill_ms fault desc driver rc note
	local kills=0 restarts=0 faults=0
	for ((r = 1; r <= TOPO_ROUNDS; r++)); do
		read -r end kill_ms fault desc < <(python3 "$TOPO" params \
			--state "$D" --round "$r")
		note=
		bg_start python3 "$TOPO" round --mount "$M" --state "$D" --round "$r"
		driver=$BG_PID
		if [[ $end == kill ]]; then
			sleep "$(printf '%d.%03d' $((kill_ms / 1000)) $((kill_ms % 1000)))"
			if ! alive; then
				fault_fired || topo_fail "round $r: the daemon died" \
					"before the kill, and not by a fault point"
				note+="; but first the armed fault point $ARMED killed the daemon"
				faults=$((faults + 1))
			fi
			sfs_kill9 || topo_fail "round $r: kill -9 did not complete"
			kills=$((kills + 1))
		fi
		wait_for -t 60 gone "$driver" ||
			topo_fail "round $r: the driver did not finish within 60 s"
		rc=0
		wait "$driver" || rc=$?
		REPL_BG=()
		if [[ $end != kill && $rc -ne 0 && -n $ARMED ]]; then
			# writes failed: the fault point may be killing the daemon
			wait_for -t 3 gone "$SFS_PID" 2>/dev/null || true
		fi
		if [[ $end != kill ]] && ! alive; then
			fault_fired || topo_fail "round $r: the daemon died" \
				"(status ${SFS_STATUS:-?}), and not by a fault point"
			note+="; but first the armed fault point $ARMED killed the daemon"
			faults=$((faults + 1))
			sfs_kill9
			ARMED=
			topo_start
		elif [[ $end == kill ]]; then
			topo_start
		elif ((rc != 0)); then
			topo_fail "round $r: a write failed while the daemon ran" \
				"(see events.log below)"
		else
			case $end in
			restart)
				topo_stop
				topo_start
				restarts=$((restarts + 1))
				;;
			fault)
				topo_stop
				topo_start "$fault"
				note+=", armed with $fault"
				;;
			esac
		fi
		say "  round $r: ${desc//_/ }; end: $end$note"
	done

	# disarm, make every edge whole and resumed, wait until quiet
	if [[ -n $ARMED ]]; then
		topo_stop
		topo_start
	fi
	local out
	out=$(python3 "$TOPO" settle --mount "$M" --state "$D" \
		--timeout "$TOPO_SETTLE" 2>&1) || {
		echo "$out" >&2
		say "$out"
		python3 "$TOPO" check --mount "$M" --state "$D" >&2 || true
		topo_fail "replication did not go quiet within ${TOPO_SETTLE}s"
	}
	out=$(python3 "$TOPO" check --mount "$M" --state "$D" \
		--save-counts "$D/counts.json" 2>&1) || {
		say "$out"
		echo "$out" >&2
		topo_fail "the checker found violations (above)"
	}
	say "$out"

	# a clean restart changes nothing
	sfs_restart || topo_fail "the final clean restart failed"
	out=$(python3 "$TOPO" settle --mount "$M" --state "$D" \
		--timeout "$TOPO_SETTLE" 2>&1) ||
		topo_fail "not quiet after the final restart: $out"
	out=$(python3 "$TOPO" check --mount "$M" --state "$D" \
		--expect-counts "$D/counts.json" 2>&1) || {
		say "$out"
		echo "$out" >&2
		topo_fail "after the final clean restart"
	}
	local errs
	errs=$(sfs_log_errors) || {
		echo "$errs" >&2
		topo_fail "the daemon log has errors: $(head -n 3 <<<"$errs")"
	}
	say "topology test: seed $TOPO_SEED: OK ($kills kills, $restarts clean" \
		"restarts, $faults fault points reached; $((SECONDS - started)) s)"
}

# topo_case N SEED: the Nth fixed case; with SEED set, the first case runs
# that seed instead and the others skip.
topo_case() {
	if [[ -n ${SEED:-} ]]; then
		(($1 == 1)) || skip "SEED=$SEED given: only the first case runs"
		topo_run "$SEED"
	else
		topo_run "$2"
	fi
}

# The fixed seeds of `make test`; regression seeds are added below them.
@test "random replication topology: seed 5 (or SEED)" {
	topo_case 1 5
}

@test "random replication topology: seed 14" {
	topo_case 2 14
}

@test "random replication topology: seed 12" {
	topo_case 3 12
}
