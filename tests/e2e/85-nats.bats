#!/usr/bin/env bats
# 85-nats.bats - clusters kept in NATS JetStream (docs/nats.md): a
# nats-server of the test's own on a free loopback port; nothing of the
# cluster on the host's disk; start-up refusals; two daemons on the same
# NATS see each other's streams, topics, messages, modes and removals;
# writers on both daemons into one topic lose, duplicate and interleave
# nothing, and both daemons agree on every byte, also with writes longer
# than one NATS message (a chunk in parts: readers meanwhile see only the
# topic's bytes; a message of 1 MiB on nats-server's own max_payload; a
# writer killed between its parts and its head; a topic's removal frees
# its parts); NATS away and back
# (/.info, EIO within nats_timeout_ms, nothing stored behind a writer's
# back, all works again); a bucket watcher silenced and made anew; a
# writer's SIGCHLD does not end its wait, SIGUSR1 does, and neither
# does a stop and continue of the writer; a daemon frozen while the other
# makes and removes streams and topics shows its view once thawed; large
# writes with one daemon or the nats-server frozen. The suites of
# 10-namespace.bats and 20-topic.bats also run on NATS (81-nats-*.bats,
# 82-nats-*.bats: symlinks, helpers.bash reads the name).

SFS_HOME=nats
load helpers
load nats_helpers

export LC_ALL=C


teardown() {
	local fail=0
	# a case that failed with its nats-server stopped (SIGSTOP)
	[[ -z ${SFS_NATS_PID:-} ]] || kill -CONT "$SFS_NATS_PID" 2>/dev/null || true
	# a case that failed with its second daemon frozen
	[[ -z ${SFS_PID2:-} ]] || kill -CONT "$SFS_PID2" 2>/dev/null || true
	stop_second || fail=1
	sfs_teardown || fail=1
	return "$fail"
}

# same_file A B: the files have the same bytes.
same_file() {
	cmp -s "$1" "$2"
}

# For wait_for: FILE holds TEXT (cat's view) / is N bytes / has MODE.
content_is() { [[ $(cat "$1" 2>/dev/null) == "$2" ]]; }
size_is() { [[ $(stat -c %s "$1" 2>/dev/null) == "$2" ]]; }
mode_is() { [[ $(stat -c %a "$1" 2>/dev/null) == "$2" ]]; }
same_size() { [[ $(stat -c %s "$1" 2>/dev/null) == $(stat -c %s "$2" 2>/dev/null) ]]; }
gone() { ! _sfs_alive "$1"; }

@test "a NATS cluster: streams, topics, appends, reads, dd skip, stat, .info; nothing on the host's disk; all kept across a restart" {
	sfs_setup tokyo
	C=$M/tokyo
	mkdir "$C/s"
	echo hello >>"$C/s/t"
	printf 'a\nb\nc\n' >>"$C/s/t"
	[ "$(cat "$C/s/t")" = "$(printf 'hello\na\nb\nc')" ]
	[ "$(stat -c %s "$C/s/t")" -eq 12 ]
	[ "$(wc -l <"$C/s/t")" -eq 4 ]
	[ "$(dd if="$C/s/t" bs=1 skip=6 2>/dev/null)" = "$(printf 'a\nb\nc')" ]
	[ "$(jq -r '.topics[0].messages' "$C/s/.info")" = 4 ]
	[ "$(jq -r '.clusters[] | select(.name == "tokyo") | .home' "$M/.info")" = nats ]
	[ "$(jq -r '.clusters[] | select(.name == "tokyo") | .nats' "$M/.info")" = "$SFS_NATS_URL" ]
	chmod 0600 "$C/s/t"
	touch "$C/s/empty"
	# nothing of it on this host
	[ -z "$(ls -A "$TMP/data")" ]
	sfs_restart
	[ "$(cat "$C/s/t")" = "$(printf 'hello\na\nb\nc')" ]
	[ "$(stat -c %a "$C/s/t")" = 600 ]
	[ -e "$C/s/empty" ]
	echo more >>"$C/s/t"
	[ "$(tail -n 1 "$C/s/t")" = more ]
	[ "$(stat -c %s "$C/s/t")" -eq 17 ]
	# rm and rmdir
	run rmdir "$C/s"
	[ "$status" -ne 0 ]
	[[ $output == *"not empty"* ]]
	rm "$C/s/t" "$C/s/empty"
	rmdir "$C/s"
	sfs_restart
	[ -z "$(ls "$C")" ]
}

# used_bytes DIR: the bytes df shows used on DIR's filesystem.
used_bytes() {
	local b f sz
	read -r b f sz < <(stat -f -c '%b %f %S' "$1")
	echo $(((b - f) * sz))
}

# used_over DIR N: df shows more than N bytes used on DIR.
used_over() {
	(($(used_bytes "$1") > $2))
}

@test "df of a NATS cluster: the JetStream account's stored bytes, growing with appends; 1 PiB free without an account limit" {
	sfs_setup tokyo
	C=$M/tokyo
	mkdir "$C/s"
	local before
	before=$(used_bytes "$C")
	# 3 MiB of lines (64 KiB writes)
	head -c $((3 * 1024 * 1024)) /dev/zero | tr '\0' x | fold -w 1023 >"$TMP/lines"
	dd if="$TMP/lines" of="$C/s/t" bs=64k oflag=append conv=notrunc status=none
	# (asked at most once a second)
	wait_for -t 5 used_over "$C" $((before + 3 * 1024 * 1024))
	# No limit on the test server's account: used plus 1 PiB.
	local a sz
	read -r a sz < <(stat -f -c '%a %S' "$C")
	[ $((a * sz)) -eq $((1 << 50)) ]
	[ "$(stat -f -c %l "$C")" -eq 255 ]
}

@test "a JetStream account's limits are quotas: a stream past max_streams and an append past max_file fail with EDQUOT, logged, storing nothing; rm frees the space" {
	# (the cluster's bucket is one of the account's 3 streams)
	SFS_NATS_CONF_EXTRA='accounts { A { jetstream { max_streams: 3, max_file: 4MB }, users [{user: u, password: p}] } }\nno_auth_user: u'
	SFS_LOG_ALLOW='maximum number of streams|resource limits exceeded|append failed|lost the subject'
	sfs_setup tokyo
	C=$M/tokyo
	mkdir "$C/s1" "$C/s2"
	run mkdir "$C/s3"
	[ "$status" -ne 0 ]
	[[ $output == *"Disk quota exceeded"* ]]
	[ ! -e "$C/s3" ]
	[ "$(ls "$C")" = "$(printf 's1\ns2')" ]
	grep -q 'stream s3: cannot make its data stream.*maximum number of streams' "$TMP/streamfs.log"
	# df shows the account's 4 MiB
	local blocks bsize
	read -r blocks bsize < <(stat -f -c '%b %S' "$C")
	[ $((blocks * bsize)) -eq $((4 * 1024 * 1024)) ]
	# 6 MiB of 1 KiB lines in 64 KiB writes: the writes past the quota fail
	head -c $((6 * 1024 * 1024)) /dev/zero | tr '\0' q | fold -w 1023 >"$TMP/lines"
	run dd if="$TMP/lines" of="$C/s1/t" bs=64k oflag=append conv=notrunc status=none
	[ "$status" -ne 0 ]
	[[ $output == *"Disk quota exceeded"* ]]
	grep -q '/tokyo/s1/t: append refused by JetStream: .*resource limits exceeded' "$TMP/streamfs.log"
	# what was stored is whole writes, the start of the input
	local size
	size=$(stat -c %s "$C/s1/t")
	[ "$size" -gt 0 ] && [ $((size % 65536)) -eq 0 ] && [ "$size" -lt $((4 * 1024 * 1024)) ]
	cmp -n "$size" "$C/s1/t" "$TMP/lines"
	# An append after that fails too, whatever the server says: either the
	# quota, or (nats-server 2.9.10, which loses the subject's last chunk
	# after such a refusal) EIO, never a chunk over the offsets stored.
	run bash -c "echo more >>'$C/s1/t'"
	[ "$status" -ne 0 ]
	[ "$(stat -c %s "$C/s1/t")" -eq "$size" ]
	cmp "$C/s1/t" <(head -c "$size" "$TMP/lines")
	# rm purges the topic's messages: the account has room again
	rm "$C/s1/t"
	echo more >>"$C/s1/u"
	[ "$(cat "$C/s1/u")" = more ]
}

@test "tls:// to a server without TLS is refused at start-up (never plain text), one line, nothing mounted; nats_replicas 3 on one server says what it needs" {
	sfs_mktemp
	sfs_nats_start
	printf '[mount]\nmountpoint = %s\n[cluster tokyo]\nnats = tls://127.0.0.1:%s\nnats_timeout_ms = 1000\n' \
		"$M" "$SFS_NATS_PORT" >"$TMP/mount.conf"
	run "$STREAMFS" -c "$TMP/mount.conf" -f "$M"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"$TMP/mount.conf:4: [cluster tokyo]: nats: cannot connect to tls://127.0.0.1:$SFS_NATS_PORT"* ]]
	[ "$(grep -c . <<<"$output")" -eq 1 ]
	! is_mounted "$M"
	printf '[mount]\nmountpoint = %s\n[cluster tokyo]\nnats = %s\nnats_replicas = 3\nnats_timeout_ms = 1000\n' \
		"$M" "$SFS_NATS_URL" >"$TMP/mount.conf"
	run "$STREAMFS" -c "$TMP/mount.conf" -f "$M"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"nats_replicas 3 needs a NATS cluster of 3 servers at least; 1 known"* ]]
	! is_mounted "$M"
}

@test "a NATS server that cannot be reached at start-up: one line naming file, line and key, nothing mounted" {
	sfs_mktemp
	sfs_nats_start
	port=$SFS_NATS_PORT
	sfs_nats_stop	# nothing listens there now
	SFS_NATS_URL=nats://127.0.0.1:$port
	printf '[mount]\nmountpoint = %s\n[cluster tokyo]\nnats = %s\nnats_timeout_ms = 500\n' \
		"$M" "$SFS_NATS_URL" >"$TMP/mount.conf"
	run "$STREAMFS" -c "$TMP/mount.conf" -f "$M"
	[ "$status" -ne 0 ]
	echo "$output"
	[[ $output == *"$TMP/mount.conf:4: [cluster tokyo]: nats: cannot connect to $SFS_NATS_URL"* ]]
	[ "$(grep -c . <<<"$output")" -eq 1 ]
	! is_mounted "$M"
	# an unreadable credentials file, named with its key
	printf '[mount]\nmountpoint = %s\n[cluster tokyo]\nnats = %s\nnats_creds = missing.creds\n' \
		"$M" "$SFS_NATS_URL" >"$TMP/mount.conf"
	run "$STREAMFS" -c "$TMP/mount.conf" -f "$M"
	[ "$status" -ne 0 ]
	[[ $output == *"$TMP/mount.conf:5: [cluster tokyo]: nats_creds: $TMP/missing.creds: No such file or directory"* ]]
	! is_mounted "$M"
	# a directory: readable, but no credentials (libnats would only
	# say "no nkey user seed found")
	mkdir "$TMP/creds.d"
	printf '[mount]\nmountpoint = %s\n[cluster tokyo]\nnats = %s\nnats_creds = creds.d\n' \
		"$M" "$SFS_NATS_URL" >"$TMP/mount.conf"
	run "$STREAMFS" -c "$TMP/mount.conf" -f "$M"
	[ "$status" -ne 0 ]
	[[ $output == *"$TMP/mount.conf:5: [cluster tokyo]: nats_creds: $TMP/creds.d: Is a directory"* ]]
	! is_mounted "$M"
}

@test "a chunk NATS lost behind streamfs's back (its subject purged, the topic's key kept) reads as EIO with an error line, not as an end of file; a removal by the other daemon still reads as the end" {
	SFS_LOG_ALLOW='not in NATS any more'
	sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	mkdir "$A/s"
	printf 'one\ntwo\nthree\n' >>"$A/s/t"
	# the second daemon has indexed the chunk (its size), not fetched it
	wait_for size_is "$B/s/t" 14
	local su tu
	su=$(jq -r .uuid "$A/s/.info")
	tu=$(jq -r '.topics[] | select(.name == "t") | .uuid' "$A/s/.info")
	python3 "$STREAMFS_SRC/tests/e2e/natsq.py" "127.0.0.1:$SFS_NATS_PORT" \
		"\$JS.API.STREAM.PURGE.SFS-$su" "{\"filter\":\"sfs.$su.$tu\"}" | grep -q '"success":true'
	run cat "$B/s/t"
	[ "$status" -ne 0 ]
	[[ $output == *"Input/output error"* ]]
	grep -q "/tokyo/s/t: chunk .* is in the index but not in NATS any more" "$TMP/streamfs2.log"
	# a topic removed by the other daemon: its reader here finds the end
	printf 'x\n' >>"$A/s/u"
	wait_for size_is "$B/s/u" 2
	exec 5<"$B/s/u"
	rm "$A/s/u"
	[ -z "$(cat <&5)" ]
	exec 5<&-
}

@test "two daemons on one NATS: streams, topics, messages, modes, control files and removals of one are seen by the other" {
	sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	mkdir "$A/s"
	wait_for test -d "$B/s"
	echo one >>"$A/s/t"
	wait_for test -e "$B/s/t"
	wait_for content_is "$B/s/t" one
	echo two >>"$B/s/t"
	wait_for size_is "$A/s/t" 8
	[ "$(cat "$A/s/t")" = "$(printf 'one\ntwo')" ]
	[ "$(jq -r .uuid "$A/s/.info")" = "$(jq -r .uuid "$B/s/.info")" ]
	chmod 0640 "$B/s/t"
	wait_for mode_is "$A/s/t" 640
	chmod 0700 "$A/s"
	wait_for mode_is "$B/s" 700
	# the control files: written on one, read on the other
	mkdir "$A/s2"
	echo /mapr/tokyo/s2 >>"$A/s/.upstreams"
	echo /mapr/tokyo/s2 paused=true >>"$A/s/.replicas"
	wait_for grep -q '^/mapr/tokyo/s2 .*paused=true' "$B/s/.replicas"
	wait_for grep -q '^/mapr/tokyo/s2\b' "$B/s/.upstreams"
	wait_for test -d "$B/s2"
	echo /mapr/tokyo/s2 synchronous=true >>"$B/s/.replicas"
	wait_for grep -q '^/mapr/tokyo/s2 synchronous=true paused=true' "$A/s/.replicas"
	: >"$A/s/.replicas"
	: >"$A/s/.upstreams"
	wait_for test ! -s "$B/s/.replicas"
	wait_for test ! -s "$B/s/.upstreams"
	rmdir "$A/s2"
	# a topic made on both at once is one topic
	touch "$A/s/u" "$B/s/u"
	wait_for test -e "$A/s/u"
	[ "$(jq -r '.topics[] | select(.name == "u") | .uuid' "$A/s/.info")" = \
	  "$(jq -r '.topics[] | select(.name == "u") | .uuid' "$B/s/.info")" ]
	# removal and a new incarnation
	rm "$A/s/t"
	wait_for test ! -e "$B/s/t"
	echo fresh >>"$B/s/t"
	wait_for content_is "$A/s/t" fresh
	rm "$B/s/t" "$B/s/u"
	wait_for test ! -e "$A/s/u"
	rmdir "$A/s"
	wait_for test ! -e "$B/s"
	# the stream name can be taken again at once, on the other daemon
	mkdir "$B/s"
	wait_for test -d "$A/s"
	[ -z "$(ls "$A/s")" ]
}

@test "a stream made with topics on one daemon while the other's watcher lags (frozen): the other serves every topic and its bytes, though the stream's key was written again before it read its first value" {
	sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	# B frozen: its watcher reads the stream's first key value only after
	# the topics made there wrote the key again (its mtime)
	kill -STOP "$SFS_PID2"
	mkdir "$A/s"
	echo one >>"$A/s/t"
	echo two >>"$A/s/u"
	kill -CONT "$SFS_PID2"
	wait_for content_is "$B/s/t" one
	wait_for content_is "$B/s/u" two
	[ "$(jq -r .numtopics "$B/s/.info")" = 2 ]
}

@test "a daemon whose bucket watcher stops delivering (its consumer removed behind its back) has it made anew: what changed meanwhile shows, also a stream whose key the bucket replays after its topic's" {
	sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	mkdir "$A/s"
	echo one >>"$A/s/t"
	echo x >>"$A/s/gone"
	wait_for test -e "$B/s/gone"
	wait_for size_is "$B/s/t" 4
	# every consumer of the bucket's stream removed: both watchers silent
	local q="$STREAMFS_SRC/tests/e2e/natsq.py" at="127.0.0.1:$SFS_NATS_PORT" c names
	names=$(python3 "$q" "$at" '$JS.API.CONSUMER.NAMES.KV_SFS_tokyo' | jq -r '.consumers[]')
	[ -n "$names" ]
	for c in $names; do
		python3 "$q" "$at" "\$JS.API.CONSUMER.DELETE.KV_SFS_tokyo.$c" | grep -q '"success":true'
	done
	# changes meanwhile: a stream whose key is written again after its
	# topic's (a replay delivers the topic first), a topic removed, modes
	mkdir "$A/s2"
	echo two >>"$A/s2/u"
	chmod 0700 "$A/s2"
	rm "$A/s/gone"
	chmod 0640 "$A/s/t"
	wait_for -t 20 test -d "$B/s2"
	wait_for content_is "$B/s2/u" two
	wait_for mode_is "$B/s2" 700
	wait_for test ! -e "$B/s/gone"
	wait_for mode_is "$B/s/t" 640
	# made anew by libnats (two missed heartbeats of 1 s: natskvwatch.c),
	# or by the daemon after 6 s of silence
	grep -Eq "cluster tokyo: the bucket's watcher delivered nothing for 6 s; it is made anew|bucket SFS_tokyo: its watcher's consumer was made anew by libnats" \
		"$TMP/streamfs2.log"
	# followed since, both ways
	mkdir "$B/s3"
	wait_for test -d "$A/s3"
	echo three >>"$A/s3/v"
	wait_for content_is "$B/s3/v" three
	[ "$(cat "$B/s/t")" = one ]
}

@test "writers on two daemons into three topics of one stream at once: each topic has its lines once, in each writer's order, alike on both daemons" {
	sfs_setup tokyo
	start_second
	mkdir "$M/tokyo/s"
	local d t pids=()
	for d in 1 2; do
		mnt=$M
		[[ $d == 2 ]] && mnt=$M2
		for t in a b c; do
			(for ((i = 1; i <= 200; i++)); do
				echo "$d$t-$i" >>"$mnt/tokyo/s/$t" || exit 1
			done) &
			pids+=($!)
		done
	done
	for d in "${pids[@]}"; do
		wait "$d"
	done
	for t in a b c; do
		wait_for same_size "$M2/tokyo/s/$t" "$M/tokyo/s/$t"
		cat "$M/tokyo/s/$t" >"$TMP/r1"
		cat "$M2/tokyo/s/$t" >"$TMP/r2"
		same_file "$TMP/r1" "$TMP/r2"
		[ "$(wc -l <"$TMP/r1")" -eq 400 ]
		for d in 1 2; do
			diff <(grep "^$d$t-" "$TMP/r1") <(seq -f "$d$t-%.0f" 1 200)
		done
		[ "$(jq -r --arg t "$t" '.topics[] | select(.name == $t) | .messages' "$M2/tokyo/s/.info")" = 400 ]
	done
}

@test "writers on two daemons into one topic: nothing lost, nothing twice, each write() contiguous, both daemons agree on every byte" {
	sfs_setup tokyo
	start_second
	mkdir "$M/tokyo/s"
	mkdir "$TMP/w"
	local d w i
	for d in 1 2; do
		for w in 1 2; do
			for i in $(seq 150); do
				printf '%s-%s-%s-a\n%s-%s-%s-b\n%s-%s-%s-c\n' $d $w $i $d $w $i $d $w $i \
					>"$TMP/w/$d-$w-$i"
			done
		done
	done
	local pids=()
	for d in 1 2; do
		mnt=$M
		[[ $d == 2 ]] && mnt=$M2
		for w in 1 2; do
			# cat: one write() of the three lines each
			(for i in $(seq 150); do cat "$TMP/w/$d-$w-$i"; done >>"$mnt/tokyo/s/t") &
			pids+=($!)
		done
	done
	wait "${pids[@]}"
	wait_for same_size "$M2/tokyo/s/t" "$M/tokyo/s/t"
	cat "$M/tokyo/s/t" >"$TMP/r1"
	cat "$M2/tokyo/s/t" >"$TMP/r2"
	same_file "$TMP/r1" "$TMP/r2"
	[ "$(wc -l <"$TMP/r1")" -eq 1800 ]
	[ -z "$(sort "$TMP/r1" | uniq -d)" ]
	cat "$TMP"/w/* | sort >"$TMP/want"
	sort "$TMP/r1" | same_file - "$TMP/want"
	# each write's three lines together, in order
	run awk -F- '{ k = $1 "-" $2 "-" $3; r = NR % 3 }
		r == 1 { key = k; if ($4 != "a") { print NR ": " $0; bad++ } }
		r == 2 && ($4 != "b" || k != key) { print NR ": " $0; bad++ }
		r == 0 && ($4 != "c" || k != key) { print NR ": " $0; bad++ }
		END { exit bad > 0 }' "$TMP/r1"
	echo "$output"
	[ "$status" -eq 0 ]
	# every offset the same: byte positions of each line agree
	[ "$(jq -r '.topics[0].messages' "$M/tokyo/s/.info")" = 1800 ]
	[ "$(jq -r '.topics[0].messages' "$M2/tokyo/s/.info")" = 1800 ]
	[ "$(dd if="$M2/tokyo/s/t" bs=1 skip=20000 count=4000 2>/dev/null | md5sum)" = \
	  "$(dd if="$TMP/r1" bs=1 skip=20000 count=4000 2>/dev/null | md5sum)" ]
}

# write_blocks FILE D W K L: K writes to FILE, each one write() of L lines
# "D-W-I-J-<padding>" (I the write, J its line, 0..L-1; about 340 bytes a
# line: 2000 lines are under max_write, so one write request, and longer
# than one NATS message of 64 KB).
write_blocks() {
	python3 - "$@" <<'PY'
import os, sys
path, d, w, k, lines = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
for i in range(k):
    block = ''.join('%s-%s-%d-%d-%s\n' % (d, w, i, j, chr(97 + (i + j) % 26) * (300 + j % 50))
                    for j in range(lines)).encode()
    n = os.write(fd, block)
    if n != len(block):
        sys.exit('short write: %d of %d' % (n, len(block)))
os.close(fd)
PY
}

# contiguous_blocks FILE L: every write's L lines are together and in
# order in FILE (lines "D-W-I-J-..." with J 0..L-1).
contiguous_blocks() {
	awk -F- -v L="$2" '{ k = $1 "-" $2 "-" $3; j = $4 + 0 }
		j == 0 { if (NR > 1 && prev != L - 1 && bad++ < 10) print NR ": " substr($0, 1, 40); key = k }
		j != 0 && (k != key || j != prev + 1) && bad++ < 10 { print NR ": " substr($0, 1, 40) }
		{ prev = j }
		END { if (prev != L - 1) bad++; exit bad > 0 }' "$1"
}

# cat_loop FILE OUT: until $TMP/done exists (at most 500 times), cat FILE
# and write "c SIZE MD5" of what it read to OUT.
cat_loop() {
	local f=$1 out=$2 k
	: >"$out"
	for ((k = 0; k < 500; k++)); do
		[[ -e $TMP/done ]] && break
		cat "$f" >"$out.cat" || { echo "cat failed" >>"$out"; return 1; }
		echo "c $(stat -c %s "$out.cat") $(md5sum <"$out.cat" | cut -c1-32)" >>"$out"
	done
}

# dd_loop FILE OUT: until $TMP/done exists (at most 2000 times), read 70000
# bytes of FILE with dd at a random offset, every other time one within
# 100000 bytes of its end (the newest chunks), and write "d OFFSET SIZE
# MD5" of what it read to OUT.
dd_loop() {
	local f=$1 out=$2 k size off
	: >"$out"
	for ((k = 0; k < 2000; k++)); do
		[[ -e $TMP/done ]] && break
		size=$(stat -c %s "$f")
		off=$(( (RANDOM * 32768 + RANDOM) % (size + 1) ))
		((k % 2 == 0 || size < 100000)) || off=$((size - RANDOM % 100000))
		dd if="$f" of="$out.dd" bs=70000 skip="$off" count=1 iflag=skip_bytes 2>/dev/null ||
			{ echo "dd failed" >>"$out"; return 1; }
		echo "d $off $(stat -c %s "$out.dd") $(md5sum <"$out.dd" | cut -c1-32)" >>"$out"
	done
}

# reads_match OUT FINAL: every read logged in OUT (cat_loop, dd_loop) returned the
# bytes FINAL has there: a prefix of it (cat), its bytes at the offset (dd).
reads_match() {
	local kind a b c bad=0 n=0
	while read -r kind a b c; do
		n=$((n + 1))
		case $kind in
		c) [[ $(head -c "$a" "$2" | md5sum | cut -c1-32) == "$b" ]] ||
			{ echo "cat of $a bytes: not a prefix of the topic" >&2; bad=1; } ;;
		d) [[ $(tail -c +$((a + 1)) "$2" | head -c "$b" | md5sum | cut -c1-32) == "$c" ]] ||
			{ echo "dd of $b bytes at $a: not the topic's bytes" >&2; bad=1; } ;;
		*) echo "$kind $a $b $c" >&2; bad=1 ;;
		esac
	done <"$1"
	echo "$1: $n reads checked" >&2
	((n > 0 && bad == 0))
}

@test "writes longer than one NATS message (max_payload 64 KB): writers on two daemons, each write() contiguous, nothing lost or twice, both daemons agree on every byte; cat and dd meanwhile read only the topic's bytes" {
	SFS_NATS_MAX_PAYLOAD=64KB
	sfs_setup tokyo
	start_second
	mkdir "$M/tokyo/s"
	wait_for test -d "$M2/tokyo/s"
	touch "$M/tokyo/s/t"
	wait_for test -e "$M2/tokyo/s/t"
	local readers=() pids=() d w mnt
	cat_loop "$M/tokyo/s/t" "$TMP/reads1" 3>&- &
	readers+=($!)
	cat_loop "$M2/tokyo/s/t" "$TMP/reads2" 3>&- &
	readers+=($!)
	dd_loop "$M/tokyo/s/t" "$TMP/reads3" 3>&- &
	readers+=($!)
	dd_loop "$M2/tokyo/s/t" "$TMP/reads4" 3>&- &
	readers+=($!)
	for d in 1 2; do
		mnt=$M
		[[ $d == 2 ]] && mnt=$M2
		for w in 1 2; do
			# 8 writes of 2000 lines (about 680 KB, 11 NATS messages) each
			write_blocks "$mnt/tokyo/s/t" $d $w 8 2000 3>&- &
			pids+=($!)
		done
	done
	local st=0
	wait "${pids[@]}" || st=$?
	touch "$TMP/done"
	wait "${readers[@]}"
	[ "$st" -eq 0 ]
	wait_for same_size "$M2/tokyo/s/t" "$M/tokyo/s/t"
	cat "$M/tokyo/s/t" >"$TMP/r1"
	cat "$M2/tokyo/s/t" >"$TMP/r2"
	same_file "$TMP/r1" "$TMP/r2"
	[ "$(wc -l <"$TMP/r1")" -eq 64000 ]
	[ -z "$(sort "$TMP/r1" | uniq -d)" ]
	run contiguous_blocks "$TMP/r1" 2000
	echo "$output"
	[ "$status" -eq 0 ]
	# every write there once: 32 distinct writes of 2000 lines
	[ "$(cut -d- -f1-3 "$TMP/r1" | sort -u | wc -l)" -eq 32 ]
	# dense offsets, on both
	[ "$(jq -r '.topics[0].messages' "$M/tokyo/s/.info")" = 64000 ]
	[ "$(jq -r '.topics[0].messages' "$M2/tokyo/s/.info")" = 64000 ]
	# what the readers saw while the writers wrote
	local r
	for r in 1 2 3 4; do
		reads_match "$TMP/reads$r" "$TMP/r1"
	done
	# reads at any offset inside a chunk in parts, across part boundaries
	local off
	for off in 0 1 64511 64512 64513 129000 500000 3333333 $(( $(stat -c %s "$TMP/r1") - 3 )); do
		[ "$(dd if="$M2/tokyo/s/t" bs=70000 skip=$off count=1 iflag=skip_bytes 2>/dev/null | md5sum)" = \
		  "$(tail -c +$((off + 1)) "$TMP/r1" | head -c 70000 | md5sum)" ]
	done
	# and after a restart (the index read again, heads and their parts)
	sfs_restart
	same_file "$M/tokyo/s/t" "$TMP/r1"
}

# line_of N CHAR: one line of N bytes CHAR... with its number every 1000
# bytes, and its newline.
line_of() {
	python3 -c "import sys
n = int(sys.argv[1]); s = ''.join('%s%07d' % (sys.argv[2] * 993, i) for i in range(n // 1000 + 1))
sys.stdout.write(s[:n] + '\n')" "$1" "$2"
}

@test "nats-server's own max_payload (1 MiB): a message of max_message (1 MiB) is stored in parts and read back whole on both daemons; 3 MiB with max_message = 4 MiB" {
	SFS_NATS_MAX_PAYLOAD=default
	sfs_setup tokyo
	start_second
	grep -q 'max_payload 1048576' "$TMP/streamfs.log"
	mkdir "$M/tokyo/s"
	line_of 1048576 a >"$TMP/want"
	printf 'short\n' >>"$TMP/want"
	line_of 1048576 a >>"$M/tokyo/s/t"
	printf 'short\n' >>"$M/tokyo/s/t"
	same_file "$M/tokyo/s/t" "$TMP/want"
	wait_for same_size "$M2/tokyo/s/t" "$TMP/want"
	same_file "$M2/tokyo/s/t" "$TMP/want"
	[ "$(jq -r '.topics[0].messages' "$M2/tokyo/s/.info")" = 2 ]
	local off
	for off in 0 1047551 1047552 1047553 1048570; do
		[ "$(dd if="$M2/tokyo/s/t" bs=100 skip=$off count=1 iflag=skip_bytes 2>/dev/null | md5sum)" = \
		  "$(tail -c +$((off + 1)) "$TMP/want" | head -c 100 | md5sum)" ]
	done
	# max_message = 4 MiB: a line of 3 MiB and two short ones in one write()
	stop_second
	sed -i 's/^\[mount\]$/[mount]\nmax_message = 4194304/' "$TMP/mount.conf"
	sfs_restart
	start_second
	python3 -c "import sys; sys.stdout.write('x' * 3145728 + '\nend1\nend2\n')" >"$TMP/big"
	python3 -c "import os, sys
d = open(sys.argv[1], 'rb').read(); fd = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND)
assert os.write(fd, d) == len(d)" "$TMP/big" "$M/tokyo/s/t"
	cat "$TMP/big" >>"$TMP/want"
	same_file "$M/tokyo/s/t" "$TMP/want"
	wait_for same_size "$M2/tokyo/s/t" "$TMP/want"
	same_file "$M2/tokyo/s/t" "$TMP/want"
	[ "$(jq -r '.topics[0].messages' "$M2/tokyo/s/.info")" = 5 ]
}

# nats_messages STREAM: how many messages the data stream of streamfs
# stream tokyo/STREAM holds in JetStream (nats-server's monitoring port).
nats_messages() {
	local mon u
	mon=$(sed -n 's/.*Starting http monitor on \(.*\)/\1/p' "$TMP/nats/nats.log" | tail -n 1)
	u=$(jq -r .uuid "$M/tokyo/$1/.info")
	curl -s "http://${mon#http://}/jsz?streams=true" |
		jq --arg n "SFS-$u" '[.account_details[].stream_detail[]? | select(.name == $n) | .state.messages] | add // 0'
}

@test "a writer killed between its parts and its head: nothing of the write shows on any daemon; the topic's removal frees the parts, and the topic made again shows nothing old" {
	SFS_NATS_MAX_PAYLOAD=64KB
	SFS_NATS_CONF_EXTRA='http: "127.0.0.1:-1"'
	sfs_setup tokyo
	mkdir "$M/tokyo/s"
	write_blocks "$M/tokyo/s/t" 1 1 1 1000
	cp "$M/tokyo/s/t" "$TMP/want"
	[ "$(wc -l <"$TMP/want")" -eq 1000 ]
	local before
	before=$(nats_messages s)
	[ "$before" -gt 1 ]	# parts and a head
	STREAMFS_FAULT=nats-after-parts start_second
	run write_blocks "$M2/tokyo/s/t" 2 1 1 1000
	[ "$status" -ne 0 ]
	wait_for gone "$SFS_PID2"
	wait "$SFS_PID2" || true
	fusermount3 -uz "$M2"
	SFS_PID2=
	grep -q 'fault point nats-after-parts reached' "$TMP/streamfs2.log"
	# its parts are in JetStream, and nothing of them in the topic
	[ "$(nats_messages s)" -gt "$before" ]
	same_file "$M/tokyo/s/t" "$TMP/want"
	[ "$(jq -r '.topics[0].messages' "$M/tokyo/s/.info")" = 1000 ]
	echo after >>"$M/tokyo/s/t"
	[ "$(tail -n 1 "$M/tokyo/s/t")" = after ]
	start_second
	wait_for same_size "$M2/tokyo/s/t" "$M/tokyo/s/t"
	same_file "$M2/tokyo/s/t" "$M/tokyo/s/t"
	# the topic's removal purges its chunks and its parts, orphans included
	rm "$M/tokyo/s/t"
	wait_for test ! -e "$M2/tokyo/s/t"
	[ "$(nats_messages s)" -eq 0 ]
	# made again, on the other daemon: new bytes only, there and here
	echo fresh >>"$M2/tokyo/s/t"
	wait_for content_is "$M/tokyo/s/t" fresh
	write_blocks "$M2/tokyo/s/t" 3 1 1 500
	wait_for size_is "$M/tokyo/s/t" "$(stat -c %s "$M2/tokyo/s/t")"
	same_file "$M/tokyo/s/t" "$M2/tokyo/s/t"
	[ "$(head -n 1 "$M/tokyo/s/t")" = fresh ]
	[ "$(grep -c '^3-1-0-' "$M/tokyo/s/t")" -eq 500 ]
	[ "$(wc -l <"$M/tokyo/s/t")" -eq 501 ]
}

# reachable CLUSTER: /.info says the cluster is reachable (true/false).
reachable_is() {
	[[ $(jq -r --arg c "$1" '.clusters[] | select(.name == $c) | .reachable' "$M/.info" 2>/dev/null) == "$2" ]]
}

@test "NATS away: /.info says so, appends fail with EIO within nats_timeout_ms, what is known stays listed; back: all works again" {
	SFS_NATS_EXTRA="nats_timeout_ms = 1000"
	sfs_setup tokyo
	T=$M/tokyo/s/t
	mkdir "$M/tokyo/s"
	echo a >>"$T"
	wait_for reachable_is tokyo true
	port=$SFS_NATS_PORT
	sfs_nats_stop
	wait_for reachable_is tokyo false
	run bash -c "echo b >>'$T'"
	[ "$status" -ne 0 ]
	[[ $output == *"Input/output error"* ]]
	# the namespace and sizes are known here; nothing of the failed append
	[ -d "$M/tokyo/s" ]
	[ "$(stat -c %s "$T")" -eq 2 ]
	run mkdir "$M/tokyo/s2"
	[ "$status" -ne 0 ]
	# the same server back, on the same port and store
	sfs_nats_start "$port"
	wait_for -t 10 reachable_is tokyo true
	echo c >>"$T"
	[ "$(cat "$T")" = "$(printf 'a\nc')" ]
	mkdir "$M/tokyo/s2"
}

@test "rm of a topic while NATS does not answer (nats-server stopped with SIGSTOP) fails with EIO and changes nothing, on either daemon; once NATS answers again, rm works" {
	SFS_NATS_EXTRA="nats_timeout_ms = 1000"
	SFS_LOG_ALLOW='not removed|timed out|Timeout|not answer'
	sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	mkdir "$A/s"
	seq 1 200 >>"$A/s/t"
	wait_for size_is "$B/s/t" 692
	kill -STOP "$SFS_NATS_PID"
	local t0=$SECONDS
	run rm "$A/s/t"
	kill -CONT "$SFS_NATS_PID"
	[ "$status" -ne 0 ]
	[[ $output == *"Input/output error"* || $output == *"timed out"* ]]
	((SECONDS - t0 <= 10))
	# still there, whole, on both daemons
	[ "$(seq 1 200)" = "$(cat "$A/s/t")" ]
	[ "$(seq 1 200)" = "$(cat "$B/s/t")" ]
	grep -q 'topic t: not removed' "$TMP/streamfs.log"
	# an append goes to the same topic, seen on both
	echo 201 >>"$A/s/t"
	wait_for size_is "$B/s/t" 696
	rm "$A/s/t"
	wait_for test ! -e "$B/s/t"
}

@test "an append while NATS does not answer (nats-server stopped with SIGSTOP) fails with EIO within nats_timeout_ms, yet is stored once the server goes on: it was sent before the wait began (as after a lost acknowledgement), once, whole" {
	SFS_NATS_EXTRA="nats_timeout_ms = 1000"
	SFS_LOG_ALLOW='not acknowledged|append failed'
	sfs_setup tokyo
	T=$M/tokyo/s/t
	mkdir "$M/tokyo/s"
	echo a >>"$T"
	kill -STOP "$SFS_NATS_PID"
	local t0=$SECONDS
	run bash -c "echo b >>'$T'"
	local took=$((SECONDS - t0))
	kill -CONT "$SFS_NATS_PID"
	[ "$status" -ne 0 ]
	[[ $output == *"Input/output error"* ]]
	((took <= 3))
	grep -q 'append not acknowledged by NATS' "$TMP/streamfs.log"
	# the server, going on, stores what it had been sent: the failed
	# append is there, once (docs/nats.md, "When NATS is away")
	wait_for -t 10 size_is "$T" 4
	[ "$(cat "$T")" = "$(printf 'a\nb')" ]
	echo c >>"$T"
	[ "$(cat "$T")" = "$(printf 'a\nb\nc')" ]
}

@test "a stop while NATS does not answer (nats-server stopped with SIGSTOP) with 24 streams: within 8 s (each consumer's close does not wait its own 500 ms round trip), stopped cleanly" {
	SFS_NATS_EXTRA="nats_timeout_ms = 1000"
	SFS_LOG_ALLOW='not removed|timed out|Timeout|not answer|slow to close|did not close'
	sfs_setup tokyo
	local i
	for i in $(seq 1 24); do
		mkdir "$M/tokyo/s$i"
		echo a >>"$M/tokyo/s$i/t"
	done
	kill -STOP "$SFS_NATS_PID"
	local t0=$SECONDS
	fusermount3 -u "$M"
	wait_for -t 30 is_unmounted "$M"
	SFS_EXIT_TIMEOUT=30 _sfs_reap
	local took=$((SECONDS - t0))
	kill -CONT "$SFS_NATS_PID"
	echo "stopped in ${took} s" >&2
	((took <= 8))
	[ "$SFS_STATUS" = 0 ]
	grep -q "stopped cleanly" "$TMP/streamfs.log"
}

@test "a writer whose child ends while its write waits on NATS (SIGCHLD, handled): the append is not interrupted, it waits and is stored once NATS answers; SIGUSR1 with a handler still ends it" {
	SFS_NATS_EXTRA="nats_timeout_ms = 20000"
	SFS_LOG_ALLOW='interrupted'
	sfs_setup tokyo
	T=$M/tokyo/s/t
	mkdir "$M/tokyo/s"
	echo a >>"$T"
	kill -STOP "$SFS_NATS_PID"
	# a program that handles SIGCHLD (as shells and servers do) and
	# retries an interrupted write (Python does, PEP 475): its child
	# ends while its write waits on NATS
	python3 -c 'import os, signal, subprocess, sys
signal.signal(signal.SIGCHLD, lambda *a: None)
child = subprocess.Popen(["sleep", "60"])
with open(sys.argv[2], "w") as f:
	f.write(str(child.pid))
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
print("wrote", os.write(fd, b"b\n"))
os.close(fd)' "$T" "$TMP/job" >"$TMP/out" 2>&1 &
	local w=$! job
	wait_for test -s "$TMP/job"
	job=$(cat "$TMP/job")
	wait_for in_fuse_wait "$w"
	kill "$job"	# the child ends: SIGCHLD
	wait_for gone "$job"
	# not interrupted: the daemon, which looks every 500 ms, has not
	# ended the write 3 s later, and the write still waits
	if wait_for -t 3 grep -q "append interrupted" "$TMP/streamfs.log"; then
		false
	fi
	in_fuse_wait "$w"
	kill -CONT "$SFS_NATS_PID"
	wait "$w"
	cat "$TMP/out"
	grep -qx "wrote 2" "$TMP/out"
	# stored once, never interrupted (an interrupted append may be
	# stored all the same, and the retried write stored it again)
	[ "$(cat "$T")" = "$(printf 'a\nb')" ]
	run grep -c "append interrupted" "$TMP/streamfs.log"
	[ "$output" = 0 ]
	# a signal the writer handles still ends its wait at once
	kill -STOP "$SFS_NATS_PID"
	python3 -c 'import os, signal, sys
def stop(*a):
	raise InterruptedError
signal.signal(signal.SIGUSR1, stop)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
try:
	os.write(fd, b"c\n")
	print("written")
except InterruptedError:
	print("interrupted")
os.close(fd)' "$T" >"$TMP/out2" 2>&1 &
	w=$!
	wait_for in_fuse_wait "$w"
	kill -USR1 "$w"
	wait_for -t 5 gone "$w"
	kill -CONT "$SFS_NATS_PID"
	cat "$TMP/out2"
	grep -qx "interrupted" "$TMP/out2"
}

@test "a writer stopped and continued while its write waits on NATS (SIGSTOP, then SIGCONT; Ctrl-Z and fg): the append is not interrupted, it is stored once NATS answers" {
	SFS_NATS_EXTRA="nats_timeout_ms = 20000"
	SFS_LOG_ALLOW='interrupted'
	sfs_setup tokyo
	T=$M/tokyo/s/t
	mkdir "$M/tokyo/s"
	echo a >>"$T"
	kill -STOP "$SFS_NATS_PID"
	# a writer with no handler of its own that retries an interrupted
	# write (Python does, PEP 475)
	python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
print("wrote", os.write(fd, b"b\n"))
os.close(fd)' "$T" >"$TMP/out" 2>&1 &
	local w=$!
	wait_for in_fuse_wait "$w"
	# stopped (as by Ctrl-Z or a debugger), then continued: the kernel
	# stops it only on its way out of the write, which goes on meanwhile
	kill -STOP "$w"
	local early=0
	wait_for -t 2 grep -q "append interrupted" "$TMP/streamfs.log" && early=1
	kill -CONT "$w"
	[ "$early" = 0 ]
	in_fuse_wait "$w"
	kill -CONT "$SFS_NATS_PID"
	wait "$w"
	cat "$TMP/out"
	grep -qx "wrote 2" "$TMP/out"
	[ "$(cat "$T")" = "$(printf 'a\nb')" ]
	run grep -c "append interrupted" "$TMP/streamfs.log"
	[ "$output" = 0 ]
}

# view DIR: the names, sizes and contents of DIR's topics, and .info's
# numtopics, one line each (for two daemons' views to be compared).
view() {
	local f
	for f in "$1"/*; do
		[[ -e $f ]] || continue
		echo "$(basename "$f") $(stat -c %s "$f") $(md5sum <"$f" | cut -c1-32)"
	done
	echo "numtopics $(jq -r .numtopics "$1/.info" 2>/dev/null)"
}
same_view() { [[ $(view "$1") == "$(view "$2")" ]]; }

@test "attack2: streams made with many topics, topics removed and made again, a stream removed and made again under its name, all while the other daemon is frozen: once thawed it shows exactly the first one's view, never a removed topic" {
	sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	local i s
	mkdir "$A/keep"
	echo kept >>"$A/keep/k"
	wait_for content_is "$B/keep/k" kept
	kill -STOP "$SFS_PID2"
	for s in s1 s2 s3; do
		mkdir "$A/$s"
		for i in $(seq 1 12); do echo "$s-$i" >>"$A/$s/t$i"; done
	done
	# some removed, some of those made again with other bytes
	for i in 2 4 6 8 10 12; do rm "$A/s1/t$i" "$A/s2/t$i"; done
	for i in 4 8 12; do echo "again-$i" >>"$A/s1/t$i"; echo "again-$i" >>"$A/s2/t$i"; done
	# a whole stream removed, made again under its name with other topics
	rm "$A"/s3/t*
	rmdir "$A/s3"
	mkdir "$A/s3"
	for i in 20 21 22; do echo "new-$i" >>"$A/s3/u$i"; done
	kill -CONT "$SFS_PID2"
	for s in keep s1 s2 s3; do
		wait_for -t 20 same_view "$A/$s" "$B/$s"
	done
	view "$B/s1"
	[ "$(jq -r .numtopics "$B/s1/.info")" = 9 ]
	[ "$(jq -r .numtopics "$B/s3/.info")" = 3 ]
	[ ! -e "$B/s1/t2" ] && [ ! -e "$B/s3/t1" ]
	[ "$(cat "$B/s1/t8")" = again-8 ]
	[ "$(cat "$B/s3/u21")" = new-21 ]
	[ "$(ls "$B" | sort | tr '\n' ' ')" = "keep s1 s2 s3 " ]
}

@test "attack2: two daemons racing large writes (max_payload 64 KB) on one topic, one frozen mid-way: no read fails with 'is not the one its head names', both agree" {
	SFS_NATS_MAX_PAYLOAD=64KB
	sfs_setup tokyo
	start_second
	mkdir "$M/tokyo/s"
	wait_for test -d "$M2/tokyo/s"
	local pids=() d w mnt st=0
	for d in 1 2; do
		mnt=$M
		[[ $d == 2 ]] && mnt=$M2
		for w in 1 2 3; do
			write_blocks "$mnt/tokyo/s/t" $d $w 6 1000 3>&- &
			pids+=($!)
		done
	done
	kill -STOP "$SFS_PID2"
	write_blocks "$M/tokyo/s/t" 1 9 4 1000
	kill -CONT "$SFS_PID2"
	for w in "${pids[@]}"; do wait "$w" || st=1; done
	[ "$st" = 0 ]
	wait_for -t 30 same_size "$M2/tokyo/s/t" "$M/tokyo/s/t"
	same_file "$M/tokyo/s/t" "$M2/tokyo/s/t"
	[ "$(wc -l <"$M/tokyo/s/t")" = $((6 * 6000 + 4000)) ]
	! grep -q "is not the one its head names" "$TMP/streamfs.log" "$TMP/streamfs2.log"
}

@test "attack2: large writes (max_payload 64 KB) from two daemons while nats-server is frozen past nats_timeout_ms: heads published again after lost answers; reads never fail with 'is not the one its head names', both agree, no line twice, every write whole" {
	SFS_NATS_MAX_PAYLOAD=64KB
	SFS_LOG_ALLOW='not acknowledged by NATS|disconnected from NATS|stale connection|watcher delivered nothing'
	sfs_setup tokyo
	start_second
	mkdir "$M/tokyo/s"
	wait_for test -d "$M2/tokyo/s"
	local pids=() d w mnt
	for d in 1 2; do
		mnt=$M
		[[ $d == 2 ]] && mnt=$M2
		for w in 1 2; do
			write_blocks "$mnt/tokyo/s/t" $d $w 6 1000 3>&- &
			pids+=($!)
		done
	done
	wait_for -t 20 test -s "$M/tokyo/s/t"
	kill -STOP "$SFS_NATS_PID"
	wait_for -t 20 grep -q "not acknowledged by NATS" "$TMP/streamfs.log" "$TMP/streamfs2.log"
	kill -CONT "$SFS_NATS_PID"
	for w in "${pids[@]}"; do wait "$w" || true; done
	wait_for -t 30 same_size "$M2/tokyo/s/t" "$M/tokyo/s/t"
	same_file "$M/tokyo/s/t" "$M2/tokyo/s/t"
	local lines
	lines=$(wc -l <"$M/tokyo/s/t")
	[ "$lines" -gt 0 ]
	[ "$(sort -u "$M/tokyo/s/t" | wc -l)" = "$lines" ]
	# every write whole: its 1000 lines one after the other
	python3 - "$M/tokyo/s/t" <<'PY'
import sys
lines = open(sys.argv[1]).read().split('\n')[:-1]
i = 0
while i < len(lines):
    d, w, b, j = lines[i].split('-')[:4]
    assert j == '0', (i, lines[i])
    for k in range(1000):
        assert lines[i + k].split('-')[:4] == [d, w, b, str(k)], (i + k, lines[i + k][:20])
    i += 1000
PY
	! grep -q "is not the one its head names" "$TMP/streamfs.log" "$TMP/streamfs2.log"
}

@test "attack2: a topic removed (and one made again) on one daemon just as the other, thawed, makes the stream and reads its topics from the bucket: the other never keeps the removed topic" {
	sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	local n
	for n in 1 2 3 4 5 6; do
		kill -STOP "$SFS_PID2"
		mkdir "$A/s$n"
		echo one >>"$A/s$n/t"
		echo two >>"$A/s$n/u"
		echo three >>"$A/s$n/v"
		kill -CONT "$SFS_PID2"
		rm "$A/s$n/t"
		rm "$A/s$n/u"
		echo again >>"$A/s$n/u"
	done
	for n in 1 2 3 4 5 6; do
		if ! wait_for -t 20 same_view "$A/s$n" "$B/s$n"; then
			echo "A:" >&2; view "$A/s$n" >&2
			echo "B:" >&2; view "$B/s$n" >&2
			return 1
		fi
		[ ! -e "$B/s$n/t" ]
		[ "$(cat "$B/s$n/u")" = again ]
		[ "$(jq -r .numtopics "$B/s$n/.info")" = 2 ]
	done
}
