#!/usr/bin/env bats
# 85-nats-attack3.bats - attacks on the close of a data stream's consumer
# (nats_follow_close), on the check of a fetched piece (nats_piece_fetch)
# and on a data stream refused past an account's max_streams (EDQUOT),
# docs/nats.md: a daemon stopped and started again at once under an
# account's max_consumers serves every stream (the consumers it had are
# removed as it stops, not left to the servers for 5 s); a mkdir whose
# consumer NATS refuses leaves no data stream behind; mkdir past
# max_streams from two daemons at once fails at once, nothing half-made,
# and an rmdir frees a place; a mkdir whose key was stored without an
# answer leaves neither key nor data stream; streams removed (rmdir, maprcli stream
# delete) under tail -f readers and writers on two daemons leave no
# consumer, and both daemons stop within seconds.

SFS_HOME=nats
load helpers
load nats_helpers

export LC_ALL=C

BG=()

teardown() {
	local fail=0
	# readers and writers a failed case left running (they hold the mounts)
	((${#BG[@]} == 0)) || { kill "${BG[@]}" 2>/dev/null; wait "${BG[@]}" 2>/dev/null; } || true
	stop_second || fail=1
	sfs_teardown || fail=1
	return "$fail"
}

# js_req SUBJECT [PAYLOAD]: a JetStream API request to the test's server.
js_req() {
	python3 "$STREAMFS_SRC/tests/e2e/natsq.py" "127.0.0.1:$SFS_NATS_PORT" "$1" "${2:-}"
}

# js_count FIELD: the account's number of FIELD (streams, consumers).
js_count() {
	js_req '$JS.API.INFO' | jq -er ".$1"
}

content_is() { [[ $(cat "$1" 2>/dev/null) == "$2" ]]; }

# writer FILE TAG: append lines TAG-1, TAG-2... to FILE through one
# descriptor until a write fails (at most 3000); its PID added to BG.
writer() {
	python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for i in range(1, 3001):
	try:
		os.write(fd, ("%s-%d\n" % (sys.argv[2], i)).encode())
	except OSError as e:
		print("stopped", i, e.errno, flush=True)
		break' "$1" "$2" >"$TMP/w.$2" 2>&1 &
	BG+=($!)
}

# reader FILE TAG: tail -f FILE into $TMP/r.TAG; its PID added to BG.
reader() {
	tail -f "$1" >"$TMP/r.$2" 2>&1 &
	BG+=($!)
}

# consumers_are N: the account holds exactly N consumers.
consumers_are() {
	[[ $(js_count consumers 2>/dev/null) == "$1" ]]
}

# same_file A B: the files have the same bytes.
same_file() { cmp -s "$1" "$2"; }

# stream_names: the account's JetStream streams, one a line, sorted.
stream_names() {
	js_req '$JS.API.STREAM.NAMES' | jq -r '.streams[]' | sort
}

# stream_keys: the bucket's stream keys (s.<name>) ever written, one a
# line, sorted (a removed stream's key holds its delete marker).
stream_keys() {
	js_req '$JS.API.STREAM.INFO.KV_SFS_tokyo' '{"subjects_filter":"$KV.SFS_tokyo.s.>"}' |
		jq -r '.state.subjects // {} | keys[]' | sed 's/^\$KV\.SFS_tokyo\.//' | sort
}

# restart_under_quota HOW: a daemon on an account whose max_consumers is 1
# (nats-server 2.9: per stream) makes three streams, is stopped (HOW: a
# command, sfs_stop or sfs_kill9) and started again at once: it serves
# every stream and takes an append.
restart_under_quota() {
	SFS_NATS_CONF_EXTRA='accounts { A { jetstream { max_consumers: 1 }, users [{user: u, password: p}] } }\nno_auth_user: u'
	sfs_setup tokyo
	A=$M/tokyo
	local i
	for i in 1 2 3; do
		mkdir "$A/s$i"
		echo "x$i" >>"$A/s$i/t"
	done
	"$1"
	sfs_start
	[ "$(ls "$A")" = "$(printf 's1\ns2\ns3')" ]
	for i in 1 2 3; do
		[ "$(cat "$A/s$i/t")" = "x$i" ]
	done
	echo y >>"$A/s1/t"
	[ "$(cat "$A/s1/t")" = "$(printf 'x1\ny')" ]
}

@test "attack3: an account with max_consumers (nats-server 2.9: per stream): a daemon stopped and started again at once serves every stream (the consumers it left behind do not refuse its new ones)" {
	# One consumer a stream: this daemon's. The stop must not leave its
	# consumers holding the limit for the servers' 5 s.
	restart_under_quota sfs_stop
}

@test "attack3: an account with max_consumers (nats-server 2.9: per stream): a daemon killed (kill -9) and started again at once serves every stream, once the servers have removed the consumers it left (5 s)" {
	restart_under_quota sfs_kill9
	mkdir "$A/s4"
	echo z >>"$A/s4/t"
	[ "$(cat "$A/s4/t")" = z ]
}

@test "attack3: a daemon stopped while the other writes into its streams removes its consumers as it stops, within seconds; started again, both agree" {
	sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	local i k
	for i in 1 2 3 4; do
		mkdir "$A/s$i"
		echo "x$i" >>"$A/s$i/t"
	done
	wait_for -t 10 content_is "$B/s4/t" x4
	# one watcher and four streams' consumers on each daemon
	wait_for -t 10 consumers_are 10
	for k in 1 2; do
		for i in 1 2 3 4; do writer "$A/s$i/t" w$k$i; done
		wait_for -t 20 grep -q "w${k}4-20" "$B/s4/t"
		local t0=$SECONDS
		stop_second
		((SECONDS - t0 <= 5))
		# B's consumers gone with its stop, not 5 s later
		consumers_are 5
		start_second
		wait_for -t 10 consumers_are 10
	done
	wait "${BG[@]}"
	BG=()
	for i in 1 2 3 4; do
		wait_for -t 10 same_file "$A/s$i/t" "$B/s$i/t"
		[ "$(grep -c "^w2$i-" "$A/s$i/t")" = 3000 ]
	done
}

@test "attack3: a mkdir whose data stream was made but whose consumer cannot be (refused by NATS) fails with EIO, logged, and leaves no data stream behind (none holds a place under max_streams)" {
	# The user may make streams (and the bucket's watcher) but no
	# consumer on a data stream: each mkdir gets as far as its data
	# stream, then fails.
	SFS_NATS_CONF_EXTRA='accounts { A { jetstream { max_streams: 3 }, users [{user: u, password: p, permissions: { publish: { allow: ["$JS.API.CONSUMER.CREATE.KV_SFS_tokyo", "$JS.API.STREAM.>", "$JS.API.INFO", "$JS.API.CONSUMER.DELETE.>", "$JS.API.CONSUMER.INFO.>", "$JS.API.DIRECT.>", "$KV.>", "sfs.>", "$JS.ACK.>", "$JS.FC.>", "_INBOX.>"] } } }] } }\nno_auth_user: u'
	SFS_NATS_EXTRA='nats_timeout_ms = 2000'
	SFS_LOG_ALLOW='stream s[0-9]: cannot follow its data stream'
	sfs_setup tokyo
	local i
	for i in 1 2 3; do
		run mkdir "$M/tokyo/s$i"
		[ "$status" -ne 0 ]
		[[ $output == *"Input/output error"* ]]
		grep -q "stream s$i: cannot follow its data stream" "$TMP/streamfs.log"
	done
	[ -z "$(ls "$M/tokyo")" ]
	# only the bucket: no data stream left half-made
	[ "$(stream_names)" = KV_SFS_tokyo ]
}

@test "attack3: a mkdir whose stream key was stored but whose answer never came (a test-only lie) fails, and leaves neither the key nor a data stream: the name is free, on both daemons" {
	STREAMFS_FAULT_LIE=nats-stream-key-unanswered sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	local before
	before=$(stream_names)
	run mkdir "$A/s"
	[ "$status" -ne 0 ]
	[[ $output == *"Input/output error"* ]]
	grep -q "fault lie nats-stream-key-unanswered reached" "$TMP/streamfs.log"
	# its key removed (over this incarnation only), then its data stream
	[ "$(stream_names)" = "$before" ]
	[ ! -e "$A/s" ] && [ ! -e "$B/s" ]
	# the name is free: made on B, seen and written on A
	mkdir "$B/s"
	echo x >>"$B/s/t"
	wait_for -t 10 content_is "$A/s/t" x
}

@test "attack3: mkdir past max_streams from two daemons at once, again and again: EDQUOT at once, one line each, nothing half-made; an rmdir frees a place, which one of two racing mkdirs takes" {
	SFS_NATS_CONF_EXTRA='accounts { A { jetstream { max_streams: 3 }, users [{user: u, password: p}] } }\nno_auth_user: u'
	SFS_LOG_ALLOW='stream [xyz][0-9]*: cannot make its data stream .*maximum number of streams reached'
	sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	mkdir "$A/s1" "$B/s2"
	wait_for test -d "$A/s2"
	local k p1 p2 p3 t0
	for k in 1 2 3 4 5; do
		t0=$SECONDS
		mkdir "$A/x$k" 2>"$TMP/e1" & p1=$!
		mkdir "$B/x$k" 2>"$TMP/e2" & p2=$!
		mkdir "$B/y$k" 2>"$TMP/e3" & p3=$!
		! wait "$p1"
		! wait "$p2"
		! wait "$p3"
		# at once, not after nats_timeout_ms (5 s)
		((SECONDS - t0 < 4))
		grep -q "Disk quota exceeded" "$TMP/e1"
		grep -q "Disk quota exceeded" "$TMP/e2"
		grep -q "Disk quota exceeded" "$TMP/e3"
		[ ! -e "$A/x$k" ] && [ ! -e "$B/x$k" ] && [ ! -e "$A/y$k" ] && [ ! -e "$B/y$k" ]
		grep -q "stream x$k: cannot make its data stream .*maximum number of streams" "$TMP/streamfs.log"
		grep -q "stream x$k: cannot make its data stream .*maximum number of streams" "$TMP/streamfs2.log"
	done
	[ "$(ls "$A")" = "$(printf 's1\ns2')" ]
	[ "$(ls "$B")" = "$(printf 's1\ns2')" ]
	# nothing half-made: no key, no data stream
	[ "$(stream_keys)" = "$(printf 's.s1\ns.s2')" ]
	[ "$(stream_names | grep -c '^SFS-')" = 2 ]
	# a place freed: one of two racing mkdirs of one name takes it
	rmdir "$A/s1"
	mkdir "$A/z" 2>/dev/null & p1=$!
	mkdir "$B/z" 2>/dev/null & p2=$!
	local ok=0
	wait "$p1" && ok=$((ok + 1))
	wait "$p2" && ok=$((ok + 1))
	[ "$ok" = 1 ]
	wait_for test -d "$A/z"
	wait_for test -d "$B/z"
	echo z >>"$B/z/t"
	wait_for content_is "$A/z/t" z
	[ "$(stream_keys)" = "$(printf 's.s1\ns.s2\ns.z')" ]
	[ "$(stream_names | grep -c '^SFS-')" = 2 ]
}

@test "attack3: streams removed (rmdir, maprcli stream delete) under tail -f readers and writers on two daemons, one after another: no consumer is left in JetStream, both daemons stop within seconds, no error line" {
	sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	local i
	for i in 1 2 3 4 5 6; do
		mkdir "$A/s$i"
		echo "x$i" >>"$A/s$i/t"
		wait_for content_is "$B/s$i/t" "x$i"
		reader "$A/s$i/t" a$i
		reader "$B/s$i/t" b$i
		writer "$A/s$i/t" wa$i
		writer "$B/s$i/t" wb$i
		wait_for -t 10 grep -q "^wb$i-5$" "$A/s$i/t"
		wait_for -t 10 grep -q "^wa$i-5$" "$B/s$i/t"
		if ((i % 2)); then
			rm "$A/s$i/t"
			rmdir "$A/s$i"
		else
			STREAMFS_MOUNT=$M "$STREAMFS_SRC/maprcli" stream delete -path "/mapr/tokyo/s$i"
		fi
		wait_for test ! -e "$B/s$i"
	done
	# every writer stopped by the removal
	for i in 1 2 3 4 5 6; do
		wait_for -t 10 grep -q stopped "$TMP/w.wa$i"
		wait_for -t 10 grep -q stopped "$TMP/w.wb$i"
	done
	kill "${BG[@]}" 2>/dev/null || true
	wait "${BG[@]}" 2>/dev/null || true
	BG=()
	# the data streams gone, and with them their consumers: the two
	# watchers are left
	[ "$(stream_names)" = KV_SFS_tokyo ]
	wait_for consumers_are 2
	local t0=$SECONDS
	stop_second
	sfs_stop
	((SECONDS - t0 <= 6))
}

@test "a daemon started again and again while the other makes and removes streams: a stream removed between its key's read and its data stream's follow is one info line ('removed meanwhile'), no error line" {
	sfs_setup tokyo
	A=$M/tokyo
	local p n k
	touch "$TMP/go"
	(
		while [[ -e $TMP/go ]]; do
			for k in 1 2 3 4 5 6; do mkdir "$A/x$k" 2>/dev/null; done
			for k in 1 2 3 4 5 6; do rmdir "$A/x$k" 2>/dev/null; done
		done
	) &
	p=$!
	# stop_second fails on an error line; the last start's in teardown.
	# Until the race was met (most often at the first start or the second), 30 starts at most.
	for ((n = 0; n < 30; n++)); do
		start_second
		sleep 0.3
		stop_second || break
		grep -q "removed meanwhile" "$TMP/streamfs2.log" && break
	done
	rm -f "$TMP/go"
	wait "$p"
	((n < 30)) || grep -q "removed meanwhile" "$TMP/streamfs2.log" ||
		echo "# (the race was not met in 30 starts)" >&3
	start_second
}

@test "a mkdir whose stream key was stored, its answer lost (a test-only lie, 2 s late), and changed meanwhile by the other daemon (a chmod): the mkdir succeeds, the stream is served on both with the chmod, no error line" {
	STREAMFS_FAULT_LIE=nats-create-answer-late sfs_setup tokyo
	start_second
	A=$M/tokyo B=$M2/tokyo
	mkdir "$A/s" 2>"$TMP/mkdir.err" &
	local p=$! st=0
	wait_for -t 5 test -d "$B/s"
	chmod 0700 "$B/s"
	wait "$p" || st=$?
	grep -q "fault lie nats-create-answer-late reached" "$TMP/streamfs.log"
	cat "$TMP/mkdir.err" >&2
	[ "$st" -eq 0 ]
	[ "$(stat -c %a "$A/s")" = 700 ]
	echo x >>"$A/s/t"
	wait_for content_is "$B/s/t" x
	echo y >>"$B/s/t"
	wait_for content_is "$A/s/t" "$(printf 'x\ny')"
}
