# tests/e2e/replication_helpers.bash - helpers shared by the replication
# tests (50-replication.bats, 51-replication-control.bats). Load after
# helpers:
#     load helpers
#     load replication_helpers
#
# Streams are named CLUSTER/STREAM (as under the mount); the control files
# get them in the global form /mapr/CLUSTER/STREAM (docs/control-files.md).

# Background processes started by a test (writers, tail -f): teardown
# kills exactly these PIDs, nothing else.
REPL_BG=()

# bg_start CMD...: run CMD in the background (fd 3 closed, since bats waits
# for whatever holds it), remember its PID in REPL_BG and in BG_PID.
bg_start() {
	"$@" 3>&- &
	BG_PID=$!
	REPL_BG+=("$BG_PID")
}

# bg_kill_all: kill and reap what bg_start started.
bg_kill_all() {
	local p
	for p in "${REPL_BG[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	REPL_BG=()
}

# repl_teardown: for teardown(): background jobs first (they may hold the
# mount busy), then the daemon.
repl_teardown() {
	bg_kill_all
	sfs_teardown
}

# gone PID: true once PID has exited (a zombie counts as exited).
gone() {
	! _sfs_alive "$1"
}

# nmsg FILE: the number of messages in topic FILE (0 if it does not exist).
nmsg() {
	if [[ -e $1 ]]; then
		wc -l <"$1"
	else
		echo 0
	fi
}

# has_n FILE N: topic FILE holds exactly N messages.
has_n() {
	[[ $(nmsg "$1") -eq $2 ]]
}

# wait_count FILE N [SECONDS]: wait (default 10 s) until FILE holds exactly
# N messages; on failure say how many it holds.
wait_count() {
	local f=$1 n=$2 t=${3:-10}
	if ! wait_for -t "$t" has_n "$f" "$n"; then
		echo "expected $n messages in $f, found $(nmsg "$f")" >&2
		return 1
	fi
}

# still_count FILE N: FILE holds exactly N messages (say so if not).
still_count() {
	local got
	got=$(nmsg "$1")
	if [[ $got -ne $2 ]]; then
		echo "expected $2 messages in $1, found $got" >&2
		return 1
	fi
}

# rounds CLUSTER/STREAM: the stream's .info replicationRounds.
rounds() {
	jq -r '.replicationRounds' "$M/$1/.info"
}

# repl_quiet CLUSTER/STREAM...: wait (bounded) until replication has made
# a whole pass over each of these source streams that began after now, so
# that everything appended before has been sent as far as it goes: what a
# replica holds then stays (a check that "nothing more arrives", without
# sleeping). A pass is started by an empty line written to .replicas; two
# in a row, each awaited, make sure the second began after the first wake.
# Streams without replicas are skipped (nothing is sent from them).
repl_quiet() {
	local s r k
	for s in "$@"; do
		[[ $(jq '.replicas | length' "$M/$s/.info") -gt 0 ]] || continue
		for k in 1 2; do
			r=$(rounds "$s")
			echo >>"$M/$s/.replicas"
			wait_for -t 10 eval "(( \$(rounds $s) > $r ))" || return 1
		done
	done
}

# gen PREFIX N: print PREFIX-1 ... PREFIX-N, one per line.
gen() {
	local i
	for ((i = 1; i <= $2; i++)); do
		echo "$1-$i"
	done
}

# append_each FILE PREFIX N: append PREFIX-1 ... PREFIX-N to FILE, one
# open/write/close per message.
append_each() {
	local i
	for ((i = 1; i <= $3; i++)); do
		echo "$2-$i" >>"$1" || return 1
	done
}

# no_dups FILE: every line of FILE is there once.
no_dups() {
	local d
	d=$(sort "$1" | uniq -d)
	if [[ -n $d ]]; then
		echo "duplicates in $1 ($(wc -l <<<"$d") distinct lines), first ones:" >&2
		head -n 5 <<<"$d" >&2
		return 1
	fi
}

# in_order FILE PREFIX N: the lines of FILE starting with PREFIX- are
# exactly PREFIX-1 ... PREFIX-N, in that order.
in_order() {
	if ! diff <(grep -- "^$2-" "$1") <(gen "$2" "$3") >/dev/null; then
		echo "$1: the $2-* messages are not exactly $2-1..$2-$3 in order" \
			"($(grep -c -- "^$2-" "$1") of them)" >&2
		return 1
	fi
}

# same_content A B: topics A and B hold the same messages in the same order.
same_content() {
	if ! cmp -s "$1" "$2"; then
		echo "$1 ($(nmsg "$1") messages) and $2 ($(nmsg "$2")) differ:" >&2
		diff "$1" "$2" | head -n 10 >&2
		return 1
	fi
}

# replicate SRC DST: replicate stream SRC to DST (CLUSTER/STREAM each):
# DST accepts SRC (.upstreams), SRC sends to DST (.replicas).
replicate() {
	echo "/mapr/$1" >>"$M/$2/.upstreams" &&
		echo "/mapr/$2" >>"$M/$1/.replicas"
}

# rline SRC DST: the line of replica DST in SRC's .replicas.
rline() {
	grep -- "^/mapr/$2 " "$M/$1/.replicas"
}

# rline_match SRC DST REGEX: that line matches the extended regex REGEX.
rline_match() {
	local l
	l=$(rline "$1" "$2") || return 1
	[[ $l =~ $3 ]]
}

# rinfo SRC DST FIELD: FIELD of replica DST in SRC's .info, as text.
rinfo() {
	jq -r --arg p "$2" --arg f "$3" '.replicas[]
		| select(.replicaPath == ("/mapr/" + $p)
			 or ((.cluster + "/" + .stream) == $p))
		| .[$f] | tostring' "$M/$1/.info"
}

# rinfo_is SRC DST FIELD VALUE: FIELD of replica DST in SRC's .info is VALUE.
rinfo_is() {
	[[ $(rinfo "$1" "$2" "$3") == "$4" ]]
}

# show_status SRC DST: print the replica's status (for failure messages).
show_status() {
	echo "--- $M/$1/.replicas:" >&2
	cat "$M/$1/.replicas" >&2 || true
	echo "--- replica $2 in $M/$1/.info:" >&2
	jq --arg p "$2" '.replicas[]
		| select(.replicaPath == ("/mapr/" + $p)
			 or ((.cluster + "/" + .stream) == $p))' \
		"$M/$1/.info" >&2 || true
}
