# tests/e2e/nats_helpers.bash - helpers of the tests that run several
# daemons on one NATS server (85-nats.bats, 86-nats-replication.bats), and
# a cluster of three nats-servers (87-nats-cluster.bats).
# Load after helpers:
#     load helpers
#     load nats_helpers
# and call stop_second from teardown() before sfs_teardown.

M2= SFS_PID2=

# in_fuse_wait PID: PID waits in the kernel for a FUSE answer to a
# write(2) (system call 1 on x86-64, 64 on arm64).
in_fuse_wait() {
	local sc
	[[ $(cat "/proc/$1/wchan" 2>/dev/null) == *request_wait_answer* ]] || return 1
	read -r sc _ <"/proc/$1/syscall" 2>/dev/null || return 1
	[[ $sc == "$(getconf LONG_BIT >/dev/null; uname -m | sed 's/x86_64/1/;s/aarch64/64/')" ]]
}

# sigint_in_fuse_wait PID: PID no longer ignores SIGINT (a background job
# of a shell without job control starts with it ignored, until the
# program sets its own) and waits for a FUSE answer to a write(2): a
# SIGINT sent now reaches it there.
sigint_in_fuse_wait() {
	local ign
	ign=$(sed -n 's/^SigIgn:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null) || return 1
	[[ -n $ign ]] && ((!(16#$ign & 2))) && in_fuse_wait "$1"
}

# start_second [CONF]: a second daemon on the same mount.conf clusters
# (same NATS), or on the clusters of file CONF, mounted on $M2
# ($TMP/mnt2); SFS_PID2 its PID.
start_second() {
	M2=$TMP/mnt2
	mkdir -p "$M2"
	sed "s|^mountpoint = .*|mountpoint = $M2|" "${1:-$TMP/mount.conf}" >"$TMP/mount2.conf"
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


# ---- a cluster of three nats-servers (87-nats-cluster.bats) ----------------
#
# nats3_start: three nats-servers with JetStream, one NATS cluster
# ("sfs") with routes between them, on free 127.0.0.1 ports, each storing
# in $TMP/nats3/nI/js; waits (bounded) until JetStream has its metadata
# leader. SFS_NATS_URL names all three (for sfs_write_conf). NATS3_PID[i]
# is server i's PID while it runs, NATS3_PORT[i] its client port.
# nats3_stop_all stops them (teardown).
NATS3_PID=() NATS3_PORT=() NATS3_CPORT=()

# _free_ports N: N free TCP ports of 127.0.0.1, one a line (held at once,
# so all differ).
_free_ports() {
	python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss:
	s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

nats3_start() {
	local ports i j
	mapfile -t ports < <(_free_ports 6)
	[[ ${#ports[@]} -eq 6 ]] || return 1
	for i in 0 1 2; do
		NATS3_PORT[i]=${ports[i]}
		NATS3_CPORT[i]=${ports[i + 3]}
	done
	for i in 0 1 2; do
		mkdir -p "$TMP/nats3/n$i"
		{
			echo "server_name: n$i"
			echo "listen: 127.0.0.1:${NATS3_PORT[i]}"
			echo "max_payload: 8MB"
			echo "jetstream { store_dir: \"$TMP/nats3/n$i/js\" }"
			echo "cluster {"
			echo "  name: sfs"
			echo "  listen: 127.0.0.1:${NATS3_CPORT[i]}"
			echo "  routes: ["
			for j in 0 1 2; do
				[[ $j == "$i" ]] || echo "    nats-route://127.0.0.1:${NATS3_CPORT[j]}"
			done
			echo "  ]"
			echo "}"
		} >"$TMP/nats3/n$i/nats.conf"
	done
	for i in 0 1 2; do
		nats3_start_one "$i" || return 1
	done
	SFS_NATS_URL=nats://127.0.0.1:${NATS3_PORT[0]},nats://127.0.0.1:${NATS3_PORT[1]},nats://127.0.0.1:${NATS3_PORT[2]}
	export SFS_NATS_URL
	wait_for -t 20 nats3_js_ready 0
}

# nats3_start_one I: start server I again (same ports, same store), wait
# (bounded) until it listens.
nats3_start_one() {
	local i=$1 n
	n=$(grep -c 'Server is ready' "$TMP/nats3/n$i/nats.log" 2>/dev/null) || n=0
	nats-server -c "$TMP/nats3/n$i/nats.conf" -l "$TMP/nats3/n$i/nats.log" \
		</dev/null >/dev/null 2>&1 3>&- &
	NATS3_PID[i]=$!
	if ! wait_for -t 10 _nats3_ready_after "$i" "$n"; then
		echo "nats3_start_one: nats-server n$i did not start:" >&2
		tail -n 20 "$TMP/nats3/n$i/nats.log" >&2
		return 1
	fi
}

# _nats3_ready_after I N: server I's log says 'Server is ready' more than
# N times (it logs it once per start).
_nats3_ready_after() {
	local n
	n=$(grep -c 'Server is ready' "$TMP/nats3/n$1/nats.log" 2>/dev/null) || n=0
	((n > $2))
}

# nats3_req I SUBJECT [PAYLOAD]: a request to server I, its reply on
# stdout (tests/e2e/natsq.py); fails when no reply comes within 2 s.
nats3_req() {
	python3 "$STREAMFS_SRC/tests/e2e/natsq.py" "127.0.0.1:${NATS3_PORT[$1]}" "$2" "${3:-}"
}

# nats3_js_ready I: JetStream answers through server I (its metadata
# leader known).
nats3_js_ready() {
	local r
	r=$(nats3_req "$1" '$JS.API.INFO' 2>/dev/null) || return 1
	[[ $(jq -r '.error.code // 0' <<<"$r" 2>/dev/null) == 0 ]]
}

# nats3_stream_info I NAME: JetStream's info of stream NAME through server I.
nats3_stream_info() {
	nats3_req "$1" "\$JS.API.STREAM.INFO.$2"
}

# nats3_leader I NAME: the server name (n0, n1, n2) leading stream NAME.
nats3_leader() {
	nats3_stream_info "$1" "$2" | jq -er '.cluster.leader'
}

# nats3_index NAME: the index of server NAME (n1 -> 1).
nats3_index() {
	echo "${1#n}"
}

# nats3_kill I [SIGNAL]: signal server I (default KILL) and wait (bounded)
# until it is gone.
nats3_kill() {
	local i=$1 sig=${2:-KILL}
	[[ -n ${NATS3_PID[i]:-} ]] || return 0
	stop_pid "${NATS3_PID[i]}" "$sig"
	NATS3_PID[i]=
}

# nats3_stop_all: stop every server of the three still running (TERM,
# then KILL); fails if one could not be stopped.
nats3_stop_all() {
	local i fail=0
	for i in 0 1 2; do
		nats3_kill "$i" TERM
	done
	for i in 0 1 2; do
		if [[ -n ${NATS3_PID[i]:-} ]]; then
			echo "nats3_stop_all: nats-server n$i still runs" >&2
			fail=1
		fi
	done
	return "$fail"
}


# ---- a crash of every NATS server that loses its last changes ----------
# (85-nats-crash.bats, 85-nats-crash2.bats; docs/nats.md, "Durability")

content_is() { [[ $(cat "$1" 2>/dev/null) == "$2" ]]; }
size_is() { [[ $(stat -c %s "$1" 2>/dev/null) == "$2" ]]; }

# went_back LOG: LOG tells, once, that stream s went back.
went_back() {
	[[ $(grep -c "cluster tokyo: stream s: JetStream no longer holds the messages" "$1") == 1 ]]
}

# store_save: the test's nats-server stopped cleanly, its store copied
# aside, started again on its port, every daemon reconnected. store_restore: stopped, the copy put
# back in place of its store, started: what JetStream holds after a crash
# of every server that lost what came since store_save.
store_save() {
	local n1 n2=0
	n1=$(grep -c "cluster tokyo: reconnected to NATS" "$TMP/streamfs.log") || true
	[[ -z ${SFS_PID2:-} ]] ||
		n2=$(grep -c "cluster tokyo: reconnected to NATS" "$TMP/streamfs2.log") || true
	sfs_nats_stop
	cp -a "$TMP/nats/js" "$TMP/js.saved"
	sfs_nats_start "$port"
	# every daemon back on the server before the caller goes on
	wait_for -t 15 reconnected "$TMP/streamfs.log" $((n1 + 1))
	[[ -z ${SFS_PID2:-} ]] || wait_for -t 15 reconnected "$TMP/streamfs2.log" $((n2 + 1))
}
store_restore() {
	sfs_nats_stop
	rm -rf "$TMP/nats/js"
	mv "$TMP/js.saved" "$TMP/nats/js"
	sfs_nats_start "$port"
}

# reconnected LOG N: LOG tells N reconnections (at least) of cluster tokyo.
reconnected() {
	[[ $(grep -c "cluster tokyo: reconnected to NATS" "$1") -ge $2 ]]
}

# cat_check FILE STOP BAD [LINES]: cat FILE until STOP exists; each
# output's lines that are not whole lines of the test's writers (those
# the extended regex LINES matches; by default a1.., LOST1.., wa-N, wb-N)
# go to BAD (NULs as @). A cat that fails (EIO, ESTALE while the stream is
# read again) is not looked at: it stopped where its error came, maybe
# mid-line.
cat_check() {
	local out=$3.$BASHPID lines=${4:-'^(a[0-9]|LOST[0-9]|w[ab]-[0-9]+)$'}
	while [[ ! -e $2 ]]; do
		cat "$1" >"$out" 2>/dev/null || continue
		tr '\0' '@' <"$out" | grep -avE "$lines" >>"$3" || true
	done
}

# readers_stop PID...: stop the cat_check readers (PIDs, started with
# bg_start or &) and fail, showing the first lines, if any saw anything
# but whole lines of the writers.
readers_stop() {
	local p
	touch "$TMP/stop"
	for p in "$@"; do wait "$p"; done
	REPL_BG=()
	[ ! -s "$TMP/bad" ] || { head -n 5 "$TMP/bad" >&2; return 1; }
}

# writers_verdict SRC COPY...: SRC's lines hold no line twice and wa's
# and wb's lines in order; each COPY holds the same lines as SRC.
writers_verdict() {
	local c
	cat "$1" >"$TMP/src"
	no_dups "$TMP/src"
	increasing wa "$TMP/src"
	increasing wb "$TMP/src"
	for c in "${@:2}"; do same_content "$TMP/src" "$c"; done
}

# increasing PREFIX FILE: the numbers of FILE's lines PREFIX-N go up.
increasing() {
	grep "^$1-" "$2" | cut -d- -f2 | awk 'NR > 1 && $1 <= prev { exit 1 } { prev = $1 }'
}

# mixed_start: a nats-server of the test's own and one daemon serving a
# local cluster sanfrancisco and the NATS cluster tokyo.
mixed_start() {
	sfs_mktemp
	sfs_nats_start
	{
		echo "[mount]"
		echo "mountpoint = $M"
		echo "[cluster sanfrancisco]"
		echo "data = $TMP/data/sanfrancisco"
		echo "[cluster tokyo]"
		echo "nats = $SFS_NATS_URL"
	} >"$TMP/mount.conf"
	sfs_start
}

# pair_case SRC DST: SRC/s replicated to DST/s, one of them local
# (sanfrancisco), the other in NATS (tokyo); lines a1-a3 kept by the
# crash, lost4-lost6 replicated and then lost in a crash of the server;
# returns once the daemon told the loss.
pair_case() {
	local src=$1 dst=$2 i
	mixed_start
	local port=$SFS_NATS_PORT
	mkdir "$M/$src/s" "$M/$dst/s"
	echo "/mapr/$src/s" >>"$M/$dst/s/.upstreams"
	echo "/mapr/$dst/s" >>"$M/$src/s/.replicas"
	for i in 1 2 3; do echo "a$i" >>"$M/$src/s/t"; done
	wait_for -t 10 content_is "$M/$dst/s/t" "$(printf 'a1\na2\na3')"
	store_save
	# acknowledged, replicated, then lost
	for i in 4 5 6; do echo "lost$i" >>"$M/$src/s/t"; done
	wait_for -t 10 content_is "$M/$dst/s/t" "$(printf 'a1\na2\na3\nlost4\nlost5\nlost6')"
	store_restore
	wait_for -t 30 went_back "$TMP/streamfs.log"
}

# replica_case: tokyo/s (NATS) replicated to sanfrancisco/s (local), as
# pair_case; tokyo's topic read again without the lost lines.
replica_case() {
	pair_case tokyo sanfrancisco
	wait_for -t 10 content_is "$M/tokyo/s/t" "$(printf 'a1\na2\na3')"
}
