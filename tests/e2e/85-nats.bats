#!/usr/bin/env bats
# 85-nats.bats - clusters kept in NATS JetStream (docs/nats.md): a
# nats-server of the test's own on a free loopback port; nothing of the
# cluster on the host's disk; start-up refusals; two daemons on the same
# NATS see each other's streams, topics, messages, modes and removals;
# writers on both daemons into one topic lose, duplicate and interleave
# nothing, and both daemons agree on every byte; NATS away and back
# (/.info, EIO within nats_timeout_ms, nothing stored behind a writer's
# back, all works again). The suites of
# 10-namespace.bats and 20-topic.bats also run on NATS (81-nats-*.bats,
# 82-nats-*.bats: symlinks, helpers.bash reads the name).

SFS_HOME=nats
load helpers
load nats_helpers

export LC_ALL=C


teardown() {
	stop_second || true
	sfs_teardown
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
	SFS_NATS_CONF='accounts { A { jetstream { max_streams: 3, max_file: 4MB }, users [{user: u, password: p}] } }\nno_auth_user: u'
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
	grep -q 'append refused by JetStream: .*resource limits exceeded' "$TMP/streamfs.log"
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
