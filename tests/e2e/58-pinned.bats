#!/usr/bin/env bats
# 58-pinned.bats - replication never widens access (docs/security.md): a
# replica is pinned to the stream it was set up with, so a stream made
# again under its name, by anyone, gets nothing until .replicas names it
# again; topics made by replication belong to the replica stream's owner
# and never carry setuid/setgid.

load helpers
load replication_helpers

setup() {
	sfs_setup
	S=$M/sanfrancisco/s
	R=$M/newyork/r
	mkdir "$S" "$R"
}

teardown() {
	sfs_teardown
}

# as_nobody CMD...: run CMD as user nobody (65534:65534, no other groups).
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

@test "a replica stream removed and made again by another user gets nothing, mode-600 topics included, until .replicas names it again" {
	[[ $EUID -eq 0 ]] || skip "needs root (setpriv, other users)"
	chmod 0755 "$TMP"
	echo secret >>"$S/private"
	chmod 0600 "$S/private"
	echo hello >>"$S/public"
	replicate sanfrancisco/s newyork/r
	wait_count "$R/private" 1
	wait_count "$R/public" 1
	[ "$(stat -c %a "$R/private")" = 600 ]
	# paused, the replica is named (an edit): a naming made while paused
	# takes nothing, the stream under the name may change before the resume
	echo "/mapr/newyork/r paused=true" >>"$S/.replicas"
	echo "/mapr/newyork/r synchronous=false" >>"$S/.replicas"
	# the replica goes; anyone may make streams in newyork
	rm "$R/private" "$R/public"
	rmdir "$R"
	chmod 0777 "$M/newyork"
	as_nobody mkdir "$R"
	as_nobody sh -c 'echo /mapr/sanfrancisco/s >>"$1"' sh "$R/.upstreams"
	echo "/mapr/newyork/r paused=false" >>"$S/.replicas"
	echo more >>"$S/private"
	repl_quiet sanfrancisco/s
	[ -z "$(ls "$R")" ]
	[[ $(jq -r '.replicas[0].lastError' "$S/.info") == *"not the stream this replica was set up with"* ]]
	[ "$(jq -r '.replicas[0].replicaState' "$S/.info")" = REPLICA_STATE_UNEXPECTED ]
	# a restart does not forget the pin
	sfs_restart
	repl_quiet sanfrancisco/s
	[ -z "$(ls "$R")" ]
	# pausing and resuming it (what one does on seeing the error) is no
	# naming: still nothing, still the reason
	echo "/mapr/newyork/r paused=true" >>"$S/.replicas"
	echo "/mapr/newyork/r paused=false" >>"$S/.replicas"
	repl_quiet sanfrancisco/s
	[ -z "$(ls "$R")" ]
	wait_for -t 10 eval "[[ \$(jq -r '.replicas[0].lastError' '$S/.info') == *'not the stream this replica was set up with'* ]]"
	# the source's owner names it again: everything goes, owned by the
	# replica stream's owner (nobody), modes kept
	echo /mapr/newyork/r >>"$S/.replicas"
	wait_count "$R/private" 2
	[ "$(stat -c '%u %a' "$R/private")" = "65534 600" ]
	wait_for grep -q 'state=REPLICATING pending=0 uptodate=true' "$S/.replicas"
}

@test "topics made by replication: the replica stream's owner and group, the source's mode without setuid, setgid or sticky" {
	[[ $EUID -eq 0 ]] || skip "needs root (chown)"
	chown 1234:5678 "$R"
	echo a >>"$S/t"
	chmod 06775 "$S/t"
	chown 42:43 "$S/t"
	replicate sanfrancisco/s newyork/r
	wait_count "$R/t" 1
	[ "$(stat -c '%u:%g %a' "$R/t")" = "1234:5678 775" ]
	# a topic that exists on the replica keeps its own owner and mode
	: >"$R/u"
	chmod 0600 "$R/u"
	echo b >>"$S/u"
	chmod 0666 "$S/u"
	wait_count "$R/u" 1
	[ "$(stat -c '%u:%g %a' "$R/u")" = "0:0 600" ]
	# writing back what was read keeps the pin (a replace, not a naming)
	cat "$S/.replicas" >"$TMP/saved"
	cat "$TMP/saved" >"$S/.replicas"
	grep -q '^/mapr/newyork/r synchronous=false paused=false' "$S/.replicas"
}

@test "a replica topic gets nothing the source keeps from its readers: made first by someone else, or letting others read more than the source (also after a chmod); its mode is never changed by replication" {
	[[ $EUID -eq 0 ]] || skip "needs root (setpriv, other users)"
	chmod 0755 "$TMP"
	chmod 1777 "$R"
	echo secret >>"$S/private"
	chmod 0600 "$S/private"
	# nobody makes the topic first on the replica, open to all
	as_nobody bash -c ": >>'$R/private' && chmod 0666 '$R/private'"
	[ "$(stat -c '%u %a' "$R/private")" = "65534 666" ]
	echo other >>"$S/other"
	replicate sanfrancisco/s newyork/r
	# refused, with the reason on the source; nothing reaches nobody's topic
	wait_for -t 10 grep -q 'belongs to uid 65534' "$S/.replicas"
	[ "$(nmsg "$R/private")" -eq 0 ]
	# a refused topic holds up no other topic of the stream
	wait_count "$R/other" 1
	# given to the stream's owner, it still lets others read what the
	# source does not: refused, its mode untouched; narrowed, it arrives
	chown 0:0 "$R/private"
	wait_for -t 10 grep -q 'topic private there lets others read (mode 666)' "$S/.replicas"
	[ "$(nmsg "$R/private")" -eq 0 ]
	[ "$(stat -c '%u %a' "$R/private")" = "0 666" ]
	chmod 0600 "$R/private"
	wait_count "$R/private" 1 15
	[ "$(stat -c '%u %a' "$R/private")" = "0 600" ]
	# a chmod that narrows the source stops its messages at a replica
	# topic others may still read, until that is narrowed too
	echo shared >>"$S/open"
	chmod 0644 "$S/open"
	wait_count "$R/open" 1
	[ "$(stat -c '%a' "$R/open")" = 644 ]
	chmod 0640 "$S/open"
	echo more >>"$S/open"
	wait_for -t 10 grep -q 'topic open there lets others read (mode 644)' "$S/.replicas"
	[ "$(nmsg "$R/open")" -eq 1 ]
	[ "$(stat -c '%a' "$R/open")" = 644 ]
	chmod 0640 "$R/open"
	wait_count "$R/open" 2 15
	# nor do 20 refused topics (more than a round takes before it stops)
	local i
	for ((i = 10; i < 30; i++)); do
		as_nobody bash -c ": >>'$R/p$i'"
	done
	for ((i = 10; i < 30; i++)); do
		: >>"$S/p$i"
		chmod 0600 "$S/p$i"
		echo "s$i" >>"$S/p$i"
	done
	echo z >>"$S/zzz"
	wait_count "$R/zzz" 1 20
	[ "$(nmsg "$R/p10")" -eq 0 ]
}

@test "a new replica takes the stream its line named: added paused, the stream replaced by another user before the resume gets nothing" {
	[[ $EUID -eq 0 ]] || skip "needs root (setpriv, other users)"
	chmod 0755 "$TMP"
	echo secret >>"$S/private"
	chmod 0600 "$S/private"
	echo /mapr/sanfrancisco/s >"$R/.upstreams"
	echo "/mapr/newyork/r paused=true" >>"$S/.replicas"
	rmdir "$R"
	chmod 0777 "$M/newyork"
	as_nobody mkdir "$R"
	as_nobody sh -c 'echo /mapr/sanfrancisco/s >>"$1"' sh "$R/.upstreams"
	echo "/mapr/newyork/r paused=false" >>"$S/.replicas"
	wait_for -t 10 eval "[[ \$(jq -r '.replicas[0].lastError' '$S/.info') == *'not the stream this replica was set up with'* ]]"
	repl_quiet sanfrancisco/s
	[ -z "$(ls "$R")" ]
	# named: taken
	echo /mapr/newyork/r >>"$S/.replicas"
	wait_count "$R/private" 1
}
