#!/usr/bin/env bats
# 85-nats-mount.bats - how a NATS-backed cluster is mounted and shown.
# The daemon in the background (without -f) (docs/operating.md, "Running
# in the background"): it forks before libnats starts its threads, so
# NATS answers it; the command returns once mounted (status 0), or with
# the start-up error on its stderr and status 1 when NATS cannot be
# reached (each case finds the daemon's PID in its log and waits for its
# end after the unmount). df of a path in a cluster shows that cluster's
# figures (docs/filesystem.md, "statfs"): a NATS-backed one's JetStream
# account beside a local one's disk in the same mount. A stop whose close
# of the NATS connection never returns (a test-only stall, fs/fault.h)
# ends nats_timeout_ms later (docs/nats.md, Limits).

SFS_HOME=nats
load helpers
load nats_helpers

export LC_ALL=C

teardown() {
	local fail=0
	if [[ -n ${BG_PID:-} ]] && kill -0 "$BG_PID" 2>/dev/null; then
		fusermount3 -u "$M" 2>/dev/null || fusermount3 -uz "$M" 2>/dev/null || true
		wait_for -t 10 eval "! kill -0 $BG_PID 2>/dev/null" || { kill -9 "$BG_PID"; fail=1; }
	fi
	sfs_teardown || fail=1
	return "$fail"
}

# bg_pid: the PID the background daemon logged with its mount line.
bg_pid() {
	sed -n 's/.*streamfs\[\([0-9]*\)\] info: streamfs .* mounted.*/\1/p' "$TMP/bg.log" | tail -n 1
}

@test "in the background (no -f) on a NATS-backed cluster: the command returns 0 once mounted, and appends, reads and a second topic work through NATS" {
	sfs_mktemp
	sfs_nats_start
	sfs_write_conf tokyo
	run timeout 30 "$STREAMFS" -c "$TMP/mount.conf" -l "$TMP/bg.log" 3>&-
	echo "$output"
	[ "$status" -eq 0 ]
	BG_PID=$(bg_pid)
	[ -n "$BG_PID" ]
	grep -q " $M fuse" /proc/mounts
	mkdir "$M/tokyo/s"
	echo one >>"$M/tokyo/s/t"
	printf 'two\nthree\n' >>"$M/tokyo/s/t"
	echo x >>"$M/tokyo/s/u"
	[ "$(cat "$M/tokyo/s/t")" = "$(printf 'one\ntwo\nthree')" ]
	[ "$(cat "$M/tokyo/s/u")" = x ]
	[ "$(ls "$M/tokyo/s")" = "$(printf 't\nu')" ]
	# no request to NATS timed out
	run grep -E "not acknowledged|did not answer| error: " "$TMP/bg.log"
	[ "$status" -ne 0 ]
	fusermount3 -u "$M"
	wait_for -t 10 eval "! kill -0 $BG_PID 2>/dev/null"
	grep -q "stopped cleanly" "$TMP/bg.log"
}

@test "in the background (no -f) with NATS unreachable: the command prints the start-up error and exits 1, nothing mounted" {
	sfs_mktemp
	local port
	port=$(_free_ports 1)
	SFS_NATS_URL="nats://127.0.0.1:$port"
	sfs_write_conf tokyo
	run timeout 30 "$STREAMFS" -c "$TMP/mount.conf" -l "$TMP/bg.log" 3>&-
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"[cluster tokyo]"*"nats"* ]]
	! grep -q " $M fuse" /proc/mounts
}

@test "df of a path in a NATS-backed cluster shows its JetStream account, of a path in a local cluster of the same mount its disk" {
	sfs_mktemp
	sfs_nats_start
	sfs_write_conf tokyo
	{
		echo "[cluster sanfrancisco]"
		echo "data = $TMP/data/sanfrancisco"
	} >>"$TMP/mount.conf"
	sfs_start
	local a sz la lsz da dsz
	# the account without a limit: used plus 1 PiB free
	read -r a sz < <(stat -f -c '%a %S' "$M/tokyo")
	[ $((a * sz)) -eq $((1 << 50)) ]
	mkdir "$M/sanfrancisco/s"
	read -r la lsz < <(stat -f -c '%a %S' "$M/sanfrancisco/s")
	read -r da dsz < <(stat -f -c '%a %S' "$TMP/data")
	# the local cluster's disk: what the data directory's filesystem has
	# free (within 64 MiB: other writers on the machine)
	local diff=$((la * lsz - da * dsz))
	[ "${diff#-}" -lt $((64 << 20)) ]
	[ $((la * lsz)) -ne $((1 << 50)) ]
}

# log_ms TEXT: the time (ms since the epoch) of the first line of the
# daemon log that holds TEXT.
log_ms() {
	local ts
	ts=$(grep -m 1 -F -- "$1" "$TMP/streamfs.log" | cut -d' ' -f1) || return 1
	[[ -n $ts ]] && date -d "$ts" +%s%3N
}

@test "a stop whose close of the NATS connection never returns (a test-only stall, as libnats 3.4.1's close once hung) ends about nats_timeout_ms later: one warning, exit status 0, no leak report" {
	SFS_NATS_EXTRA="nats_timeout_ms = 1000"
	STREAMFS_FAULT_STALL=nats-close sfs_setup tokyo
	mkdir "$M/tokyo/s"
	echo a >>"$M/tokyo/s/t"
	[ "$(cat "$M/tokyo/s/t")" = a ]
	# sfs_stop fails on a non-zero exit status (a sanitizer's report)
	sfs_stop
	grep -q "fault stall nats-close reached" "$TMP/streamfs.log"
	grep -q "cluster tokyo: the NATS connection did not close within 1000 ms" "$TMP/streamfs.log"
	grep -q "stopped cleanly" "$TMP/streamfs.log"
	# not waited for once more at libnats' teardown (5 s more, in vain,
	# before): well under 1 + 5 s from the unmount (4 s for a loaded machine)
	local t0 t1
	t0=$(log_ms "info: unmounting")
	t1=$(log_ms "info: stopped cleanly")
	echo "stop took $((t1 - t0)) ms" >&2
	[ $((t1 - t0)) -lt 5000 ]
}
