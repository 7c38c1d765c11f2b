#!/usr/bin/env bats
# 85-nats-crash.bats - a crash of every NATS server that loses
# acknowledged messages (docs/nats.md, "Durability"): nats-server 2.9
# writes its files every 2 minutes, so a power cut of every server loses
# what came since, and the stream gives the lost messages' sequences to
# the next ones. The test puts the server's store back as it was before
# some appends (stopped cleanly, its directory copied, the copy put back),
# which leaves JetStream exactly as such a crash does. Every daemon, one
# running meanwhile and one frozen (SIGSTOP) until others wrote over the
# lost sequences, must tell it (one error line), read the stream again
# from JetStream (fs/nats/natsseq.c), serve none of the lost bytes, agree
# with the other on every byte, and take appends again. A whole stream
# lost is emptied, never served; a descriptor that read lost lines reads
# ESTALE (one that read only kept lines reads on; none after a clean
# restart of the server); a stream or topic whose key the bucket lost
# with it is listed no more; readers and writers on two daemons across the
# loss and the rebuild see no torn, invented or NUL line; a replica that
# holds lost lines takes those appended since (a new epoch of the
# topic's own origin, fs/nats/natsepoch.c); a NATS replica that lost
# lines it had applied gets them again from its source.

SFS_HOME=nats
load helpers
load replication_helpers
load nats_helpers

export LC_ALL=C

teardown() {
	local fail=0
	[[ -z ${SFS_PID:-} ]] || kill -CONT "$SFS_PID" 2>/dev/null || true
	stop_second || fail=1
	sfs_teardown || fail=1
	return "$fail"
}

# reader_start FILE: a reader (as tail -f) that reads FILE, prints
# "first" and its lines to $TMP/reader, waits for a line on fifo
# $TMP/go, then reads on: "then" and the lines, or "told" and the errno.
# Sets r to its PID.
reader_start() {
	mkfifo "$TMP/go"
	python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print("first", os.read(fd, 4096).decode().split(), flush=True)
sys.stdin.readline()
try:
	print("then", os.read(fd, 4096).decode().split(), flush=True)
except OSError as e:
	print("told", e.errno, flush=True)' "$1" <"$TMP/go" >"$TMP/reader" 2>&1 &
	r=$!
}

@test "a crash of every NATS server lost acknowledged messages and gave their sequences again: a running and a frozen daemon each tell it once, read the stream again, serve none of the lost bytes, agree, and append again" {
	SFS_LOG_ALLOW='JetStream no longer holds the messages|the bucket .* no longer holds the changes'
	sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	local port=$SFS_NATS_PORT i
	mkdir "$A/s"
	for i in 1 2 3; do echo "a$i" >>"$A/s/t"; done
	wait_for content_is "$B/s/t" "$(printf 'a1\na2\na3')"
	# the store as it is now, kept aside (the server stopped cleanly)
	store_save
	# appends acknowledged, read (and cached) on both daemons: to be lost
	for i in 4 5 6; do echo "lost$i" >>"$A/s/t"; done
	local before
	before=$(printf 'a1\na2\na3\nlost4\nlost5\nlost6')
	wait_for content_is "$B/s/t" "$before"
	[ "$(cat "$A/s/t")" = "$before" ]
	# the crash: the daemon on A frozen, the store put back
	kill -STOP "$SFS_PID"
	store_restore
	# B, running: the stream's last sequence is below what it saw
	wait_for -t 30 went_back "$TMP/streamfs2.log"
	wait_for -t 10 content_is "$B/s/t" "$(printf 'a1\na2\na3')"
	# B writes over the lost sequences and past them, lines as long as
	# the lost ones: A's index, which still holds them, takes the fourth
	# as following them (so its topic's last chunk is one JetStream holds)
	for i in 1 2 3 4 5; do echo "bbbb$i" >>"$B/s/t"; done
	local after
	after=$(printf 'a1\na2\na3\nbbbb1\nbbbb2\nbbbb3\nbbbb4\nbbbb5')
	[ "$(cat "$B/s/t")" = "$after" ]
	# A, thawed: the message at the sequence its consumer delivered last
	# before the crash is another one
	kill -CONT "$SFS_PID"
	wait_for -t 30 went_back "$TMP/streamfs.log"
	wait_for -t 10 content_is "$A/s/t" "$after"
	! grep -q lost "$A/s/t"
	[ "$(jq -r '.topics[0].messages' "$A/s/.info")" = 8 ]
	# appends on both, seen on both
	echo a7 >>"$A/s/t"
	echo b6 >>"$B/s/t"
	wait_for content_is "$B/s/t" "$(cat "$A/s/t")"
	[ "$(grep -c . "$A/s/t")" = 10 ]
	went_back "$TMP/streamfs.log"
	went_back "$TMP/streamfs2.log"
}

@test "a crash of every NATS server lost a whole stream (made, written and read after the servers last wrote their files): the daemon that served it serves none of its lost bytes, and lists it no more" {
	SFS_LOG_ALLOW='JetStream no longer holds the messages|the bucket .* no longer holds the changes|data stream'
	sfs_setup tokyo
	A=$M/tokyo
	local port=$SFS_NATS_PORT
	mkdir "$A/s"
	echo a1 >>"$A/s/t"
	store_save
	# a stream made, written and read (cached) only in the part lost
	mkdir "$A/g"
	echo lostg >>"$A/g/x"
	[ "$(cat "$A/g/x")" = lostg ]
	store_restore
	wait_for -t 15 reconnected "$TMP/streamfs.log" 2
	[ "$(cat "$A/s/t")" = a1 ]
	# neither JetStream nor the bucket holds g any more: taken out
	wait_for -t 15 test ! -e "$A/g"
	[ "$(ls "$A")" = s ]
	grep -q "cluster tokyo: stream g: neither its data stream .* nor its key is in NATS any more; it is taken out here" \
		"$TMP/streamfs.log"
	# the name is free again
	mkdir "$A/g"
	echo new >>"$A/g/x"
	[ "$(cat "$A/g/x")" = new ]
}

@test "a crash of every NATS server lost a topic made after the servers last wrote their files, with lines of a topic kept: the topic is listed no more, the name free again" {
	SFS_LOG_ALLOW='JetStream no longer holds the messages|the bucket .* no longer holds the changes'
	sfs_setup tokyo
	A=$M/tokyo
	local port=$SFS_NATS_PORT
	mkdir "$A/s"
	echo a1 >>"$A/s/t"
	store_save
	echo lost >>"$A/s/t"
	echo lostu >>"$A/s/u"
	[ "$(cat "$A/s/u")" = lostu ]
	store_restore
	wait_for -t 30 went_back "$TMP/streamfs.log"
	wait_for -t 15 test ! -e "$A/s/u"
	[ "$(cat "$A/s/t")" = a1 ]
	[ "$(jq -r .numtopics "$A/s/.info")" = 1 ]
	grep -q "/tokyo/s: topic u is not in NATS any more (lost with its stream's messages); it is taken out here" \
		"$TMP/streamfs.log"
	echo again >>"$A/s/u"
	[ "$(cat "$A/s/u")" = again ]
}

@test "a crash of every NATS server lost messages already replicated to a local replica: each replica is named in an error line" {
	SFS_LOG_ALLOW='JetStream no longer holds the messages|the bucket .* no longer holds the changes|may hold messages this stream lost'
	replica_case
	grep -q "/tokyo/s: replica sanfrancisco/s may hold messages this stream lost" \
		"$TMP/streamfs.log"
}

@test "a crash of every NATS server lost messages already replicated to a local replica: every message appended after it reaches the replica (none dropped as already there by the lost messages' offsets)" {
	SFS_LOG_ALLOW='JetStream no longer holds the messages|the bucket .* no longer holds the changes|may hold messages this stream lost'
	replica_case
	# the topic's own origin gets a new key (an epoch), its offsets from 0
	wait_for -t 15 grep -q "/tokyo/s/t: its own messages from now on have origin key .* (epoch 1;" \
		"$TMP/streamfs.log"
	# known from the bucket alone: the daemon started again before any
	# chunk of the new epoch was written
	sfs_restart
	# appended after the crash, at the lost messages' offsets and past them
	local i want
	for i in 1 2 3 4 5; do echo "new$i" >>"$M/tokyo/s/t"; done
	# the lost lines stay on the replica (the stream lost them, not it)
	want=$(printf 'a1\na2\na3\nlost4\nlost5\nlost6\nnew1\nnew2\nnew3\nnew4\nnew5')
	wait_for -t 10 content_is "$M/sanfrancisco/s/t" "$want"
	# known from the chunks: started again after the epoch's first chunk
	sfs_restart
	echo new6 >>"$M/tokyo/s/t"
	wait_for -t 10 content_is "$M/sanfrancisco/s/t" "$want"$'\nnew6'
	[ "$(cat "$M/tokyo/s/t")" = "$(printf 'a1\na2\na3\nnew1\nnew2\nnew3\nnew4\nnew5\nnew6')" ]
	# up to date, nothing pending, no error
	wait_for -t 10 grep -q "state=REPLICATING pending=0 uptodate=true" "$M/tokyo/s/.replicas"
	[ "$(grep -c "epoch 1;" "$TMP/streamfs.log")" = 1 ]
}

@test "a crash of every NATS server lost messages a NATS replica had applied: its local source, refused for the gap, sends the topic again from its start, and the replica holds every message again" {
	SFS_LOG_ALLOW='JetStream no longer holds the messages|the bucket .* no longer holds the changes'
	pair_case sanfrancisco tokyo
	wait_for -t 10 content_is "$M/tokyo/s/t" "$(printf 'a1\na2\na3')"
	# the source stands past them: its next batch jumps over them there
	echo c7 >>"$M/sanfrancisco/s/t"
	wait_for -t 15 content_is "$M/tokyo/s/t" "$(printf 'a1\na2\na3\nlost4\nlost5\nlost6\nc7')"
	grep -q "/sanfrancisco/s: replica /tokyo/s lacks the start of topic t, or messages before what was sent" \
		"$TMP/streamfs.log"
	wait_for -t 10 grep -q "state=REPLICATING pending=0 uptodate=true" "$M/sanfrancisco/s/.replicas"
}

@test "a crash of every NATS server lost changes of the bucket alone (no message): a topic made, a chmod and a control-file write since are undone on the daemon that made them, as the bucket holds them; new changes go on and another daemon agrees" {
	SFS_LOG_ALLOW='the bucket .* no longer holds the changes'
	sfs_setup tokyo
	A=$M/tokyo
	local port=$SFS_NATS_PORT m0 u0
	mkdir "$A/s" "$A/x"
	echo a1 >>"$A/s/t"
	m0=$(stat -c %a "$A/s/t")
	u0=$(cat "$A/s/.upstreams")
	store_save
	# changes of the bucket alone, lost with it
	touch "$A/s/v"
	chmod 600 "$A/s/t"
	echo /mapr/tokyo/x >>"$A/s/.upstreams"
	[ -e "$A/s/v" ]
	[ "$(stat -c %a "$A/s/t")" = 600 ]
	store_restore
	wait_for -t 30 grep -q "cluster tokyo: the bucket SFS_tokyo no longer holds the changes this daemon applied" \
		"$TMP/streamfs.log"
	wait_for -t 15 test ! -e "$A/s/v"
	wait_for -t 10 test "$(stat -c %a "$A/s/t")" = "$m0"
	[ "$(cat "$A/s/.upstreams")" = "$u0" ]
	[ "$(cat "$A/s/t")" = a1 ]
	[ "$(ls "$A/s")" = t ]
	grep -q "/tokyo/s/v: not in the bucket any more" "$TMP/streamfs.log"
	# new changes go on, and a daemon started now sees what this one does
	chmod 640 "$A/s/t"
	touch "$A/s/w"
	echo a2 >>"$A/s/t"
	start_second
	wait_for -t 10 test "$(stat -c %a "$M2/tokyo/s/t" 2>/dev/null)" = 640
	[ "$(ls "$M2/tokyo/s")" = "$(printf 't\nw')" ]
	[ "$(cat "$M2/tokyo/s/t")" = "$(printf 'a1\na2')" ]
	[ "$(cat "$M2/tokyo/s/.upstreams")" = "$u0" ]
	[ "$(grep -c "no longer holds the changes" "$TMP/streamfs.log")" = 1 ]
}

@test "a crash of every NATS server lost lines a reader had read: once the topic holds as many bytes again (new lines of the lost ones' sizes), the reader reading on through its open descriptor is told, not left past the new lines without a sign" {
	SFS_LOG_ALLOW='JetStream no longer holds the messages|the bucket .* no longer holds the changes'
	sfs_setup tokyo
	A=$M/tokyo
	local port=$SFS_NATS_PORT i
	mkdir "$A/s"
	for i in 1 2 3; do echo "a$i" >>"$A/s/t"; done
	store_save
	for i in 4 5 6; do echo "LOST$i" >>"$A/s/t"; done
	# a reader (as tail -f) has read every line, lost ones included, and
	# reads on when told to (a line on its stdin)
	local r
	reader_start "$A/s/t"
	exec 5>"$TMP/go"
	wait_for grep -q LOST6 "$TMP/reader"
	store_restore
	wait_for -t 30 went_back "$TMP/streamfs.log"
	# new lines, as long as the lost ones, and more
	for i in 1 2 3 4; do echo "newA$i" >>"$A/s/t"; done
	[ "$(cat "$A/s/t")" = "$(printf 'a1\na2\na3\nnewA1\nnewA2\nnewA3\nnewA4')" ]
	echo >&5
	exec 5>&-
	wait "$r"
	cat "$TMP/reader"
	# reading on from byte 27 would give only newA4, newA1-newA3 never
	# seen: the descriptor reads ESTALE (116) instead, once and after
	grep -qx 'told 116' "$TMP/reader"
	grep -q "an open file read lines its stream lost since" "$TMP/streamfs.log"
	# a descriptor opened now reads the topic as it is
	[ "$(cat "$A/s/t")" = "$(printf 'a1\na2\na3\nnewA1\nnewA2\nnewA3\nnewA4')" ]
}

@test "attack2: descriptors open across a clean nats-server restart (store kept), a topic removed and made again, and on other streams read on without ESTALE" {
	sfs_setup tokyo
	A=$M/tokyo
	local port=$SFS_NATS_PORT s i
	for s in s1 s2 s3 s4 s5 s6; do
		mkdir "$A/$s"
		for i in 1 2 3; do echo "$s-$i" >>"$A/$s/t"; echo "x$i" >>"$A/$s/r"; done
	done
	mkfifo "$TMP/go"
	python3 -c 'import os, sys
fds = [os.open(p, os.O_RDONLY) for p in sys.argv[1:]]
print("first", [os.read(fd, 4096).decode().split() for fd in fds], flush=True)
sys.stdin.readline()
for p, fd in zip(sys.argv[1:], fds):
    try:
        print("then", p, os.read(fd, 4096).decode().split(), flush=True)
    except OSError as e:
        print("told", p, e.errno, flush=True)' "$A"/s*/t <"$TMP/go" >"$TMP/reader" 2>&1 &
	local r=$!
	exec 5>"$TMP/go"
	wait_for grep -q first "$TMP/reader"
	# a topic removed and made again in s1 (not the one read)
	rm "$A/s1/r"
	echo back >>"$A/s1/r"
	sfs_nats_stop
	sfs_nats_start "$port"
	wait_for -t 15 grep -q "cluster tokyo: reconnected to NATS" "$TMP/streamfs.log"
	for s in s1 s2 s3 s4 s5 s6; do echo "$s-4" >>"$A/$s/t"; done
	rm "$A/s2/r"
	echo back >>"$A/s2/r"
	echo >&5
	exec 5>&-
	wait "$r"
	cat "$TMP/reader"
	! grep -q told "$TMP/reader"
	[ "$(grep -c "^then .*'s[1-6]-4'\]" "$TMP/reader")" = 6 ]
	[ "$(cat "$A/s1/r")" = back ]
	! grep -q "an open file read lines its stream lost since\|JetStream no longer holds\|is not in JetStream" "$TMP/streamfs.log"
}

@test "a stream's check that gets one false answer after a reconnection (a test-only lie, as a leader that had not applied its log gives): asked again 2 s later, nothing is read again, no error; appends meanwhile wait, then go on" {
	STREAMFS_FAULT_LIE=nats-stream-back sfs_setup tokyo
	A=$M/tokyo
	local port=$SFS_NATS_PORT i
	mkdir "$A/s"
	for i in 1 2 3; do echo "a$i" >>"$A/s/t"; done
	sfs_nats_stop
	sfs_nats_start "$port"
	wait_for -t 15 grep -q "cluster tokyo: reconnected to NATS" "$TMP/streamfs.log"
	# an append while the verdict waits for its confirmation: stored once
	echo a4 >>"$A/s/t"
	wait_for -t 15 grep -q "fault lie nats-stream-back reached" "$TMP/streamfs.log"
	wait_for -t 15 grep -q "cluster tokyo: stream s: JetStream seemed not to hold a message this daemon indexed, but does 2000 ms later" "$TMP/streamfs.log"
	echo a5 >>"$A/s/t"
	[ "$(cat "$A/s/t")" = "$(printf 'a1\na2\na3\na4\na5')" ]
	# neither read again nor a new epoch (the teardown fails on any
	# error line)
	! grep -E "JetStream no longer holds|origin key .* epoch" "$TMP/streamfs.log" || false
}

@test "one false answer held a stream's own appends (a test-only lie) while writers append, readers read and replication copies to a local replica: no reader sees a torn, invented or NUL line; each line once, in order, on both sides" {
	SFS_NATS_EXTRA="nats_timeout_ms = 20000"
	STREAMFS_FAULT_LIE=nats-stream-back mixed_start
	local port=$SFS_NATS_PORT n=150 p pids=() rpids=()
	T=$M/tokyo/s/t R=$M/sanfrancisco/s/t
	mkdir "$M/tokyo/s" "$M/sanfrancisco/s"
	echo /mapr/tokyo/s >>"$M/sanfrancisco/s/.upstreams"
	echo /mapr/sanfrancisco/s >>"$M/tokyo/s/.replicas"
	echo a1 >>"$T"
	wait_for -t 10 content_is "$R" a1
	: >"$TMP/bad"
	bg_start cat_check "$T" "$TMP/stop" "$TMP/bad"
	rpids+=("$BG_PID")
	bg_start cat_check "$R" "$TMP/stop" "$TMP/bad"
	rpids+=("$BG_PID")
	for p in wa wb; do
		bg_start append_each "$T" "$p" "$n"
		pids+=("$BG_PID")
	done
	wait_for -t 20 eval '(( $(nmsg "$T") >= 40 ))'
	# a reconnection: the check after it gets the false answer
	sfs_nats_stop
	sfs_nats_start "$port"
	wait_for -t 20 grep -q "JetStream seemed not to hold a message this daemon indexed" \
		"$TMP/streamfs.log"
	for p in "${pids[@]}"; do wait "$p"; done
	wait_count "$T" $((2 * n + 1)) 20
	wait_count "$R" $((2 * n + 1)) 30
	readers_stop "${rpids[@]}"
	writers_verdict "$T" "$R"
	grep -q "fault lie nats-stream-back reached" "$TMP/streamfs.log"
	! grep -E "JetStream no longer holds|origin key .* epoch" "$TMP/streamfs.log" || false
}

@test "the bucket's check that gets one false answer after a reconnection (a test-only lie): asked again 2 s later about the same entries, not read again whole, no error; changes of another daemon meanwhile are applied after" {
	STREAMFS_FAULT_LIE=nats-bucket-back sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	local port=$SFS_NATS_PORT
	mkdir "$A/s"
	echo a >>"$A/s/t"
	wait_for -t 10 test -e "$B/s/t"
	sfs_nats_stop
	sfs_nats_start "$port"
	wait_for -t 15 grep -q "cluster tokyo: reconnected to NATS" "$TMP/streamfs.log"
	mkdir "$B/made"
	echo b >>"$B/s/u"
	wait_for -t 15 grep -q "fault lie nats-bucket-back reached" "$TMP/streamfs.log"
	wait_for -t 15 grep -q "cluster tokyo: the bucket SFS_tokyo seemed to have gone back, but not 2000 ms later" "$TMP/streamfs.log"
	wait_for -t 10 test -d "$A/made"
	wait_for -t 10 test -e "$A/s/u"
	[ "$(cat "$A/s/u")" = b ]
	! grep -E "no longer holds" "$TMP/streamfs.log" "$TMP/streamfs2.log" || false
}

@test "attack2: a crash of every NATS server lost lines of one topic only: a descriptor on another topic of the stream, that lost nothing, reads on (no ESTALE)" {
	SFS_LOG_ALLOW='JetStream no longer holds the messages|the bucket .* no longer holds the changes'
	sfs_setup tokyo
	A=$M/tokyo
	local port=$SFS_NATS_PORT i
	mkdir "$A/s"
	for i in 1 2 3; do echo "a$i" >>"$A/s/t"; echo "u$i" >>"$A/s/u"; done
	store_save
	for i in 4 5 6; do echo "LOST$i" >>"$A/s/t"; done
	local r
	reader_start "$A/s/u"
	exec 5>"$TMP/go"
	wait_for grep -q u3 "$TMP/reader"
	store_restore
	wait_for -t 30 went_back "$TMP/streamfs.log"
	echo u4 >>"$A/s/u"
	[ "$(cat "$A/s/u")" = "$(printf 'u1\nu2\nu3\nu4')" ]
	echo >&5
	exec 5>&-
	wait "$r"
	cat "$TMP/reader"
	# u lost nothing: its reader's byte position is still a line's start
	grep -qx "then \['u4'\]" "$TMP/reader"
}

@test "attack2: a crash of every NATS server lost lines a reader had not reached: the reader, stopped before them, reads on into the lines written since (no ESTALE), none of the lost ones" {
	SFS_LOG_ALLOW='JetStream no longer holds the messages|the bucket .* no longer holds the changes'
	sfs_setup tokyo
	A=$M/tokyo
	local port=$SFS_NATS_PORT i
	mkdir "$A/s"
	for i in 1 2 3; do echo "a$i" >>"$A/s/t"; done
	store_save
	local r
	reader_start "$A/s/t"
	exec 5>"$TMP/go"
	wait_for grep -q a3 "$TMP/reader"
	for i in 4 5 6; do echo "LOST$i" >>"$A/s/t"; done
	store_restore
	wait_for -t 30 went_back "$TMP/streamfs.log"
	for i in 1 2; do echo "newA$i" >>"$A/s/t"; done
	[ "$(cat "$A/s/t")" = "$(printf 'a1\na2\na3\nnewA1\nnewA2')" ]
	echo >&5
	exec 5>&-
	wait "$r"
	cat "$TMP/reader"
	grep -qx "then \['newA1', 'newA2'\]" "$TMP/reader"
	! grep -q "an open file read lines its stream lost since" "$TMP/streamfs.log"
}

@test "readers and writers on two daemons while a crash of every NATS server loses lines and the stream is read again: no reader sees a torn, invented or NUL line; in the end both agree, no lost line, each written line at most once and in order" {
	SFS_LOG_ALLOW='JetStream no longer holds the messages|the bucket .* no longer holds the changes|an open file read lines|is not the one indexed|is not the one its head names|not in NATS any more'
	sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	local port=$SFS_NATS_PORT i p pids=()
	mkdir "$A/s"
	for i in 1 2 3; do echo "a$i" >>"$A/s/t"; done
	wait_for size_is "$B/s/t" 9
	store_save
	for i in 1 2 3; do echo "LOST$i" >>"$A/s/t"; done
	wait_for size_is "$B/s/t" 27
	: >"$TMP/bad"
	cat_check "$A/s/t" "$TMP/stop" "$TMP/bad" &
	pids+=($!)
	cat_check "$B/s/t" "$TMP/stop" "$TMP/bad" &
	pids+=($!)
	# writers on both daemons; an append refused while NATS is away may
	# be stored all the same, so each line is there at most once
	(for i in $(seq 1 150); do echo "wa-$i" >>"$A/s/t" 2>/dev/null || true; done) &
	local wa=$!
	(for i in $(seq 1 150); do echo "wb-$i" >>"$B/s/t" 2>/dev/null || true; done) &
	local wb=$!
	wait_for -t 30 eval '(( $(grep -c "^w" "$A/s/t") >= 20 ))'
	store_restore
	wait "$wa" "$wb"
	wait_for -t 30 grep -q "stream s: JetStream no longer holds" "$TMP/streamfs.log"
	wait_for -t 30 grep -q "stream s: JetStream no longer holds" "$TMP/streamfs2.log"
	readers_stop "${pids[@]}"
	wait_for -t 10 same_content "$A/s/t" "$B/s/t"
	run grep -c LOST "$A/s/t"
	[ "$output" = 0 ]
	[ "$(head -n 3 "$A/s/t")" = "$(printf 'a1\na2\na3')" ]
	no_dups "$A/s/t"
	increasing wa "$A/s/t"
	increasing wb "$A/s/t"
	# after the crash, every line either daemon wrote last is there
	grep -qx wa-150 "$A/s/t"
	grep -qx wb-150 "$A/s/t"
}
