# nats3_helpers.bash - what 87-nats-cluster.bats and 87-nats-cluster2.bats
# share: a NATS cluster of three servers of the test's own (nats3_* in
# nats_helpers.bash), one or two daemons on it, the teardown that stops
# them all, and the helpers of their cases (docs/testing.md).

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

# reachable_is CLUSTER true|false: /.info says whether the cluster is reachable.
reachable_is() {
	[[ $(jq -r --arg c "$1" '.clusters[] | select(.name == $c) | .reachable' "$M/.info" 2>/dev/null) == "$2" ]]
}

# leads I JS: server I says it leads stream JS (asking the leader to step
# down otherwise: JetStream elects another, bounded by the caller's
# wait_for). At most one step-down each 2 s: asked at each 50 ms poll, a
# loaded host's elections never settled on the wanted server (60 s of
# them, once, in a full run).
leads() {
	local l
	l=$(nats3_leader "$1" "$2" 2>/dev/null) || return 1
	[[ $l == "n$1" ]] && return 0
	((SECONDS >= ${_leads_next:-0})) || return 1
	_leads_next=$((SECONDS + 2))
	nats3_req "$1" "\$JS.API.STREAM.LEADER.STEPDOWN.$2" >/dev/null 2>&1 || true
	return 1
}
