#!/usr/bin/env bats
# 35-regressions.bats - defects found by reviews, each kept fixed.

load helpers

setup() {
	sfs_setup
	A=$M/sanfrancisco/a
	B=$M/newyork/b
	mkdir "$A" "$B"
}

teardown() {
	sfs_teardown
}

@test "a refused '>' write of a line over 64 KiB leaves .replicas as it was" {
	echo /mapr/sanfrancisco/a >>"$B/.upstreams"
	echo /mapr/newyork/b >>"$A/.replicas"
	head -c 200000 /dev/zero | tr '\0' x >"$TMP/big"
	echo >>"$TMP/big"
	run bash -c 'cat "$1" > "$2"' _ "$TMP/big" "$A/.replicas"
	[ "$status" -ne 0 ]
	[[ $output == *"Invalid argument"* ]]
	grep -q '^/mapr/newyork/b synchronous=false paused=false' "$A/.replicas"
	[ "$(wc -l <"$A/.replicas")" -eq 1 ]
	jq -e '.lastError | test("64 KiB")' "$A/.info"
}

@test "after EMSGSIZE, the rest of the refused message up to its newline is refused too" {
	sfs_stop
	SFS_MOUNT_EXTRA="max_message = 100"
	sfs_write_conf sanfrancisco newyork
	sfs_start
	run python3 - "$A/t" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
for chunk in (b"a" * 80, b"b" * 80, b"c" * 10 + b"\n", b"next\n"):
    try:
        print(os.write(fd, chunk))
    except OSError as e:
        print(e.strerror)
os.close(fd)
PY
	[ "${lines[0]}" = 80 ]
	[ "${lines[1]}" = "Message too long" ]
	[ "${lines[2]}" = "Message too long" ]
	[ "${lines[3]}" = 5 ]
	[ "$(cat "$A/t")" = next ]
}

@test "a replica whose stream is gone can still be paused and written back" {
	mkdir "$M/newyork/x"
	echo /mapr/newyork/x >>"$A/.replicas"
	rmdir "$M/newyork/x"
	echo "/mapr/newyork/x paused=true" >>"$A/.replicas"
	grep -q '^/mapr/newyork/x synchronous=false paused=true' "$A/.replicas"
	cat "$A/.replicas" >"$TMP/saved"
	cat "$TMP/saved" >"$A/.replicas"
	grep -q '^/mapr/newyork/x synchronous=false paused=true' "$A/.replicas"
	# a new entry for a missing stream is still refused
	run bash -c 'echo /mapr/newyork/nope >>"$1"' _ "$A/.replicas"
	[ "$status" -ne 0 ]
}

@test "SIGTERM unmounts and the daemon exits with status 0" {
	kill -TERM "$SFS_PID"
	wait_for -t 10 is_unmounted "$M"
	_sfs_reap
	[ "$SFS_STATUS" -eq 0 ]
	grep -q "stopped cleanly" "$TMP/streamfs.log"
}

@test "a segment whose index is lost: the topic is refused with a clear error, the others are served" {
	# The index of a segment holds the origins and checksums of its
	# messages and cannot be rebuilt from the data (docs/storage.md); a crash
	# can only leave an empty index under a segment that holds no message.
	for i in $(seq 1 300); do echo "m$i"; done >>"$A/t"
	echo other >>"$A/u"
	sfs_stop
	local idx
	idx=$(ls "$TMP/data/sanfrancisco/a/t/"*.idx | head -n 1)
	: >"$idx"
	SFS_LOG_ALLOW='is missing or damaged|topic t cannot be loaded'
	sfs_start
	run cat "$A/t"
	[ "$status" -ne 0 ]
	grep -q "index $(basename "$idx") is missing or damaged" "$TMP/streamfs.log"
	[ "$(cat "$A/u")" = other ]
	# nothing was changed on disk: the data is there for a restore
	[ "$(stat -c %s "$idx")" -eq 0 ]
}

@test "a damaged message is named in .info (damagedOffset) after a read meets it" {
	local i
	for ((i = 0; i < 20; i++)); do printf 'msg-%05d\n' "$i"; done >>"$A/t"
	sfs_stop
	local seg pos
	seg=$(ls "$TMP/data/sanfrancisco/a/t/"*.seg | head -n 1)
	# 32-byte segment header, then the lines of 10 bytes; a byte of offset 10
	# (each printf is a write() of its own: a batch per message)
	pos=$((32 + 10 * 10 + 2))
	printf 'X' | dd of="$seg" bs=1 seek="$pos" conv=notrunc status=none
	sfs_start
	run cat "$A/t"
	[ "$status" -ne 0 ]
	jq -e '.topics[] | select(.name == "t") | .damagedOffset == 10' "$A/.info"
	grep -q "offset 10 fails its checksum" "$TMP/streamfs.log"
}

@test "unfinished lines are bounded per user (16 MiB): past it writes fail with ENOBUFS; other users go on; closing frees it" {
	[[ $EUID -eq 0 ]] || skip "needs root (setpriv)"
	chmod 0755 "$TMP"
	chmod 0777 "$A"
	local X=$TMP/x
	mkdir -m 0777 "$X"
	# user nobody: 24 files, each held open with 1 MiB - 1 bytes of an
	# unfinished line; then it waits for $TMP/go, closes them all and
	# holds one more
	setpriv --reuid=65534 --regid=65534 --clear-groups bash -c '
		res=
		for i in $(seq 0 23); do
			exec {fd}>>"$1/p$i"
			if out=$(head -c 1048575 /dev/zero | tr "\0" x 2>&1 >&$fd); then
				res+=" ok"
			else
				res+=" refused"
			fi
			fds+=($fd)
		done
		echo "$res" >"$2/res"
		k=0
		while [[ ! -e $2/go ]] && ((k++ < 600)); do sleep 0.05; done
		for fd in "${fds[@]}"; do exec {fd}>&-; done
		head -c 1048575 /dev/zero | tr "\0" z >>"$1/again" && echo again >"$2/again"
	' bash "$A" "$X" 3>&- &
	local pid=$!
	wait_for -t 30 test -s "$X/res"
	cat "$X/res"
	# the first files are held, the last ones refused
	[[ $(cat "$X/res") == " ok ok ok ok ok ok ok ok"* ]]
	[[ $(cat "$X/res") == *"refused refused" ]]
	grep -q 'refused: unfinished lines of user 65534' "$TMP/streamfs.log"
	# meanwhile root holds an unfinished line of its own
	head -c 500000 /dev/zero | tr '\0' y >>"$A/root"
	touch "$X/go"
	wait_for -t 30 test -e "$X/again"
	wait "$pid"
	# what was held became messages at close, whole
	[ "$(wc -c <"$A/p0")" -eq $((1024 * 1024)) ]
	[ "$(wc -c <"$A/root")" -eq 500001 ]
	[ "$(wc -c <"$A/again")" -eq $((1024 * 1024)) ]
}

@test "'>' transactions of control files count against the user's bound: past it ENOBUFS; closing gives it back" {
	# A '>' write keeps every entry it was given (about 0.5 KiB each, at
	# most 4,096 per file) until the close: 8 such files pass root's 16 MiB.
	run python3 - "$A/.upstreams" "/mapr/newyork/b" <<'PY'
import errno, os, sys
path, line = sys.argv[1], (sys.argv[2] + "\n").encode()
fds, res = [], []
for i in range(12):
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    fds.append(fd)
    try:
        os.write(fd, line * 4096)
        res.append("ok")
    except OSError as e:
        res.append("ENOBUFS" if e.errno == errno.ENOBUFS else e.strerror)
print(" ".join(res))
for fd in fds:
    try:
        os.close(fd)
    except OSError:
        pass
PY
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == "ok ok ok ok ok ok ok"* ]]
	[[ $output == *"ENOBUFS ENOBUFS" ]]
	# the files that were not refused replaced the set at close
	grep -q '^/mapr/newyork/b' "$A/.upstreams"
	# closing gave it all back: a new transaction works
	printf '/mapr/newyork/b\n%.0s' $(seq 4096) >"$A/.upstreams"
	grep -q "a '>' write would hold more than user 0 may hold" "$TMP/streamfs.log"
}

@test "the log cannot be flooded: refused writes past a burst of 200 warn lines are counted, not written" {
	local before after i
	before=$(grep -c ' warn: ' "$TMP/streamfs.log" || true)
	for ((i = 0; i < 1500; i++)); do
		echo "bogus line $i" 2>/dev/null >>"$A/.upstreams" || true
	done
	after=$(grep -c ' warn: ' "$TMP/streamfs.log" || true)
	echo "warn lines: $before -> $after"
	# 1,500 refusals; at most the burst and the refill of the loop's time
	[ $((after - before)) -ge 200 ]
	[ $((after - before)) -lt 1500 ]
	# the next refusal that is written says how many were not
	wait_for -t 10 bash -c "echo bogus >>'$A/.upstreams' 2>/dev/null; grep -q 'warn lines were not written' '$TMP/streamfs.log'"
}
