#!/usr/bin/env bats
# 86-nats-replication.bats - replication from and into clusters kept in
# NATS JetStream (docs/nats.md, "Replication into NATS" and "The
# replication lease"): local -> NATS one-way with the initial copy, topics
# made on the fly, pause/resume and echo suppression; multi-master local
# <-> NATS and same-topic multi-master, each message exactly once on both
# sides; a ring through NATS; a synchronous replica in NATS; a topic
# removed on a NATS replica; messages and runs longer than one NATS
# message (nats-server's own max_payload); two daemons on one NATS: one
# runs the lanes (the lease), kill -9 of it mid-catch-up, the other takes
# over within seconds, nothing lost or duplicated, and a clean stop hands
# the lease over at once; a NATS source's positions not saved while NATS
# is away: a warning, no error line. A nats-server of the test's own; the local
# clusters are sanfrancisco and newyork, the NATS ones tokyo and paris.

SFS_HOME=nats
load helpers
load replication_helpers
load nats_helpers

export LC_ALL=C

teardown() {
	local fail=0
	bg_kill_all
	stop_second || fail=1
	sfs_teardown || fail=1
	return "$fail"
}

# mixed_setup: local clusters sanfrancisco and newyork, NATS clusters
# tokyo and paris, one daemon.
mixed_setup() {
	sfs_mktemp
	sfs_nats_start || return 1
	{
		echo "[mount]"
		echo "mountpoint = $M"
		echo "[cluster sanfrancisco]"
		echo "data = $TMP/data/sanfrancisco"
		echo "[cluster newyork]"
		echo "data = $TMP/data/newyork"
		echo "[cluster tokyo]"
		echo "nats = $SFS_NATS_URL"
		echo "[cluster paris]"
		echo "nats = $SFS_NATS_URL"
		[[ -n ${SFS_CONF_EXTRA:-} ]] && printf '%b\n' "$SFS_CONF_EXTRA"
		true
	} >"$TMP/mount.conf"
	sfs_start
}

@test "local -> NATS one-way: initial copy, new messages, topics made on the fly, empty topics, exactly once across a restart" {
	mixed_setup
	mkdir "$M/sanfrancisco/s" "$M/tokyo/s"
	gen old 200 >>"$M/sanfrancisco/s/t"
	append_each "$M/sanfrancisco/s/t" each 20
	touch "$M/sanfrancisco/s/empty"
	replicate sanfrancisco/s tokyo/s
	wait_count "$M/tokyo/s/t" 220
	wait_for -t 10 test -e "$M/tokyo/s/empty"
	wait_for -t 10 rinfo_is sanfrancisco/s tokyo/s replicaState REPLICA_STATE_REPLICATING
	append_each "$M/sanfrancisco/s/t" new 30
	echo fly >>"$M/sanfrancisco/s/fly"
	wait_count "$M/tokyo/s/t" 250
	wait_count "$M/tokyo/s/fly" 1
	same_content "$M/sanfrancisco/s/t" "$M/tokyo/s/t"
	# every message keeps its origin: the replica's .info counts them as
	# replicated, and its own appends come after
	echo own >>"$M/tokyo/s/t"
	[ "$(tail -n 1 "$M/tokyo/s/t")" = own ]
	# positions, marks and data all in NATS: a restart sends nothing twice
	sfs_restart
	append_each "$M/sanfrancisco/s/t" after 5
	wait_count "$M/tokyo/s/t" 256
	repl_quiet sanfrancisco/s
	still_count "$M/tokyo/s/t" 256
	no_dups "$M/tokyo/s/t"
	in_order "$M/tokyo/s/t" old 200
	in_order "$M/tokyo/s/t" after 5
}

@test "local -> NATS: pause keeps the position, resume continues; a replica sent everything again drops it all" {
	mixed_setup
	mkdir "$M/sanfrancisco/s" "$M/tokyo/s"
	replicate sanfrancisco/s tokyo/s
	append_each "$M/sanfrancisco/s/t" a 10
	wait_count "$M/tokyo/s/t" 10
	echo "/mapr/tokyo/s paused=true" >>"$M/sanfrancisco/s/.replicas"
	wait_for -t 10 rinfo_is sanfrancisco/s tokyo/s replicaState REPLICA_STATE_PAUSED
	append_each "$M/sanfrancisco/s/t" b 10
	repl_quiet sanfrancisco/s
	still_count "$M/tokyo/s/t" 10
	echo "/mapr/tokyo/s paused=false" >>"$M/sanfrancisco/s/.replicas"
	wait_count "$M/tokyo/s/t" 20
	# removed and added again: an initial copy, every message a duplicate
	echo "-/mapr/tokyo/s" >>"$M/sanfrancisco/s/.replicas"
	echo "/mapr/tokyo/s" >>"$M/sanfrancisco/s/.replicas"
	wait_for -t 10 rinfo_is sanfrancisco/s tokyo/s isUptodate true
	repl_quiet sanfrancisco/s
	still_count "$M/tokyo/s/t" 20
	same_content "$M/sanfrancisco/s/t" "$M/tokyo/s/t"
}

@test "multi-master local <-> NATS, same topic written on both sides at once: the union on both, each message once, each origin in order" {
	mixed_setup
	mkdir "$M/sanfrancisco/s" "$M/tokyo/s"
	echo seed-sf >>"$M/sanfrancisco/s/t"
	echo seed-tk >>"$M/tokyo/s/t"
	replicate sanfrancisco/s tokyo/s
	replicate tokyo/s sanfrancisco/s
	bg_start append_each "$M/sanfrancisco/s/t" sf 150
	p1=$BG_PID
	bg_start append_each "$M/tokyo/s/t" tk 150
	p2=$BG_PID
	wait_for -t 60 gone "$p1"
	wait_for -t 60 gone "$p2"
	wait_count "$M/sanfrancisco/s/t" 302 20
	wait_count "$M/tokyo/s/t" 302 20
	repl_quiet sanfrancisco/s tokyo/s
	for c in sanfrancisco tokyo; do
		still_count "$M/$c/s/t" 302
		no_dups "$M/$c/s/t"
		in_order "$M/$c/s/t" sf 150
		in_order "$M/$c/s/t" tk 150
	done
	# echo suppression: nothing came back to where it was written
	[ "$(grep -c '^seed-' "$M/tokyo/s/t")" -eq 2 ]
}

@test "NATS -> NATS and a ring sanfrancisco -> tokyo -> paris -> sanfrancisco: every message exactly once everywhere" {
	mixed_setup
	mkdir "$M/sanfrancisco/r" "$M/tokyo/r" "$M/paris/r"
	replicate sanfrancisco/r tokyo/r
	replicate tokyo/r paris/r
	replicate paris/r sanfrancisco/r
	append_each "$M/sanfrancisco/r/t" sf 20
	append_each "$M/tokyo/r/t" tk 20
	append_each "$M/paris/r/t" pa 20
	for c in sanfrancisco tokyo paris; do
		wait_count "$M/$c/r/t" 60 20
	done
	repl_quiet sanfrancisco/r tokyo/r paris/r
	for c in sanfrancisco tokyo paris; do
		still_count "$M/$c/r/t" 60
		no_dups "$M/$c/r/t"
		in_order "$M/$c/r/t" sf 20
		in_order "$M/$c/r/t" tk 20
		in_order "$M/$c/r/t" pa 20
	done
}

@test "nats-server's own max_payload (1 MiB): a message of max_message (1 MiB) and runs longer than one NATS message replicate local -> NATS -> NATS, each message once, every byte the same" {
	SFS_NATS_MAX_PAYLOAD=default
	mixed_setup
	mkdir "$M/sanfrancisco/b" "$M/tokyo/b" "$M/paris/b"
	# a message of 1 MiB (in parts in NATS), then 6000 messages of 300
	# bytes (1.8 MB: the batches' runs cut at messages to fit one NATS
	# message), then the big one again
	python3 -c "import sys; sys.stdout.write(''.join('%07d' % i + 'm' * 993 for i in range(1049)) [:1048576] + '\n')" >"$TMP/big"
	cat "$TMP/big" >>"$M/sanfrancisco/b/t"
	python3 -c "import sys; sys.stdout.write(''.join('small-%d-%s\n' % (i, 'x' * 290) for i in range(6000)))" \
		>>"$M/sanfrancisco/b/t"
	cat "$TMP/big" >>"$M/sanfrancisco/b/t"
	[ "$(nmsg "$M/sanfrancisco/b/t")" -eq 6002 ]
	replicate sanfrancisco/b tokyo/b
	replicate tokyo/b paris/b
	wait_count "$M/tokyo/b/t" 6002 20
	wait_count "$M/paris/b/t" 6002 20
	repl_quiet sanfrancisco/b tokyo/b
	for c in tokyo paris; do
		still_count "$M/$c/b/t" 6002
		same_content "$M/sanfrancisco/b/t" "$M/$c/b/t"
	done
	# the bytes of the big message, read at offsets across its parts, and
	# after it
	local off
	for off in 1047550 1048570; do
		[ "$(dd if="$M/paris/b/t" bs=100 skip=$off count=1 iflag=skip_bytes 2>/dev/null | md5sum)" = \
		  "$(dd if="$M/sanfrancisco/b/t" bs=100 skip=$off count=1 iflag=skip_bytes 2>/dev/null | md5sum)" ]
	done
}

@test "origin offsets of six digits and more keep every digit: NATS -> local and local -> NATS copy topics of 100,010 messages whole, then each new message once" {
	mixed_setup
	mkdir "$M/tokyo/big" "$M/newyork/big" "$M/sanfrancisco/big" "$M/paris/big"
	# chunks of a few KiB (seq's writes): offsets 100000 and on in
	# Sfs-Origin (docs/nats.md), the header that was cut at 80 bytes
	seq 1 100010 >>"$M/tokyo/big/t"
	seq 1 100010 >>"$M/sanfrancisco/big/t"
	replicate tokyo/big newyork/big
	replicate sanfrancisco/big paris/big
	wait_count "$M/newyork/big/t" 100010 60
	wait_count "$M/paris/big/t" 100010 60
	for x in after1 after2; do
		echo "$x" >>"$M/tokyo/big/t"
		echo "$x" >>"$M/sanfrancisco/big/t"
	done
	wait_count "$M/newyork/big/t" 100012 20
	wait_count "$M/paris/big/t" 100012 20
	repl_quiet tokyo/big sanfrancisco/big
	still_count "$M/newyork/big/t" 100012
	still_count "$M/paris/big/t" 100012
	same_content "$M/tokyo/big/t" "$M/newyork/big/t"
	same_content "$M/sanfrancisco/big/t" "$M/paris/big/t"
}

@test "a synchronous replica in NATS: a write returns once tokyo has it" {
	mixed_setup
	mkdir "$M/sanfrancisco/s" "$M/tokyo/s"
	echo "/mapr/sanfrancisco/s" >>"$M/tokyo/s/.upstreams"
	echo "/mapr/tokyo/s synchronous=true" >>"$M/sanfrancisco/s/.replicas"
	wait_for -t 10 rinfo_is sanfrancisco/s tokyo/s replicaState REPLICA_STATE_REPLICATING
	for i in 1 2 3 4 5; do
		echo "sync-$i" >>"$M/sanfrancisco/s/t"
		# no wait: the write returned after the replica applied it
		still_count "$M/tokyo/s/t" "$i"
	done
	[ "$(rinfo sanfrancisco/s tokyo/s synchronous)" = true ]
}

@test "a NATS topic removed on the replica: the next batch starts past an origin's first message, is refused, and the source sends the topic again from its start" {
	mixed_setup
	mkdir "$M/sanfrancisco/s" "$M/tokyo/s"
	replicate sanfrancisco/s tokyo/s
	append_each "$M/sanfrancisco/s/t" a 10
	wait_count "$M/tokyo/s/t" 10
	rm "$M/tokyo/s/t"
	append_each "$M/sanfrancisco/s/t" b 5
	wait_count "$M/tokyo/s/t" 15
	wait_for -t 10 grep -q "lacks the start of topic t" "$TMP/streamfs.log"
	repl_quiet sanfrancisco/s
	still_count "$M/tokyo/s/t" 15
	same_content "$M/sanfrancisco/s/t" "$M/tokyo/s/t"
	# echo suppression both ways with a NATS side: tokyo -> sanfrancisco
	# sends nothing of sanfrancisco's back
	replicate tokyo/s sanfrancisco/s
	echo tk >>"$M/tokyo/s/t"
	wait_count "$M/sanfrancisco/s/t" 16
	repl_quiet sanfrancisco/s tokyo/s
	still_count "$M/sanfrancisco/s/t" 16
	still_count "$M/tokyo/s/t" 16
}

# holds LOG CLUSTER: the daemon logging to LOG has taken CLUSTER's lease
# (at least once).
holds() {
	grep -q "cluster $2: this daemon runs the replication of its streams now" "$1"
}

@test "two daemons on one NATS: one runs the lanes; kill -9 it mid-catch-up, the other takes over within seconds, nothing lost or duplicated; a clean stop hands the lease over" {
	sfs_mktemp
	sfs_nats_start
	SFS_CONF_EXTRA='[replication]\nbatch_messages = 10'
	sfs_write_conf tokyo paris
	# the first daemon takes the lease, and dies at its 20th batch
	# applied, before the position moves past it
	STREAMFS_FAULT=repl-after-apply:20 sfs_start
	wait_for -t 10 holds "$TMP/streamfs.log" tokyo
	start_second
	mkdir "$M/tokyo/s" "$M/paris/s"
	gen m 1000 >"$TMP/lines"
	cat "$TMP/lines" >>"$M/tokyo/s/t"
	dead=$SFS_PID
	replicate tokyo/s paris/s
	wait_for -t 30 gone "$dead"
	grep -q "fault point repl-after-apply reached" "$TMP/streamfs.log"
	sfs_kill9
	killed=$SECONDS
	# the second daemon ran nothing while the first held the lease
	run holds "$TMP/streamfs2.log" tokyo
	[ "$status" -ne 0 ]
	[ "$(jq -r .replicationRounds "$M2/tokyo/s/.info")" -eq 0 ]
	n=$(nmsg "$M2/paris/s/t")
	echo "applied before the kill: $n" >&2
	[ "$n" -gt 0 ] && [ "$n" -lt 1000 ]
	# it takes over within a few seconds and finishes the copy
	wait_for -t 8 holds "$TMP/streamfs2.log" tokyo
	echo "taken over after $((SECONDS - killed)) s" >&2
	wait_count "$M2/paris/s/t" 1000 30
	same_content "$TMP/lines" "$M2/paris/s/t"
	# the first daemon again: the second keeps the lease until it stops,
	# then hands it over at once
	: >"$TMP/streamfs.log"
	sfs_start
	echo more >>"$M/tokyo/s/t"
	wait_count "$M/paris/s/t" 1001
	run holds "$TMP/streamfs.log" tokyo
	[ "$status" -ne 0 ]
	stop_second
	wait_for -t 3 holds "$TMP/streamfs.log" tokyo
	echo again >>"$M/tokyo/s/t"
	wait_count "$M/paris/s/t" 1002
	M2=
}

# status_at MOUNT: the status (after " # ") of tokyo/s's replica paris/s
# in MOUNT's .replicas.
status_at() {
	grep '^/mapr/paris/s ' "$1/tokyo/s/.replicas" | sed 's/.* # //'
}

# same_status: both daemons show the same status of that replica, and it
# matches the extended regex $1.
same_status() {
	local a b
	a=$(status_at "$M") b=$(status_at "$M2")
	[[ $a == "$b" && $a =~ $1 ]]
}

# show_both: both daemons' view of that replica (for failure messages).
show_both() {
	echo "holder:     $(status_at "$M")" >&2
	echo "non-holder: $(status_at "$M2")" >&2
}

# ms_write FILE LINE: append LINE to FILE, print how long the write took
# (ms).
ms_write() {
	local t0 t1
	t0=$(date +%s%N)
	echo "$2" >>"$1"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

# sync_pair OPTS: tokyo/s (NATS) replicated to paris/s on one NATS server
# (sync_timeout_ms 1500), the lease held by the first daemon, a second
# daemon started, and the replica line "/mapr/paris/s OPTS" seen there.
sync_pair() {
	sfs_mktemp
	sfs_nats_start
	SFS_CONF_EXTRA='[replication]\nsync_timeout_ms = 1500'
	sfs_write_conf tokyo paris
	sfs_start
	wait_for -t 10 holds "$TMP/streamfs.log" tokyo
	start_second
	mkdir "$M/tokyo/s" "$M/paris/s"
	echo /mapr/tokyo/s >>"$M/paris/s/.upstreams"
	echo "/mapr/paris/s $1" >>"$M/tokyo/s/.replicas"
	wait_for -t 5 grep -q "^/mapr/paris/s $1" "$M2/tokyo/s/.replicas"
}

@test "two daemons on one NATS, one of them without a replica's cluster: the one that names it takes the lease from the other at once, and the replica gets every line once" {
	SFS_LOG_ALLOW="is not in this daemon's configuration"
	sfs_mktemp
	sfs_nats_start
	# the first daemon names tokyo only; the second sanfrancisco too
	sfs_write_conf tokyo
	sfs_start
	wait_for -t 10 holds "$TMP/streamfs.log" tokyo
	{
		echo "[mount]"
		echo "mountpoint = $TMP/unused"
		echo "[cluster tokyo]"
		echo "nats = $SFS_NATS_URL"
		echo "[cluster sanfrancisco]"
		echo "data = $TMP/data/sanfrancisco"
	} >"$TMP/both.conf"
	start_second "$TMP/both.conf"
	mkdir "$M/tokyo/s" "$M2/sanfrancisco/s"
	echo /mapr/tokyo/s >>"$M2/sanfrancisco/s/.upstreams"
	# named from the second: the first refuses a cluster it does not name
	run bash -c "echo /mapr/sanfrancisco/s >>'$M/tokyo/s/.replicas'"
	[ "$status" -ne 0 ]
	echo /mapr/sanfrancisco/s >>"$M2/tokyo/s/.replicas"
	gen w 500 >"$TMP/lines"
	cat "$TMP/lines" >>"$M/tokyo/s/t"
	wait_for -t 15 cmp -s "$TMP/lines" "$M2/sanfrancisco/s/t"
	grep -q "cluster tokyo: the replication lease is taken from .*, which does not name every replica's cluster" \
		"$TMP/streamfs2.log"
	holds "$TMP/streamfs2.log" tokyo
	# and it stays there: the first does not take it back
	echo more >>"$M/tokyo/s/t"
	wait_for -t 10 grep -qx more "$M2/sanfrancisco/s/t"
	[ "$(wc -l <"$M2/sanfrancisco/s/t")" = 501 ]
	[ "$(grep -c "lease taken" "$TMP/streamfs.log")" = 1 ]
	wait_for -t 10 grep -q "state=REPLICATING pending=0 uptodate=true" "$M2/tokyo/s/.replicas"
	# the first daemon, which ran the lanes (and failed them) until it
	# saw the lease move, shows the holder's status, not its own
	wait_for -t 10 grep -q "state=REPLICATING pending=0 uptodate=true" "$M/tokyo/s/.replicas"
	[ "$(rinfo tokyo/s sanfrancisco/s lastError)" = "" ]
}

@test "two daemons on one NATS: the one without the lease shows the holder's replica status; a synchronous write there returns once the replica has it, not waiting when paused, degraded when the replica refuses, synchronous again once caught up" {
	sync_pair "synchronous=true paused=true"
	# paused: a write on the second daemon does not wait; both show the
	# 10 pending messages
	local i ms
	for i in $(seq 10); do
		ms=$(ms_write "$M2/tokyo/s/t" "p-$i")
		[ "$ms" -lt 1000 ]
	done
	# (published within 150 ms; 2 s leave room for a loaded machine)
	wait_for -t 2 same_status 'state=PAUSED pending=10 uptodate=false bytes=41' || { show_both; false; }
	# resumed: the holder copies them; the second daemon shows it caught
	# up within a second (its own positions never moved)
	echo "/mapr/paris/s synchronous=true paused=false" >>"$M/tokyo/s/.replicas"
	wait_count "$M/paris/s/t" 10
	wait_for -t 2 same_status '^state=REPLICATING pending=0 uptodate=true bytes=0$' || { show_both; false; }
	[ "$(M=$M2 rinfo tokyo/s paris/s replicaState)" = REPLICA_STATE_REPLICATING ]
	[ "$(M=$M2 rinfo tokyo/s paris/s putsPending)" = 0 ]
	# a synchronous write on the daemon without the lease: the replica
	# has the line when write() returns, long before the timeout
	for i in $(seq 20); do
		ms=$(ms_write "$M2/tokyo/s/t" "s-$i")
		[ "$(tail -n 1 "$M/paris/s/t")" = "s-$i" ] || { echo "s-$i not on the replica after $ms ms" >&2; false; }
		[ "$ms" -lt 1000 ] || { echo "s-$i took $ms ms" >&2; false; }
	done
	! grep -q degraded "$M2/tokyo/s/.replicas" || false
	# the replica refuses (its .upstreams emptied): a write on the second
	# daemon waits out the timeout, then the replica is degraded there,
	# the holder is told, and both show the error and the degradation
	: >"$M/paris/s/.upstreams"
	ms=$(ms_write "$M2/tokyo/s/u" x)
	[ "$ms" -ge 1450 ] && [ "$ms" -lt 8000 ]
	grep -q 'degraded=true' "$M2/tokyo/s/.replicas"
	[ "$(M=$M2 rinfo tokyo/s paris/s degraded)" = true ]
	wait_for -t 2 same_status '^state=UNEXPECTED pending=1 uptodate=false bytes=2 degraded=true error=' ||
		{ show_both; false; }
	[[ $(M=$M2 rinfo tokyo/s paris/s lastError) == *".upstreams"* ]]
	grep -q 'did not apply topic u within 1500 ms: degraded' "$TMP/streamfs2.log"
	grep -q 'a write on another daemon timed out waiting for it: degraded' "$TMP/streamfs.log"
	# degraded: writes on either daemon do not wait
	ms=$(ms_write "$M2/tokyo/s/t" late-1)
	[ "$ms" -lt 1000 ]
	ms=$(ms_write "$M/tokyo/s/t" late-2)
	[ "$ms" -lt 1000 ]
	# accepted again: caught up, synchronous again on the second daemon
	echo /mapr/tokyo/s >>"$M/paris/s/.upstreams"
	wait_for -t 5 same_status '^state=REPLICATING pending=0 uptodate=true bytes=0$' || { show_both; false; }
	ms=$(ms_write "$M2/tokyo/s/t" again-1)
	[ "$(tail -n 1 "$M/paris/s/t")" = again-1 ]
	[ "$ms" -lt 1000 ]
	[ "$(nmsg "$M/paris/s/t")" -eq 33 ]
	grep -q 'synchronous replica /paris/s has caught up' "$TMP/streamfs2.log"
	# a write on the holder that times out: degraded there, and so on
	# the other daemon too
	: >"$M/paris/s/.upstreams"
	echo y >>"$M/tokyo/s/u"
	wait_for -t 5 same_status '^state=UNEXPECTED pending=1 uptodate=false bytes=2 degraded=true error=' ||
		{ show_both; false; }
	# a daemon that starts reads the published status with the rest of
	# the bucket: the holder's right from its start, not a state of its
	# own from the saved positions
	stop_second
	start_second
	same_status '^state=UNEXPECTED pending=1 uptodate=false bytes=2 degraded=true error=' ||
		{ show_both; false; }
}

@test "a status put over the lease holder's by another daemon (an old holder that had not seen the lease move) is put over again (within 150 ms): the daemon without the lease does not keep showing it" {
	sync_pair synchronous=false
	echo a >>"$M/tokyo/s/t"
	wait_count "$M/paris/s/t" 1
	wait_for -t 5 same_status '^state=REPLICATING pending=0 uptodate=true bytes=0$' || { show_both; false; }
	local kv="$STREAMFS_SRC/tests/e2e/nats_kv.py" url="nats://127.0.0.1:$SFS_NATS_PORT" key
	key=r.$(jq -r .uuid "$M/tokyo/s/.info")
	# the holder's status, as another daemon would have put it: another
	# holder, the replica in error
	python3 "$kv" get "$url" SFS_tokyo "$key" >"$TMP/status.json"
	jq -e '.holder != null and (.replicas | length) == 1' "$TMP/status.json"
	jq -c '.holder = "00000000-0000-0000-0000-000000000001"
		| .replicas[0].state = "REPLICA_STATE_UNEXPECTED"
		| .replicas[0].error = "forged by an old holder"' "$TMP/status.json" |
		python3 "$kv" put "$url" SFS_tokyo "$key"
	# the holder puts its own over it, unchanged: the bucket names it again
	local own
	own=$(jq -r .holder "$TMP/status.json")
	wait_for -t 5 eval "[ \"\$(python3 '$kv' get '$url' SFS_tokyo '$key' | jq -r .holder)\" = '$own' ]"
	# and the daemon without the lease shows the holder's status again
	wait_for -t 5 same_status '^state=REPLICATING pending=0 uptodate=true bytes=0$' || { show_both; false; }
	[ "$(M=$M2 rinfo tokyo/s paris/s lastError)" = "" ]
}

@test "a notice of a write that timed out on the daemon without the lease is acted on once: the holder's bucket watcher made anew (a replay of the bucket) does not degrade the replica again" {
	# at most 3 consumers a stream (an account's max_consumers, applied per
	# stream by nats-server 2.9): room for the placeholders below
	SFS_NATS_CONF_EXTRA='accounts { A { jetstream { max_consumers: 3 }, users [{user: u, password: p}] } }\nno_auth_user: u'
	sync_pair synchronous=true
	# the replica refuses: a write on the second daemon times out, the
	# holder is told (key g.) and degrades the replica
	: >"$M/paris/s/.upstreams"
	echo x >>"$M2/tokyo/s/t"
	wait_for -t 5 grep -q 'a write on another daemon timed out waiting for it' "$TMP/streamfs.log"
	# accepted again: caught up, synchronous again
	echo /mapr/tokyo/s >>"$M/paris/s/.upstreams"
	wait_for -t 5 grep -q 'synchronous replica /paris/s has caught up' "$TMP/streamfs.log"
	wait_for -t 5 same_status '^state=REPLICATING pending=0 uptodate=true bytes=0$' || { show_both; false; }
	# every watcher of the bucket silenced: their consumers removed, and
	# the stream's 3 consumers taken by placeholders at once (one process),
	# before libnats makes them anew (two missed heartbeats, 2 s); so the
	# daemons make their watchers anew themselves after 6 s of silence
	local q="$STREAMFS_SRC/tests/e2e/natsq.py" at="127.0.0.1:$SFS_NATS_PORT" i names
	names=$(python3 "$q" "$at" '$JS.API.CONSUMER.NAMES.KV_SFS_tokyo' | jq -r '.consumers[]')
	[ -n "$names" ]
	python3 - "$STREAMFS_SRC/tests/e2e" "$at" $names <<'EOF'
import json, sys
sys.path.insert(0, sys.argv[1])
from natsq import request
at = sys.argv[2]
for c in sys.argv[3:]:
    r = json.loads(request(at, "$JS.API.CONSUMER.DELETE.KV_SFS_tokyo." + c, "", 2))
    assert r.get("success"), r
for i in (1, 2, 3):
    cfg = {"stream_name": "KV_SFS_tokyo",
           "config": {"durable_name": "hold%d" % i, "ack_policy": "explicit"}}
    r = json.loads(request(at, "$JS.API.CONSUMER.DURABLE.CREATE.KV_SFS_tokyo.hold%d" % i,
                           json.dumps(cfg), 2))
    assert "error" not in r, r
EOF
	wait_for -t 20 grep -q "cluster tokyo: the bucket's watcher delivered nothing for 6 s; it is made anew" \
		"$TMP/streamfs.log"
	# the placeholders gone: the watchers are made anew, replaying the
	# bucket, the old notice included
	for i in 1 2 3; do
		python3 "$q" "$at" "\$JS.API.CONSUMER.DELETE.KV_SFS_tokyo.hold$i" | grep -q '"success":true'
	done
	# a change made after the replay's values: once the holder shows it,
	# it has applied the whole replay
	mkdir "$M2/tokyo/after"
	wait_for -t 10 test -d "$M/tokyo/after"
	[ "$(grep -c 'a write on another daemon timed out waiting for it' "$TMP/streamfs.log")" -eq 1 ]
	! grep -q 'degraded=true' "$M/tokyo/s/.replicas"
}

@test "NATS -> local: the replication positions of a NATS source not saved while NATS is away (a stop then): one warning, no error line; after the restart the replica holds each message once" {
	# saved only at the stop (positions_interval_ms: an hour), which
	# comes while NATS is away: the lanes still hold the lease then
	SFS_CONF_EXTRA="[replication]\npositions_interval_ms = 3600000"
	mixed_setup
	local port=$SFS_NATS_PORT
	mkdir "$M/tokyo/s" "$M/sanfrancisco/s"
	replicate tokyo/s sanfrancisco/s
	gen a 3 >>"$M/tokyo/s/t"
	wait_count "$M/sanfrancisco/s/t" 3
	sfs_nats_stop
	sfs_stop
	grep -q "/tokyo/s: replication positions not saved: its cluster's store cannot be reached now" \
		"$TMP/streamfs.log"
	[ "$(grep -c "replication positions not saved" "$TMP/streamfs.log")" = 1 ]
	# no error line (sfs_teardown checks the whole log too)
	run sfs_log_errors
	[ "$status" = 0 ]
	# back: replication resumes from the last save (none), the replica
	# drops what it holds already
	sfs_nats_start "$port"
	sfs_start
	gen b 2 >>"$M/tokyo/s/t"
	wait_count "$M/sanfrancisco/s/t" 5
	[ "$(cat "$M/sanfrancisco/s/t")" = "$(gen a 3; gen b 2)" ]
	# saved now (a clean stop with NATS there): no warning more
	sfs_stop
	[ "$(grep -c "replication positions not saved" "$TMP/streamfs.log")" = 1 ]
}
