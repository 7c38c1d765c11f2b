#!/usr/bin/env bats
# 85-nats-merge.bats - metadata changed on two daemons of one NATS-backed
# cluster at once (docs/nats.md, "Metadata changed on two daemons at
# once"; fs/nats/natsmerge.c): a change refused because the other daemon
# changed the key since is made again over its value, field by field, so
# a chmod on one and a control-file write or a chown on the other both
# stay, on both daemons; with a test-only lie that holds back the second
# daemon's watcher, and with both at once, many times.

SFS_HOME=nats
load helpers
load replication_helpers
load nats_helpers

export LC_ALL=C

teardown() {
	local fail=0
	stop_second || fail=1
	sfs_teardown || fail=1
	return "$fail"
}

# For wait_for: FILE holds TEXT (cat's view) / has MODE.
content_is() { [[ $(cat "$1" 2>/dev/null) == "$2" ]]; }
mode_is() { [[ $(stat -c %a "$1" 2>/dev/null) == "$2" ]]; }

@test "a chmod on one daemon and a control-file write or a chown on the other before it heard of the chmod (a test-only lie): both changes stay, on both daemons" {
	sfs_setup tokyo
	A=$M/tokyo
	mkdir "$A/s" "$A/s2"
	echo x >>"$A/s/t"
	# B applies none of the next two changes of a stream or topic it
	# knows, as if the bucket had not delivered them yet
	STREAMFS_FAULT_LIE=nats-watch-late:2 start_second
	B=$M2/tokyo
	wait_for content_is "$B/s/t" x
	local m0 t0
	m0=$(stat -c %a "$B/s")
	t0=$(stat -c %a "$B/s/t")
	# (none taken yet by B's start)
	! grep -q "fault lie" "$TMP/streamfs2.log" || false
	[ "$m0" != 750 ] && [ "$t0" != 600 ]
	# the stream: A's chmod, then B's control-file write over its view
	chmod 0750 "$A/s"
	wait_for -t 10 grep -q "fault lie nats-watch-late reached" "$TMP/streamfs2.log"
	[ "$(stat -c %a "$B/s")" = "$m0" ]
	echo /mapr/tokyo/s2 >>"$B/s/.upstreams"
	wait_for grep -q '^/mapr/tokyo/s2' "$A/s/.upstreams"
	[ "$(stat -c %a "$A/s")" = 750 ]
	[ "$(stat -c %a "$B/s")" = 750 ]
	grep -q '^/mapr/tokyo/s2' "$B/s/.upstreams"
	grep -q "stream s: its metadata was changed by another daemon meanwhile: this daemon's change made over it" \
		"$TMP/streamfs2.log"
	# a topic: A's chmod, then B's chown over its view
	chmod 0600 "$A/s/t"
	wait_for -t 10 eval '[ "$(grep -c "fault lie nats-watch-late reached" "$TMP/streamfs2.log")" -eq 2 ]'
	[ "$(stat -c %a "$B/s/t")" = "$t0" ]
	chown 1234:2345 "$B/s/t"
	wait_for eval '[ "$(stat -c %u "$A/s/t")" = 1234 ]'
	[ "$(stat -c '%a %u %g' "$A/s/t")" = "600 1234 2345" ]
	[ "$(stat -c '%a %u %g' "$B/s/t")" = "600 1234 2345" ]
	# and both go on: a change made on B is seen on A as usual
	chmod 0700 "$B/s"
	wait_for mode_is "$A/s" 700
}

@test "chmods on one daemon while the other appends 12 lines to a control file and chowns a topic 12 times: every line and the last of each change stays, and both daemons agree" {
	sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	local i modes=(700 750 755 770) pa pb
	mkdir "$A/s"
	for ((i = 1; i <= 12; i++)); do mkdir "$A/u$i"; done
	echo x >>"$A/s/t"
	wait_for content_is "$B/s/t" x
	wait_for test -d "$B/u12"
	# A: the stream's and the topic's mode, until B is done; B: a line
	# more in the stream's .upstreams each time, and the topic's owner.
	# Different fields: none may undo another, nor drop a line.
	(
		for ((i = 0; i < 400; i++)); do
			chmod "${modes[i % 4]}" "$A/s"
			chmod "${modes[(i + 1) % 4]}" "$A/s/t"
			echo "${modes[i % 4]} ${modes[(i + 1) % 4]}" >"$TMP/last"
			[[ -e $TMP/bdone ]] && break
		done
	) &
	pa=$!
	(
		for ((i = 1; i <= 12; i++)); do
			echo "/mapr/tokyo/u$i" >>"$B/s/.upstreams"
			chown "$((1000 + i))" "$B/s/t"
		done
		touch "$TMP/bdone"
	) &
	pb=$!
	wait "$pb"
	wait "$pa"
	local ms mt
	read -r ms mt <"$TMP/last"
	wait_for -t 10 mode_is "$A/s" "$ms"
	wait_for -t 10 mode_is "$B/s" "$ms"
	for ((i = 1; i <= 12; i++)); do
		wait_for -t 10 grep -q "^/mapr/tokyo/u$i " "$A/s/.upstreams"
		grep -q "^/mapr/tokyo/u$i " "$B/s/.upstreams"
	done
	[ "$(wc -l <"$A/s/.upstreams")" -eq 12 ]
	[ "$(wc -l <"$B/s/.upstreams")" -eq 12 ]
	wait_for -t 10 eval '[ "$(stat -c "%a %u" "$A/s/t")" = "$mt 1012" ]'
	wait_for -t 10 eval '[ "$(stat -c "%a %u" "$B/s/t")" = "$mt 1012" ]'
}

@test "lines appended to .upstreams and .replicas on two daemons at once, 8 a file on each: every line stays, on both daemons" {
	sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	local i pa pb
	mkdir "$A/s"
	for ((i = 1; i <= 16; i++)); do mkdir "$A/u$i"; done
	wait_for test -d "$B/u16"
	# odd streams from A, even ones from B, each line one write
	(
		for ((i = 1; i <= 16; i += 2)); do
			echo "/mapr/tokyo/u$i" >>"$A/s/.upstreams" || exit 1
			echo "/mapr/tokyo/u$i paused=true" >>"$A/s/.replicas" || exit 1
		done
	) &
	pa=$!
	(
		for ((i = 2; i <= 16; i += 2)); do
			echo "/mapr/tokyo/u$i" >>"$B/s/.upstreams" || exit 1
			echo "/mapr/tokyo/u$i paused=true" >>"$B/s/.replicas" || exit 1
		done
	) &
	pb=$!
	wait "$pa"
	wait "$pb"
	for ((i = 1; i <= 16; i++)); do
		wait_for -t 10 grep -q "^/mapr/tokyo/u$i " "$A/s/.upstreams"
		wait_for -t 10 grep -q "^/mapr/tokyo/u$i " "$B/s/.upstreams"
		wait_for -t 10 grep -q "^/mapr/tokyo/u$i .*paused=true" "$A/s/.replicas"
		wait_for -t 10 grep -q "^/mapr/tokyo/u$i .*paused=true" "$B/s/.replicas"
	done
	[ "$(wc -l <"$A/s/.upstreams")" -eq 16 ]
	[ "$(wc -l <"$B/s/.upstreams")" -eq 16 ]
	[ "$(wc -l <"$A/s/.replicas")" -eq 16 ]
	[ "$(wc -l <"$B/s/.replicas")" -eq 16 ]
}

@test "a .replicas line already listed here, written while the other daemon removed that replica (not heard of yet): the stored list is applied and the daemon uses no freed replica" {
	sfs_setup tokyo
	A=$M/tokyo
	mkdir "$A/s" "$A/r"
	echo /mapr/tokyo/s >>"$A/r/.upstreams"
	echo /mapr/tokyo/r >>"$A/s/.replicas"
	STREAMFS_FAULT_LIE=nats-watch-late:1 start_second
	B=$M2/tokyo
	wait_for grep -q '^/mapr/tokyo/r ' "$B/s/.replicas"
	! grep -q "fault lie" "$TMP/streamfs2.log" || false
	# A removes the replica; B does not hear of it
	printf '%s\n' -/mapr/tokyo/r >>"$A/s/.replicas"
	wait_for -t 10 grep -q "fault lie nats-watch-late reached" "$TMP/streamfs2.log"
	grep -q '^/mapr/tokyo/r ' "$B/s/.replicas"
	# B names it again as it has it (no field of B's changes): A's removal stays
	echo /mapr/tokyo/r >>"$B/s/.replicas"
	[ -z "$(cat "$A/s/.replicas")" ]
	wait_for eval '[ -z "$(cat "$B/s/.replicas")" ]'
	# and B goes on: a new replica line and a chmod are seen on A
	echo /mapr/tokyo/r >>"$B/s/.replicas"
	wait_for grep -q '^/mapr/tokyo/r ' "$A/s/.replicas"
	chmod 0700 "$B/s"
	wait_for mode_is "$A/s" 700
}

@test "a topic's new origin epoch written by a daemon that had not heard of the other's chmod of the topic (a test-only lie): the chmod stays, on both daemons, and a chown after it keeps it" {
	SFS_LOG_ALLOW='JetStream no longer holds the messages|the bucket .* no longer holds the changes'
	sfs_setup tokyo
	A=$M/tokyo
	local port=$SFS_NATS_PORT i
	mkdir "$A/s"
	for i in 1 2 3; do echo "a$i" >>"$A/s/t"; done
	STREAMFS_FAULT_LIE=nats-watch-late:1 start_second
	B=$M2/tokyo
	wait_for content_is "$B/s/t" "$(printf 'a1\na2\na3')"
	[ "$(stat -c %a "$B/s/t")" != 600 ]
	# A's chmod, which B does not apply (as not delivered yet)
	chmod 0600 "$A/s/t"
	wait_for -t 10 grep -q "fault lie nats-watch-late reached" "$TMP/streamfs2.log"
	store_save
	for i in 4 5 6; do echo "lost$i" >>"$A/s/t"; done
	wait_for content_is "$B/s/t" "$(printf 'a1\na2\na3\nlost4\nlost5\nlost6')"
	# the crash; A frozen, so B writes the topic's new epoch
	kill -STOP "$SFS_PID"
	store_restore
	wait_for -t 30 went_back "$TMP/streamfs2.log"
	wait_for -t 10 grep -q "/tokyo/s/t: its own messages from now on have origin key" "$TMP/streamfs2.log"
	kill -CONT "$SFS_PID"
	wait_for -t 30 went_back "$TMP/streamfs.log"
	wait_for -t 10 mode_is "$B/s/t" 600
	# a chown on B keeps A's chmod
	chown 1234 "$B/s/t"
	wait_for eval '[ "$(stat -c %u "$A/s/t")" = 1234 ]'
	[ "$(stat -c '%a %u' "$A/s/t")" = "600 1234" ]
	[ "$(stat -c '%a %u' "$B/s/t")" = "600 1234" ]
}

@test "a chmod refused for the other daemon's chmod, merged, then out of time (a test-only lie): it fails, and a chown after it keeps the other daemon's mode" {
	sfs_setup tokyo
	A=$M/tokyo
	mkdir "$A/s"
	STREAMFS_FAULT_LIE=nats-watch-late:1,nats-merge-deadline start_second
	B=$M2/tokyo
	wait_for test -d "$B/s"
	local m0
	m0=$(stat -c %a "$B/s")
	[ "$m0" != 750 ] && [ "$m0" != 700 ]
	chmod 0750 "$A/s"
	wait_for -t 10 grep -q "fault lie nats-watch-late reached" "$TMP/streamfs2.log"
	# B's chmod: refused, made again over A's value, then nats_timeout_ms over
	run chmod 0700 "$B/s"
	[ "$status" -ne 0 ]
	grep -q "fault lie nats-merge-deadline reached" "$TMP/streamfs2.log"
	[ "$(stat -c %a "$A/s")" = 750 ]
	# B's next change is made over A's chmod, not over the revision the
	# failed one had reached with B's older view
	chown 1234 "$B/s"
	wait_for eval '[ "$(stat -c %u "$A/s")" = 1234 ]'
	[ "$(stat -c '%a %u' "$A/s")" = "750 1234" ]
	[ "$(stat -c '%a %u' "$B/s")" = "750 1234" ]
}

@test "a chmod of the cluster's own directory on one daemon and a chown of it on the other before it heard of the chmod (a test-only lie): both stay, on both daemons" {
	sfs_setup tokyo
	A=$M/tokyo
	chmod 0755 "$A"
	# B applies none of the next change of the cluster's key
	STREAMFS_FAULT_LIE=nats-watch-late-c start_second
	B=$M2/tokyo
	wait_for mode_is "$B" 755
	chmod 0750 "$A"
	wait_for -t 10 grep -q "fault lie nats-watch-late-c reached" "$TMP/streamfs2.log"
	[ "$(stat -c %a "$B")" = 755 ]
	# B's chown, over its view: A's chmod stays
	chown 1234 "$B"
	wait_for eval '[ "$(stat -c %u "$A")" = 1234 ]'
	[ "$(stat -c '%a %u' "$A")" = "750 1234" ]
	[ "$(stat -c '%a %u' "$B")" = "750 1234" ]
	# and both go on
	chmod 0700 "$B"
	wait_for mode_is "$A" 700
}

@test "chmods, chowns and control-file lines merged on two daemons while writers on both append, readers on both read and replication copies to a local replica: no torn, invented or NUL line; each line once, in order; the replica equal" {
	mixed_start
	# the second daemon serves tokyo only (sanfrancisco's data directory
	# is the first one's)
	{
		echo "[mount]"
		echo "mountpoint = $TMP/mnt2"
		echo "[cluster tokyo]"
		echo "nats = $SFS_NATS_URL"
	} >"$TMP/mount2base.conf"
	start_second "$TMP/mount2base.conf"
	local n=150 i p pids=() rpids=() mpids=()
	A=$M/tokyo B=$M2/tokyo R=$M/sanfrancisco/s/t
	mkdir "$A/s" "$M/sanfrancisco/s"
	for ((i = 1; i <= 8; i++)); do mkdir "$A/u$i"; done
	echo /mapr/tokyo/s >>"$M/sanfrancisco/s/.upstreams"
	echo /mapr/sanfrancisco/s >>"$A/s/.replicas"
	echo a1 >>"$A/s/t"
	wait_for -t 10 content_is "$R" a1
	wait_for -t 10 content_is "$B/s/t" a1
	wait_for test -d "$B/u8"
	: >"$TMP/bad"
	for p in "$A/s/t" "$B/s/t" "$R"; do
		bg_start cat_check "$p" "$TMP/stop" "$TMP/bad"
		rpids+=("$BG_PID")
	done
	bg_start append_each "$A/s/t" wa "$n"
	pids+=("$BG_PID")
	bg_start append_each "$B/s/t" wb "$n"
	pids+=("$BG_PID")
	# metadata changes of the stream and the topic on both daemons at once
	# (refused and merged, applied while the lines go through)
	(
		for ((i = 1; i <= 8; i += 2)); do
			# (modes that keep others' read: the replica may not
			# let more read than its source)
			chmod 0775 "$A/s" && chmod 0664 "$A/s/t" || exit 1
			echo "/mapr/tokyo/u$i paused=true" >>"$A/s/.replicas" || exit 1
		done
	) &
	mpids+=($!)
	(
		for ((i = 2; i <= 8; i += 2)); do
			chown "$((1000 + i))" "$B/s" "$B/s/t" || exit 1
			echo "/mapr/tokyo/u$i" >>"$B/s/.upstreams" || exit 1
		done
	) &
	mpids+=($!)
	for p in "${mpids[@]}"; do wait "$p"; done
	for p in "${pids[@]}"; do wait "$p"; done
	wait_count "$A/s/t" $((2 * n + 1)) 20
	wait_count "$B/s/t" $((2 * n + 1)) 20
	wait_count "$R" $((2 * n + 1)) 30
	readers_stop "${rpids[@]}"
	writers_verdict "$A/s/t" "$B/s/t" "$R"
	# and every metadata change stayed, alike on both daemons
	for d in "$A" "$B"; do
		wait_for -t 10 eval '[ "$(stat -c "%a %u" "$d/s" "$d/s/t" | tr "\n" " ")" = "775 1008 664 1008 " ]'
		[ "$(grep -c paused=true "$d/s/.replicas")" -eq 4 ]
		[ "$(wc -l <"$d/s/.upstreams")" -eq 4 ]
		grep -q "^/mapr/sanfrancisco/s " "$d/s/.replicas"
	done
}
