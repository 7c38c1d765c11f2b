# tests/e2e/nats_helpers.bash - helpers of the tests that run several
# daemons on one NATS server (85-nats.bats, 86-nats-replication.bats).
# Load after helpers:
#     load helpers
#     load nats_helpers
# and call stop_second from teardown() before sfs_teardown.

M2= SFS_PID2=

# start_second: a second daemon on the same mount.conf clusters (same
# NATS), mounted on $M2 ($TMP/mnt2); SFS_PID2 its PID.
start_second() {
	M2=$TMP/mnt2
	mkdir -p "$M2"
	sed "s|^mountpoint = .*|mountpoint = $M2|" "$TMP/mount.conf" >"$TMP/mount2.conf"
	"$STREAMFS" -c "$TMP/mount2.conf" -f -l "$TMP/streamfs2.log" "$M2" \
		</dev/null >>"$TMP/streamfs2.log" 2>&1 3>&- &
	SFS_PID2=$!
	if ! wait_for -t 10 is_mounted "$M2"; then
		cat "$TMP/streamfs2.log" >&2
		return 1
	fi
}

# stop_second: unmount $M2 and wait (bounded) for its daemon; fails if it
# did not exit cleanly or logged an error.
stop_second() {
	[[ -n $SFS_PID2 ]] || return 0
	local fail=0 i st=0
	is_mounted "$M2" && { fusermount3 -u "$M2" || fusermount3 -uz "$M2"; }
	for ((i = 0; i < 200; i++)); do
		_sfs_alive "$SFS_PID2" || break
		sleep 0.05
	done
	if _sfs_alive "$SFS_PID2"; then
		echo "stop_second: still running 10 s after unmount" >&2
		kill -9 "$SFS_PID2"
		fail=1
	fi
	wait "$SFS_PID2" 2>/dev/null || st=$?
	[[ $st -eq 0 ]] || { echo "stop_second: exit status $st" >&2; fail=1; }
	if ! sfs_file_errors "$TMP/streamfs2.log" "${SFS_LOG_ALLOW:-}"; then
		fail=1
	fi
	((fail)) && tail -n 50 "$TMP/streamfs2.log" >&2
	SFS_PID2=
	return "$fail"
}

