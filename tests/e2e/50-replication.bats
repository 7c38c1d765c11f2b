#!/usr/bin/env bats
# 50-replication.bats - replication through the control files (docs/control-files.md,
# docs/replication.md): initial copy and topics created on the fly (docs/replication.md), replication
# within one cluster, A<->B multi-master on the same and on different
# topics (docs/replication.md), chain, ring and full mesh exactly once (docs/replication.md), low
# latency and tail -f on the replica (docs/filesystem.md, docs/replication.md).
#
# Pause/resume/remove, the allow-list, durability across restarts and
# kill -9, and re-creation are in 51-replication-control.bats.

load helpers
load replication_helpers

teardown() {
	repl_teardown
}

@test "initial copy: messages already in S arrive in R, then topics created on the fly, several topics" {
	sfs_setup sanfrancisco newyork
	S=$M/sanfrancisco/activity R=$M/newyork/activity
	mkdir "$S" "$R"
	gen init 100 >>"$S/clicks"		# one open, 100 messages
	append_each "$S/views" view 40		# 40 opens
	still_count "$S/clicks" 100

	replicate sanfrancisco/activity newyork/activity
	wait_count "$R/clicks" 100
	wait_count "$R/views" 40
	same_content "$S/clicks" "$R/clicks"
	same_content "$S/views" "$R/views"

	# topics made after the replica was added, and more on an old topic
	gen cart 25 >>"$S/cart"
	echo "lonely-1" >>"$S/single"
	gen more 10 >>"$S/clicks"
	wait_count "$R/cart" 25
	wait_count "$R/single" 1
	wait_count "$R/clicks" 110
	same_content "$S/cart" "$R/cart"
	same_content "$S/single" "$R/single"
	same_content "$S/clicks" "$R/clicks"
	still_count "$R/views" 40
	[ "$(ls "$R")" = "$(ls "$S")" ]

	# caught up: the source shows it
	wait_for rline_match sanfrancisco/activity newyork/activity \
		'state=REPLICATING pending=0 uptodate=true' || {
		show_status sanfrancisco/activity newyork/activity
		false
	}
	rinfo_is sanfrancisco/activity newyork/activity replicaState REPLICA_STATE_REPLICATING
	rinfo_is sanfrancisco/activity newyork/activity isUptodate true
	rinfo_is sanfrancisco/activity newyork/activity putsPending 0

	# nothing arrives twice later on
	repl_quiet sanfrancisco/activity
	still_count "$R/clicks" 110
	still_count "$R/cart" 25
}

@test "within one cluster: /mapr/sanfrancisco/a -> /mapr/sanfrancisco/b" {
	sfs_setup sanfrancisco newyork
	A=$M/sanfrancisco/a B=$M/sanfrancisco/b
	mkdir "$A" "$B"
	gen before 50 >>"$A/t"
	replicate sanfrancisco/a sanfrancisco/b
	wait_count "$B/t" 50
	append_each "$A/t" after 20
	gen other 5 >>"$A/u"
	wait_count "$B/t" 70
	wait_count "$B/u" 5
	same_content "$A/t" "$B/t"
	same_content "$A/u" "$B/u"
	# one-way: nothing goes back to a, and newyork is untouched
	repl_quiet sanfrancisco/a sanfrancisco/b
	still_count "$A/t" 70
	[ -z "$(ls "$M/newyork")" ]
}

@test "A<->B multi-master: 1,000 appends on each side, same topic and own topics: 2,000 each side, exactly once, in order, no echo" {
	sfs_setup sanfrancisco newyork
	A=$M/sanfrancisco/activity B=$M/newyork/activity
	mkdir "$A" "$B"
	replicate sanfrancisco/activity newyork/activity
	replicate newyork/activity sanfrancisco/activity

	# Same topic on both masters at once, one open per message, while
	# replication runs both ways; and one topic of its own on each side,
	# written in one open.
	bg_start append_each "$A/shared" sf 1000
	local wa=$BG_PID
	bg_start append_each "$B/shared" ny 1000
	local wb=$BG_PID
	gen sfown 1000 >>"$A/sf-only"
	gen nyown 1000 >>"$B/ny-only"
	wait "$wa"
	wait "$wb"

	local side
	for side in "$A" "$B"; do
		wait_count "$side/shared" 2000 20
		wait_count "$side/sf-only" 1000 20
		wait_count "$side/ny-only" 1000 20
	done
	for side in "$A" "$B"; do
		no_dups "$side/shared"
		in_order "$side/shared" sf 1000
		in_order "$side/shared" ny 1000
		same_content "$side/sf-only" <(gen sfown 1000)
		same_content "$side/ny-only" <(gen nyown 1000)
	done
	# nothing echoed back: the counts stay exact
	repl_quiet sanfrancisco/activity newyork/activity
	for side in "$A" "$B"; do
		still_count "$side/shared" 2000
		still_count "$side/sf-only" 1000
		still_count "$side/ny-only" 1000
	done
	wait_for rline_match sanfrancisco/activity newyork/activity 'pending=0 uptodate=true'
	wait_for rline_match newyork/activity sanfrancisco/activity 'pending=0 uptodate=true'
}

@test "chain A->B->C: messages from A reach C exactly once, B's own too, nothing flows back" {
	sfs_setup a b c
	mkdir "$M/a/s" "$M/b/s" "$M/c/s"
	replicate a/s b/s
	replicate b/s c/s
	gen froma 100 >>"$M/a/s/t"
	append_each "$M/b/s/t" fromb 50
	gen onlya 7 >>"$M/a/s/u"

	wait_count "$M/c/s/t" 150
	wait_count "$M/b/s/t" 150
	wait_count "$M/c/s/u" 7
	local x
	for x in b c; do
		no_dups "$M/$x/s/t"
		in_order "$M/$x/s/t" froma 100
		in_order "$M/$x/s/t" fromb 50
		same_content "$M/a/s/u" "$M/$x/s/u"
	done
	repl_quiet a/s b/s
	still_count "$M/a/s/t" 100	# b does not replicate to a
	still_count "$M/b/s/t" 150
	still_count "$M/c/s/t" 150
}

@test "ring A->B->C->A with writers on all three: every stream holds the union, exactly once" {
	sfs_setup a b c
	mkdir "$M/a/s" "$M/b/s" "$M/c/s"
	replicate a/s b/s
	replicate b/s c/s
	replicate c/s a/s
	local x pids=()
	for x in a b c; do
		bg_start append_each "$M/$x/s/t" "ring$x" 300
		pids+=("$BG_PID")
	done
	gen own-a 100 >>"$M/a/s/ta"
	for x in "${pids[@]}"; do
		wait "$x"
	done
	for x in a b c; do
		wait_count "$M/$x/s/t" 900 20
		wait_count "$M/$x/s/ta" 100
	done
	for x in a b c; do
		no_dups "$M/$x/s/t"
		in_order "$M/$x/s/t" ringa 300
		in_order "$M/$x/s/t" ringb 300
		in_order "$M/$x/s/t" ringc 300
		same_content "$M/$x/s/ta" <(gen own-a 100)
	done
	repl_quiet a/s b/s c/s
	for x in a b c; do
		still_count "$M/$x/s/t" 900
		still_count "$M/$x/s/ta" 100
	done
}

@test "full mesh of 3 (each replicates to both others): exactly once everywhere" {
	sfs_setup a b c
	mkdir "$M/a/s" "$M/b/s" "$M/c/s"
	local x y pids=()
	for x in a b c; do
		for y in a b c; do
			[[ $x == "$y" ]] || replicate "$x/s" "$y/s"
		done
	done
	for x in a b c; do
		bg_start append_each "$M/$x/s/t" "mesh$x" 300
		pids+=("$BG_PID")
		gen "own$x" 50 >>"$M/$x/s/own-$x"
	done
	for x in "${pids[@]}"; do
		wait "$x"
	done
	for x in a b c; do
		wait_count "$M/$x/s/t" 900 20
		for y in a b c; do
			wait_count "$M/$x/s/own-$y" 50
		done
	done
	for x in a b c; do
		no_dups "$M/$x/s/t"
		for y in a b c; do
			in_order "$M/$x/s/t" "mesh$y" 300
			same_content "$M/$x/s/own-$y" <(gen "own$y" 50)
		done
	done
	repl_quiet a/s b/s c/s
	for x in a b c; do
		still_count "$M/$x/s/t" 900
	done
}

@test "low latency: an append on S is visible in R within 1 s" {
	sfs_setup sanfrancisco newyork
	S=$M/sanfrancisco/activity R=$M/newyork/activity
	mkdir "$S" "$R"
	replicate sanfrancisco/activity newyork/activity
	echo "warm-1" >>"$S/t"
	wait_count "$R/t" 1
	local i
	for i in 1 2 3 4 5; do
		echo "fast-$i" >>"$S/t"
		wait_for -t 1 has_n "$R/t" $((i + 1)) || {
			echo "fast-$i did not reach $R/t within 1 s" >&2
			false
		}
		[ "$(tail -n 1 "$R/t")" = "fast-$i" ]
	done
	# also after the thread has been idle for a while
	sleep 1.5
	echo "idle-1" >>"$S/t"
	wait_for -t 1 has_n "$R/t" 7
}

@test "tail -f on R's topic prints a message appended to S within 2 s" {
	sfs_setup sanfrancisco newyork
	S=$M/sanfrancisco/activity R=$M/newyork/activity
	mkdir "$S" "$R"
	replicate sanfrancisco/activity newyork/activity
	echo "first" >>"$S/t"
	wait_count "$R/t" 1
	bg_start tail -n +1 -f "$R/t" >"$TMP/tail.out" 2>"$TMP/tail.err"
	local tpid=$BG_PID
	wait_for grep -qx first "$TMP/tail.out"
	echo "live-1" >>"$S/t"
	wait_for -t 2 grep -qx live-1 "$TMP/tail.out" || {
		echo "tail -f printed:" >&2
		cat "$TMP/tail.out" "$TMP/tail.err" >&2
		false
	}
	echo "live-2" >>"$S/t"
	wait_for -t 2 grep -qx live-2 "$TMP/tail.out"
	kill "$tpid"
	wait "$tpid" 2>/dev/null || true
	REPL_BG=()
	[ "$(cat "$TMP/tail.out")" = $'first\nlive-1\nlive-2' ]
}
