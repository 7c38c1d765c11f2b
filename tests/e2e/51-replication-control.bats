#!/usr/bin/env bats
# 51-replication-control.bats - replication under control and under
# failure (docs/control-files.md, docs/replication.md): pause/resume/remove (docs/replication.md), the upstream
# allow-list (docs/replication.md), durable positions across a clean restart and a kill -9
# of the daemon (docs/replication.md, docs/storage.md), and re-created topics and streams whose new
# messages must not look old (docs/replication.md).

load helpers
load replication_helpers

teardown() {
	repl_teardown
}

SF=sanfrancisco/activity
NY=newyork/activity

@test "pause: nothing is sent, status shows paused and the exact pending count; resume sends exactly the missing ones" {
	sfs_setup sanfrancisco newyork
	S=$M/$SF R=$M/$NY
	mkdir "$S" "$R"
	replicate $SF $NY
	gen p 10 >>"$S/t"
	wait_count "$R/t" 10

	echo "/mapr/$NY paused=true" >>"$S/.replicas"
	append_each "$S/t" q 7
	gen w 3 >>"$S/u"			# a new topic while paused
	wait_for rline_match $SF $NY 'paused=true .*# .*pending=10( |$)' || {
		show_status $SF $NY
		false
	}
	rline_match $SF $NY 'uptodate=false'
	rinfo_is $SF $NY paused true
	rinfo_is $SF $NY isUptodate false
	rinfo_is $SF $NY putsPending 10
	repl_quiet $SF
	still_count "$R/t" 10
	still_count "$R/u" 0
	rinfo_is $SF $NY putsPending 10

	echo "/mapr/$NY paused=false" >>"$S/.replicas"
	wait_count "$R/t" 17
	wait_count "$R/u" 3
	same_content "$S/t" "$R/t"
	same_content "$S/u" "$R/u"
	wait_for rline_match $SF $NY 'paused=false .*# .*pending=0 uptodate=true'
	rinfo_is $SF $NY isUptodate true
	rinfo_is $SF $NY putsPending 0
	repl_quiet $SF
	still_count "$R/t" 17
}

@test "remove (-PATH): sending stops, the replica keeps its data" {
	sfs_setup sanfrancisco newyork
	S=$M/$SF R=$M/$NY
	mkdir "$S" "$R"
	replicate $SF $NY
	gen keep 20 >>"$S/t"
	wait_count "$R/t" 20
	cp "$R/t" "$TMP/before"

	echo "-/mapr/$NY" >>"$S/.replicas"
	run grep -c "^/mapr/$NY" "$S/.replicas"
	[ "$output" = 0 ]
	[ "$(jq '.replicas | length' "$S/.info")" -eq 0 ]
	gen gone 5 >>"$S/t"
	gen gone 4 >>"$S/newtopic"
	sleep 0.5
	still_count "$S/t" 25
	still_count "$R/t" 20
	same_content "$TMP/before" "$R/t"
	[ ! -e "$R/newtopic" ]
	# the replica's own data is still its own: it can be read and appended
	echo "local-1" >>"$R/t"
	still_count "$R/t" 21
}

@test "allow-list: a replica whose .upstreams lacks the source receives nothing; error on the source; adding the upstream lets the messages through" {
	sfs_setup sanfrancisco newyork
	S=$M/$SF R=$M/$NY
	mkdir "$S" "$R" "$M/sanfrancisco/other"
	# R accepts only another stream
	echo "/mapr/sanfrancisco/other" >>"$R/.upstreams"
	echo "/mapr/$NY" >>"$S/.replicas"
	gen d 5 >>"$S/t"

	wait_for rline_match $SF $NY 'state=UNEXPECTED' || {
		show_status $SF $NY
		false
	}
	rline_match $SF $NY '\.upstreams'
	rline_match $SF $NY 'pending=5( |$)'
	rinfo_is $SF $NY replicaState REPLICA_STATE_UNEXPECTED
	[[ $(rinfo $SF $NY lastError) == *.upstreams* ]]
	rinfo_is $SF $NY isUptodate false
	rinfo_is $SF $NY putsPending 5
	still_count "$R/t" 0

	# pending grows, still nothing arrives (retries included)
	append_each "$S/t" e 3
	wait_for rinfo_is $SF $NY putsPending 8
	rline_match $SF $NY 'state=UNEXPECTED .*pending=8( |$)'
	repl_quiet $SF
	still_count "$R/t" 0

	echo "/mapr/$SF" >>"$R/.upstreams"
	wait_count "$R/t" 8
	same_content "$S/t" "$R/t"
	wait_for rline_match $SF $NY 'state=REPLICATING pending=0 uptodate=true'
	rinfo_is $SF $NY replicaState REPLICA_STATE_REPLICATING
	repl_quiet $SF
	still_count "$R/t" 8
}

@test "clean restart: configuration and positions survive, nothing arrives twice" {
	sfs_setup sanfrancisco newyork
	S=$M/$SF R=$M/$NY
	mkdir "$S" "$R"
	replicate $SF $NY
	gen d 200 >>"$S/t"
	gen u 50 >>"$S/u"
	wait_count "$R/t" 200
	wait_count "$R/u" 50
	wait_for rline_match $SF $NY 'pending=0'

	# paused with 4 pending: after the restart the position must still
	# say 4 (a lost position would show 204 + 50)
	echo "/mapr/$NY paused=true" >>"$S/.replicas"
	gen p 4 >>"$S/t"
	wait_for rinfo_is $SF $NY putsPending 4

	sfs_restart

	grep -q "^/mapr/$SF\b" "$R/.upstreams"
	rline_match $SF $NY 'paused=true'
	rinfo_is $SF $NY putsPending 4
	rinfo_is $SF $NY paused true
	still_count "$R/t" 200

	echo "/mapr/$NY paused=false" >>"$S/.replicas"
	echo "after-1" >>"$S/t"
	wait_count "$R/t" 205
	repl_quiet $SF
	still_count "$R/t" 205
	still_count "$R/u" 50
	no_dups "$R/t"
	same_content "$S/t" "$R/t"
	same_content "$S/u" "$R/u"
	wait_for rline_match $SF $NY 'state=REPLICATING pending=0 uptodate=true'

	# and once more, not paused, straight after catching up
	sfs_restart
	echo "after-2" >>"$S/t"
	wait_count "$R/t" 206
	repl_quiet $SF
	still_count "$R/t" 206
	same_content "$S/t" "$R/t"
}

# saved_positions: $SF's saved positions: its .positions.json, or on
# NATS key p.<stream uuid> of the cluster's bucket (docs/nats.md); "{}"
# when there are none yet.
saved_positions() {
	if [[ $SFS_HOME == nats ]]; then
		local u
		u=$(jq -r .uuid "$M/$SF/.info") || return 1
		python3 "$BATS_TEST_DIRNAME/nats_kv.py" get "$SFS_NATS_URL" SFS_sanfrancisco "p.$u" ||
			echo '{}'
	else
		cat "$TMP/data/$SF/.positions.json"
	fi
}

# saved_offset: the offset of topic t that $SF's saved positions give for
# replica $NY; -1 when there is none yet.
saved_offset() {
	saved_positions | jq -r '."newyork/activity".topics.t.offset // -1'
}

@test "positions_interval_ms: saved once per interval while moving, at a clean stop; after a kill -9 the re-sent messages are dropped" {
	SFS_CONF_EXTRA='[replication]\npositions_interval_ms = 3600000'
	sfs_setup sanfrancisco newyork
	S=$M/$SF R=$M/$NY
	mkdir "$S" "$R"
	replicate $SF $NY
	gen a 100 >>"$S/t"
	wait_count "$R/t" 100
	wait_for rline_match $SF $NY 'pending=0'
	# the first save is due at once; the next one only in an hour
	local first
	first=$(saved_offset)
	gen b 50 >>"$S/t"
	wait_count "$R/t" 150
	wait_for rline_match $SF $NY 'pending=0'
	[ "$(saved_offset)" -eq "$first" ]
	[ "$first" -lt 150 ]

	# a clean stop saves what moved; the version before stays beside it
	sfs_restart
	[ "$(saved_offset)" -eq 150 ]
	if [[ $SFS_HOME == local ]]; then
		jq -e . "$TMP/data/$SF/.tmp..positions.json" >/dev/null
	fi
	rinfo_is $SF $NY putsPending 0
	still_count "$R/t" 150

	# after the restart: the first save at once, then none for an hour
	gen c 25 >>"$S/t"
	wait_count "$R/t" 175
	wait_for rline_match $SF $NY 'pending=0'
	first=$(saved_offset)
	gen d 25 >>"$S/t"
	wait_count "$R/t" 200
	wait_for rline_match $SF $NY 'pending=0'
	[ "$(saved_offset)" -eq "$first" ]
	[ "$first" -lt 200 ]

	# kill -9: the source resumes from the saved, older position and sends
	# again what the replica has; the replica's marks drop all of it
	sfs_kill9
	sfs_start
	wait_for rline_match $SF $NY 'state=REPLICATING pending=0 uptodate=true'
	repl_quiet $SF
	still_count "$R/t" 200
	no_dups "$R/t"
	same_content "$S/t" "$R/t"
	echo after >>"$S/t"
	wait_count "$R/t" 201
	same_content "$S/t" "$R/t"
}

@test "an unreadable .positions.json: one warning naming the stream, everything sent again, nothing twice" {
	sfs_setup sanfrancisco newyork
	S=$M/$SF R=$M/$NY
	mkdir "$S" "$R"
	replicate $SF $NY
	gen a 60 >>"$S/t"
	wait_count "$R/t" 60
	local u
	u=$(jq -r .uuid "$S/.info")
	sfs_stop
	# half of it overwritten with NUL bytes (on NATS: the key's value)
	if [[ $SFS_HOME == nats ]]; then
		python3 "$BATS_TEST_DIRNAME/nats_kv.py" get "$SFS_NATS_URL" SFS_sanfrancisco "p.$u" \
			>"$TMP/pos"
		dd if=/dev/zero of="$TMP/pos" bs=1 count=20 seek=5 conv=notrunc status=none
		python3 "$BATS_TEST_DIRNAME/nats_kv.py" put "$SFS_NATS_URL" SFS_sanfrancisco "p.$u" \
			<"$TMP/pos"
	else
		local pos=$TMP/data/$SF/.positions.json
		dd if=/dev/zero of="$pos" bs=1 count=20 seek=5 conv=notrunc status=none
	fi
	sfs_start
	grep -F "warn: /$SF: replication positions unreadable" "$TMP/streamfs.log"
	gen b 5 >>"$S/t"
	wait_count "$R/t" 65
	wait_for rline_match $SF $NY 'state=REPLICATING pending=0 uptodate=true'
	repl_quiet $SF
	still_count "$R/t" 65
	no_dups "$R/t"
	same_content "$S/t" "$R/t"
}

# writer FILE LOG: append k-1, k-2, ... to FILE, one open per message, and
# after each acknowledged write log the message to LOG (outside the mount);
# stop at the first failed write.
writer() {
	local i=0
	while ((i < 200000)); do
		i=$((i + 1))
		echo "k-$i" >>"$1" 2>/dev/null || return 0
		echo "k-$i" >>"$2"
	done
}

# at_least FILE N: FILE has N lines or more.
at_least() {
	[[ $(nmsg "$1") -ge $2 ]]
}

@test "kill -9 during replication: no acknowledged message lost, no duplicate, replication resumes" {
	sfs_setup sanfrancisco newyork
	S=$M/$SF R=$M/$NY
	mkdir "$S" "$R"
	replicate $SF $NY
	gen pre 100 >>"$S/t"
	wait_count "$R/t" 100
	: >"$TMP/acked"

	bg_start writer "$S/t" "$TMP/acked"
	local wpid=$BG_PID
	# the writer is going and replication is following it
	wait_for -t 20 at_least "$TMP/acked" 400
	wait_for -t 10 at_least "$R/t" 300
	sfs_kill9
	wait_for -t 10 gone "$wpid"
	wait "$wpid" || true
	REPL_BG=()
	local acked
	acked=$(wc -l <"$TMP/acked")
	[ "$acked" -ge 400 ]

	sfs_start
	# every acknowledged message is in S, once, in order (at most the one
	# write in flight at the kill may be there unacknowledged)
	no_dups "$S/t"
	local missing
	missing=$(comm -23 <(sort "$TMP/acked") <(sort "$S/t") | head -n 5)
	[ -z "$missing" ] || {
		echo "acknowledged but lost: $missing" >&2
		false
	}
	local n
	n=$(grep -c '^k-' "$S/t")
	[ "$n" -eq "$acked" ] || [ "$n" -eq $((acked + 1)) ]
	in_order "$S/t" pre 100
	in_order "$S/t" k "$n"

	# R converges to S, without duplicates
	wait_count "$R/t" $((100 + n)) 20
	no_dups "$R/t"
	same_content "$S/t" "$R/t"

	# replication goes on after the crash
	gen post 10 >>"$S/t"
	wait_count "$R/t" $((110 + n))
	same_content "$S/t" "$R/t"
	repl_quiet $SF
	still_count "$R/t" $((110 + n))
	wait_for rline_match $SF $NY 'state=REPLICATING pending=0 uptodate=true'
}

@test "re-creation: a topic deleted and created again on S still reaches R (new messages are not old)" {
	sfs_setup sanfrancisco newyork
	S=$M/$SF R=$M/$NY
	mkdir "$S" "$R"
	replicate $SF $NY
	gen old 5 >>"$S/t"
	wait_count "$R/t" 5

	rm "$S/t"
	[ ! -e "$S/t" ]
	gen new 3 >>"$S/t"		# offsets 0..2 again, below the old ones
	wait_for -t 10 eval '[ "$(grep -c "^new-" "$R/t")" -eq 3 ]' || {
		echo "$R/t holds:" >&2
		cat "$R/t" >&2
		show_status $SF $NY
		false
	}
	repl_quiet $SF
	[ "$(grep -c '^new-' "$R/t")" -eq 3 ]
	in_order "$R/t" new 3
	no_dups "$R/t"

	# and a second time, with the replica idle meanwhile
	rm "$S/t"
	append_each "$S/t" newer 2
	wait_for -t 10 eval '[ "$(grep -c "^newer-" "$R/t")" -eq 2 ]'
	in_order "$R/t" newer 2
	in_order "$R/t" new 3
}

@test "re-creation: a stream deleted and created again on S still reaches R" {
	sfs_setup sanfrancisco newyork
	S=$M/$SF R=$M/$NY
	mkdir "$S" "$R"
	replicate $SF $NY
	gen first 5 >>"$S/t"
	wait_count "$R/t" 5

	rm "$S/t"
	rmdir "$S"
	mkdir "$S"
	replicate $SF $NY	# the same paths; S has a new UUID
	gen second 4 >>"$S/t"
	wait_for -t 10 eval '[ "$(grep -c "^second-" "$R/t")" -eq 4 ]' || {
		echo "$R/t holds:" >&2
		cat "$R/t" >&2
		show_status $SF $NY
		false
	}
	in_order "$R/t" second 4
	no_dups "$R/t"
}

@test "re-creation: a topic deleted on one master is not brought back by the other, before or after a restart" {
	sfs_setup sanfrancisco newyork
	S=$M/$SF R=$M/$NY
	mkdir "$S" "$R"
	replicate $SF $NY
	replicate $NY $SF
	gen old 5 >>"$S/t"
	wait_count "$R/t" 5
	rm "$S/t"
	repl_quiet $SF $NY
	[ ! -e "$S/t" ]
	sfs_restart
	repl_quiet $SF $NY
	[ ! -e "$S/t" ]
	# A new message on the other master creates it again, with that message only.
	echo fresh >>"$R/t"
	wait_for -t 10 test -e "$S/t"
	wait_count "$S/t" 1
	[ "$(cat "$S/t")" = fresh ]
}

@test "a topic removed on the replica comes back whole with the next message: sent again from its start" {
	sfs_setup sanfrancisco newyork
	S=$M/$SF R=$M/$NY
	mkdir "$S" "$R"
	replicate $SF $NY
	gen m 5 >>"$S/t"
	wait_count "$R/t" 5
	rm "$R/t"
	repl_quiet $SF $NY
	[ ! -e "$R/t" ]
	# the next message makes it again: with the five before it, in order,
	# each once (a topic holding an origin from its middle would have lost
	# them for good)
	echo m-6 >>"$S/t"
	wait_count "$R/t" 6
	[ "$(cat "$R/t")" = "$(cat "$S/t")" ]
	grep -q 'lacks the start of topic t' "$TMP/streamfs.log"
	wait_for -t 10 grep -q 'state=REPLICATING pending=0 uptodate=true' "$S/.replicas"
}

@test "an empty topic (touch) on the source appears on the replica" {
	sfs_setup sanfrancisco newyork
	S=$M/$SF R=$M/$NY
	mkdir "$S" "$R"
	replicate $SF $NY
	touch "$S/empty"
	wait_for -t 5 test -e "$R/empty"
	[ "$(stat -c %s "$R/empty")" -eq 0 ]
}
