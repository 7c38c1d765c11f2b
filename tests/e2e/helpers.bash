# tests/e2e/helpers.bash - shared library of the end-to-end (bats) tests:
# start a streamfs daemon on a scratch directory, stop, kill and restart it,
# wait for asynchronous effects, and check what it left behind.
#
# Use in a .bats file:
#     load helpers
#     setup()    { sfs_setup; }          # or: sfs_setup sanfrancisco newyork paris
#     teardown() { sfs_teardown; }
#     @test "..." { echo hi >> "$M/sanfrancisco/s/t"; ... }
#
# Environment (set by tests/run.sh / make test):
#   STREAMFS      the daemon binary (default: build/asan/streamfs)
#   STREAMFS_SRC  the source tree
# Before sfs_setup a test may set:
#   SFS_MOUNT_EXTRA  lines added to the [mount] section (e.g. "max_message = 64")
#   SFS_CONF_EXTRA   text appended to mount.conf (e.g. "[replication]\n...")
#   SFS_NATS_EXTRA   lines added to each NATS cluster's section
#                    (e.g. "nats_timeout_ms = 1000")
#   SFS_NATS_MAX_PAYLOAD  the test nats-server's max_payload (default
#                    8MB; "default": nats-server's own, 1 MiB)
#   SFS_NATS_CONF_EXTRA  lines added to the test nats-server's configuration
#   SFS_LOG_ALLOW    an extended regex: log lines matching it are not
#                    counted as errors by sfs_teardown
#   SFS_KEEP=1       keep $TMP after the test (for debugging)
#   SFS_HOME         where sfs_setup's clusters live: "local" (data =, the
#                    default) or "nats" (nats =, a nats-server of the test's
#                    own: sfs_nats_start). A file named 8?-nats-*.bats, a
#                    symlink to another suite, runs that suite with "nats"
#                    (docs/testing.md); sfs_local_only skips a case there.
# After sfs_setup:
#   TMP   the scratch directory: $TMP/mount.conf, $TMP/data/<cluster>,
#         $TMP/mnt, $TMP/streamfs.log (daemon log, stdout and stderr)
#   M     the mountpoint ($TMP/mnt)
#   SFS_PID  the daemon's PID while it runs (empty when stopped)
#   SFS_STATUS  exit status of the last daemon stopped by sfs_stop
#
#   SFS_NATS_URL, SFS_NATS_PID, SFS_NATS_PORT  the test's nats-server
#
# Every wait is bounded. Only the PID this library started is ever signalled.

: "${STREAMFS_SRC:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${STREAMFS:=$STREAMFS_SRC/build/asan/streamfs}"
export STREAMFS STREAMFS_SRC

# TMP may come from the environment (some systems set TMP=/tmp): forget
# it, so that sfs_teardown only ever removes a directory sfs_mktemp made.
unset TMP M
SFS_OWNED_TMP=
SFS_PID=
SFS_NATS_PID= SFS_NATS_URL= SFS_NATS_PORT=
if [[ -z ${SFS_HOME:-} ]]; then
	case ${BATS_TEST_FILENAME##*/} in
	8?-nats-*) SFS_HOME=nats ;;
	*) SFS_HOME=local ;;
	esac
fi
SFS_STATUS=
SFS_MOUNT_TIMEOUT=${SFS_MOUNT_TIMEOUT:-10}	# seconds to mount
SFS_EXIT_TIMEOUT=${SFS_EXIT_TIMEOUT:-10}	# seconds to exit after unmount

# sfs_log_tail [all]: print the daemon log (for failure messages), to
# stderr; with "all", also the other daemons' and the nats-servers' logs
# of the test (a failed test shows them all, so that a flake in CI can be
# understood from its output alone).
sfs_log_tail() {
	local f
	[[ -n ${TMP:-} ]] || return 0
	for f in "$TMP/streamfs.log" ${1:+"$TMP"/streamfs?*.log "$TMP"/nats/nats.log "$TMP"/nats3/n*/nats.log}; do
		[[ -f $f ]] || continue
		local n=100
		[[ $f == */nats.log ]] && n=40
		echo "---- $f (last $n lines) ----" >&2
		tail -n "$n" "$f" >&2
		echo "---- end of log ----" >&2
	done
}

# is_mounted DIR: true if DIR is a FUSE mount point (per /proc/mounts).
is_mounted() {
	MT_PATH=$(_mount_escape "$1") awk '$2 == ENVIRON["MT_PATH"] && $3 ~ /^fuse/ { found = 1 } END { exit !found }' \
		/proc/mounts
}

# is_unmounted DIR: true if nothing at all is mounted on DIR.
is_unmounted() {
	MT_PATH=$(_mount_escape "$1") awk '$2 == ENVIRON["MT_PATH"] { found = 1 } END { exit found }' /proc/mounts
}

# _mount_escape PATH: PATH as /proc/mounts writes it (proc(5): octal escapes
# for backslash, space, tab and newline).
_mount_escape() {
	local p=${1//\\/\\134}
	p=${p// /\\040}
	p=${p//$'\t'/\\011}
	p=${p//$'\n'/\\012}
	printf '%s' "$p"
}

# _sfs_alive PID: true while PID runs (a zombie counts as exited).
_sfs_alive() {
	local pid=$1 state
	kill -0 "$pid" 2>/dev/null || return 1
	state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ $state != Z && $state != X ]]
}

# wait_for [-t SECONDS] CMD...: run CMD every 50 ms until it succeeds;
# fail (status 1, with a message) after SECONDS (default 5).
wait_for() {
	local timeout=5
	if [[ $1 == -t ]]; then
		timeout=$2
		shift 2
	fi
	local deadline=$((SECONDS + timeout)) tries=0
	# SECONDS has 1 s granularity: also count steps, so the bound holds.
	local max_tries=$((timeout * 20 + 1))
	while :; do
		if "$@"; then
			return 0
		fi
		tries=$((tries + 1))
		if ((tries >= max_tries || SECONDS > deadline)); then
			echo "wait_for: timed out after ${timeout}s: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# sfs_write_conf [CLUSTER...]: write $TMP/mount.conf with local clusters.
sfs_write_conf() {
	local c
	{
		echo "; written by tests/e2e/helpers.bash"
		echo "[mount]"
		echo "mountpoint = $TMP/mnt"
		[[ -n ${SFS_MOUNT_EXTRA:-} ]] && printf '%b\n' "$SFS_MOUNT_EXTRA"
		for c in "$@"; do
			echo "[cluster $c]"
			if [[ $SFS_HOME == nats ]]; then
				echo "nats = $SFS_NATS_URL"
				[[ -n ${SFS_NATS_EXTRA:-} ]] && printf '%b\n' "$SFS_NATS_EXTRA"
			else
				echo "data = $TMP/data/$c"
			fi
		done
		[[ -n ${SFS_CONF_EXTRA:-} ]] && printf '%b\n' "$SFS_CONF_EXTRA"
		true
	} >"$TMP/mount.conf"
}

# sfs_mktemp: make the scratch directory $TMP with $TMP/mnt and $TMP/data,
# and set M=$TMP/mnt, without writing a config or starting anything (for
# tests that run streamfs themselves; sfs_teardown still cleans up).
sfs_mktemp() {
	TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/sfs.XXXXXX")
	SFS_OWNED_TMP=$TMP
	mkdir -p "$TMP/mnt" "$TMP/data"
	M=$TMP/mnt
	export TMP M
}

# sfs_setup [CLUSTER...]: make $TMP, write mount.conf with the given local
# clusters (default: sanfrancisco newyork), start the daemon, wait for the
# mount. Sets TMP, M and SFS_PID. Call from setup() or a test, not through
# `run` (a subshell would lose SFS_PID) nor from setup_file().
sfs_setup() {
	local clusters=("$@")
	[[ ${#clusters[@]} -gt 0 ]] || clusters=(sanfrancisco newyork)
	sfs_mktemp
	if [[ $SFS_HOME == nats ]]; then
		sfs_nats_start || return 1
	fi
	sfs_write_conf "${clusters[@]}"
	sfs_start
}

# sfs_local_only [WHY]: skip the current case unless the clusters are local
# (it looks at the data directories, say).
sfs_local_only() {
	[[ $SFS_HOME == local ]] || skip "${1:-looks at the files of a local cluster}"
}

# sfs_nats_start [PORT]: start a nats-server with JetStream for this test,
# on 127.0.0.1 and PORT (default: any free port), storing in $TMP/nats
# (kept across a restart on the same port), max_payload $SFS_NATS_MAX_PAYLOAD
# (default 8MB; "default": nats-server's own, 1 MiB), then the lines of
# SFS_NATS_CONF_EXTRA (printf %b: accounts, limits). Sets
# SFS_NATS_PID, SFS_NATS_PORT and SFS_NATS_URL; waits (bounded) until it
# listens. sfs_teardown stops it.
sfs_nats_start() {
	local port=${1:--1} i
	mkdir -p "$TMP/nats"
	: >"$TMP/nats/nats.conf"
	[[ ${SFS_NATS_MAX_PAYLOAD:-8MB} == default ]] ||
		printf 'max_payload: %s\n' "${SFS_NATS_MAX_PAYLOAD:-8MB}" >"$TMP/nats/nats.conf"
	[[ -z ${SFS_NATS_CONF_EXTRA:-} ]] || printf '%b\n' "$SFS_NATS_CONF_EXTRA" >>"$TMP/nats/nats.conf"
	: >"$TMP/nats/nats.log"
	nats-server -c "$TMP/nats/nats.conf" -js -sd "$TMP/nats/js" -a 127.0.0.1 -p "$port" \
		-l "$TMP/nats/nats.log" </dev/null >/dev/null 2>&1 3>&- &
	SFS_NATS_PID=$!
	for ((i = 0; i < 200; i++)); do
		SFS_NATS_PORT=$(sed -n 's/.*Listening for client connections on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
			"$TMP/nats/nats.log" | tail -n 1)
		if [[ -n $SFS_NATS_PORT ]] && grep -q 'Server is ready' "$TMP/nats/nats.log"; then
			SFS_NATS_URL=nats://127.0.0.1:$SFS_NATS_PORT
			export SFS_NATS_URL SFS_NATS_PORT
			return 0
		fi
		if ! _sfs_alive "$SFS_NATS_PID"; then
			break
		fi
		sleep 0.05
	done
	echo "sfs_nats_start: nats-server did not start:" >&2
	tail -n 20 "$TMP/nats/nats.log" >&2
	sfs_nats_stop
	return 1
}

# stop_pid PID [SIG]: send PID signal SIG (default TERM), wait (10 s at
# most) for it to exit, then SIGKILL it; reap it if it is our child. For
# processes the test started (nats-servers), by their PID.
stop_pid() {
	local pid=$1 sig=${2:-TERM} i
	[[ -n $pid ]] || return 0
	kill "-$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < 200; i++)); do
		_sfs_alive "$pid" || break
		sleep 0.05
	done
	if _sfs_alive "$pid"; then
		kill -9 "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# sfs_nats_stop: stop the test's nats-server (SIGTERM, then SIGKILL after
# 10 s), by its PID.
sfs_nats_stop() {
	[[ -n $SFS_NATS_PID ]] || return 0
	stop_pid "$SFS_NATS_PID"
	SFS_NATS_PID=
}

# sfs_start: start the daemon on $TMP/mount.conf (with -o $SFS_FUSE_OPTS
# when set) and wait (bounded) until $M is mounted. Fails, showing the log, if the daemon exits or the mount
# does not appear.
sfs_start() {
	if [[ -n $SFS_PID ]] && _sfs_alive "$SFS_PID"; then
		echo "sfs_start: daemon already running (pid $SFS_PID)" >&2
		return 1
	fi
	if [[ ! -x $STREAMFS ]]; then
		echo "sfs_start: STREAMFS=$STREAMFS is not an executable (make asan)" >&2
		return 1
	fi
	# 3>&- : bats waits for whatever holds its fd 3 open.
	"$STREAMFS" -c "$TMP/mount.conf" -f -l "$TMP/streamfs.log" \
		${SFS_FUSE_OPTS:+-o "$SFS_FUSE_OPTS"} "$M" \
		</dev/null >>"$TMP/streamfs.log" 2>&1 3>&- &
	SFS_PID=$!
	SFS_STATUS=
	local i
	for ((i = 0; i < SFS_MOUNT_TIMEOUT * 20; i++)); do
		if is_mounted "$M"; then
			return 0
		fi
		if ! _sfs_alive "$SFS_PID"; then
			SFS_STATUS=0
			wait "$SFS_PID" 2>/dev/null || SFS_STATUS=$?
			echo "sfs_start: streamfs exited with status $SFS_STATUS before mounting" >&2
			SFS_PID=
			sfs_log_tail
			return 1
		fi
		sleep 0.05
	done
	echo "sfs_start: $M not mounted after ${SFS_MOUNT_TIMEOUT}s" >&2
	sfs_log_tail
	return 1
}

# _sfs_reap: wait (bounded) for $SFS_PID to exit and collect its status in
# SFS_STATUS. Returns 1 if it did not exit in time.
_sfs_reap() {
	local i
	for ((i = 0; i < SFS_EXIT_TIMEOUT * 20; i++)); do
		_sfs_alive "$SFS_PID" || break
		sleep 0.05
	done
	if _sfs_alive "$SFS_PID"; then
		return 1
	fi
	SFS_STATUS=0
	wait "$SFS_PID" 2>/dev/null || SFS_STATUS=$?	# (set -e safe)
	# 127: not a child of this shell (started elsewhere); status unknown
	[[ $SFS_STATUS -eq 127 ]] && SFS_STATUS=0
	SFS_PID=
	return 0
}

# _sfs_unmount_lazy: detach $M even if busy or its daemon is gone.
_sfs_unmount_lazy() {
	if is_mounted "$M"; then
		fusermount3 -uz "$M" 2>/dev/null || umount -l "$M" 2>/dev/null || true
	fi
}

# sfs_stop: unmount cleanly (fusermount3 -u, or -uz if busy), wait (bounded)
# for the daemon to exit. Fails if it does not exit in time (it is then
# killed) or exits with a non-zero status.
sfs_stop() {
	local busy=
	if is_mounted "$M"; then
		if ! fusermount3 -u "$M" 2>/dev/null; then
			echo "sfs_stop: $M busy, unmounting lazily" >&2
			busy=" (the mount was busy: is a process still using it?)"
			fusermount3 -uz "$M"
		fi
	fi
	[[ -n $SFS_PID ]] || return 0
	if ! _sfs_reap; then
		echo "sfs_stop: streamfs (pid $SFS_PID) still running" \
			"${SFS_EXIT_TIMEOUT}s after unmount$busy; killing it" >&2
		sfs_kill9
		sfs_log_tail
		return 1
	fi
	if [[ $SFS_STATUS -ne 0 ]]; then
		echo "sfs_stop: streamfs exited with status $SFS_STATUS" >&2
		sfs_log_tail
		return 1
	fi
	return 0
}

# sfs_kill9: kill -9 the daemon (a crash), then detach the dead mount.
sfs_kill9() {
	if [[ -n $SFS_PID ]]; then
		kill -9 "$SFS_PID" 2>/dev/null || true
		if ! _sfs_reap; then
			echo "sfs_kill9: pid $SFS_PID survived kill -9" >&2
			return 1
		fi
	fi
	_sfs_unmount_lazy
	wait_for -t "$SFS_EXIT_TIMEOUT" is_unmounted "$M"
}

# sfs_restart: clean stop, then start again on the same data.
sfs_restart() {
	sfs_stop && sfs_start
}

# The log lines that show a failure of a daemon: level "error", or any
# sanitizer report (an extended regex; also used by netns_helpers.bash).
SFS_LOG_ERROR_RE=' error: |AddressSanitizer|LeakSanitizer|runtime error:'

# sfs_file_errors LOG [ALLOW]: print the lines of daemon log LOG that match
# SFS_LOG_ERROR_RE and not the extended regex ALLOW. Status 0 if there are
# none (or no LOG).
sfs_file_errors() {
	local log=$1 allow=${2:-} bad
	[[ -f $log ]] || return 0
	bad=$(grep -aE -- "$SFS_LOG_ERROR_RE" "$log" || true)
	if [[ -n $bad && -n $allow ]]; then
		bad=$(grep -avE -- "$allow" <<<"$bad" || true)
	fi
	[[ -z $bad ]] && return 0
	printf '%s\n' "$bad"
	return 1
}

# sfs_log_errors: print the error lines of $TMP/streamfs.log, less those
# matching SFS_LOG_ALLOW. Status 0 if there are none.
sfs_log_errors() {
	sfs_file_errors "$TMP/streamfs.log" "${SFS_LOG_ALLOW:-}"
}

# sfs_teardown: for teardown(). Stops the daemon if running; fails the test
# if the stop was unclean, if a mount is left behind, or if the log has an
# error line or a sanitizer report (the log is then printed). Removes $TMP.
sfs_teardown() {
	local fail=0
	[[ -n ${TMP:-} && $TMP == "$SFS_OWNED_TMP" ]] || return 0
	if [[ -n $SFS_PID ]] || is_mounted "$M"; then
		sfs_stop || fail=1
	fi
	if is_mounted "$M"; then
		echo "sfs_teardown: $M is still mounted" >&2
		fail=1
		_sfs_unmount_lazy
	fi
	sfs_nats_stop
	local errs
	if ! errs=$(sfs_log_errors); then
		echo "sfs_teardown: the daemon log has errors:" >&2
		printf '%s\n' "$errs" >&2
		fail=1
	fi
	if ((fail)); then
		sfs_log_tail all
	elif [[ ${BATS_TEST_COMPLETED:-} != 1 ]]; then
		sfs_log_tail all	# the test itself failed
	fi
	if [[ ${SFS_KEEP:-0} == 1 ]]; then
		echo "sfs_teardown: kept $TMP" >&2
	elif ! is_mounted "$M"; then
		# --one-file-system: never reach into a mount that is still there
		rm -rf --one-file-system "$TMP"
	fi
	TMP= SFS_OWNED_TMP=
	return "$fail"
}
